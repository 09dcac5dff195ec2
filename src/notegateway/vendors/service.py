"""The vendors' side: NEISPUO's compatible pull, the event feed, acks, the vendor's view."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import asyncpg

from notegateway.core import locks, metrics
from notegateway.core.errors import BadRequest, DomainError, NotFound
from notegateway.core.timeutil import SOFIA, neispuo_datetime
from notegateway.core.wire import known_names, validated
from notegateway.vendors import cursor, delivery_repository, repository
from notegateway.vendors.cursor import InvalidCursor
from notegateway.vendors.schemas import EventAckIn

ACK_NAMES = known_names(EventAckIn)


class CursorExpired(DomainError):
    status_code = 410
    slug = "cursor-expired"
    title = "Gone"


async def sync_feed(
    db: asyncpg.Connection,
    notice_ids: list[int],
    silent: bool = False,
    redeliver: Sequence[tuple[int, int]] = (),
) -> None:
    """Tell each vendor what these notes' changes mean for it, and hand the (vendor, note)
    pairs `redeliver` again. Every writer calls this as its last step: it takes the feed
    writers' lock, held to commit (core/locks.py)."""
    if not notice_ids and not redeliver:
        return
    await locks.lock_feed_writers(db)
    if notice_ids:
        await repository.sync_feed(db, notice_ids, silent)
    if redeliver:
        await repository.redeliver(db, redeliver)


async def told_issued(db: asyncpg.Connection, vendor_id: int, notice_id: int) -> bool:
    return await repository.told_issued(db, vendor_id, notice_id)


async def next_notices(db: asyncpg.Connection, vendor_id: int, count: int) -> dict[str, Any]:
    rows = await repository.next_notices(db, vendor_id, count + 1)
    last_push = await repository.last_push_time(db)
    await repository.record_poll(db, vendor_id, None)
    await delivery_repository.record_served(db, vendor_id, [r["id"] for r in rows[:count]])
    return {
        "medicalNotices": [
            {
                "medicalNoticeId": r["id"],
                "personId": r["person_id"],
                "hisMedicalNotice": json.loads(r["payload"]),
            }
            for r in rows[:count]
        ],
        "lastHisSyncTime": neispuo_datetime(last_push.astimezone(SOFIA)) if last_push else None,
        "hasMore": len(rows) > count,
    }


def _notice_id(item: Any) -> int:
    """A medicalNoticeId: a number, or a numeric string (as ASP.NET accepts)."""
    if isinstance(item, bool):
        raise ValueError
    if isinstance(item, str) and item.strip().isdigit():
        item = int(item.strip())
    if isinstance(item, int) and -(2**63) <= item < 2**63:  # an int64, as documented
        return item
    raise ValueError


async def acknowledge(db: asyncpg.Connection, vendor_id: int, body: Any) -> None:
    if not isinstance(body, list):
        raise BadRequest("the body must be a JSON array of medicalNoticeId numbers")
    if not body:
        raise BadRequest("the array of medicalNoticeId is empty")
    try:
        ids = [_notice_id(item) for item in body]
    except ValueError:
        raise BadRequest("the body must be a JSON array of medicalNoticeId numbers") from None
    await repository.mark_read(db, vendor_id, [i for i in ids if 0 < i < 2**63])


def read_cursor(key: bytes, vendor_id: int, after: str | None) -> int | None:
    """The position `after` names; None when omitted. 400 when it is not this vendor's."""
    if after is None:
        return None
    try:
        return cursor.decode(key, vendor_id, after)
    except InvalidCursor as exc:
        raise BadRequest(f"invalid cursor: {exc}") from None


async def feed_page(
    db: asyncpg.Connection, key: bytes, vendor_id: int, after: int | None, limit: int
) -> tuple[dict[str, Any], int]:
    """One page of the vendor's feed after `after` (the oldest kept event when None), and
    the position it reaches."""
    purged = await repository.purged_up_to(db, vendor_id)
    if after is None:
        after = purged
    elif after < purged:
        raise CursorExpired("this cursor is older than the feed keeps; start again without one")
    rows = await repository.feed_page(db, vendor_id, after, limit + 1)
    page = rows[:limit]
    position = page[-1]["seq"] if page else after
    await delivery_repository.record_served(db, vendor_id, [row["notice_id"] for row in page])
    body = {
        "events": [_event(key, vendor_id, row) for row in page],
        "nextCursor": cursor.encode(key, vendor_id, position),
        "hasMore": len(rows) > limit,
    }
    return body, position


async def record_poll(db: asyncpg.Connection, vendor_id: int, position: int) -> None:
    """The vendor polled and was answered up to `position` (once per answer, not per look)."""
    await repository.record_poll(db, vendor_id, position)


def _event(key: bytes, vendor_id: int, row: asyncpg.Record) -> dict[str, Any]:
    event: dict[str, Any] = {
        "cursor": cursor.encode(key, vendor_id, row["seq"]),
        "type": row["type"],
        "occurredAt": row["occurred_at"].isoformat(),
        "medicalNoticeId": row["notice_id"],
        "personId": row["person_id"],
        "hisMedicalNotice": json.loads(row["payload"]),
        "placements": json.loads(row["placements"]),
    }
    if row["reason"] == "redelivered":
        event["redelivered"] = True  # an operator handed the note again
    elif row["reason"] is not None:
        event["reason"] = row["reason"]
    return event


async def ack_event(
    db: asyncpg.Connection, key: bytes, vendor: tuple[int, str], event_cursor: str, body: Any
) -> None:
    vendor_id, vendor_name = vendor
    if not cursor.CURSOR_CHARS.fullmatch(event_cursor):
        raise BadRequest("a cursor is 1 to 200 characters of A-Z a-z 0-9 . _ ~ -")
    ack = validated(EventAckIn, body, ACK_NAMES, "the acknowledgement is invalid")
    try:
        seq = cursor.decode(key, vendor_id, event_cursor)
    except InvalidCursor:
        raise NotFound("no such event in this vendor's feed") from None
    notice_id = await repository.event_of_vendor(db, vendor_id, seq)
    if notice_id is None:
        raise NotFound("no such event in this vendor's feed (or it has expired)")
    await repository.record_ack(
        db, vendor_id, notice_id, seq, ack.outcome, ack.excused_absences, ack.comment
    )
    metrics.VENDOR_ACKS.labels(vendor_name, ack.outcome).inc()


async def vendor_view(db: asyncpg.Connection, vendor_id: int, nrn: str) -> dict[str, Any]:
    row = await repository.vendor_view(db, vendor_id, nrn)
    if row is None:
        raise NotFound(f"no medical notice {nrn} for this vendor")
    return {
        "medicalNoticeId": row["id"],
        "status": row["status"],
        "placements": json.loads(row["placements"]),
        "hisMedicalNotice": json.loads(row["payload"]),
    }


async def purge(db: asyncpg.Connection, retention_days: int) -> int:
    older_than = dt.datetime.now(dt.UTC) - dt.timedelta(days=retention_days)
    return await repository.purge_events(db, older_than)


async def deliveries_of_note(db: asyncpg.Connection, notice_id: int) -> list[dict[str, Any]]:
    return await delivery_repository.deliveries_of_note(db, notice_id)


async def acks_of_note(db: asyncpg.Connection, notice_id: int) -> list[dict[str, Any]]:
    return await delivery_repository.acks_of_note(db, notice_id)


async def refresh_feed_metrics(db: asyncpg.Connection) -> None:
    """Per vendor, from the database (so every process reports the same): last poll, events
    past its last feed position, and the age of the oldest of them."""
    now = dt.datetime.now(dt.UTC)
    for row in await repository.vendor_feed_status(db):
        name = row["name"]
        if row["polled_at"] is not None:
            metrics.VENDOR_LAST_POLL.labels(name).set(row["polled_at"].timestamp())
        metrics.VENDOR_FEED_LAG_EVENTS.labels(name).set(row["behind"])
        oldest = row["oldest"]
        metrics.VENDOR_FEED_LAG_SECONDS.labels(name).set(
            max((now - oldest).total_seconds(), 0.0) if oldest else 0.0
        )


async def vendors_status(db: asyncpg.Connection) -> list[dict[str, Any]]:
    """For operators, per vendor: last poll, feed lag (events and age), acks by outcome."""
    acks: dict[str, dict[str, int]] = {}
    for row in await delivery_repository.ack_counts(db):
        acks.setdefault(row["name"], {})[row["outcome"]] = row["notes"]
    return [
        {
            "vendor": row["name"],
            "polledAt": row["polled_at"],
            "behind": row["behind"],
            "oldest": row["oldest"],
            "acks": acks.get(row["name"], {}),
        }
        for row in sorted(await repository.vendor_feed_status(db), key=lambda r: r["name"])
    ]
