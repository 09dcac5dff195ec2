"""The commit-order gap: events that commit out of the order their numbers were given.

A feed read by number (`seq > cursor`) skips an event whose transaction took its number
first but committed last, unless writers commit in number order. These tests make that
happen and check that the feed misses nothing and repeats nothing; with the feed writers'
lock removed (core/locks.py:lock_feed_writers) both fail.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time

import asyncpg
import pytest

from tests.conftest import TWO_PROCESSES
from tests.factories import Api, enrollment, make_egn, note, person
from tests.vendors.conftest import ACME_SCHOOL, Vendor

# Every race and ordering here is run in one process and across two.
pytestmark = pytest.mark.parametrize("api", ["one process", TWO_PROCESSES], indirect=True)


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


async def test_an_event_committing_late_is_not_skipped(
    api: Api, acme: Vendor, db: asyncpg.Connection
) -> None:
    await acme.headers()
    await api.put_institution(ACME_SCHOOL, diary="acme")
    slow, fast = make_egn(dt.date(2014, 1, 1), 1), make_egn(dt.date(2014, 1, 2), 2)
    await api.put_person(1, person(slow, enrollment(ACME_SCHOOL)))
    await api.put_person(2, person(fast, enrollment(ACME_SCHOOL)))
    await api.token("nzis")
    # The slow note's transaction takes event number 1, then lingers a second before it
    # commits; the fast one starts 0.3 s later. A reader polls all the while.
    await slow_notes_linger(db, 1.0)
    cursor = (await acme.feed())["nextCursor"]
    seen: list[str] = []
    pushing = asyncio.gather(
        api.push(note("SLOW00000001", slow)), _later(0.3, api.push(note("FAST00000001", fast)))
    )
    while not pushing.done():
        page = await acme.feed(cursor)
        seen += [e["hisMedicalNotice"]["nrnMedicalNotice"] for e in page["events"]]
        cursor = page["nextCursor"]
        await asyncio.sleep(0.05)
    assert [r.status_code for r in await pushing] == [200, 200]
    page = await acme.feed(cursor)
    seen += [e["hisMedicalNotice"]["nrnMedicalNotice"] for e in page["events"]]
    assert seen == ["SLOW00000001", "FAST00000001"]


async def _later(seconds: float, call):  # type: ignore[no-untyped-def]
    await asyncio.sleep(seconds)
    return await call


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
    written = await db.fetch("SELECT notice_id FROM vendor_events ORDER BY seq")
    print(
        f"\n{writers} writers, {stored} notes, {len(seen)} events seen in {pages} pages, "
        f"{elapsed:.2f} s"
    )
    assert stored == writers * notes_each
    assert len(seen) == len(set(seen)), "an event was served twice"
    assert sorted(seen) == sorted(r["notice_id"] for r in written), "an event was missed"
