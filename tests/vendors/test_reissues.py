"""Reissues: a doctor cancels a note and issues a new one for the same examination; the
two are linked (replaces / replacedBy) in the whole note and in the vendors' feed."""

from __future__ import annotations

import asyncpg

from tests.factories import Api, note
from tests.vendors.conftest import MOVER, PUPIL, Vendor


async def test_a_note_issued_after_a_cancellation_replaces_it(
    api: Api, acme: Vendor, schools: None
) -> None:
    await api.push(note("25317A000001", PUPIL, examination="26317A000077"))
    assert (await api.cancel("25317A000001")).status_code == 200
    await api.push(
        note("25317A000002", PUPIL, "2026-11-18", "2026-11-23", examination="26317A000077")
    )

    old, new = await api.whole_note("25317A000001"), await api.whole_note("25317A000002")
    assert (old["replaces"], old["replacedBy"]) == (None, "25317A000002")
    assert (new["replaces"], new["replacedBy"]) == ("25317A000001", None)

    events = (await acme.feed())["events"]
    by_note = {(e["hisMedicalNotice"]["nrnMedicalNotice"], e["type"]): e for e in events}
    issued_again = by_note[("25317A000002", "note.issued")]
    assert issued_again["replaces"] == "25317A000001"
    assert by_note[("25317A000001", "note.cancelled")]["replacedBy"] == "25317A000002"
    first = by_note[("25317A000001", "note.issued")]
    assert (first["replaces"], first["replacedBy"]) == (None, "25317A000002")


async def test_no_link_across_examinations_persons_or_order(api: Api, schools: None) -> None:
    await api.push(note("25317A000011", PUPIL, examination="26317A000077"))
    await api.push(note("25317A000012", PUPIL, examination="26317A000099"))  # before the cancel
    await api.cancel("25317A000011")
    await api.push(note("25317A000013", MOVER, examination="26317A000077"))  # another pupil
    await api.push(note("25317A000014", PUPIL, examination="26317A000088"))  # another examination
    for nrn in ("25317A000011", "25317A000012", "25317A000013", "25317A000014"):
        whole = await api.whole_note(nrn)
        assert (whole["replaces"], whole["replacedBy"]) == (None, None), nrn


async def test_a_new_note_more_than_14_days_after_the_cancellation_is_no_reissue(
    api: Api, db: asyncpg.Connection, schools: None
) -> None:
    await api.push(note("25317A000021", PUPIL, examination="26317A000077"))
    await api.cancel("25317A000021")
    await db.execute(  # NZIS cancelled it 15 days ago
        "UPDATE notice_cancellations SET received_at = now() - interval '15 days' "
        "WHERE nrn = '25317A000021'"
    )
    await api.push(note("25317A000022", PUPIL, examination="26317A000077"))
    assert (await api.whole_note("25317A000022"))["replaces"] is None
    await db.execute(
        "UPDATE notice_cancellations SET received_at = now() - interval '13 days' "
        "WHERE nrn = '25317A000021'"
    )
    assert (await api.whole_note("25317A000022"))["replaces"] == "25317A000021"


async def test_a_mistyped_note_links_to_its_correction_and_a_third_note_replaces_nothing(
    api: Api, acme: Vendor, schools: None
) -> None:
    typo = PUPIL[:8] + ("0" if PUPIL[8] != "0" else "1") + PUPIL[9]  # not valid: type 5
    await api.push(note("25317A000031", typo, identifier_type=5, examination="26317A000055"))
    await api.cancel("25317A000031")
    await api.push(note("25317A000032", PUPIL, examination="26317A000055"))  # the correction
    await api.push(note("25317A000033", PUPIL, examination="26317A000055"))  # a third
    assert (await api.whole_note("25317A000032"))["replaces"] == "25317A000031"
    assert (await api.whole_note("25317A000031"))["replacedBy"] == "25317A000032"
    assert (await api.whole_note("25317A000033"))["replaces"] is None
    events = (await acme.feed())["events"]
    [issued] = [e for e in events if e["hisMedicalNotice"]["nrnMedicalNotice"] == "25317A000032"]
    assert issued["replaces"] is None  # acme was never issued the unmatched note


async def test_two_matched_notes_of_different_pupils_are_no_reissue(
    api: Api, schools: None
) -> None:
    await api.push(note("25317A000041", MOVER, examination="26317A000066"))
    await api.cancel("25317A000041")
    await api.push(note("25317A000042", PUPIL, examination="26317A000066"))
    assert (await api.whole_note("25317A000042"))["replaces"] is None
