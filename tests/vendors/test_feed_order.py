"""The commit-order gap: events commit out of the order their ids were given.

A feed read by a plain sequence cursor (`seq > cursor ORDER BY seq`) skips an event whose
transaction took its id first but committed last. These tests make exactly that happen and
check that the gateway's feed misses nothing and repeats nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time

import asyncpg

from tests.factories import Api, enrollment, make_egn, note, person
from tests.vendors.conftest import ACME_SCHOOL, Vendor


async def slow_notes_linger(db: asyncpg.Connection, seconds: float) -> None:
    """Writing the feed event of a note whose NRN starts with SLOW lingers inside its transaction."""
    await db.execute(
        f"""
        CREATE FUNCTION test_slow_event() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF (SELECT nrn FROM medical_notices WHERE id = NEW.notice_id) LIKE 'SLOW%' THEN
                PERFORM pg_sleep({seconds});
            END IF;
            RETURN NULL;
        END $$;
        CREATE TRIGGER test_slow_event AFTER INSERT ON vendor_events
            FOR EACH ROW EXECUTE FUNCTION test_slow_event();
        """
    )


async def naive_read(db: asyncpg.Connection, after_seq: int) -> list[int]:
    rows = await db.fetch(
        "SELECT seq, notice_id FROM vendor_events WHERE seq > $1 ORDER BY seq", after_seq
    )
    return [r["seq"] for r in rows]


async def test_an_event_committing_late_is_not_skipped(
    api: Api, acme: Vendor, db: asyncpg.Connection
) -> None:
    await acme.headers()
    await api.put_institution(ACME_SCHOOL, diary="acme")
    slow, fast = make_egn(dt.date(2014, 1, 1), 1), make_egn(dt.date(2014, 1, 2), 2)
    await api.put_person(1, person(slow, enrollment(ACME_SCHOOL)))
    await api.put_person(2, person(fast, enrollment(ACME_SCHOOL)))
    await api.token("nzis")
    await slow_notes_linger(db, 1.0)
    start = (await acme.feed())["nextCursor"]

    async def fast_then_read() -> tuple[dict, list[int]]:
        await asyncio.sleep(0.3)  # the slow note has taken its event id and is lingering
        await api.push(note("FAST00000001", fast))
        return await acme.feed(start), await naive_read(db, 0)

    slow_push, (gateway_page, naive_seqs) = await asyncio.gather(
        api.push(note("SLOW00000001", slow)), fast_then_read()
    )
    assert slow_push.status_code == 200
    # A seq cursor would now stand at the fast event, past the slow one still uncommitted:
    assert naive_seqs == [2], "the scenario did not produce a commit-order gap"
    # The gateway's feed holds the fast event back while the slow transaction runs...
    assert gateway_page["events"] == []
    # ...and then serves both, each once, the slow one included.
    page = await acme.feed(gateway_page["nextCursor"])
    assert sorted(e["hisMedicalNotice"]["nrnMedicalNotice"] for e in page["events"]) == [
        "FAST00000001",
        "SLOW00000001",
    ]


async def test_many_writers_while_a_vendor_pages(
    api: Api, acme: Vendor, db: asyncpg.Connection
) -> None:
    await acme.headers()
    await api.put_institution(ACME_SCHOOL, diary="acme")
    pupils = [make_egn(dt.date(2014, 1, 1) + dt.timedelta(days=i), i) for i in range(40)]
    await api.put_persons(
        [{"personId": i + 1, **person(p, enrollment(ACME_SCHOOL))} for i, p in enumerate(pupils)]
    )
    await api.token("nzis")
    # Every event write lingers a random while: commits land out of id order all the time.
    await db.execute(
        """
        CREATE FUNCTION test_jitter() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_sleep(random() * 0.05); RETURN NULL; END $$;
        CREATE TRIGGER test_jitter AFTER INSERT ON vendor_events
            FOR EACH ROW EXECUTE FUNCTION test_jitter();
        """
    )
    writers, notes_each = 8, 10
    rng = random.Random(3)
    done = asyncio.Event()

    async def writer(w: int) -> None:
        for i in range(notes_each):
            await api.push(note(f"26{w:02d}A{i:07d}", rng.choice(pupils)))

    seen: list[int] = []
    pages = 0

    async def reader() -> None:
        nonlocal pages
        cursor = (await acme.feed())["nextCursor"]
        while True:
            finished = done.is_set()
            page = await acme.feed(cursor, limit=3)
            pages += 1
            seen.extend(e["medicalNoticeId"] for e in page["events"])
            cursor = page["nextCursor"]
            if finished and not page["hasMore"] and not page["events"]:
                return

    started = time.monotonic()
    reading = asyncio.create_task(reader())
    await asyncio.gather(*(writer(w) for w in range(writers)))
    done.set()
    await reading
    elapsed = time.monotonic() - started
    stored = await db.fetchval("SELECT count(*) FROM medical_notices")
    naive_order = await db.fetch("SELECT notice_id FROM vendor_events ORDER BY seq")
    print(
        f"\n{writers} writers, {stored} notes, {len(seen)} events seen in {pages} pages, "
        f"{elapsed:.2f} s"
    )
    assert stored == writers * notes_each
    assert len(seen) == len(set(seen)), "an event was served twice"
    assert sorted(seen) == sorted(r["notice_id"] for r in naive_order), "an event was missed"
