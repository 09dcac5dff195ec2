"""The excusal rules (diary/excusal.py) through HTTP: what the diary shows after each event."""

from __future__ import annotations

import datetime as dt

import asyncpg
import pytest

from tests.factories import Api, absence, enrollment, make_egn, make_lnch, note, person

EGN = make_egn(dt.date(2014, 3, 15), 123)
SCHOOL, OTHER_SCHOOL, KINDERGARTEN, VENDOR_SCHOOL = 100001, 100002, 200001, 300001
PERIOD_COMMENT = (
    "Автоматично уважено с електронна медицинска бележка 25317A000123/20.11.2026 "
    "за периода 18.11.2026 - 20.11.2026. УИН на лекаря - 2300011922."
)


@pytest.fixture
async def school(api: Api) -> None:
    for institution in (SCHOOL, OTHER_SCHOOL, KINDERGARTEN):
        await api.put_institution(institution)
    await api.token("vendor", "acme")
    await api.put_institution(VENDOR_SCHOOL, diary="acme")
    await api.put_person(1, person(EGN, enrollment(SCHOOL)))


async def kinds(api: Api) -> dict[int, tuple[str, str | None]]:
    return {a["absenceId"]: (a["kind"], a["excusedByNrn"]) for a in await api.absences()}


@pytest.mark.smoke
async def test_note_excuses_unexcused_absences_on_covered_days(api: Api, school: None) -> None:
    for absence_id, date, lesson, kind in [
        (1, "2026-11-17", 1, "unexcused"),  # before the period
        (2, "2026-11-18", 1, "unexcused"),
        (3, "2026-11-18", 2, "unexcused"),
        (4, "2026-11-19", 3, "late"),  # late arrivals stay
        (5, "2026-11-20", 4, "excused"),  # posted excused by the diary: a person's
        (6, "2026-11-21", 1, "unexcused"),  # after the period
    ]:
        await api.post_absence(absence(absence_id, 1, SCHOOL, date, lesson, kind))
    response = await api.push(note("25317A000123", EGN))
    assert response.status_code == 200
    assert await kinds(api) == {
        1: ("unexcused", None),
        2: ("excused", "25317A000123"),
        3: ("excused", "25317A000123"),
        4: ("late", None),
        5: ("excused", None),
        6: ("unexcused", None),
    }
    excused = await api.absence_by_id(2)
    assert excused["reason"] == "medical"
    assert excused["comment"] == PERIOD_COMMENT
    assert excused["setByPerson"] is False
    assert (await api.view("25317A000123")).json()["excusedAbsences"] == 2


async def test_one_day_comment_and_preschool_daily_attendance(api: Api, school: None) -> None:
    await api.put_person(1, person(EGN, enrollment(KINDERGARTEN, "Пчелички", None)))
    await api.post_absence(absence(10, 1, KINDERGARTEN, "2026-11-19", lesson=None, subject=None))
    await api.push(
        note("25317A000124", EGN, "2026-11-19", "2026-11-19", authored_on="2026-11-19T08:00:00")
    )
    day = await api.absence_by_id(10)
    assert day["kind"] == "excused"
    assert day["comment"] == (
        "Автоматично уважено с електронна медицинска бележка 25317A000124/19.11.2026 "
        "за дата 19.11.2026. УИН на лекаря - 2300011922."
    )


async def test_absence_recorded_after_the_note_is_excused_at_once(api: Api, school: None) -> None:
    await api.push(note("25317A000123", EGN))
    response = await api.post_absence(absence(20, 1, SCHOOL, "2026-11-19"))
    assert response.status_code == 201
    assert (response.json()["kind"], response.json()["excusedByNrn"]) == ("excused", "25317A000123")
    late = await api.post_absence(absence(21, 1, SCHOOL, "2026-11-19", lesson=2, kind="late"))
    assert late.json()["kind"] == "late"


async def test_each_day_judged_by_that_days_school(api: Api, school: None) -> None:
    await api.put_person(
        1,
        person(
            EGN,
            enrollment(SCHOOL, "6", "Б", "2026-09-15", "2026-11-18"),
            enrollment(OTHER_SCHOOL, "6", "А", "2026-11-19", None),
        ),
    )
    await api.post_absence(absence(30, 1, SCHOOL, "2026-11-18"))
    await api.post_absence(absence(31, 1, OTHER_SCHOOL, "2026-11-19"))
    await api.post_absence(absence(32, 1, SCHOOL, "2026-11-20"))  # not at SCHOOL that day
    await api.push(note("25317A000123", EGN))
    assert await kinds(api) == {
        30: ("excused", "25317A000123"),
        31: ("excused", "25317A000123"),
        32: ("unexcused", None),
    }


async def test_vendor_school_absences_are_never_touched(api: Api, school: None) -> None:
    await api.put_person(1, person(EGN, enrollment(VENDOR_SCHOOL)))
    await api.post_absence(absence(40, 1, VENDOR_SCHOOL, "2026-11-18"))
    await api.push(note("25317A000123", EGN))
    assert await kinds(api) == {40: ("unexcused", None)}
    assert (await api.whole_note("25317A000123"))["placements"][0]["institutionId"] == VENDOR_SCHOOL


async def test_cancel_reverts_exactly_and_repeat_changes_nothing(
    api: Api, school: None, db: asyncpg.Connection
) -> None:
    await api.post_absence(absence(50, 1, SCHOOL, "2026-11-18"))
    await api.post_absence(absence(51, 1, SCHOOL, "2026-11-19"))
    await api.push(note("25317A000123", EGN))
    response = await api.cancel("25317A000123")
    assert response.json() == {
        "nrnMedicalNotice": "25317A000123",
        "status": "cancelled",
        "revertedAbsences": 2,
        "reattributedAbsences": 0,
    }
    for absence_id in (50, 51):
        reverted = await api.absence_by_id(absence_id)
        assert (
            reverted["kind"],
            reverted["reason"],
            reverted["comment"],
            reverted["excusedByNrn"],
        ) == (
            "unexcused",
            None,
            None,
            None,
        )
    entries = await db.fetchval("SELECT count(*) FROM audit_log")
    again = await api.cancel("25317A000123")
    assert again.json() == response.json()
    assert await db.fetchval("SELECT count(*) FROM audit_log") == entries
    assert (await api.view("25317A000123")).json()["excusedAbsences"] == 0


async def test_cancel_hands_over_to_another_covering_note(api: Api, school: None) -> None:
    await api.post_absence(absence(60, 1, SCHOOL, "2026-11-19"))
    await api.post_absence(absence(61, 1, SCHOOL, "2026-11-18"))
    await api.push(note("25317A000123", EGN))  # 18-20, received first: holds both
    await api.push(
        note("25317A000125", EGN, "2026-11-19", "2026-11-22", authored_on="2026-11-19T09:00:00")
    )
    assert await kinds(api) == {60: ("excused", "25317A000123"), 61: ("excused", "25317A000123")}
    response = await api.cancel("25317A000123")
    assert (response.json()["revertedAbsences"], response.json()["reattributedAbsences"]) == (1, 1)
    taken_over = await api.absence_by_id(60)
    assert taken_over["excusedByNrn"] == "25317A000125"
    assert taken_over["comment"].startswith(
        "Автоматично уважено с електронна медицинска бележка 25317A000125/19.11.2026 за периода 19.11.2026 - 22.11.2026"
    )
    assert (await api.absence_by_id(61))["kind"] == "unexcused"


async def test_person_changed_absence_stays_and_is_listed_for_review(
    api: Api, school: None
) -> None:
    await api.post_absence(absence(70, 1, SCHOOL, "2026-11-18"))
    await api.push(note("25317A000123", EGN))
    await api.patch_absence(70, {"comment": "проверено от класния"})
    await api.push(note("25317A000126", EGN, "2026-11-18", "2026-11-18"))  # covers it too
    response = await api.cancel("25317A000123")
    assert (response.json()["revertedAbsences"], response.json()["reattributedAbsences"]) == (0, 0)
    kept = await api.absence_by_id(70)
    assert (kept["kind"], kept["excusedByNrn"], kept["comment"]) == (
        "excused",
        "25317A000123",
        "проверено от класния",
    )
    review = (await api.ops("/review")).json()["items"]
    assert [(r["absenceId"], r["nrnMedicalNotice"]) for r in review] == [(70, "25317A000123")]
    assert review[0]["why"] == "noteCancelled"


async def test_patched_absence_is_never_excused_by_a_note(api: Api, school: None) -> None:
    await api.post_absence(absence(80, 1, SCHOOL, "2026-11-18"))
    await api.patch_absence(80, {"kind": "unexcused", "comment": "не се уважава"})
    await api.push(note("25317A000123", EGN))
    assert await kinds(api) == {80: ("unexcused", None)}


async def test_registry_move_undoes_excusals_like_a_cancellation(api: Api, school: None) -> None:
    await api.post_absence(absence(90, 1, SCHOOL, "2026-11-18"))
    await api.post_absence(absence(91, 1, SCHOOL, "2026-11-19"))
    await api.push(note("25317A000123", EGN))
    await api.patch_absence(91, {"comment": "видяно"})
    # The pupil is now recorded as in OTHER_SCHOOL for the whole period.
    await api.put_person(1, person(EGN, enrollment(OTHER_SCHOOL, "5", "А", "2026-09-15")))
    assert (await api.absence_by_id(90))["kind"] == "unexcused"
    assert (await api.absence_by_id(91))["kind"] == "excused"
    review = (await api.ops("/review")).json()["items"]
    assert [(r["absenceId"], r["why"]) for r in review] == [(91, "noteMoved")]
    # ...and back: the note covers SCHOOL again and excuses again.
    await api.put_person(1, person(EGN, enrollment(SCHOOL)))
    assert (await api.absence_by_id(90))["excusedByNrn"] == "25317A000123"


async def test_person_registered_after_their_note(api: Api, school: None) -> None:
    lnch = make_lnch(4242)
    await api.post_absence(absence(95, 1, SCHOOL, "2026-11-18"))
    await api.push(note("25317A000127", lnch, identifier_type=2))
    assert (await api.absence_by_id(95))["kind"] == "unexcused"
    # NEISPUO corrects the pupil's identifier: the waiting note matches and excuses at once.
    response = await api.put_person(1, person(lnch, enrollment(SCHOOL), identifier_type=2))
    assert response.status_code == 200
    assert (await api.absence_by_id(95))["excusedByNrn"] == "25317A000127"


async def test_earlier_note_takes_over_when_registry_makes_it_cover(api: Api, school: None) -> None:
    lnch = make_lnch(777)
    await api.push(note("25317A000128", lnch, identifier_type=2))  # received first, unmatched
    await api.push(note("25317A000129", EGN))  # received second, matched
    await api.post_absence(absence(96, 1, SCHOOL, "2026-11-19"))
    assert (await api.absence_by_id(96))["excusedByNrn"] == "25317A000129"
    await api.put_person(1, person(lnch, enrollment(SCHOOL), identifier_type=2))
    assert (await api.absence_by_id(96))["excusedByNrn"] == "25317A000128"


async def test_diary_switch_keeps_excusals_and_stops_new_ones(api: Api, school: None) -> None:
    await api.post_absence(absence(97, 1, SCHOOL, "2026-11-18"))
    await api.push(note("25317A000123", EGN))
    await api.put_institution(SCHOOL, diary="acme", diary_from="2026-11-01")
    await api.post_absence(absence(98, 1, SCHOOL, "2026-11-19"))
    assert await kinds(api) == {97: ("excused", "25317A000123"), 98: ("unexcused", None)}
    await api.cancel("25317A000123")
    assert (await api.absence_by_id(97))["kind"] == "excused"


async def test_audit_log_records_every_change_and_is_append_only(
    api: Api, school: None, db: asyncpg.Connection
) -> None:
    await api.post_absence(absence(99, 1, SCHOOL, "2026-11-18"))
    await api.push(note("25317A000123", EGN))
    await api.cancel("25317A000123", {"cancelReason": "анулирана"})
    view = (await api.ops("/notes/25317A000123")).json()
    actions = [(e["action"], e["absenceId"]) for e in view["audit"]]
    assert actions == [
        ("note.received", None),
        ("absence.excused", 99),
        ("note.cancelled", None),
        ("absence.reverted", 99),
    ]
    excused = view["audit"][1]
    assert excused["actor"] == "test-nzis"
    assert excused["before"] == {
        "kind": "unexcused",
        "reason": None,
        "comment": None,
        "excusedByNrn": None,
    }
    assert excused["after"]["excusedByNrn"] == "25317A000123"
    with pytest.raises(asyncpg.RaiseError):
        await db.execute("UPDATE audit_log SET actor = 'x'")
    with pytest.raises(asyncpg.RaiseError):
        await db.execute("DELETE FROM audit_log")


async def test_ops_queue_of_unmatched_notes(api: Api, school: None) -> None:
    await api.push(
        note("25317A000130", EGN), note("25317A000131", make_lnch(31), identifier_type=2)
    )
    unmatched = (await api.ops("/notes", match="unmatched")).json()
    assert [i["nrnMedicalNotice"] for i in unmatched["items"]] == ["25317A000131"]
    assert unmatched["total"] == 1
    everything = (await api.ops("/notes", limit=1)).json()
    assert everything["total"] == 2
    assert [i["nrnMedicalNotice"] for i in everything["items"]] == ["25317A000131"]  # newest first
    by_identifier = (await api.ops("/notes", identifier=EGN)).json()
    assert [i["nrnMedicalNotice"] for i in by_identifier["items"]] == ["25317A000130"]
    assert (await api.ops("/notes", match="maybe")).status_code == 400
    assert (await api.ops("/notes/25317A000999")).status_code == 404


async def test_class_view_of_notes(api: Api, school: None) -> None:
    other = make_egn(dt.date(2014, 4, 4), 44)
    await api.put_person(2, person(other, enrollment(SCHOOL, "5", "Б")))
    await api.post_absence(absence(100, 1, SCHOOL, "2026-11-18"))
    await api.push(note("25317A000123", EGN), note("25317A000132", other))
    headers = await api.as_role("neispuo")
    url = f"/api/v1/diary/institutions/{SCHOOL}/medicalNotices"
    section_a = (
        await api.http.get(url, params={"className": "5", "section": "А"}, headers=headers)
    ).json()
    assert [(i["personId"], i["excusedAbsences"]) for i in section_a["items"]] == [(1, 1)]
    assert section_a["items"][0]["placements"][0]["section"] == "А"
    whole_school = (await api.http.get(url, headers=headers)).json()
    assert sorted(i["personId"] for i in whole_school["items"]) == [1, 2]
    later = (await api.http.get(url, params={"fromDate": "2026-11-21"}, headers=headers)).json()
    assert later["items"] == []
    one = (await api.http.get(url, params={"personId": 2}, headers=headers)).json()
    assert [i["personId"] for i in one["items"]] == [2]
    assert (
        await api.http.get("/api/v1/diary/institutions/42/medicalNotices", headers=headers)
    ).status_code == 404


async def test_metrics_count_excused_and_reverted(api: Api, school: None) -> None:
    import re

    def value(text: str, name: str) -> float:
        match = re.search(rf"^{name} (\S+)$", text, re.M)
        return float(match.group(1)) if match else 0.0

    before = (await api.http.get("/metrics")).text
    await api.post_absence(absence(110, 1, SCHOOL, "2026-11-18"))
    await api.push(note("25317A000123", EGN))
    await api.cancel("25317A000123")
    after = (await api.http.get("/metrics")).text
    assert (
        value(after, "notegateway_absences_excused_total")
        - value(before, "notegateway_absences_excused_total")
        == 1
    )
    assert (
        value(after, "notegateway_absences_reverted_total")
        - value(before, "notegateway_absences_reverted_total")
        == 1
    )


async def test_excused_count_is_what_the_note_holds_now(api: Api, school: None) -> None:
    await api.post_absence(absence(120, 1, SCHOOL, "2026-11-18"))
    await api.post_absence(absence(121, 1, SCHOOL, "2026-11-19"))
    await api.push(note("25317A000123", EGN))
    await api.patch_absence(121, {"comment": "видяно"})
    assert (await api.view("25317A000123")).json()["excusedAbsences"] == 2
    await api.cancel("25317A000123")
    assert (await api.absence_by_id(121))["kind"] == "excused"  # a person's: stays
    assert (await api.view("25317A000123")).json()["excusedAbsences"] == 0


async def test_person_unexcusing_takes_the_absence_from_its_note(api: Api, school: None) -> None:
    await api.post_absence(absence(130, 1, SCHOOL, "2026-11-18"))
    await api.push(note("25317A000123", EGN))
    changed = (await api.patch_absence(130, {"kind": "unexcused"})).json()
    assert (changed["kind"], changed["excusedByNrn"], changed["comment"]) == (
        "unexcused",
        None,
        None,
    )
    await api.cancel("25317A000123")
    assert (await api.ops("/review")).json()["items"] == []


async def test_nul_in_query_parameters_is_400(api: Api, school: None) -> None:
    assert (await api.ops("/notes", identifier="14\x0043")).status_code == 400
    response = await api.http.get(
        f"/api/v1/diary/institutions/{SCHOOL}/medicalNotices",
        params={"className": "5\x00"},
        headers=await api.as_role("neispuo"),
    )
    assert response.status_code == 400


async def test_cancellation_before_arrival_is_audited(api: Api, school: None) -> None:
    await api.cancel("25317A000140", {"cancelReason": "грешка"})
    await api.push(note("25317A000140", EGN))
    audit = (await api.ops("/notes/25317A000140")).json()["audit"]
    assert [e["action"] for e in audit] == ["note.cancelled_before_arrival", "note.received"]


async def test_switch_to_neispuo_applies_the_rules_at_once(api: Api, school: None) -> None:
    await api.put_institution(SCHOOL, diary="acme", diary_from="2026-11-01")
    await api.post_absence(absence(140, 1, SCHOOL, "2026-11-18"))
    await api.push(note("25317A000123", EGN))
    assert (await api.absence_by_id(140))["kind"] == "unexcused"
    # Back on the same first day: the two periods are one NEISPUO period again.
    await api.put_institution(SCHOOL, diary="neispuo", diary_from="2026-11-01")
    assert (await api.absence_by_id(140))["excusedByNrn"] == "25317A000123"
    audit = [e for e in (await api.ops("/notes/25317A000123")).json()["audit"]]
    assert [e["action"] for e in audit][-1] == "absence.excused"


async def test_review_item_leaves_the_list_when_the_note_covers_again(
    api: Api, school: None
) -> None:
    await api.post_absence(absence(150, 1, SCHOOL, "2026-11-18"))
    await api.push(note("25317A000123", EGN))
    await api.patch_absence(150, {"comment": "видяно"})
    await api.put_person(1, person(EGN, enrollment(OTHER_SCHOOL)))
    assert [r["absenceId"] for r in (await api.ops("/review")).json()["items"]] == [150]
    await api.put_person(1, person(EGN, enrollment(SCHOOL)))
    assert (await api.ops("/review")).json()["items"] == []
