"""All SQL of the vendors' side.

Authorization: every query a vendor's request runs starts from core/scope.py's
`vendor_placements` (placements cut to the institution-days whose diary is this vendor,
`$1`) or from rows keyed by `vendor_id = $1`. A query that forgot the scope would have no way to
reach a note.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from notegateway.core import reissue_sql
from notegateway.core.db import row_as, rows_as
from notegateway.core.feed import Feed
from notegateway.core.placement_sql import by_diary, placements_array
from notegateway.core.scope import told_to_vendor, vendor_placements

# Each vendor's feed is its part of this table (core/feed.py).
EVENTS = Feed("events", "vendor_events", scope="vendor_id", at="occurred_at")

VENDOR_PLACEMENTS = vendor_placements("$1")


# What each vendor is told when a note or its placements change (one statement, all vendors).
_SYNC_FEED = f"""
WITH target AS (SELECT DISTINCT unnest($1::bigint[]) AS notice_id),
placed_now AS (
    -- Each vendor's placements: the days of the note that its diary keeps.
    SELECT cut.diary_client_id AS vendor_id, cut.notice_id, {placements_array("cut")} AS placements
    FROM ({by_diary("(SELECT p.* FROM target AS t JOIN placements AS p USING (notice_id))")})
        AS cut
    WHERE cut.diary_client_id IS NOT NULL
    GROUP BY cut.diary_client_id, cut.notice_id
),
told AS (
    SELECT s.vendor_id, s.notice_id, s.state, s.placements, s.person_id
    FROM vendor_note_state AS s JOIN target AS t ON t.notice_id = s.notice_id
    FOR UPDATE OF s
),
pairs AS (
    SELECT coalesce(c.vendor_id, b.vendor_id) AS vendor_id,
           coalesce(c.notice_id, b.notice_id) AS notice_id,
           c.placements AS placed, b.state AS was, b.placements AS was_placed,
           n.status, b.person_id AS was_person,
           -- a note gone from the vendor's days names the pupil the vendor was told of
           CASE WHEN c.placements IS NULL THEN coalesce(b.person_id, n.person_id)
                ELSE n.person_id END AS person_id
    FROM placed_now AS c
    FULL JOIN told AS b ON b.vendor_id = c.vendor_id AND b.notice_id = c.notice_id
    JOIN medical_notices AS n ON n.id = coalesce(c.notice_id, b.notice_id)
),
decided AS (
    SELECT pairs.*,
           CASE
               WHEN was = 'annulled' THEN NULL
               WHEN status = 'cancelled' AND was = 'issued' THEN 'note.cancelled'
               WHEN status = 'cancelled' THEN NULL  -- never handed on: nothing to say
               WHEN placed IS NOT NULL AND (was IS NULL OR was = 'gone') THEN 'note.issued'
               WHEN placed IS NOT NULL AND was = 'issued'
                    AND (placed <> was_placed OR person_id IS DISTINCT FROM was_person)
                   THEN 'note.updated'
               WHEN placed IS NULL AND was = 'issued' THEN 'note.cancelled'
           END AS event_type,
           CASE WHEN status = 'cancelled' THEN 'annulled' ELSE 'placement' END AS why
    FROM pairs
),
events AS (
    INSERT INTO vendor_events (vendor_id, notice_id, person_id, type, reason, placements)
    SELECT vendor_id, notice_id, person_id, event_type,
           CASE WHEN event_type = 'note.cancelled' THEN why END,
           CASE WHEN event_type = 'note.cancelled' AND why = 'annulled' THEN was_placed
                ELSE coalesce(placed, '[]'::jsonb) END
    FROM decided
    WHERE event_type IS NOT NULL AND NOT $2::bool
    ORDER BY notice_id, vendor_id
    RETURNING vendor_id
),
remembered AS (
    INSERT INTO vendor_note_state (vendor_id, notice_id, state, placements, person_id)
    SELECT vendor_id, notice_id,
           CASE WHEN event_type <> 'note.cancelled' THEN 'issued'
                WHEN why = 'annulled' THEN 'annulled' ELSE 'gone' END,
           CASE WHEN event_type = 'note.cancelled' THEN coalesce(was_placed, '[]'::jsonb)
                ELSE placed END,
           person_id
    FROM decided
    WHERE event_type IS NOT NULL
    ON CONFLICT (vendor_id, notice_id) DO UPDATE
       SET state = excluded.state, placements = excluded.placements,
           person_id = excluded.person_id, updated_at = now()
)
SELECT count(*) FROM events
"""


async def sync_feed(db: asyncpg.Connection, notice_ids: Sequence[int], silent: bool) -> int:
    """Write the feed events these notes' changes mean to each vendor; how many.

    `silent`: bring what each vendor is taken to know up to date without telling it (a
    diary switch).
    """
    count: int = await db.fetchval(_SYNC_FEED, list(notice_ids), silent)
    return count


async def redeliver(db: asyncpg.Connection, pairs: Sequence[tuple[int, int]]) -> int:
    """Hand (vendor, note) pairs again: a `note.issued` event marked redelivered, from what
    the vendor was last told (only while that is an issued note), and the read state of
    NEISPUO's pull cleared."""
    value: int = await db.fetchval(
        """
        WITH wanted AS (
            SELECT * FROM unnest($1::bigint[], $2::bigint[]) AS w(vendor_id, notice_id)
        ),
        issued AS (
            SELECT s.* FROM vendor_note_state AS s
            JOIN wanted AS w ON w.vendor_id = s.vendor_id AND w.notice_id = s.notice_id
            WHERE s.state = 'issued'
            FOR UPDATE OF s  -- as _SYNC_FEED's `told`: concurrent writers of it wait
        ),
        unread AS (
            DELETE FROM vendor_reads AS r USING issued AS i
            WHERE r.vendor_id = i.vendor_id AND r.notice_id = i.notice_id
        ),
        events AS (
            INSERT INTO vendor_events (vendor_id, notice_id, person_id, type, reason, placements)
            SELECT vendor_id, notice_id, person_id, 'note.issued', 'redelivered', placements
            FROM issued ORDER BY notice_id, vendor_id
            RETURNING 1
        )
        SELECT count(*) FROM events
        """,
        [p[0] for p in pairs],
        [p[1] for p in pairs],
    )
    return value


async def told_issued(db: asyncpg.Connection, vendor_id: int, notice_id: int) -> bool:
    """Whether the vendor's feed holds this note as issued (its days reach the vendor),
    the row locked until the transaction ends: a write that is changing what the vendor
    was told (a registry write, a diary switch: they take no NRN lock) is waited for, and
    its outcome read. No lock held to commit orders the feed writers any more (core/feed.py)."""
    found = await db.fetchval(
        "SELECT 1 FROM vendor_note_state WHERE vendor_id = $1 AND notice_id = $2 "
        "AND state = 'issued' FOR UPDATE",
        vendor_id,
        notice_id,
    )
    return found is not None


@dataclass(frozen=True, slots=True)
class ServedNote:
    notice_id: int
    person_id: int
    payload: str  # the normalised note, JSON


async def next_notices(db: asyncpg.Connection, vendor_id: int, count: int) -> list[ServedNote]:
    """NEISPUO's /next: active notes placed with this vendor, last 3 months, not yet read."""
    rows = await db.fetch(
        f"""
        WITH {VENDOR_PLACEMENTS}
        SELECT n.id AS notice_id, n.person_id, n.payload::text AS payload
        FROM medical_notices AS n
        WHERE n.status = 'active'
          AND n.received_at > now() - interval '3 months'
          AND EXISTS (SELECT 1 FROM vendor_placements AS vp WHERE vp.notice_id = n.id)
          AND NOT EXISTS (SELECT 1 FROM vendor_reads AS r
                          WHERE r.vendor_id = $1 AND r.notice_id = n.id)
        ORDER BY n.id
        LIMIT $2
        """,
        vendor_id,
        count,
    )
    return rows_as(ServedNote, rows)


async def last_push_time(db: asyncpg.Connection) -> dt.datetime | None:
    value: dt.datetime | None = await db.fetchval("SELECT max(called_at) FROM nzis_sync")
    return value


async def mark_read(db: asyncpg.Connection, vendor_id: int, notice_ids: Sequence[int]) -> int:
    """Record these notes as read by the vendor; ids outside its scope are ignored."""
    status: str = await db.execute(
        f"""
        WITH {VENDOR_PLACEMENTS}
        INSERT INTO vendor_reads (vendor_id, notice_id)
        SELECT $1, n.id FROM medical_notices AS n
        WHERE n.id = ANY($2::bigint[])
          AND EXISTS (SELECT 1 FROM vendor_placements AS vp WHERE vp.notice_id = n.id)
        ON CONFLICT (vendor_id, notice_id) DO NOTHING
        """,
        vendor_id,
        list(notice_ids),
    )
    return int(status.rsplit(" ", 1)[-1])


# A reissue's other note, named to a vendor only when the vendor was issued it too: a
# vendor learns no note of another vendor's school.
_TOLD_OF_OTHER = told_to_vendor("other", "$1")


async def feed_page(
    db: asyncpg.Connection, vendor_id: int, after_seq: int, limit: int
) -> list[asyncpg.Record]:
    """This vendor's events after `after_seq`, in number order (core/feed.py)."""
    rows: list[asyncpg.Record] = await db.fetch(
        f"""
        SELECT e.seq, e.type, e.reason, e.occurred_at, e.notice_id, e.person_id,
               e.placements::text AS placements, n.payload::text AS payload,
               {reissue_sql.replaces("n", _TOLD_OF_OTHER)} AS replaces,
               {reissue_sql.replaced_by("n", _TOLD_OF_OTHER)} AS replaced_by
        FROM vendor_events AS e
        JOIN medical_notices AS n ON n.id = e.notice_id
        WHERE e.vendor_id = $1 AND e.seq > $2
        ORDER BY e.seq
        LIMIT $3
        """,
        vendor_id,
        after_seq,
        limit,
    )
    return rows


async def event_of_vendor(db: asyncpg.Connection, vendor_id: int, seq: int) -> int | None:
    """The note of this vendor's event `seq`, if it is still kept."""
    value: int | None = await db.fetchval(
        "SELECT notice_id FROM vendor_events WHERE vendor_id = $1 AND seq = $2", vendor_id, seq
    )
    return value


async def record_ack(
    db: asyncpg.Connection,
    vendor_id: int,
    notice_id: int,
    event_seq: int,
    outcome: str,
    excused_absences: int,
    comment: str | None,
) -> None:
    await db.execute(
        """
        INSERT INTO vendor_acks (vendor_id, notice_id, event_seq, outcome, excused_absences,
                                 comment)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (vendor_id, notice_id) DO UPDATE
           SET event_seq = excluded.event_seq, outcome = excluded.outcome,
               excused_absences = excluded.excused_absences, comment = excluded.comment,
               at = now()
        """,
        vendor_id,
        notice_id,
        event_seq,
        outcome,
        excused_absences,
        comment,
    )


@dataclass(frozen=True, slots=True)
class SeenNote:
    notice_id: int
    status: str
    payload: str  # the normalised note, JSON
    placements: str  # JSON: in the vendor's institutions (or as last told, once annulled)


async def vendor_view(db: asyncpg.Connection, vendor_id: int, nrn: str) -> SeenNote | None:
    """A note as this vendor may see it: with its placements in the vendor's institutions,
    or, once annulled, as the vendor was last told of it."""
    row = await db.fetchrow(
        f"""
        WITH {VENDOR_PLACEMENTS}
        SELECT n.id AS notice_id, n.status, n.payload::text AS payload,
               coalesce(
                   (SELECT {placements_array("vp")}
                    FROM vendor_placements AS vp WHERE vp.notice_id = n.id),
                   told.placements)::text AS placements
        FROM medical_notices AS n
        LEFT JOIN vendor_note_state AS told
               ON told.vendor_id = $1 AND told.notice_id = n.id AND told.state = 'annulled'
        WHERE n.nrn = $2
          AND (EXISTS (SELECT 1 FROM vendor_placements AS vp WHERE vp.notice_id = n.id)
               OR told.notice_id IS NOT NULL)
        """,
        vendor_id,
        nrn,
    )
    return row_as(SeenNote, row)
