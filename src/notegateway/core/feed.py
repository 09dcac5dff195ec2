"""The one mechanism behind every ordered feed: the vendors' event feeds and the diary's
change feed.

- Writing: a feed's rows are numbered by an identity column, in the transaction that made
  the change, after the writer took the feed writers' lock (core/locks.py), held to
  commit. Numbers are thus given in commit order: once a reader sees number n, every
  row numbered below n has committed. `notegateway/settle.py` takes the lock, once per request,
  for every feed the request writes.
- Reading: a page is the rows numbered after the reader's position, in number order; its
  last number is the next position. Paging by number never passes a row still to commit,
  nor serves one twice.
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

from notegateway.core import feed_cursor
from notegateway.core.db import transaction
from notegateway.core.errors import BadRequest, DomainError
from notegateway.core.limits import ClientLimits
from notegateway.core.notifier import FeedNotifier, wait_for


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


@dataclass(frozen=True, slots=True)
class Page:
    rows: Sequence[asyncpg.Record]
    position: int  # the next position: the last row's number, or where the reader was
    more: bool

    def answer(self, reader: Reader, items: str, item: Callable[[asyncpg.Record], Any]) -> Answer:
        """The look's answer: the wire page `{items: [...], "nextCursor", "hasMore"}`, new
        when it holds rows."""
        body = {
            items: [item(row) for row in self.rows],
            "nextCursor": reader.cursor(self.position),
            "hasMore": self.more,
        }
        return Answer(body, bool(self.rows), self.position)


# The query parameters of every feed.
After = Annotated[str | None, Query(max_length=200)]
Limit = Annotated[int, Query(ge=1, le=1000)]
Wait = Annotated[float, Query(ge=0, le=30)]
DEFAULT_LIMIT = 100

Rows = Callable[[asyncpg.Connection, int, int], Awaitable[Sequence[asyncpg.Record]]]


async def page(
    db: asyncpg.Connection, reader: Reader, after: int | None, limit: int, rows: Rows
) -> Page:
    """At most `limit` rows after `after` (the oldest kept when None): `rows(db, after, n)`
    selects up to n rows of the reader's feed numbered after `after`, in number order.

    With a cursor, the rows are read before the purge mark: a purge committing between the
    two then makes the answer 410 rather than a page that silently skips what it deleted."""
    if after is None:
        after = await _purged_up_to(db, reader)
        found = await rows(db, after, limit + 1)
    else:
        found = await rows(db, after, limit + 1)
        if after < await _purged_up_to(db, reader):
            raise CursorExpired("this cursor is older than the feed keeps; start again without one")
    kept = found[:limit]
    return Page(kept, kept[-1]["seq"] if kept else after, len(found) > limit)


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
            # NOTIFY wakes us at commit; while the listener is away, look every second.
            await wait_for(waiter, min(remaining, notifier.recheck_seconds))
    raise AssertionError("unreachable")
