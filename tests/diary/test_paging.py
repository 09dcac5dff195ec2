"""Lists are paged: limit and after, a fixed order, every item once."""

from __future__ import annotations

import datetime as dt

import asyncpg
import pytest

from tests.factories import Api, absence, enrollment, make_egn, note, person

EGN = make_egn(dt.date(2014, 3, 15), 123)
SCHOOL = 100001


@pytest.fixture
async def pupil(api: Api) -> None:
    await api.put_institution(SCHOOL)
    await api.put_person(1, person(EGN, enrollment(SCHOOL)))


async def get(api: Api, path: str, **params: object) -> dict[str, object]:
    headers = await api.as_role("operator" if "ops" in path else "neispuo")
    response = await api.http.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_absences_are_paged_in_date_and_lesson_order(
    api: Api, pupil: None, db: asyncpg.Connection
) -> None:
    # 250 absences, bulk-recorded (posting 250 through the API is not what is tested).
    await db.execute(
        """
        INSERT INTO absences (id, person_id, institution_id, date, lesson, kind, set_by_person,
                              posted)
        SELECT g, 1, $1, DATE '2026-10-01' + (g % 25), CASE WHEN g % 10 = 0 THEN NULL
               ELSE g % 10 END, 'unexcused', false, '{}'
        FROM generate_series(1, 250) AS g
        """,
        SCHOOL,
    )
    seen: list[dict[str, object]] = []
    pages = 0
    after = None
    while True:
        params: dict[str, object] = {"institutionId": SCHOOL, "limit": 100}
        if after:
            params["after"] = after
        page = await get(api, "/api/v1/diary/absences", **params)
        seen += page["items"]  # type: ignore[arg-type]
        pages += 1
        after = page["nextCursor"]
        if after is None:
            break
    assert pages == 3
    assert sorted(a["absenceId"] for a in seen) == list(range(1, 251))  # type: ignore[index]
    keys = [(a["date"], -1 if a["lesson"] is None else a["lesson"], a["absenceId"]) for a in seen]  # type: ignore[index]
    assert keys == sorted(keys)
    default = await get(api, "/api/v1/diary/absences", personId=1)
    assert len(default["items"]) == 100  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"fromDate": "2026-11-01"},
        {"personId": 1, "limit": 0},
        {"personId": 1, "limit": 1001},
        {"personId": 1, "after": "not-a-cursor"},
        {"personId": 1, "after": "WzAsMiwzXQ"},  # [0,2,3]: well-formed, out of bounds
        {"personId": 1, "after": "x*y"},
    ],
)
async def test_absence_list_needs_a_scope_and_a_real_cursor(
    api: Api, pupil: None, params: dict[str, object]
) -> None:
    response = await api.http.get(
        "/api/v1/diary/absences", params=params, headers=await api.as_role("neispuo")
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_review_list_is_paged(api: Api, pupil: None) -> None:
    for absence_id, day in ((1, "2026-11-18"), (2, "2026-11-19"), (3, "2026-11-20")):
        await api.post_absence(absence(absence_id, 1, SCHOOL, day))
    await api.push(note("25317A000601", EGN))
    for absence_id in (1, 2, 3):
        await api.patch_absence(absence_id, {"comment": "видяно от класния"})
    await api.cancel("25317A000601")
    first = await get(api, "/api/v1/ops/review", limit=2)
    assert [i["absenceId"] for i in first["items"]] == [1, 2]  # type: ignore[index, union-attr]
    second = await get(api, "/api/v1/ops/review", limit=2, after=first["nextCursor"])
    assert [i["absenceId"] for i in second["items"]] == [3]  # type: ignore[index, union-attr]
    assert second["nextCursor"] is None
