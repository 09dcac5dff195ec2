"""A vendor's rows held back behind another vendor's open writer (core/feed.py: the
watermark) reach its long poll when that writer ends, though the writer's commit wakes
only its own vendor."""

from __future__ import annotations

import asyncio
import time

import asyncpg

from tests.factories import Api, note
from tests.vendors.conftest import MOVER, PUPIL, Vendor


async def test_a_long_poll_held_behind_another_vendors_writer_answers_when_it_commits(
    api: Api, acme: Vendor, beta: Vendor, schools: None, db: asyncpg.Connection
) -> None:
    # Beta's note lingers 1.5 s after its feed row is numbered; acme's note comes 0.3 s
    # later and commits first, its row numbered after beta's.
    await db.execute(
        """
        CREATE FUNCTION test_slow_row() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF (SELECT nrn FROM medical_notices WHERE id = NEW.notice_id) LIKE 'SLOW%'
            THEN PERFORM pg_sleep(1.5); END IF;
            RETURN NULL;
        END $$;
        CREATE TRIGGER test_slow_row AFTER INSERT ON vendor_events
            FOR EACH ROW EXECUTE FUNCTION test_slow_row();
        """
    )
    cursor = (await acme.feed())["nextCursor"]
    started = time.monotonic()
    poll = asyncio.create_task(acme.get("/events", after=cursor, wait=20))

    async def fast() -> None:
        await asyncio.sleep(0.3)
        assert (await api.push(note("FAST00000001", PUPIL))).status_code == 200

    slow = note("SLOW00000001", MOVER, "2026-11-23", "2026-11-24")
    pushed = await asyncio.gather(api.push(slow), fast())
    assert pushed[0].status_code == 200
    answer = await poll
    waited = time.monotonic() - started
    assert answer.status_code == 200
    assert [e["hisMedicalNotice"]["nrnMedicalNotice"] for e in answer.json()["events"]] == [
        "FAST00000001"
    ]
    # Held until beta's writer committed (1.5 s in), then answered within a look or two;
    # without the short re-look it waits for the next 15 s re-check.
    assert 1.4 < waited < 5, waited
