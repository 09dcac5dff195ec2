"""The event feed: what each vendor is told, cursors, acks, retention, long polling."""

from __future__ import annotations

import asyncio
import base64
import struct
import time

import asyncpg
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from notegateway.core.config import Settings
from notegateway.vendors import service as vendors_service
from tests.conftest import plain
from tests.factories import Api, enrollment, make_lnch, note, person, poll_while_pushing
from tests.vendors.conftest import ACME_SCHOOL, BETA_SCHOOL, MOVER, NEISPUO_SCHOOL, PUPIL, Vendor


def summary(events: list[dict]) -> list[tuple]:
    return [(e["type"], e["medicalNoticeId"], e.get("reason")) for e in events]


@pytest.mark.smoke
async def test_issued_event_carries_note_and_clipped_placements(
    api: Api, acme: Vendor, beta: Vendor, schools: None
) -> None:
    await api.push(note("25317A000003", MOVER, "2026-11-16", "2026-11-24"))
    [event] = (await acme.feed())["events"]
    assert event["type"] == "note.issued"
    assert event["personId"] == 2
    assert event["hisMedicalNotice"]["nrnMedicalNotice"] == "25317A000003"
    assert event["placements"] == [
        {
            "institutionId": ACME_SCHOOL,
            "className": "7",
            "section": "А",
            "fromDate": "2026-11-16",
            "toDate": "2026-11-18",
        }
    ]
    assert "reason" not in event
    [beta_event] = (await beta.feed())["events"]
    assert beta_event["placements"] == [
        {
            "institutionId": BETA_SCHOOL,
            "className": "7",
            "section": "Б",
            "fromDate": "2026-11-19",
            "toDate": "2026-11-24",
        }
    ]


async def test_cursor_paging_and_a_still_cursor(api: Api, acme: Vendor, schools: None) -> None:
    await api.push(*(note(f"25317A{i:06d}", PUPIL) for i in range(5)))
    first = await acme.feed(limit=2)
    assert (len(first["events"]), first["hasMore"]) == (2, True)
    second = await acme.feed(first["nextCursor"], limit=2)
    third = await acme.feed(second["nextCursor"], limit=2)
    assert (len(third["events"]), third["hasMore"]) == (1, False)
    ids = [e["medicalNoticeId"] for page in (first, second, third) for e in page["events"]]
    assert ids == [1, 2, 3, 4, 5]
    still = await acme.feed(third["nextCursor"])
    assert still["events"] == []
    assert still["nextCursor"] == third["nextCursor"]
    assert first["events"][-1]["cursor"] == first["nextCursor"]
    assert all(len(e["cursor"]) <= 200 for e in first["events"])


async def test_bad_and_foreign_cursors_are_400(
    api: Api, acme: Vendor, beta: Vendor, schools: None
) -> None:
    await api.push(note("25317A000001", PUPIL))
    cursor = (await acme.feed())["nextCursor"]
    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    for bad in (tampered, "garbage", "c1.AAAA.BBBB", "x" * 201):
        assert (await acme.get("/events", after=bad)).status_code == 400, bad
    assert (await beta.get("/events", after=cursor)).status_code == 400
    assert (await acme.get("/events", limit=0)).status_code == 400
    assert (await acme.get("/events", wait=31)).status_code == 400


async def test_registry_changes_yield_updated_cancelled_and_issued_again(
    api: Api, acme: Vendor, schools: None
) -> None:
    await api.push(note("25317A000001", PUPIL))
    await api.put_person(1, person(PUPIL, enrollment(ACME_SCHOOL, "9", "Г")))  # section change
    await api.put_person(1, person(PUPIL, enrollment(NEISPUO_SCHOOL)))  # no day left with acme
    await api.put_person(1, person(PUPIL, enrollment(ACME_SCHOOL, "9", "Г")))  # days come back
    await api.cancel("25317A000001")
    events = await acme.all_events()
    assert summary(events) == [
        ("note.issued", 1, None),
        ("note.updated", 1, None),
        ("note.cancelled", 1, "placement"),
        ("note.issued", 1, None),
        ("note.cancelled", 1, "annulled"),
    ]
    assert events[1]["placements"][0]["section"] == "Г"
    assert events[2]["placements"] == []
    assert (await acme.get("/25317A000001")).json()["status"] == "cancelled"


async def test_lost_placement_hides_the_note_from_the_vendor(
    api: Api, acme: Vendor, schools: None
) -> None:
    await api.push(note("25317A000001", PUPIL))
    await api.put_person(1, person(PUPIL, enrollment(NEISPUO_SCHOOL)))
    assert (await acme.get("/25317A000001")).status_code == 404


async def test_late_match_reaches_the_vendor_and_early_annulment_says_nothing(
    api: Api, acme: Vendor, schools: None
) -> None:
    lnch = make_lnch(5151)
    await api.push(note("25317A000001", lnch, identifier_type=2))
    assert (await acme.feed())["events"] == []
    await api.cancel("25317A000002")
    await api.push(note("25317A000002", PUPIL))  # annulled before it arrived
    await api.put_person(3, person(lnch, enrollment(ACME_SCHOOL), identifier_type=2))
    assert summary(await acme.all_events()) == [("note.issued", 1, None)]


async def test_acks_show_in_the_views_and_the_latest_wins(
    api: Api, acme: Vendor, beta: Vendor, schools: None
) -> None:
    await api.push(note("25317A000003", MOVER))
    [event] = (await acme.feed())["events"]
    ack = await acme.post(f"/events/{event['cursor']}/ack", {"outcome": "pendingTeacher"})
    assert ack.status_code == 204
    await api.cancel("25317A000003")
    again = await acme.post(
        f"/events/{event['cursor']}/ack",
        {"outcome": "excused", "excusedAbsences": 3, "comment": "ok"},
    )
    assert again.status_code == 204  # allowed after the note was cancelled
    acks = (await api.whole_note("25317A000003"))["vendorAcks"]
    assert [(a["vendor"], a["outcome"], a["excusedAbsences"], a["comment"]) for a in acks] == [
        ("acme", "excused", 3, "ok")
    ]
    # NZIS learns what became of the note, not who took it or what they wrote.
    [anonymous] = (await api.view("25317A000003")).json()["vendorAcks"]
    assert set(anonymous) == {"outcome", "excusedAbsences", "at"}
    assert (anonymous["outcome"], anonymous["excusedAbsences"]) == ("excused", 3)
    # Not this vendor's event, malformed, or invalid bodies.
    assert (
        await beta.post(f"/events/{event['cursor']}/ack", {"outcome": "excused"})
    ).status_code == 404
    assert (await acme.post("/events/not*a*cursor/ack", {"outcome": "excused"})).status_code == 400
    assert (await acme.post("/events/c1.AAAA.BBBB/ack", {"outcome": "excused"})).status_code == 404
    assert (
        await acme.post(f"/events/{event['cursor']}/ack", {"outcome": "maybe"})
    ).status_code == 422


async def test_retention_purges_and_old_cursors_are_410(
    api: Api, acme: Vendor, schools: None, db: asyncpg.Connection
) -> None:
    await api.push(note("25317A000001", PUPIL))
    start = await acme.feed()
    await api.push(note("25317A000002", PUPIL))
    page = await acme.feed(start["nextCursor"])
    assert len(page["events"]) == 1
    await db.execute("UPDATE vendor_events SET occurred_at = now() - interval '100 days'")
    conn = await asyncpg.connect(plain(api.database_url))
    try:
        async with conn.transaction():
            assert await vendors_service.purge(conn, Settings().event_retention_days) == 2
    finally:
        await conn.close()
    expired = await acme.get("/events", after=start["nextCursor"])
    assert expired.status_code == 410
    assert expired.headers["content-type"] == "application/problem+json"
    # The cursor at the newest purged event lost nothing: it still works.
    assert (await acme.feed(page["nextCursor"]))["events"] == []
    fresh = await acme.feed()
    assert fresh["events"] == []
    await api.push(note("25317A000003", PUPIL))
    assert summary((await acme.feed(fresh["nextCursor"]))["events"]) == [("note.issued", 3, None)]


async def test_long_poll_answers_soon_after_a_commit(api: Api, acme: Vendor, schools: None) -> None:
    cursor = (await acme.feed())["nextCursor"]

    started = time.monotonic()
    page, after_push = await poll_while_pushing(
        acme.feed(cursor, wait=10), lambda: api.push(note("25317A000001", PUPIL)), 0.3
    )
    assert summary(page["events"]) == [("note.issued", 1, None)]
    # Woken by NOTIFY: well before the 1 s re-check would have found it (at 1.0 s).
    assert after_push < 0.4
    assert time.monotonic() - started < 0.9


async def test_long_poll_times_out_empty(api: Api, acme: Vendor, schools: None) -> None:
    started = time.monotonic()
    page = await acme.feed(wait=1)
    assert page["events"] == []
    assert 0.9 < time.monotonic() - started < 3


async def test_feed_metrics(api: Api, acme: Vendor, schools: None) -> None:
    await api.push(note("25317A000001", PUPIL), note("25317A000002", PUPIL))
    await acme.feed(limit=1)
    text = (await api.http.get("/metrics")).text
    assert 'notegateway_vendor_feed_lag_events{vendor="acme"} 1.0' in text
    assert 'notegateway_vendor_last_poll_timestamp_seconds{vendor="acme"}' in text


async def test_a_vendor_never_sees_another_vendors_pupils(
    api: Api, acme: Vendor, beta: Vendor, schools: None
) -> None:
    await api.push(note("25317A000001", PUPIL))
    assert (await beta.feed())["events"] == []
    assert (await beta.get("/next/100")).json()["medicalNotices"] == []
    assert (await beta.get("/25317A000001")).status_code == 404
    [event] = (await acme.feed())["events"]
    assert (
        await beta.post(f"/events/{event['cursor']}/ack", {"outcome": "rejected"})
    ).status_code == 404
    assert (await api.view("25317A000001")).json()["vendorAcks"] == []


async def test_diary_switch_tells_no_vendor_anything_about_notes_handed_on(
    api: Api, acme: Vendor, beta: Vendor, schools: None
) -> None:
    await api.push(note("25317A000001", PUPIL))
    await api.put_institution(ACME_SCHOOL, diary="beta", diary_from="2026-11-01")
    # A later registry write that leaves the note's days as they were:
    await api.put_person(
        1,
        person(
            PUPIL,
            enrollment(ACME_SCHOOL, "9", "В"),
            enrollment(NEISPUO_SCHOOL, "9", "В", "2027-01-10"),
        ),
    )
    assert summary(await acme.all_events()) == [("note.issued", 1, None)]
    assert await beta.all_events() == []
    # From then on the new diary's rules apply: a real change reaches beta.
    await api.put_person(1, person(PUPIL, enrollment(ACME_SCHOOL, "9", "Г")))
    assert summary(await beta.all_events()) == [("note.updated", 1, None)]


async def test_annulled_note_stays_visible_after_the_pupil_moves(
    api: Api, acme: Vendor, schools: None
) -> None:
    await api.push(note("25317A000001", PUPIL))
    await api.cancel("25317A000001")
    await api.put_person(1, person(PUPIL, enrollment(NEISPUO_SCHOOL)))
    view = (await acme.get("/25317A000001")).json()
    assert view["status"] == "cancelled"
    assert view["placements"][0]["institutionId"] == ACME_SCHOOL


async def test_cancel_event_for_a_note_passed_on_names_the_pupil_it_had(
    api: Api, acme: Vendor, schools: None
) -> None:
    await api.push(note("25317A000001", PUPIL))
    # Pupil 1's identifier was a mistake: it becomes their former one, and then the person
    # who really holds it (in no school of acme's) claims it.
    await api.put_person(
        1, person(make_lnch(4040), enrollment(ACME_SCHOOL, "9", "В"), identifier_type=2)
    )
    await api.put_person(3, person(PUPIL, enrollment(NEISPUO_SCHOOL)))
    events = await acme.all_events()
    assert summary(events) == [("note.issued", 1, None), ("note.cancelled", 1, "placement")]
    assert events[1]["personId"] == 1


async def test_cursor_spelled_differently_is_refused(api: Api, acme: Vendor, schools: None) -> None:
    await api.push(note("25317A000001", PUPIL))
    [event] = (await acme.feed())["events"]
    cursor = event["cursor"]
    for variant in (f"{cursor}~", f"~{cursor}", f"{cursor}~~", cursor.replace(".", "_", 1)):
        assert (await acme.get("/events", after=variant)).status_code == 400, variant
        assert (
            await acme.post(f"/events/{variant}/ack", {"outcome": "excused"})
        ).status_code == 404


async def test_cursors_tell_nothing_and_foreign_ones_look_tampered(
    api: Api, acme: Vendor, beta: Vendor, schools: None
) -> None:
    """No position can be read from a cursor: the same event number gives unrelated
    cursors for two vendors, and another vendor's real cursor gets the tampered answer."""
    from notegateway.core import feed_cursor as cursors

    key = api.app.state.cursor_key
    first, second = cursors.encode(key, "events", 1, 5), cursors.encode(key, "events", 2, 5)
    assert first != second
    assert cursors.encode(key, "events", 1, 6)[3:12] != first[3:12]  # nothing ordered or readable
    await api.push(note("25317A000001", PUPIL), note("25317A000003", MOVER))
    acme_cursor = (await acme.feed())["events"][0]["cursor"]
    tampered = acme_cursor[:-1] + ("A" if not acme_cursor.endswith("A") else "B")
    foreign = await beta.get("/events", after=acme_cursor)
    altered = await beta.get("/events", after=tampered)
    assert (foreign.status_code, altered.status_code) == (400, 400)
    assert foreign.json()["detail"] == altered.json()["detail"]
    ack_foreign = await beta.post(f"/events/{acme_cursor}/ack", {"outcome": "excused"})
    ack_altered = await beta.post(f"/events/{tampered}/ack", {"outcome": "excused"})
    assert (ack_foreign.status_code, ack_altered.status_code) == (404, 404)
    assert ack_foreign.json()["detail"] == ack_altered.json()["detail"]


async def test_a_cursor_sealed_before_the_change_feed_existed_still_works(
    api: Api, acme: Vendor, schools: None
) -> None:
    """Vendors keep cursors across our upgrades: the event feed's sealing (the vendor's id
    alone as associated data) is the one its first cursors had."""
    await api.push(note("25317A000001", PUPIL))
    await api.push(note("25317A000002", PUPIL))
    first, second = (await acme.feed())["events"]
    vendor_id, seq = await _first_event(api, "acme")
    sealed = AESSIV(api.app.state.cursor_key).encrypt(
        struct.pack(">Q", seq), [struct.pack(">Q", vendor_id)]
    )
    old_cursor = "c3." + base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()
    assert old_cursor == first["cursor"]
    page = await acme.feed(old_cursor)
    assert [e["medicalNoticeId"] for e in page["events"]] == [second["medicalNoticeId"]]


async def _first_event(api: Api, vendor: str) -> tuple[int, int]:
    """The vendor's id and the number of its first event."""
    conn = await asyncpg.connect(plain(api.database_url))
    try:
        row = await conn.fetchrow(
            "SELECT c.id, min(e.seq) FROM clients AS c JOIN vendor_events AS e "
            "ON e.vendor_id = c.id WHERE c.name = $1 GROUP BY c.id",
            vendor,
        )
        assert row is not None
        return row[0], row[1]
    finally:
        await conn.close()


async def test_acknowledge_takes_numeric_strings(api: Api, acme: Vendor, schools: None) -> None:
    await api.push(note("25317A000001", PUPIL))
    assert (await acme.post("/acknowledge", ["1"])).status_code == 200
    assert (await acme.get("/next/100")).json()["medicalNotices"] == []
    assert (await acme.post("/acknowledge", [True])).status_code == 400


async def test_pull_only_vendor_has_a_last_poll_time(api: Api, beta: Vendor, schools: None) -> None:
    await beta.get("/next/100")
    text = (await api.http.get("/metrics")).text
    assert 'notegateway_vendor_last_poll_timestamp_seconds{vendor="beta"}' in text


async def test_long_polls_survive_a_lost_listener_connection(
    api: Api, acme: Vendor, schools: None, db: asyncpg.Connection
) -> None:
    notifier = api.app.state.feed_notifier
    old_pid = notifier.listener_pid()
    await db.execute("SELECT pg_terminate_backend($1)", old_pid)
    for _ in range(50):  # reconnects within moments
        await asyncio.sleep(0.1)
        if notifier.listening and notifier.listener_pid() != old_pid:
            break
    assert notifier.listener_pid() not in (None, old_pid)
    cursor = (await acme.feed())["nextCursor"]

    page, after_push = await poll_while_pushing(
        acme.feed(cursor, wait=10), lambda: api.push(note("25317A000001", PUPIL)), 0.3
    )
    assert summary(page["events"]) == [("note.issued", 1, None)]
    assert after_push < 0.4  # woken by NOTIFY on the new connection
