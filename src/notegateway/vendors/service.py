"""The vendors' side: NEISPUO's compatible pull, the event feed, acks, the vendor's view."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import asyncpg

from notegateway.core import metrics
from notegateway.core.errors import BadRequest, DomainError, NotFound, Unprocessable
from notegateway.core.timeutil import SOFIA, neispuo_datetime
from notegateway.core.wire import known_names, validate_item
from notegateway.vendors import cursor, repository
from notegateway.vendors.cursor import InvalidCursor, Position
from notegateway.vendors.schemas import EventAckIn

ACK_NAMES = known_names(EventAckIn)


class CursorExpired(DomainError):
    status_code = 410
    slug = "cursor-expired"
    title = "Gone"


async def sync_feed(db: asyncpg.Connection, notice_ids: list[int]) -> None:
    """Tell each vendor what these notes' changes mean for it (called by every writer)."""
    await repository.sync_feed(db, notice_ids)


async def next_notices(db: asyncpg.Connection, vendor_id: int, count: int) -> dict[str, Any]:
    rows = await repository.next_notices(db, vendor_id, count + 1)
    last_push = await repository.last_push_time(db)
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


async def acknowledge(db: asyncpg.Connection, vendor_id: int, body: Any) -> None:
    if not isinstance(body, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in body
    ):
        raise BadRequest("the body must be a JSON array of medicalNoticeId numbers")
    if not body:
        raise BadRequest("the array of medicalNoticeId is empty")
    await repository.mark_read(db, vendor_id, [i for i in body if 0 < i < 2**63])


def read_cursor(key: bytes, vendor_id: int, after: str | None) -> Position | None:
    """The position `after` names; None when omitted. 400 when it is not this vendor's."""
    if after is None:
        return None
    try:
        return cursor.decode(key, vendor_id, after)
    except InvalidCursor as exc:
        raise BadRequest(f"invalid cursor: {exc}") from None


async def feed_page(
    db: asyncpg.Connection, key: bytes, vendor: tuple[int, str], after: Position | None, limit: int
) -> dict[str, Any]:
    """One page of the vendor's feed after `after` (the oldest kept event when None)."""
    vendor_id, vendor_name = vendor
    purged = await repository.purged_up_to(db, vendor_id)
    if after is None:
        after = purged
    elif after < purged:
        raise CursorExpired("this cursor is older than the feed keeps; start again without one")
    rows = await repository.feed_page(db, vendor_id, after, limit + 1)
    page = rows[:limit]
    events = [_event(key, vendor_id, row) for row in page]
    position = Position(page[-1]["txid"], page[-1]["seq"]) if page else after
    behind, oldest = await repository.feed_lag(db, vendor_id, position)
    metrics.VENDOR_LAST_POLL.labels(vendor_name).set(time.time())
    metrics.VENDOR_FEED_LAG_EVENTS.labels(vendor_name).set(behind)
    lag = (dt.datetime.now(dt.UTC) - oldest).total_seconds() if oldest else 0.0
    metrics.VENDOR_FEED_LAG_SECONDS.labels(vendor_name).set(max(lag, 0.0))
    return {
        "events": events,
        "nextCursor": cursor.encode(key, vendor_id, position),
        "hasMore": len(rows) > limit,
    }


def _event(key: bytes, vendor_id: int, row: asyncpg.Record) -> dict[str, Any]:
    event: dict[str, Any] = {
        "cursor": cursor.encode(key, vendor_id, Position(row["txid"], row["seq"])),
        "type": row["type"],
        "occurredAt": row["occurred_at"].isoformat(),
        "medicalNoticeId": row["notice_id"],
        "personId": row["person_id"],
        "hisMedicalNotice": json.loads(row["payload"]),
        "placements": json.loads(row["placements"]),
    }
    if row["reason"] is not None:
        event["reason"] = row["reason"]
    return event


async def ack_event(
    db: asyncpg.Connection, key: bytes, vendor: tuple[int, str], event_cursor: str, body: Any
) -> None:
    vendor_id, vendor_name = vendor
    if not cursor.CURSOR_CHARS.fullmatch(event_cursor):
        raise BadRequest("a cursor is 1 to 200 characters of A-Z a-z 0-9 . _ ~ -")
    ack, errors = validate_item(EventAckIn, body, ACK_NAMES)
    if ack is None:
        raise Unprocessable("the acknowledgement is invalid", errors)
    try:
        position = cursor.decode(key, vendor_id, event_cursor)
    except InvalidCursor:
        raise NotFound("no such event in this vendor's feed") from None
    notice_id = await repository.event_of_vendor(db, vendor_id, position)
    if notice_id is None:
        raise NotFound("no such event in this vendor's feed (or it has expired)")
    await repository.record_ack(
        db, vendor_id, notice_id, position.seq, ack.outcome, ack.excused_absences, ack.comment
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


async def acks_of_note(db: asyncpg.Connection, notice_id: int) -> list[dict[str, Any]]:
    return await repository.acks_of_note(db, notice_id)
