"""What families, teachers and doctors see (issue 18, first part): the class view with the
registry's names and NEISPUO's ОТПИСАН, the pupils one lesson from the limit, and the
feedback to a doctor."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import asyncpg
import httpx

from tests.factories import Api, absence, bearer, enrollment, linger, make_egn, note, person

SCHOOL = 100001
PUPIL = make_egn(dt.date(2014, 3, 15), 123)
LEFT = make_egn(dt.date(2014, 4, 1), 321)


async def test_the_class_view_names_pupils_and_marks_those_who_left(api: Api) -> None:
    await api.put_institution(SCHOOL)
    await api.put_person(
        1, person(PUPIL, enrollment(SCHOOL, "5", "А"), given="ИВАН", family="ТОДОРОВ")
    )
    await api.put_person(
        2,
        person(
            LEFT,
            enrollment(SCHOOL, "5", "А", "2026-09-15", "2026-11-25"),
            given="МАРИЯ",
            family="ПЕТРОВА",
        ),
    )
    await api.push(note("25317A000001", PUPIL, authored_on="2026-11-19T09:00:00"))
    await api.push(note("25317A000002", LEFT, authored_on="2026-11-20T09:00:00"))
    listed = await api.http.get(
        f"/api/v1/diary/institutions/{SCHOOL}/medicalNotices",
        params={"className": "5", "section": "А"},
        headers=await api.as_role("neispuo"),
    )
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert [(i["givenName"], i["familyName"], i["transferred"]) for i in items] == [
        ("МАРИЯ", "ПЕТРОВА", True),  # newest authoredOn first; left on 25 November
        ("ИВАН", "ТОДОРОВ", False),
    ]


async def month_at_risk(api: Api, institution: int = SCHOOL) -> list[dict[str, Any]]:
    response = await api.http.get(
        f"/api/v1/diary/institutions/{institution}/months/2026-11/atRisk",
        headers=await api.as_role("neispuo"),
    )
    assert response.status_code == 200, response.text
    pupils: list[dict[str, Any]] = response.json()["pupils"]
    return pupils


async def test_pupils_one_lesson_from_the_limit_with_their_dates(api: Api) -> None:
    await api.put_institution(SCHOOL)
    days = ("2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20")
    for pupil, lessons in ((1, 4), (2, 2), (3, 5)):
        await api.put_person(
            pupil, person(make_egn(dt.date(2014, 1, pupil), pupil), enrollment(SCHOOL))
        )
        for i in range(lessons):
            await api.post_absence(absence(100 * pupil + i, pupil, SCHOOL, days[i]))
    at_risk = await month_at_risk(api)
    assert [(p["personId"], p["unexcusedHours"]) for p in at_risk] == [(1, 4.0)]  # 2: far; 3: over
    assert at_risk[0]["unexcusedDates"] == list(days[:4])


async def test_a_doctors_digest_names_no_pupil_and_lists_the_unmatched(api: Api) -> None:
    await api.put_institution(SCHOOL)
    await api.put_person(1, person(PUPIL, enrollment(SCHOOL)))
    typo = make_egn(dt.date(2014, 3, 16), 123)  # a mistyped ЕГН: nobody's
    await api.push(
        note("25317A000001", PUPIL, pmi="1111111111"),
        note("25317A000002", PUPIL, "2026-11-23", "2026-11-23", pmi="1111111111"),
        note("25317A000003", typo, pmi="1111111111"),
        note("25317A000004", PUPIL, pmi="2222222222", examination="26317A000078"),
    )
    await api.cancel("25317A000002")
    nzis = await api.as_role("nzis")

    async def digest(**params: str) -> httpx.Response:
        return await api.http.get("/api/v1/hisMedicalNotices", params=params, headers=nzis)

    answer = await digest(pmi="1111111111", fromDate="2026-11-01", toDate="2026-11-30")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "pmi": "1111111111",
        "notes": 3,
        "matched": 2,
        "reachedDiary": 2,
        "cancelled": 1,
        "unmatched": ["25317A000003"],
    }
    for secret in (PUPIL, typo, "ИВАН", str(SCHOOL)):
        assert secret not in answer.text
    too_long = await digest(pmi="1111111111", fromDate="2026-08-01", toDate="2026-11-30")
    assert too_long.status_code == 400
    operator = await api.http.get(
        "/api/v1/hisMedicalNotices", params={"pmi": "1"}, headers=await api.as_role("operator")
    )
    assert operator.status_code == 403  # NZIS only
    vendor = await api.http.get(
        "/api/v1/hisMedicalNotices",
        params={"pmi": "1"},
        headers=bearer(await api.token("vendor", "acme")),
    )
    assert vendor.status_code == 403


ACME_SCHOOL = 300001


async def test_the_parents_list_says_what_each_note_did_each_day(api: Api) -> None:
    from tests.vendors.conftest import Vendor

    acme = Vendor(api, "acme")
    await acme.headers()
    await api.put_institution(SCHOOL)
    await api.put_institution(ACME_SCHOOL, diary="acme")
    await api.put_person(
        1,
        person(
            PUPIL,
            enrollment(SCHOOL, "5", "А", "2026-11-18", "2026-11-18"),
            enrollment(ACME_SCHOOL, "5", "Б", "2026-11-19", None),
        ),
    )
    await api.post_absence(absence(10, 1, SCHOOL, "2026-11-18"))
    await api.push(note("25317A000001", PUPIL, "2026-11-17", "2026-11-20"))

    async def days() -> list[tuple[str, Any, str, Any]]:
        response = await api.http.get(
            "/api/v1/diary/persons/1/medicalNotices",
            params={"schoolYear": 2026},
            headers=await api.as_role("neispuo"),
        )
        assert response.status_code == 200, response.text
        [item] = response.json()["items"]
        assert (item["nrnMedicalNotice"], item["pmi"], item["status"]) == (
            "25317A000001",
            "2300011922",
            "active",
        )
        return [
            (d["date"], d.get("institutionId"), d["outcome"], d.get("vendorAck", "-"))
            for d in item["days"]
        ]

    assert await days() == [
        ("2026-11-17", None, "notEnrolled", "-"),
        ("2026-11-18", SCHOOL, "excused", "-"),
        ("2026-11-19", ACME_SCHOOL, "atVendor", None),
        ("2026-11-20", ACME_SCHOOL, "atVendor", None),
    ]
    [event] = (await acme.feed())["events"]
    acked = await acme.post(f"/events/{event['cursor']}/ack", {"outcome": "excused"})
    assert acked.status_code == 204, acked.text
    await api.patch_absence(10, {"kind": "unexcused"})  # the teacher keeps it unexcused
    assert await days() == [
        ("2026-11-17", None, "notEnrolled", "-"),
        ("2026-11-18", SCHOOL, "keptBySchool", "-"),
        ("2026-11-19", ACME_SCHOOL, "atVendor", "excused"),
        ("2026-11-20", ACME_SCHOOL, "atVendor", "excused"),
    ]
    unknown = await api.http.get(
        "/api/v1/diary/persons/99/medicalNotices", headers=await api.as_role("neispuo")
    )
    assert unknown.status_code == 404


async def five_unexcused_lessons(api: Api) -> None:
    """Pupil 1 at SCHOOL with an unexcused lesson on each day of 16-20 November."""
    await api.put_institution(SCHOOL)
    await api.put_person(1, person(PUPIL, enrollment(SCHOOL)))
    for i, day in enumerate(("2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20")):
        await api.post_absence(absence(10 + i, 1, SCHOOL, day))


async def test_a_late_note_shows_as_a_correction_of_the_reported_month(api: Api) -> None:
    await five_unexcused_lessons(api)
    neispuo = await api.as_role("neispuo")
    month = f"/api/v1/diary/institutions/{SCHOOL}/months/2026-11"
    assert (await api.http.get(f"{month}/corrections", headers=neispuo)).status_code == 404
    first = await api.http.put(f"{month}/report", json={}, headers=neispuo)
    assert first.status_code == 201, first.text
    assert (await api.http.get(f"{month}/corrections", headers=neispuo)).json()["pupils"] == []
    await api.push(note("25317A000001", PUPIL, "2026-11-19", "2026-11-20"))  # late
    found = (await api.http.get(f"{month}/corrections", headers=neispuo)).json()
    assert found["pupils"] == [
        {
            "personId": 1,
            "before": {"unexcusedHours": 5.0, "unexcusedDays": 0, "overBenefitLimit": True},
            "after": {"unexcusedHours": 3.0, "unexcusedDays": 0, "overBenefitLimit": False},
            "crossedLimit": True,
            "nrnMedicalNotices": ["25317A000001"],
        }
    ]
    again = await api.http.put(f"{month}/report", json={}, headers=neispuo)
    assert again.status_code == 200  # the record is replaced
    assert (await api.http.get(f"{month}/corrections", headers=neispuo)).json()["pupils"] == []
    operator = await api.http.put(f"{month}/report", json={}, headers=await api.as_role("operator"))
    assert operator.status_code == 403


async def test_a_report_racing_a_push_records_a_committed_state(
    api: Api, db: asyncpg.Connection
) -> None:
    """The push lingers inside its transaction (its audit entries wait) while the month is
    reported: the report keeps the figures before it, and the note shows as a correction."""
    await five_unexcused_lessons(api)
    neispuo = await api.as_role("neispuo")
    month = f"/api/v1/diary/institutions/{SCHOOL}/months/2026-11"
    await api.token("nzis")
    await linger(db, "audit_log", 0.5)

    async def report_meanwhile() -> httpx.Response:
        await asyncio.sleep(0.2)  # the push is inside its transaction now
        return await api.http.put(f"{month}/report", json={}, headers=neispuo)

    pushed, reported = await asyncio.gather(
        api.push(note("25317A000001", PUPIL, "2026-11-19", "2026-11-20")), report_meanwhile()
    )
    assert (pushed.status_code, reported.status_code) == (200, 201)
    stored = await db.fetchval("SELECT pupils::text FROM month_reports")
    assert '"unexcusedHours": 5.0' in stored  # what was committed when it was read
    found = (await api.http.get(f"{month}/corrections", headers=neispuo)).json()["pupils"]
    assert [(p["after"]["unexcusedHours"], p["nrnMedicalNotices"]) for p in found] == [
        (3.0, ["25317A000001"])
    ]


async def test_the_console_shows_a_pupils_list_as_the_parent_view_does(api: Api) -> None:
    from tests.factories import console_sign_in

    await api.put_institution(SCHOOL, name="СУ „Христо Ботев“")
    await api.put_person(1, person(PUPIL, enrollment(SCHOOL, "5", "А", "2026-11-18", None)))
    await api.post_absence(absence(10, 1, SCHOOL, "2026-11-18"))
    await api.push(note("25317A000001", PUPIL, "2026-11-17", "2026-11-19"))
    await console_sign_in(api.http, await api.token("operator"))
    shown = await api.http.get("/console/pupils/1", params={"school_year": "2026"})
    assert shown.status_code == 200, shown.text
    for text in (
        "25317A000001",
        "17.11.2026",
        "не е записан в училище този ден",
        "уважено",
        "няма записано отсъствие",
        "СУ „Христо Ботев“",
    ):
        assert text in shown.text, text
    assert PUPIL not in shown.text
    assert (await api.http.get(f"/console/pupils/{10**30}")).status_code == 400


async def test_the_console_lists_reported_months_and_their_corrections(api: Api) -> None:
    from tests.factories import console_sign_in

    await five_unexcused_lessons(api)
    month = f"/api/v1/diary/institutions/{SCHOOL}/months/2026-11"
    await api.http.put(f"{month}/report", json={}, headers=await api.as_role("neispuo"))
    await api.push(note("25317A000001", PUPIL, "2026-11-19", "2026-11-20"))
    await console_sign_in(api.http, await api.token("operator"))
    listed = await api.http.get("/console/months")
    assert listed.status_code == 200
    assert f"/console/institutions/{SCHOOL}/months/2026-11" in listed.text
    shown = await api.http.get(f"/console/institutions/{SCHOOL}/months/2026-11")
    assert shown.status_code == 200, shown.text
    for text in ("5.0 → 3.0", "да → не", "25317A000001", "(променено)"):
        assert text in shown.text, text
    assert (await api.http.get(f"/console/institutions/{SCHOOL}/months/2026-13")).status_code == 400
    assert (await api.http.get(f"/console/institutions/{SCHOOL}/months/2026-10")).status_code == 404
