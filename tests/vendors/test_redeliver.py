"""An operator hands a note to a vendor again: `next` serves it again, the feed tells it
again with `redelivered: true`; audited; refused for a vendor the note does not reach."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx

from tests.factories import Api, enrollment, note, person
from tests.vendors.conftest import NEISPUO_SCHOOL, PUPIL, Vendor


async def redeliver(api: Api, nrn: str, body: Any, role: str = "operator") -> httpx.Response:
    return await api.http.post(
        f"/api/v1/ops/notes/{nrn}/redeliver", json=body, headers=await api.as_role(role)
    )


async def test_next_and_the_feed_serve_it_again(
    api: Api, acme: Vendor, schools: None, db: asyncpg.Connection
) -> None:
    await api.push(note("25317A000001", PUPIL))
    assert [n["medicalNoticeId"] for n in (await acme.get("/next/100")).json()["medicalNotices"]]
    assert (await acme.post("/acknowledge", [1])).status_code == 200
    assert (await acme.get("/next/100")).json()["medicalNotices"] == []
    first = await acme.feed()
    assert [e.get("redelivered") for e in first["events"]] == [None]

    handed = await redeliver(api, "25317A000001", {"vendor": "acme", "reason": "lost by the diary"})
    assert handed.status_code == 202, handed.text
    assert handed.json() == {
        "nrnMedicalNotice": "25317A000001",
        "vendor": "acme",
        "status": "redelivered",
    }
    assert [
        n["medicalNoticeId"] for n in (await acme.get("/next/100")).json()["medicalNotices"]
    ] == [1]
    again = await acme.feed(first["nextCursor"])
    [event] = again["events"]
    assert (event["type"], event["redelivered"], event["medicalNoticeId"]) == (
        "note.issued",
        True,
        1,
    )
    assert event["placements"] == first["events"][0]["placements"]
    audit = await db.fetchrow(
        "SELECT actor, after FROM audit_log WHERE action = 'note.redelivered'"
    )
    assert audit["actor"] == "test-operator"
    assert "lost by the diary" in audit["after"]


async def test_refused_where_the_note_does_not_reach_and_for_bad_input(
    api: Api, acme: Vendor, beta: Vendor, schools: None, db: asyncpg.Connection
) -> None:
    await api.push(note("25317A000001", PUPIL))  # acme's school only
    cases = [
        ({"vendor": "beta", "reason": "x"}, 422),  # its days are not beta's
        ({"vendor": "nobody", "reason": "x"}, 422),
        ({"vendor": "acme"}, 422),
        ({"vendor": "acme", "reason": " "}, 422),
    ]
    for body, status in cases:
        assert (await redeliver(api, "25317A000001", body)).status_code == status, body
    assert (
        await redeliver(api, "25317A000999", {"vendor": "acme", "reason": "x"})
    ).status_code == 404
    assert (
        await redeliver(api, "25317A000001", {"vendor": "acme", "reason": "x"}, role="neispuo")
    ).status_code == 403
    await api.cancel("25317A000001")
    assert (
        await redeliver(api, "25317A000001", {"vendor": "acme", "reason": "x"})
    ).status_code == 422
    assert (
        await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'note.redelivered'") == 0
    )
    assert await db.fetchval("SELECT count(*) FROM vendor_events WHERE reason = 'redelivered'") == 0


async def test_a_redelivery_racing_a_move_away_never_tells_the_vendor_a_gone_note(
    api: Api, acme: Vendor, schools: None, db: asyncpg.Connection
) -> None:
    """The pupil leaves acme's school (acme is told `note.cancelled`) while an operator
    redelivers the note to acme: the redelivery waits for the move, then finds the note
    gone from acme's days (422). Without the lock on what acme was told, it read the
    note as still issued and told acme so after the cancellation, for good."""
    await api.push(note("25317A000001", PUPIL))
    # The move's transaction lingers after it has written acme's cancellation.
    await db.execute(
        """
        CREATE FUNCTION test_slow_cancel() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.type = 'note.cancelled' THEN PERFORM pg_sleep(1.0); END IF;
            RETURN NULL;
        END $$;
        CREATE TRIGGER test_slow_cancel AFTER INSERT ON vendor_events
            FOR EACH ROW EXECUTE FUNCTION test_slow_cancel();
        """
    )

    async def redeliver_later() -> httpx.Response:
        await asyncio.sleep(0.3)
        return await redeliver(api, "25317A000001", {"vendor": "acme", "reason": "lost"})

    moved, handed = await asyncio.gather(
        api.put_person(1, person(PUPIL, enrollment(NEISPUO_SCHOOL, "9", "В"))),
        redeliver_later(),
    )
    assert moved.is_success, moved.text
    assert handed.status_code == 422, handed.text
    types = [(e["type"], e.get("redelivered")) for e in (await acme.all_events())]
    assert types == [("note.issued", None), ("note.cancelled", None)]
    state = await db.fetchval("SELECT state FROM vendor_note_state")
    assert state == "gone"
