"""The vendors' side: NEISPUO's compatible pull, the event feed, acks, the vendor's view."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from notegateway.core import feed, metrics
from notegateway.core.errors import NotFound
from notegateway.core.feed import ReaderLag
from notegateway.core.note_wire import note_of, placements_of
from notegateway.core.scope import refuse_regional
from notegateway.core.timeutil import SOFIA, neispuo_datetime
from notegateway.vendors import delivery_repository, repository
from notegateway.vendors.delivery_repository import AckRow, DeliveryRow
from notegateway.vendors.schemas import EventAckIn, NextNotice, NextNotices, VendorNotice


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
    pairs `redeliver` again. Called by the settle step (notegateway/settle.py)."""
    if notice_ids:
        await repository.sync_feed(db, notice_ids, silent)
    if redeliver:
        await repository.redeliver(db, redeliver)


async def told_issued(db: asyncpg.Connection, vendor_id: int, notice_id: int) -> bool:
    return await repository.told_issued(db, vendor_id, notice_id)


async def next_notices(db: asyncpg.Connection, vendor_id: int, count: int) -> NextNotices:
    rows = await repository.next_notices(db, vendor_id, count + 1)
    last_push = await repository.last_push_time(db)
    await feed.record_read(db, repository.EVENTS, vendor_id, None)
    served = rows[:count]
    await delivery_repository.record_served(db, vendor_id, [n.notice_id for n in served])
    return NextNotices(
        medical_notices=[
            NextNotice(
                medical_notice_id=n.notice_id,
                person_id=n.person_id,
                his_medical_notice=note_of(n.payload),
            )
            for n in served
        ],
        last_his_sync_time=neispuo_datetime(last_push.astimezone(SOFIA)) if last_push else None,
        has_more=len(rows) > count,
    )


async def acknowledge(db: asyncpg.Connection, vendor_id: int, notice_ids: list[int]) -> None:
    """The vendor read these notes (ids outside its scope, or no id at all, are ignored)."""
    await repository.mark_read(db, vendor_id, [i for i in notice_ids if 0 < i < 2**63])


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
    await feed.record_read(db, repository.EVENTS, vendor_id, position)


def _event(events: feed.Reader, row: asyncpg.Record) -> dict[str, Any]:
    """One event as the wire has it (vendors/schemas.py: FeedEvent), built as a dict from
    the row: a hot path. Built as FeedEvent models and serialized by FastAPI, a page of
    1000 events took 29.5 ms of Python instead of 18.5 ms (/tmp/feedbench, 2026-12-06):
    a third of the page's time. tests/vendors check every key against the schema."""
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
    db: asyncpg.Connection, key: bytes, vendor: tuple[int, str], event_cursor: str, ack: EventAckIn
) -> None:
    vendor_id, vendor_name = vendor
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


async def vendor_view(db: asyncpg.Connection, vendor_id: int, nrn: str) -> VendorNotice:
    seen = await repository.vendor_view(db, vendor_id, nrn)
    if seen is None:
        raise NotFound(f"no medical notice {nrn} for this vendor")
    return VendorNotice(
        medical_notice_id=seen.notice_id,
        status=seen.status,
        placements=placements_of(seen.placements),
        his_medical_notice=note_of(seen.payload),
    )


async def purge(db: asyncpg.Connection, retention_days: int) -> int:
    older_than = dt.datetime.now(dt.UTC) - dt.timedelta(days=retention_days)
    return await feed.purge(db, repository.EVENTS, older_than)


async def deliveries_of_note(db: asyncpg.Connection, notice_id: int) -> list[DeliveryRow]:
    return await delivery_repository.deliveries_of_note(db, notice_id)


async def acks_of_note(db: asyncpg.Connection, notice_id: int) -> list[AckRow]:
    return await delivery_repository.acks_of_note(db, notice_id)


async def refresh_feed_metrics(db: asyncpg.Connection) -> None:
    """Per vendor, from the database (so every process reports the same): last poll, events
    past its last feed position, and the age of the oldest of them."""
    FEED_GAUGES.report(await feed.lags(db, repository.EVENTS, "vendor"))


FEED_GAUGES = feed.LagGauges(
    metrics.VENDOR_LAST_POLL, metrics.VENDOR_FEED_LAG_EVENTS, metrics.VENDOR_FEED_LAG_SECONDS
)


@dataclass(frozen=True, slots=True)
class VendorStatus:
    """For operators, one vendor: its feed (last poll, lag) and its acks by outcome."""

    feed: ReaderLag
    acks: dict[str, int]


async def vendors_status(db: asyncpg.Connection, region: str | None) -> list[VendorStatus]:
    """Per vendor, the whole country's: refused to an operator limited to a region."""
    refuse_regional(region, "vendors")
    acks = await delivery_repository.ack_counts(db)
    lags = await feed.lags(db, repository.EVENTS, "vendor")
    return [VendorStatus(lag, acks.get(lag.reader, {})) for lag in lags]
