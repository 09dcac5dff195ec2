"""SQL of the diary's change feed: every change the gateway made to an absence (excused,
taken over, reverted, closed after review), as audited, in commit order (core/feed.py)."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from notegateway.core.feed import Feed

CHANGES = Feed("changes", "diary_changes", scope=None, at="at")


async def publish(db: asyncpg.Connection, audit_ids: Sequence[int]) -> None:
    """Number these audited changes in the feed (`ngw_publish_changes`,
    core/sql_functions.py)."""
    await db.execute("SELECT ngw_publish_changes($1::bigint[])", list(audit_ids))


def _state(column: str) -> str:
    """An absence's state as the feed shows it, from an audit entry's before or after."""
    return f"""CASE WHEN l.{column} IS NOT NULL THEN jsonb_build_object(
        'kind', l.{column}->'kind', 'reason', l.{column}->'reason',
        'comment', l.{column}->'comment', 'excusedByNrn', l.{column}->'excusedByNrn') END"""


async def page(db: asyncpg.Connection, after_seq: int, limit: int) -> list[asyncpg.Record]:
    """The changes after `after_seq`, in number order."""
    rows: list[asyncpg.Record] = await db.fetch(
        f"""
        SELECT c.seq, l.at, l.action, l.absence_id,
               coalesce((recorded.after->>'personId')::bigint, a.person_id) AS person_id,
               coalesce((recorded.after->>'institutionId')::bigint, a.institution_id)
                   AS institution_id,
               coalesce((recorded.after->>'date')::date, a.date) AS date,
               n.nrn, {_state("before")}::text AS before, {_state("after")}::text AS after
        FROM diary_changes AS c
        JOIN audit_log AS l ON l.id = c.audit_id
        -- The absence as it was recorded before this change: it may be deleted since, or
        -- deleted and recorded anew for another day.
        LEFT JOIN LATERAL (
            SELECT r.after FROM audit_log AS r
            WHERE r.absence_id = l.absence_id AND r.action = 'absence.recorded'
              AND r.id < l.id
            ORDER BY r.id DESC LIMIT 1
        ) AS recorded ON true
        LEFT JOIN absences AS a ON a.id = l.absence_id
        LEFT JOIN medical_notices AS n ON n.id = l.notice_id
        WHERE c.seq > $1
        ORDER BY c.seq
        LIMIT $2
        """,
        after_seq,
        limit,
    )
    return rows
