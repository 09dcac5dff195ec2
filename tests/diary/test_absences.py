"""The diary's absences: recording (idempotent), a person's changes, listing."""

from __future__ import annotations

import asyncio
import datetime as dt

import asyncpg
import pytest

from tests.factories import Api, absence, enrollment, make_egn, person

EGN = make_egn(dt.date(2014, 3, 15), 123)


@pytest.fixture
async def pupil(api: Api) -> int:
    await api.put_institution(100001)
    await api.put_person(1, person(EGN, enrollment(100001)))
    return 1


@pytest.mark.smoke
async def test_record_and_repeat(api: Api, pupil: int) -> None:
    body = absence(501, pupil, 100001, "2026-11-18", lesson=2)
    created = await api.post_absence(body)
    assert created.status_code == 201
    assert created.json() == {
        "absenceId": 501,
        "personId": 1,
        "institutionId": 100001,
        "date": "2026-11-18",
        "lesson": 2,
        "subject": "Математика",
        "kind": "unexcused",
        "reason": None,
        "comment": None,
        "excusedByNrn": None,
        "setByPerson": False,
    }
    repeat = await api.post_absence({**body, "date": "2026-11-18T00:00:00"})
    assert repeat.status_code == 200
    assert repeat.json() == created.json()
    other = await api.post_absence({**body, "lesson": 3})
    assert other.status_code == 409
    assert other.headers["content-type"] == "application/problem+json"


async def test_same_absence_posted_twice_at_once(
    api: Api, pupil: int, db: asyncpg.Connection
) -> None:
    await api.token("neispuo")
    body = absence(502, pupil, 100001, "2026-11-18")
    responses = await asyncio.gather(*(api.post_absence(body) for _ in range(10)))
    assert sorted(r.status_code for r in responses) == [200] * 9 + [201]
    assert await db.fetchval("SELECT count(*) FROM absences") == 1
    assert (
        await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'absence.recorded'") == 1
    )


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"kind": "absent"}, ["kind"]),
        ({"lesson": "first"}, ["lesson"]),
        ({"date": "18.11.2026"}, ["date"]),
        ({"absenceId": None}, ["absenceId"]),
        ({"personId": 99}, ["personId"]),
        ({"institutionId": 99}, ["institutionId"]),
    ],
)
async def test_invalid_absence_is_422_and_changes_nothing(
    api: Api, pupil: int, db: asyncpg.Connection, change: dict, loc: list
) -> None:
    response = await api.post_absence({**absence(503, pupil, 100001, "2026-11-18"), **change})
    assert response.status_code == 422
    assert loc in [e["loc"] for e in response.json()["errors"]]
    assert await db.fetchval("SELECT count(*) FROM absences") == 0


async def test_patch_sets_by_person(api: Api, pupil: int) -> None:
    await api.post_absence(absence(504, pupil, 100001, "2026-11-18"))
    response = await api.patch_absence(504, {"kind": "excused", "comment": "бележка от родител"})
    assert response.status_code == 200
    body = response.json()
    assert (body["kind"], body["comment"], body["setByPerson"]) == (
        "excused",
        "бележка от родител",
        True,
    )
    assert (await api.patch_absence(999, {"kind": "late"})).status_code == 404
    assert (await api.patch_absence(504, {})).status_code == 422
    assert (await api.patch_absence(504, {"kind": None})).status_code == 422
    assert (await api.patch_absence(504, {"kind": "weird"})).status_code == 422


async def test_list_filters(api: Api, pupil: int) -> None:
    await api.put_institution(100002)
    await api.put_person(2, person(make_egn(dt.date(2013, 5, 5), 7), enrollment(100002)))
    await api.post_absence(absence(505, 1, 100001, "2026-11-17"))
    await api.post_absence(absence(506, 1, 100001, "2026-11-19", lesson=None))
    await api.post_absence(absence(507, 2, 100002, "2026-11-18"))
    assert [a["absenceId"] for a in await api.absences(institutionId=100001)] == [505, 506]
    assert [a["absenceId"] for a in await api.absences(personId=2)] == [507]
    assert [a["absenceId"] for a in await api.absences(fromDate="2026-11-18")] == [507, 506]
    assert [
        a["absenceId"] for a in await api.absences(fromDate="2026-11-18", toDate="2026-11-18")
    ] == [507]
    bad = await api.http.get(
        "/api/v1/diary/absences", params={"fromDate": "x"}, headers=await api.as_role("neispuo")
    )
    assert bad.status_code == 400
