"""The diary as NEISPUO keeps it (issue 17): ДПЛР absences, deleted absences, locked days,
late arrivals that count, a person's override of a note, school years."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import asyncpg
import httpx
import pytest

from tests.factories import Api, absence, enrollment, linger, make_egn, note, person

SCHOOL = 100001
PUPIL = make_egn(dt.date(2014, 3, 15), 123)


@pytest.fixture
async def pupil(api: Api) -> None:
    await api.put_institution(SCHOOL)
    await api.put_person(1, person(PUPIL, enrollment(SCHOOL)))


async def month(api: Api, yyyy_mm: str = "2026-11") -> dict[str, Any]:
    response = await api.http.get(
        f"/api/v1/diary/institutions/{SCHOOL}/months/{yyyy_mm}",
        headers=await api.as_role("neispuo"),
    )
    assert response.status_code == 200, response.text
    [figures] = response.json()["pupils"]
    return dict(figures)


async def delete(api: Api, absence_id: int) -> httpx.Response:
    return await api.http.delete(
        f"/api/v1/diary/absences/{absence_id}", headers=await api.as_role("neispuo")
    )


async def review(api: Api) -> list[tuple[int, str, str]]:
    items = (await api.ops("/review")).json()["items"]
    return [(i["absenceId"], i["why"], i["nrnMedicalNotice"]) for i in items]


async def last_change(api: Api) -> dict[str, Any]:
    response = await api.http.get(
        "/api/v1/diary/changes", params={"limit": 1000}, headers=await api.as_role("neispuo")
    )
    changes: list[dict[str, Any]] = response.json()["changes"]
    return changes[-1]


async def test_a_dplr_absence_is_neither_excused_nor_counted(api: Api, pupil: None) -> None:
    await api.post_absence(absence(10, 1, SCHOOL, "2026-11-18", kind="dplr"))
    await api.post_absence(absence(11, 1, SCHOOL, "2026-11-18", lesson=2))
    await api.push(note("25317A000001", PUPIL, "2026-11-18", "2026-11-18"))
    assert (await api.absence_by_id(10))["kind"] == "dplr"
    assert (await api.absence_by_id(10))["excusedByNrn"] is None
    assert (await api.absence_by_id(11))["kind"] == "excused"
    figures = await month(api)
    assert (figures["unexcusedLessons"], figures["excusedByNotes"]) == (0, 1)
    await api.cancel("25317A000001")
    figures = await month(api)
    assert (figures["unexcusedLessons"], figures["unexcusedHours"]) == (1, 1.0)  # not the dplr


async def test_delete_again_unknown_and_posted_anew(api: Api, pupil: None) -> None:
    await api.post_absence(absence(10, 1, SCHOOL, "2026-11-18"))
    await api.push(note("25317A000001", PUPIL, "2026-11-18", "2026-11-18"))
    assert (await month(api))["excusedByNotes"] == 1
    assert (await delete(api, 10)).status_code == 204
    assert await api.absences(personId=1) == []
    assert (await month(api))["excusedByNotes"] == 0
    whole = await api.whole_note("25317A000001")
    assert whole["excusedAbsences"] == 0
    assert "absence.deleted" in [e["action"] for e in whole["audit"]]  # history kept
    change = await last_change(api)
    assert (change["action"], change["absenceId"], change["after"]) == ("absence.deleted", 10, None)
    assert (change["before"]["kind"], change["date"], change["personId"]) == (
        "excused",
        "2026-11-18",
        1,
    )
    assert (await delete(api, 10)).status_code == 204  # again: nothing changes
    assert (await delete(api, 99)).status_code == 404  # never recorded
    again = await api.post_absence(absence(10, 1, SCHOOL, "2026-11-18"))
    assert again.status_code == 201  # recorded anew, judged as any new absence
    assert again.json()["kind"] == "excused"


async def test_a_deleted_absence_leaves_the_review_list(api: Api, pupil: None) -> None:
    await api.post_absence(absence(10, 1, SCHOOL, "2026-11-18"))
    await api.push(note("25317A000001", PUPIL, "2026-11-18", "2026-11-18"))
    await api.patch_absence(10, {"comment": "потвърдено"})
    await api.cancel("25317A000001")
    assert await review(api) == [(10, "noteCancelled", "25317A000001")]
    assert (await delete(api, 10)).status_code == 204
    assert await review(api) == []


async def test_a_deletion_racing_a_cancellation_leaves_nothing_half_applied(
    api: Api, pupil: None, db: asyncpg.Connection
) -> None:
    """The cancellation lists the person's absence for review while the deletion removes
    it: without the pupil's locks on the deletion, one of them fails on the review item
    the other did not see."""
    for round_no in range(3):
        absence_id, nrn = 10 + round_no, f"25317A00001{round_no}"
        await api.post_absence(absence(absence_id, 1, SCHOOL, "2026-11-18", lesson=round_no + 1))
        await api.push(note(nrn, PUPIL, "2026-11-18", "2026-11-18"))
        await api.patch_absence(absence_id, {"comment": "потвърдено"})
        if round_no == 0:
            await linger(db, "audit_log", 0.3)
        cancelled, deleted = await asyncio.gather(api.cancel(nrn), delete(api, absence_id))
        assert (cancelled.status_code, deleted.status_code) == (200, 204), (
            cancelled.text,
            deleted.text,
        )
        assert await db.fetchval("SELECT count(*) FROM absences WHERE id = $1", absence_id) == 0
        assert await db.fetchval("SELECT count(*) FROM review_items") == 0


async def test_a_teacher_override_is_listed_and_counted(api: Api, pupil: None) -> None:
    await api.post_absence(absence(10, 1, SCHOOL, "2026-11-18"))
    await api.push(note("25317A000001", PUPIL, "2026-11-18", "2026-11-18"))
    overridden = await api.patch_absence(10, {"kind": "unexcused"})
    assert overridden.json()["kind"] == "unexcused"  # the diary owner's decision stands
    assert await review(api) == [(10, "unexcusedUnderNote", "25317A000001")]
    figures = await month(api)
    assert (figures["unexcusedLessons"], figures["unexcusedUnderNotes"]) == (1, 1)
    await api.patch_absence(10, {"kind": "excused"})  # the teacher thought again
    assert await review(api) == []
    assert (await month(api))["unexcusedUnderNotes"] == 0


async def test_every_overridden_lesson_on_a_covered_day_counts_under_a_note(
    api: Api, pupil: None
) -> None:
    """The monthly figure counts absences, not days: two lessons of a covered day that the
    teacher kept unexcused are two; a lesson the day after the note is none; the note
    cancelled, none at all."""
    for absence_id, day, lesson in (
        (10, "2026-11-18", 1),
        (11, "2026-11-18", 2),
        (12, "2026-11-19", 1),
    ):
        await api.post_absence(absence(absence_id, 1, SCHOOL, day, lesson=lesson))
    await api.push(note("25317A000001", PUPIL, "2026-11-18", "2026-11-18"))
    for absence_id in (10, 11):
        await api.patch_absence(absence_id, {"kind": "unexcused"})
    figures = await month(api)
    assert (figures["unexcusedLessons"], figures["unexcusedUnderNotes"]) == (3, 2)
    await api.cancel("25317A000001")
    figures = await month(api)
    assert (figures["unexcusedLessons"], figures["unexcusedUnderNotes"]) == (3, 0)


async def test_a_locked_month_stays_excused_through_a_cancellation_until_an_operator_decides(
    api: Api, pupil: None
) -> None:
    await api.put_institution_body(SCHOOL, {"lockedThrough": "2026-11-30"})
    await api.post_absence(absence(10, 1, SCHOOL, "2026-11-18"))
    await api.post_absence(absence(11, 1, SCHOOL, "2026-12-01"))
    await api.push(note("25317A000001", PUPIL, "2026-11-18", "2026-12-01"))
    assert (await api.absence_by_id(10))["kind"] == "excused"  # a note still excuses
    cancelled = (await api.cancel("25317A000001")).json()
    assert cancelled["revertedAbsences"] == 1  # 1 December is open; 18 November is not
    kept = await api.absence_by_id(10)
    assert (kept["kind"], kept["excusedByNrn"]) == ("excused", "25317A000001")
    assert (await api.absence_by_id(11))["kind"] == "unexcused"
    assert await review(api) == [(10, "locked", "25317A000001")]
    resolved = await api.http.post(
        "/api/v1/ops/review/10/resolve",
        json={"resolution": "unexcuse", "reason": "бележката е анулирана от лекаря"},
        headers=await api.as_role("operator"),
    )
    assert resolved.status_code == 200, resolved.text
    assert (await api.absence_by_id(10))["kind"] == "unexcused"
    assert await review(api) == []


async def test_four_lessons_and_two_lates_are_over_the_limit_and_a_note_brings_it_under(
    api: Api, pupil: None
) -> None:
    for i, day in enumerate(("2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19")):
        await api.post_absence(absence(10 + i, 1, SCHOOL, day))
    await api.post_absence(absence(20, 1, SCHOOL, "2026-11-20", lesson=1, kind="late"))
    await api.post_absence(absence(21, 1, SCHOOL, "2026-11-20", lesson=2, kind="late"))
    figures = await month(api)
    assert (figures["unexcusedLessons"], figures["lateArrivals"]) == (4, 2)
    assert (figures["unexcusedHours"], figures["overBenefitLimit"]) == (5.0, True)
    await api.push(note("25317A000001", PUPIL, "2026-11-16", "2026-11-16"))
    figures = await month(api)
    assert (figures["unexcusedHours"], figures["overBenefitLimit"]) == (4.0, False)


async def test_a_late_september_note_belongs_to_two_school_years(api: Api, pupil: None) -> None:
    await api.push(note("25317A000001", PUPIL, "2026-09-28", "2026-09-29"))
    await api.push(note("25317A000002", PUPIL, "2026-11-18", "2026-11-18"))

    async def class_view(year: int) -> list[str]:
        response = await api.http.get(
            f"/api/v1/diary/institutions/{SCHOOL}/medicalNotices",
            params={"schoolYear": year},
            headers=await api.as_role("neispuo"),
        )
        assert response.status_code == 200, response.text
        return [i["hisMedicalNotice"]["nrnMedicalNotice"] for i in response.json()["items"]]

    assert await class_view(2025) == ["25317A000001"]
    assert await class_view(2026) == ["25317A000002", "25317A000001"]
    assert await class_view(2024) == []
    searched = (await api.ops("/notes", schoolYear=2025)).json()["items"]
    assert [(n["nrnMedicalNotice"], n["schoolYears"]) for n in searched] == [
        ("25317A000001", [2025, 2026])
    ]
    assert (await api.ops("/notes", schoolYear=1999)).status_code == 400


async def test_locked_through_moves_forward_and_back_and_is_kept_when_left_out(
    api: Api, pupil: None
) -> None:
    async def locked() -> Any:
        shown = await api.http.get(
            f"/api/v1/registry/institutions/{SCHOOL}", headers=await api.as_role("neispuo")
        )
        return shown.json()["lockedThrough"]

    assert await locked() is None  # institutions start unlocked
    await api.put_institution_body(SCHOOL, {"lockedThrough": "2026-10-31"})
    assert await locked() == "2026-10-31"
    await api.put_institution(SCHOOL, name="СУ преименувано")  # left out: unchanged
    assert await locked() == "2026-10-31"
    await api.put_institution_body(SCHOOL, {"lockedThrough": "2026-09-30"})  # back
    assert await locked() == "2026-09-30"
    await api.put_institution_body(SCHOOL, {"lockedThrough": None})
    assert await locked() is None


async def test_an_override_an_operator_kept_is_not_listed_again(api: Api, pupil: None) -> None:
    await api.post_absence(absence(10, 1, SCHOOL, "2026-11-18"))
    await api.push(note("25317A000001", PUPIL, "2026-11-18", "2026-11-18"))
    await api.patch_absence(10, {"kind": "unexcused"})
    kept = await api.http.post(
        "/api/v1/ops/review/10/resolve",
        json={"resolution": "keep", "reason": "класният потвърди, че ученикът е бил на екскурзия"},
        headers=await api.as_role("operator"),
    )
    assert kept.status_code == 200, kept.text
    assert await review(api) == []
    await api.post_absence(absence(11, 1, SCHOOL, "2026-11-18", lesson=2))  # the day again
    assert await review(api) == []  # the operator's decision is remembered
    assert (await api.absence_by_id(10))["kind"] == "unexcused"
    assert (await api.absence_by_id(11))["kind"] == "excused"
    again = await api.http.post(
        "/api/v1/ops/review/10/resolve",
        json={"resolution": "keep", "reason": "x"},
        headers=await api.as_role("operator"),
    )
    assert again.status_code == 404  # not listed
