"""A pupil in several institutions at once: every enrollment valid on a day gets that day."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.factories import Api, absence, enrollment, make_egn, note, person
from tests.vendors.conftest import Vendor

EGN = make_egn(dt.date(2014, 3, 15), 123)
SCHOOL, CENTRE, BOARDING = 100001, 100002, 100003


@pytest.fixture
async def places(api: Api) -> None:
    for institution_id in (SCHOOL, CENTRE, BOARDING):
        assert (await api.put_institution(institution_id)).status_code == 201


async def test_school_and_centre_are_both_excused_by_one_note(api: Api, places: None) -> None:
    both = person(EGN, enrollment(SCHOOL, "5", "А"), enrollment(CENTRE, "Роботика", None))
    assert (await api.put_person(1, both)).status_code == 201
    await api.post_absence(absence(1, 1, SCHOOL, "2026-11-18"))
    await api.post_absence(absence(2, 1, CENTRE, "2026-11-19", lesson=3))
    await api.push(note("25317A000123", EGN))
    assert {a["absenceId"]: a["excusedByNrn"] for a in await api.absences()} == {
        1: "25317A000123",
        2: "25317A000123",
    }
    placements = (await api.whole_note("25317A000123"))["placements"]
    # Ordered by fromDate, then institutionId, className, section.
    assert [(p["institutionId"], p["className"], p["fromDate"]) for p in placements] == [
        (SCHOOL, "5", "2026-11-18"),
        (CENTRE, "Роботика", "2026-11-18"),
    ]
    assert (await api.view("25317A000123")).json()["excusedAbsences"] == 2


async def test_boarding_school_enrolling_before_discharge(api: Api, places: None) -> None:
    # Moved by order: the boarding school enrols on 17 Nov, the old school discharges on 19.
    moved = person(
        EGN,
        enrollment(SCHOOL, "6", "Б", "2026-09-15", "2026-11-19"),
        enrollment(BOARDING, "6", "А", "2026-11-17", None),
    )
    assert (await api.put_person(1, moved)).status_code == 201
    await api.post_absence(absence(1, 1, SCHOOL, "2026-11-19"))
    await api.post_absence(absence(2, 1, BOARDING, "2026-11-18"))
    await api.post_absence(absence(3, 1, SCHOOL, "2026-11-20"))  # after discharge
    await api.push(note("25317A000124", EGN))
    assert {a["absenceId"]: a["kind"] for a in await api.absences()} == {
        1: "excused",
        2: "excused",
        3: "unexcused",
    }
    placements = (await api.whole_note("25317A000124"))["placements"]
    assert [(p["institutionId"], p["fromDate"], p["toDate"]) for p in placements] == [
        (SCHOOL, "2026-11-18", "2026-11-19"),
        (BOARDING, "2026-11-18", "2026-11-20"),
    ]


async def test_class_and_all_day_group_in_one_school(api: Api, places: None) -> None:
    both = person(EGN, enrollment(SCHOOL, "5", "А"), enrollment(SCHOOL, "ЦДО 5", None))
    assert (await api.put_person(1, both)).status_code == 201
    await api.post_absence(absence(1, 1, SCHOOL, "2026-11-18", lesson=7, subject="ЦДО"))
    await api.push(note("25317A000125", EGN))
    assert (await api.absence_by_id(1))["kind"] == "excused"
    placements = (await api.whole_note("25317A000125"))["placements"]
    assert [(p["className"], p["section"]) for p in placements] == [("5", "А"), ("ЦДО 5", None)]
    # The class view lists the note for each: the class and the group.
    for class_name in ("5", "ЦДО 5"):
        listed = await api.http.get(
            f"/api/v1/diary/institutions/{SCHOOL}/medicalNotices",
            params={"className": class_name},
            headers=await api.as_role("neispuo"),
        )
        [item] = listed.json()["items"]
        assert item["excusedAbsences"] == 1


async def test_same_class_and_section_may_not_overlap(api: Api, places: None) -> None:
    twice = person(
        EGN,
        enrollment(SCHOOL, "5", "А", "2026-09-15", "2026-12-01"),
        enrollment(SCHOOL, "5", "А", "2026-11-01", None),
    )
    response = await api.put_person(1, twice)
    assert response.status_code == 422
    assert ["enrollments", 1, "fromDate"] in [e["loc"] for e in response.json()["errors"]]
    # Another section of the same class may overlap.
    other = person(
        EGN,
        enrollment(SCHOOL, "5", "А", "2026-09-15", "2026-12-01"),
        enrollment(SCHOOL, "5", "Б", "2026-11-01", None),
    )
    assert (await api.put_person(1, other)).status_code == 201


async def test_vendor_sees_only_its_days_beside_a_neispuo_centre(api: Api) -> None:
    acme = Vendor(api, "acme")
    await acme.headers()
    await api.put_institution(SCHOOL, diary="acme")
    await api.put_institution(CENTRE)
    both = person(EGN, enrollment(SCHOOL, "5", "А"), enrollment(CENTRE, "Спорт", None))
    await api.put_person(1, both)
    await api.post_absence(absence(1, 1, CENTRE, "2026-11-18"))
    await api.push(note("25317A000126", EGN))
    assert (await api.absence_by_id(1))["kind"] == "excused"
    [event] = (await acme.feed())["events"]
    assert [p["institutionId"] for p in event["placements"]] == [SCHOOL]
    view = (await acme.get("/25317A000126")).json()
    assert [p["institutionId"] for p in view["placements"]] == [SCHOOL]
    delivered = (await api.view("25317A000126")).json()["delivered"]
    assert delivered == {"neispuoDiary": True, "vendors": 1}
