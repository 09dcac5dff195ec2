"""The one mechanism behind every ordered feed: the vendors' event feeds and the diary's
change feed.

- Writing: a feed's rows are numbered by an identity column, in the transaction that made
  the change, with no lock that writers wait for. Before a statement numbers any row, a
  trigger takes the transaction's ticket (`ngw_feed_ticket`, core/sql_functions.py): a
  shared lock, held to commit, on the number after the feed's last one. Every row the
  transaction numbers afterwards is at least its ticket.
- Reading: a page is the rows numbered after the reader's position and below the feed's
  watermark (`ngw_feed_watermark`), in number order; its last number is the next
  position. The watermark is the oldest ticket held, or else one past the last number;
  the sequence is read first and the locks second. A row below it whose transaction is
  still open cannot exist: that transaction took its ticket before numbering the row; if
  before the locks were read, the ticket is held and at most the row's number; if after,
  the row was numbered after the sequence was read, so above the last number read. The
  rows are then read in a statement of their own (a snapshot taken after the watermark):
  every row below it has committed or never will. Paging by number thus never passes a
  row still to commit, nor serves one twice, whatever order writers commit in; a reader
  waits behind the oldest open writer, as the feed's order is the order rows were
  numbered in.
  Why this and not the others (issue 21): a lock every writer takes, held to commit,
  queued 20 to 25 of 32 pushes; numbering at commit from a deferred trigger holds a lock
  only for the commit, but then the order is commit order, not numbering order, which the
  feed's tests keep; PgQ's ticks and logical decoding both change what a cursor is.
  Costs: the trigger is a sequence read and a shared lock per statement; a page is one
  pg_locks read more (reader only). A writer that rolls back after numbering holds
  nothing afterwards: its numbers are gaps, and the rows after them go out when its
  ticket is released (a reader waiting on a long poll sees them at its next look).
- Cursors: positions sealed for one client and one feed (core/feed_cursor.py).
- Retention: rows older than the retention are deleted by number (the kept rows are
  always a tail of each feed), and `feed_purges` remembers per feed and scope how far it
  went: a cursor before that is 410, one at it lost nothing.
- Long polls: a trigger on each feed's table sends NOTIFY with the ids of the clients
  concerned; every process listens (core/notifier.py) and wakes their waiting requests.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Annotated, Any

import asyncpg
from fastapi import Query, Request
from prometheus_client import Gauge

from notegateway.core import feed_cursor
from notegateway.core.db import rows_as, transaction
from notegateway.core.errors import BadRequest, DomainError
from notegateway.core.limits import ClientLimits
from notegateway.core.locks import FEED_TICKET_CLASSES, feed_sequence
from notegateway.core.notifier import FeedNotifier, wait_for
from notegateway.core.timeutil import age_seconds


class CursorExpired(DomainError):
    status_code = 410
    slug = "cursor-expired"
    title = "Gone"


@dataclass(frozen=True, slots=True)
class Feed:
    """A feed's table: `seq` numbers its rows; `scope` is the column that splits it into
    one feed per client (None: one feed for all its readers); `at` the time retention
    counts from."""

    name: str
    table: str
    scope: str | None
    at: str


@dataclass(frozen=True, slots=True)
class Reader:
    """One client reading one feed (its part `scope_id` of it)."""

    feed: Feed
    key: bytes
    client_id: int
    scope_id: int = 0

    def cursor(self, seq: int) -> str:
        return feed_cursor.encode(self.key, self.feed.name, self.client_id, seq)

    def position(self, after: str | None) -> int | None:
        """The position `after` names; None when omitted. 400 when it is not a cursor this
        client was given by this feed."""
        if after is None:
            return None
        seq = self.seq_of(after)
        if seq is None:
            raise BadRequest("invalid cursor: not a cursor of this feed")
        return seq

    def seq_of(self, cursor: str) -> int | None:
        """The position of a well-formed cursor of this client's, else None."""
        try:
            return feed_cursor.decode(self.key, self.feed.name, self.client_id, cursor)
        except feed_cursor.InvalidCursor:
            return None


@dataclass(frozen=True, slots=True)
class Answer:
    """What one look at a feed found: the wire body, whether it holds anything new, and
    the position it reaches."""

    body: Any
    fresh: bool
    position: int
    held: bool = False  # more waits for an open writer: look again soon


@dataclass(frozen=True, slots=True)
class Page:
    rows: Sequence[asyncpg.Record]
    position: int  # the next position: the last row's number, or where the reader was
    more: bool
    held: bool  # rows after these wait for an open writer's commit (the watermark)

    def answer(self, reader: Reader, items: str, item: Callable[[asyncpg.Record], Any]) -> Answer:
        """The look's answer: the wire page `{items: [...], "nextCursor", "hasMore"}`, new
        when it holds rows."""
        body = {
            items: [item(row) for row in self.rows],
            "nextCursor": reader.cursor(self.position),
            "hasMore": self.more,
        }
        return Answer(body, bool(self.rows), self.position, self.held)


# The query parameters of every feed.
After = Annotated[str | None, Query(max_length=200)]
Limit = Annotated[int, Query(ge=1, le=1000)]
Wait = Annotated[float, Query(ge=0, le=30)]
DEFAULT_LIMIT = 100
HELD_RECHECK_S = 0.05

Rows = Callable[[asyncpg.Connection, int, int], Awaitable[Sequence[asyncpg.Record]]]


async def watermark(db: asyncpg.Connection, feed: Feed) -> int:
    """The number below which every row of the feed has committed or never will (see
    the module's docstring); a statement of its own, before the rows are read."""
    value: int = await db.fetchval(
        "SELECT ngw_feed_watermark($1::regclass, $2)",
        feed_sequence(feed.table),
        FEED_TICKET_CLASSES[feed.table],
    )
    return value


async def page(
    db: asyncpg.Connection, reader: Reader, after: int | None, limit: int, rows: Rows
) -> Page:
    """At most `limit` rows after `after` (the oldest kept when None) and below the
    watermark: `rows(db, after, n)` selects up to n rows of the reader's feed numbered
    after `after`, in number order, in a statement after the watermark's.

    With a cursor, the rows are read before the purge mark: a purge committing between the
    two then makes the answer 410 rather than a page that silently skips what it deleted."""
    below = await watermark(db, reader.feed)
    if after is None:
        after = await _purged_up_to(db, reader)
        found = await rows(db, after, limit + 1)
    else:
        found = await rows(db, after, limit + 1)
        if after < await _purged_up_to(db, reader):
            raise CursorExpired("this cursor is older than the feed keeps; start again without one")
    settled = list(itertools.takewhile(lambda row: row["seq"] < below, found))
    kept = settled[:limit]
    return Page(
        kept, kept[-1]["seq"] if kept else after, len(settled) > limit, len(settled) < len(found)
    )


async def _purged_up_to(db: asyncpg.Connection, reader: Reader) -> int:
    value: int | None = await db.fetchval(
        "SELECT seq FROM feed_purges WHERE feed = $1 AND scope_id = $2",
        reader.feed.name,
        reader.scope_id,
    )
    return value or 0


async def purge(db: asyncpg.Connection, feed: Feed, older_than: dt.datetime) -> int:
    """Delete the feed's rows up to the newest one older than `older_than`, remembering
    per scope how far it went; how many."""
    scope = feed.scope or "0"
    count: int = await db.fetchval(
        f"""
        WITH cut AS (
            SELECT max(seq) AS seq FROM {feed.table} WHERE {feed.at} < $1
        ),
        gone AS (
            DELETE FROM {feed.table} WHERE seq <= (SELECT seq FROM cut)
            RETURNING {scope} AS scope_id, seq
        ),
        newest AS (
            SELECT scope_id, max(seq) AS seq FROM gone GROUP BY scope_id
        ),
        remembered AS (
            INSERT INTO feed_purges (feed, scope_id, seq)
            SELECT $2, scope_id, seq FROM newest
            ON CONFLICT (feed, scope_id) DO UPDATE SET seq = excluded.seq
            WHERE feed_purges.seq < excluded.seq
        )
        SELECT count(*) FROM gone
        """,
        older_than,
        feed.name,
    )
    return count


async def record_read(db: asyncpg.Connection, feed: Feed, client_id: int, seq: int | None) -> None:
    """The client read the feed now and was answered up to `seq` (None: a read that gives
    no position, a vendor's /next, keeps the last one)."""
    await db.execute(
        """
        INSERT INTO feed_reads (feed, client_id, read_at, seq) VALUES ($1, $2, now(), $3)
        ON CONFLICT (feed, client_id) DO UPDATE
           SET read_at = excluded.read_at, seq = coalesce(excluded.seq, feed_reads.seq)
        """,
        feed.name,
        client_id,
        seq,
    )


@dataclass(frozen=True, slots=True)
class ReaderLag:
    """How far one reader is behind a feed."""

    reader: str  # the client's name
    read_at: dt.datetime | None  # its last read
    behind: int  # rows past the position it was last answered up to
    oldest: dt.datetime | None  # when the oldest of them was made (None: caught up)


@dataclass(frozen=True, slots=True)
class LagGauges:
    """The metrics one feed's readers are reported in, each labelled by reader."""

    last_read: Gauge
    behind: Gauge
    seconds: Gauge

    def report(self, lags: Sequence[ReaderLag]) -> None:
        now = dt.datetime.now(dt.UTC)
        for lag in lags:
            if lag.read_at is not None:
                self.last_read.labels(lag.reader).set(lag.read_at.timestamp())
            self.behind.labels(lag.reader).set(lag.behind)
            self.seconds.labels(lag.reader).set(age_seconds(lag.oldest, now))


LAG_COUNT_CAP = 100_000  # rows counted past a reader's position, at most: a bounded scan


async def lags(db: asyncpg.Connection, feed: Feed, role: str) -> list[ReaderLag]:
    """Every enabled client of `role`, as a reader of `feed` (its own part of it, for a
    scoped feed): its last read, and the rows it has not been answered yet (counted up to
    LAG_COUNT_CAP; the oldest is the first of them by number)."""
    own = f"e.{feed.scope} = c.id AND" if feed.scope else ""
    rows = await db.fetch(
        f"""
        SELECT c.name AS reader, r.read_at,
               (SELECT count(*) FROM (SELECT 1 FROM {feed.table} AS e
                                      WHERE {own} e.seq > coalesce(r.seq, 0)
                                      LIMIT {LAG_COUNT_CAP}) AS capped) AS behind,
               (SELECT e.{feed.at} FROM {feed.table} AS e
                WHERE {own} e.seq > coalesce(r.seq, 0) ORDER BY e.seq LIMIT 1) AS oldest
        FROM clients AS c
        LEFT JOIN feed_reads AS r ON r.feed = $1 AND r.client_id = c.id
        WHERE c.role = $2 AND c.disabled_at IS NULL
        ORDER BY c.name
        """,
        feed.name,
        role,
    )
    return rows_as(ReaderLag, rows)


Look = Callable[[asyncpg.Connection], Awaitable[Answer]]
Answered = Callable[[asyncpg.Connection, int], Awaitable[None]]


async def _nothing(_db: asyncpg.Connection, _position: int) -> None:
    return None


async def long_poll(
    request: Request,
    client_id: int,
    wait: float,
    look: Look,
    recheck: Callable[[asyncpg.Connection], Awaitable[object]],
    answered: Answered = _nothing,
) -> Any:
    """Look until something is new, `wait` seconds pass or the server drains; each look in
    a transaction of its own (no connection held while waiting), every look after the first
    `recheck`ing the client's credentials first; `answered` runs in the answering look's
    transaction. A client holds at most NOTEGATEWAY_VENDOR_LONG_POLLS waiting polls."""
    engine = request.app.state.engine
    notifier: FeedNotifier = request.app.state.feed_notifier
    limits: ClientLimits = request.app.state.client_limits
    deadline = time.monotonic() + wait
    async with limits.long_poll(engine, client_id, wait) if wait > 0 else nullcontext():
        for again in itertools.chain([False], itertools.repeat(True)):
            # Taken before looking, so a commit between the look and the wait still wakes
            # us; a change to the client (disabled, rotated) wakes us too.
            waiter = notifier.waiter(client_id)
            remaining = deadline - time.monotonic()
            async with transaction(engine) as db:
                if again:  # still the same client, not disabled or rotated meanwhile?
                    await recheck(db)
                answer = await look(db)
                final = answer.fresh or remaining <= 0 or notifier.draining
                if final:
                    await answered(db, answer.position)
            if final:
                return answer.body
            # NOTIFY wakes us at commit; while the listener is away, look every second;
            # while rows for us wait for another client's writer (or one that rolls back),
            # whose commit wakes only its own readers, look again shortly.
            pause = HELD_RECHECK_S if answer.held else notifier.recheck_seconds
            await wait_for(waiter, min(remaining, pause))
    raise AssertionError("unreachable")
