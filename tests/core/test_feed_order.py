"""The commit-order gap, for every feed: rows that commit out of the order their numbers
were given.

A feed read by number (`seq > cursor`) skips a row whose transaction took its number
first but committed last, unless writers commit in number order. These tests make that
happen, on the vendors' event feed and on the diary's change feed (one mechanism:
core/feed.py), and check that the reader misses nothing and gets nothing twice; with the
watermark removed (core/feed.py:watermark) or the writers' tickets not taken
(ngw_feed_ticket, core/sql_functions.py) they fail.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

from tests.conftest import TWO_PROCESSES
from tests.factories import Api, absence, bearer, enrollment, make_egn, note, person

SCHOOL = 300001
FIRST_DAY = dt.date(2026, 10, 1)


@dataclass
class FeedUnderTest:
    """A feed as its reader sees it: where it is read, what names each row, and how a
    row's note is found inside the database (for the test triggers)."""

    api: Api
    diary: str  # the school's diary: the vendor's (its feed) or NEISPUO's (the changes)
    path: str
    items: str
    table: str
    nrn_of_new: str  # SQL: the NRN of the note of the row being inserted (NEW)

    async def headers(self) -> dict[str, str]:
        if self.diary == "neispuo":
            return bearer(await self.api.token("neispuo"))
        return bearer(await self.api.token("vendor", self.diary))

    async def prepare(self, pupils: list[str], days: int) -> None:
        """The pupils in one school, each absent (one lesson) on each of the first `days`
        days of October."""
        await self.headers()
        await self.api.put_institution(SCHOOL, diary=self.diary)
        await self.api.put_persons(
            [{"personId": i + 1, **person(p, enrollment(SCHOOL))} for i, p in enumerate(pupils)]
        )
        for day in range(days):
            for i in range(len(pupils)):
                date = (FIRST_DAY + dt.timedelta(days=day)).isoformat()
                await self.api.post_absence(absence(day * 1000 + i + 1, i + 1, SCHOOL, date))
        await self.api.token("nzis")

    async def page(self, after: str | None = None, limit: int = 100) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit} | ({"after": after} if after else {})
        response = await self.api.http.get(self.path, params=params, headers=await self.headers())
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def nrns(self, page: dict[str, Any]) -> list[str]:
        return [
            item["hisMedicalNotice"]["nrnMedicalNotice"]
            if "hisMedicalNotice" in item
            else item["nrnMedicalNotice"]
            for item in page[self.items]
        ]

    def keys(self, page: dict[str, Any]) -> list[int]:
        """What each row is about: the event's note, or the changed absence."""
        return [item.get("medicalNoticeId", item.get("absenceId")) for item in page[self.items]]

    async def written(self, db: asyncpg.Connection) -> list[int]:
        """The same, for every row the database holds."""
        if self.table == "vendor_events":
            sql = "SELECT notice_id FROM vendor_events ORDER BY seq"
        else:
            sql = (
                "SELECT l.absence_id FROM diary_changes AS c "
                "JOIN audit_log AS l ON l.id = c.audit_id ORDER BY c.seq"
            )
        return [r[0] for r in await db.fetch(sql)]


@pytest.fixture(params=["vendor events", "diary changes"])
def feed(request: pytest.FixtureRequest, api: Api) -> FeedUnderTest:
    if request.param == "vendor events":
        return FeedUnderTest(
            api,
            "acme",
            "/api/v1/medicalNotices/events",
            "events",
            "vendor_events",
            "(SELECT nrn FROM medical_notices WHERE id = NEW.notice_id)",
        )
    return FeedUnderTest(
        api,
        "neispuo",
        "/api/v1/diary/changes",
        "changes",
        "diary_changes",
        "(SELECT n.nrn FROM audit_log AS l JOIN medical_notices AS n ON n.id = l.notice_id "
        "WHERE l.id = NEW.audit_id)",
    )


# Every race and ordering here is run in one process and across two.
pytestmark = pytest.mark.parametrize("api", ["one process", TWO_PROCESSES], indirect=True)


def on_october(nrn: str, pupil: str, day: int) -> dict[str, Any]:
    date = (FIRST_DAY + dt.timedelta(days=day)).isoformat()
    return note(nrn, pupil, date, date)


async def test_a_row_committing_late_is_not_skipped(
    api: Api, feed: FeedUnderTest, db: asyncpg.Connection
) -> None:
    slow, fast = make_egn(dt.date(2014, 1, 1), 1), make_egn(dt.date(2014, 1, 2), 2)
    await feed.prepare([slow, fast], days=1)
    # The slow note's transaction takes row number 1, then lingers a second before it
    # commits; the fast one starts 0.3 s later. A reader polls all the while.
    await db.execute(
        f"""
        CREATE FUNCTION test_slow_row() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF {feed.nrn_of_new} LIKE 'SLOW%' THEN PERFORM pg_sleep(1.0); END IF;
            RETURN NULL;
        END $$;
        CREATE TRIGGER test_slow_row AFTER INSERT ON {feed.table}
            FOR EACH ROW EXECUTE FUNCTION test_slow_row();
        """
    )
    cursor = (await feed.page())["nextCursor"]
    seen: list[str] = []
    pushing = asyncio.gather(
        api.push(on_october("SLOW00000001", slow, 0)),
        _later(0.3, api.push(on_october("FAST00000001", fast, 0))),
    )
    while not pushing.done():
        page = await feed.page(cursor)
        seen += feed.nrns(page)
        cursor = page["nextCursor"]
        await asyncio.sleep(0.05)
    assert [r.status_code for r in await pushing] == [200, 200]
    seen += feed.nrns(await feed.page(cursor))
    assert seen == ["SLOW00000001", "FAST00000001"]


async def _later(seconds: float, call):  # type: ignore[no-untyped-def]
    await asyncio.sleep(seconds)
    return await call


async def test_many_writers_while_a_reader_pages(
    api: Api, feed: FeedUnderTest, db: asyncpg.Connection
) -> None:
    pupils = [make_egn(dt.date(2014, 1, 1) + dt.timedelta(days=i), i) for i in range(40)]
    writers, notes_each = 16, 5
    days = writers * notes_each // len(pupils)
    await feed.prepare(pupils, days)
    # Every row written lingers a random while: commits land out of number order all the time.
    await db.execute(
        f"""
        CREATE FUNCTION test_jitter() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_sleep(random() * 0.1); RETURN NULL; END $$;
        CREATE TRIGGER test_jitter AFTER INSERT ON {feed.table}
            FOR EACH ROW EXECUTE FUNCTION test_jitter();
        """
    )
    done = asyncio.Event()

    async def writer(w: int) -> None:
        # Note k: pupil k mod 40 on October day k div 40; each note excuses one absence.
        for i in range(notes_each):
            k = w * notes_each + i
            pupil = pupils[k % len(pupils)]
            assert (await api.push(on_october(f"26{w:02d}A{i:07d}", pupil, k // 40))).is_success

    seen: list[int] = []
    pages = 0

    async def reader() -> None:
        nonlocal pages
        cursor = (await feed.page())["nextCursor"]
        while True:
            finished = done.is_set()
            page = await feed.page(cursor, limit=3)
            pages += 1
            seen.extend(feed.keys(page))
            cursor = page["nextCursor"]
            if finished and not page["hasMore"] and not page[feed.items]:
                return

    started = time.monotonic()
    reading = asyncio.create_task(reader())
    await asyncio.gather(*(writer(w) for w in range(writers)))
    done.set()
    await reading
    elapsed = time.monotonic() - started
    written = await feed.written(db)
    print(
        f"\n{feed.table}: {writers} writers, {len(written)} rows, {len(seen)} seen in "
        f"{pages} pages, {elapsed:.2f} s"
    )
    assert len(written) == writers * notes_each  # one event, or one change, per note
    assert len(seen) == len(set(seen)), "a row was served twice"
    assert sorted(seen) == sorted(written), "a row was missed"
