"""The monthly figures that decide child benefits: 5 unexcused lessons in a month, or more
than 3 unexcused preschool days, stop a family's benefit for a year."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.factories import Api, absence, enrollment, make_egn, note, person

SCHOOL, KINDERGARTEN, VENDOR_SCHOOL = 100001, 200001, 300001
PUPIL = make_egn(dt.date(2014, 3, 15), 123)
CHILD = make_egn(dt.date(2021, 1, 20), 789)


@pytest.fixture
async def places(api: Api) -> None:
    await api.put_institution(SCHOOL)
    await api.put_institution(KINDERGARTEN)
    await api.put_person(1, person(PUPIL, enrollment(SCHOOL)))
    await api.put_person(2, person(CHILD, enrollment(KINDERGARTEN, "Пчелички", None)))


async def figures(api: Api, institution: int, month: str = "2026-11") -> Any:
    response = await api.http.get(
        f"/api/v1/diary/institutions/{institution}/months/{month}",
        headers=await api.as_role("neispuo"),
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_limit_crossed_and_uncrossed_by_a_note_and_its_cancellation(
    api: Api, places: None
) -> None:
    for i, day in enumerate(("2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20")):
        await api.post_absence(absence(10 + i, 1, SCHOOL, day))
    await api.post_absence(absence(20, 1, SCHOOL, "2026-11-20", lesson=2, kind="late"))
    await api.post_absence(absence(21, 1, SCHOOL, "2026-10-30"))  # another month
    [pupil] = (await figures(api, SCHOOL))["pupils"]
    assert pupil == {
        "personId": 1,
        "className": "5",
        "section": "А",
        "unexcusedLessons": 5,
        "unexcusedDays": 0,
        "lateArrivals": 1,
        "unexcusedHours": 5.5,
        "excusedByNotes": 0,
        "unexcusedUnderNotes": 0,
        "overBenefitLimit": True,
    }
    await api.push(note("25317A000001", PUPIL, "2026-11-18", "2026-11-20"))
    [pupil] = (await figures(api, SCHOOL))["pupils"]
    assert (pupil["unexcusedLessons"], pupil["excusedByNotes"], pupil["overBenefitLimit"]) == (
        2,
        3,
        False,
    )
    await api.cancel("25317A000001")
    [pupil] = (await figures(api, SCHOOL))["pupils"]
    assert (pupil["unexcusedLessons"], pupil["overBenefitLimit"]) == (5, True)


async def test_preschool_days_are_counted_per_day_not_per_absence(api: Api, places: None) -> None:
    # Three days with two absences each: 6 absences, 3 days, not over "more than 3".
    for i, day in enumerate(("2026-11-16", "2026-11-17", "2026-11-18")):
        for j in range(2):
            await api.post_absence(
                absence(100 + 2 * i + j, 2, KINDERGARTEN, day, lesson=None, subject=None)
            )
    [child] = (await figures(api, KINDERGARTEN))["pupils"]
    assert (child["unexcusedDays"], child["unexcusedLessons"], child["overBenefitLimit"]) == (
        3,
        0,
        False,
    )
    await api.post_absence(absence(110, 2, KINDERGARTEN, "2026-11-19", lesson=None, subject=None))
    [child] = (await figures(api, KINDERGARTEN))["pupils"]
    assert (child["unexcusedDays"], child["overBenefitLimit"]) == (4, True)


async def test_days_a_vendor_keeps_are_not_counted_and_bad_asks_refused(
    api: Api, places: None
) -> None:
    await api.token("vendor", "acme")
    await api.put_institution(VENDOR_SCHOOL, diary="acme")
    await api.put_person(3, person(make_egn(dt.date(2013, 2, 2), 5), enrollment(VENDOR_SCHOOL)))
    await api.post_absence(absence(200, 3, VENDOR_SCHOOL, "2026-11-18"))
    [pupil] = (await figures(api, VENDOR_SCHOOL))["pupils"]
    assert pupil["unexcusedLessons"] == 0
    headers = await api.as_role("neispuo")
    for path, status in (
        ("/api/v1/diary/institutions/999999/months/2026-11", 404),
        ("/api/v1/diary/institutions/100001/months/2026-13", 400),
        ("/api/v1/diary/institutions/100001/months/26-11", 400),
        ("/api/v1/diary/institutions/100001/months/0000-01", 400),
    ):
        assert (await api.http.get(path, headers=headers)).status_code == status, path
    nzis = await api.http.get(
        "/api/v1/diary/institutions/100001/months/2026-11", headers=await api.as_role("nzis")
    )
    assert nzis.status_code == 403
    operator = await api.http.get(
        "/api/v1/diary/institutions/100001/months/2026-11", headers=await api.as_role("operator")
    )
    assert operator.status_code == 200
