"""The vendors' side: NEISPUO's compatible pull, the event feed, acks, the vendor's view."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import asyncpg

from notegateway.core import feed, metrics
from notegateway.core.errors import BadRequest, NotFound
from notegateway.core.feed_cursor import CURSOR_CHARS
from notegateway.core.timeutil import SOFIA, neispuo_datetime
from notegateway.core.wire import known_names, validated
from notegateway.vendors import delivery_repository, repository
from notegateway.vendors.schemas import EventAckIn

ACK_NAMES = known_names(EventAckIn)


def reader(key: bytes, vendor_id: int) -> feed.Reader:
    """The vendor reading its own event feed."""
    return feed.Reader(repository.EVENTS, key, vendor_id, vendor_id)


async def sync_feed(
    db: asyncpg.Connection,
    notice_ids: list[int],
    silent: bool = False,
    redeliver: Sequence[tuple[int, int]] = (),
) -> None:
    """Tell each vendor what these notes' changes mean for it, and hand the (vendor, note)
    pairs `redeliver` again. Called by the settle step (diary/settle.py), which holds the
    feed writers' lock (core/feed.py)."""
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
    if isinstance(item, str) and item.strip().isascii() and item.strip().isdigit():
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


async def feed_page(
    db: asyncpg.Connection, events: feed.Reader, after: int | None, limit: int
) -> feed.Answer:
    """One page of the vendor's feed after `after` (the oldest kept event when None)."""
    vendor_id = events.scope_id

    async def rows(db: asyncpg.Connection, after: int, count: int) -> list[asyncpg.Record]:
        return await repository.feed_page(db, vendor_id, after, count)

    page = await feed.page(db, events, after, limit, rows)
    await delivery_repository.record_served(db, vendor_id, [r["notice_id"] for r in page.rows])
    return page.answer(events, "events", lambda row: _event(events, row))


async def record_poll(db: asyncpg.Connection, vendor_id: int, position: int) -> None:
    """The vendor polled and was answered up to `position` (once per answer, not per look)."""
    await repository.record_poll(db, vendor_id, position)


def _event(events: feed.Reader, row: asyncpg.Record) -> dict[str, Any]:
    event: dict[str, Any] = {
        "cursor": events.cursor(row["seq"]),
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
    event["replaces"] = row["replaces"]  # reissues (core/reissue_sql.py), null when none
    event["replacedBy"] = row["replaced_by"]
    return event


async def ack_event(
    db: asyncpg.Connection, key: bytes, vendor: tuple[int, str], event_cursor: str, body: Any
) -> None:
    vendor_id, vendor_name = vendor
    if not CURSOR_CHARS.fullmatch(event_cursor):
        raise BadRequest("a cursor is 1 to 200 characters of A-Z a-z 0-9 . _ ~ -")
    ack = validated(EventAckIn, body, ACK_NAMES, "the acknowledgement is invalid")
    seq = reader(key, vendor_id).seq_of(event_cursor)
    if seq is None:
        raise NotFound("no such event in this vendor's feed")
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
    return await feed.purge(db, repository.EVENTS, older_than)


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
