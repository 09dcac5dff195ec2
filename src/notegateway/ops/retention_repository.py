"""The retention purge's SQL (ops/retention.py says what goes and why)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import asyncpg

from notegateway.core.locks import RETENTION_LOCK
from notegateway.core.timeutil import SOFIA, school_year_days

PURGE_TIMEOUT_S = 1800  # a purge transaction's statements, lock waits and commit


async def take_the_purge(db: asyncpg.Connection, wait: bool) -> bool:
    """Whether this transaction is the one purging: another process may be at it (with
    `wait`, this one waits its turn). A whole school year takes longer than a request's
    bounds: the transaction gets the purge's own."""
    bound = str(PURGE_TIMEOUT_S * 1000)
    await db.execute(
        "SELECT set_config('statement_timeout', $1, true), set_config('lock_timeout', $1, true)",
        bound,
    )
    if wait:
        await db.execute(
            "SELECT pg_advisory_xact_lock($1)", RETENTION_LOCK, timeout=PURGE_TIMEOUT_S
        )
        return True
    taken: bool = await db.fetchval("SELECT pg_try_advisory_xact_lock($1)", RETENTION_LOCK)
    return taken


async def purged_through(db: asyncpg.Connection) -> int | None:
    """The newest school year purged so far."""
    year: int | None = await db.fetchval("SELECT max(school_year) FROM retention_purges")
    return year


async def oldest_day(db: asyncpg.Connection) -> dt.date | None:
    """The oldest day anything purgeable belongs to (a table scan each: run only when a
    school year has newly passed retention, or by hand)."""
    day: dt.date | None = await db.fetchval(
        timeout=PURGE_TIMEOUT_S,
        query="""
        SELECT least(
            (SELECT min(to_date) FROM medical_notices),
            (SELECT min(date) FROM absences),
            (SELECT min(month) FROM month_reports),
            (SELECT (min(until) AT TIME ZONE 'Europe/Sofia')::date FROM former_identifiers),
            (SELECT (min(received_at) AT TIME ZONE 'Europe/Sofia')::date
             FROM notice_cancellations),
            (SELECT (at AT TIME ZONE 'Europe/Sofia')::date FROM audit_log
             WHERE action <> 'retention.purged' ORDER BY id LIMIT 1))
        """,
    )
    return day


# Everything of the days before $1 (the next school year's first day; $2 its first moment
# in Sofia), children before parents, counted; then the counts in retention_purges ($3 the
# school year) and, when anything went, in the audit. One statement: all of it or nothing.
# What vendors were told and served of a note, and their acks.
_VENDOR_TABLES = (
    "vendor_events",
    "vendor_note_state",
    "vendor_reads",
    "vendor_acks",
    "vendor_deliveries",
)
_PURGE = """
WITH notes AS (
    SELECT id, nrn FROM medical_notices WHERE to_date < $1
),
absences_of AS (
    SELECT id FROM absences
    WHERE date < $1 OR excused_by_notice_id IN (SELECT id FROM notes)
),
deleted_of AS (  -- absences of its days the diary deleted: their audit entries remain
    SELECT absence_id AS id FROM audit_log
    WHERE action = 'absence.deleted' AND (before->>'date')::date < $1
),
audits AS (  -- about what goes, or written in its days about nothing that stays
    SELECT id FROM audit_log AS l
    WHERE l.notice_id IN (SELECT id FROM notes)
       OR l.absence_id IN (SELECT id FROM absences_of)
       OR (l.absence_id IN (SELECT id FROM deleted_of)
           AND NOT EXISTS (SELECT 1 FROM absences AS a WHERE a.id = l.absence_id))
       OR (l.at < $2 AND l.action <> 'retention.purged'
           AND NOT EXISTS (SELECT 1 FROM medical_notices AS n WHERE n.id = l.notice_id)
           AND NOT EXISTS (SELECT 1 FROM absences AS a WHERE a.id = l.absence_id))
),
placed AS (
    SELECT count(*) AS n FROM placements WHERE notice_id IN (SELECT id FROM notes)
),
changes_gone AS (
    DELETE FROM diary_changes WHERE audit_id IN (SELECT id FROM audits) RETURNING 1
),
reviews_gone AS (
    DELETE FROM review_items
    WHERE absence_id IN (SELECT id FROM absences_of) OR notice_id IN (SELECT id FROM notes)
    RETURNING 1
),
{vendor_rows_gone}
absences_gone AS (
    DELETE FROM absences WHERE id IN (SELECT id FROM absences_of) RETURNING 1
),
audit_gone AS (
    DELETE FROM audit_log WHERE id IN (SELECT id FROM audits) RETURNING 1
),
notes_gone AS (  -- their placements with them (ON DELETE CASCADE)
    DELETE FROM medical_notices WHERE id IN (SELECT id FROM notes) RETURNING 1
),
cancellations_gone AS (
    DELETE FROM notice_cancellations AS c
    WHERE c.nrn IN (SELECT nrn FROM notes)
       OR (c.received_at < $2
           AND NOT EXISTS (SELECT 1 FROM medical_notices AS m WHERE m.nrn = c.nrn))
    RETURNING 1
),
former_gone AS (
    DELETE FROM former_identifiers WHERE until < $2 RETURNING 1
),
reports_gone AS (
    DELETE FROM month_reports WHERE month < $1 RETURNING 1
),
removed AS (
    SELECT jsonb_build_object('schoolYear', $3::integer, {counted}) AS counts
),
audited AS (  -- when anything went
    INSERT INTO audit_log (actor, action, after)
    SELECT 'retention', 'retention.purged', counts FROM removed
    WHERE EXISTS (SELECT 1 FROM jsonb_each_text(counts) AS c
                  WHERE c.key <> 'schoolYear' AND c.value <> '0')
),
marked AS (
    INSERT INTO retention_purges (school_year, removed)
    SELECT $3, counts FROM removed
    ON CONFLICT (school_year) DO UPDATE  -- purged again (late arrivals): the sums
       SET purged_at = now(),
           removed = (SELECT jsonb_object_agg(c.key, CASE WHEN c.key = 'schoolYear'
                                                          THEN c.value::bigint
                                                          ELSE c.value::bigint
                                                               + coalesce((retention_purges.removed
                                                                           ->> c.key)::bigint, 0)
                                                     END)
                      FROM jsonb_each_text(excluded.removed) AS c)
)
SELECT counts FROM removed
"""
# What a purge counts, in the order it is told, and the SQL that counts each.
_COUNTED = {
    "notes": "(SELECT count(*) FROM notes_gone)",
    "placements": "(SELECT n FROM placed)",
    "absences": "(SELECT count(*) FROM absences_gone)",
    "auditEntries": "(SELECT count(*) FROM audit_gone)",
    "formerIdentifiers": "(SELECT count(*) FROM former_gone)",
    "cancellations": "(SELECT count(*) FROM cancellations_gone)",
    "monthReports": "(SELECT count(*) FROM reports_gone)",
    "reviewItems": "(SELECT count(*) FROM reviews_gone)",
    "changeFeedRows": "(SELECT count(*) FROM changes_gone)",
    "vendorRows": " + ".join(f"(SELECT count(*) FROM {table}_gone)" for table in _VENDOR_TABLES),
}
KINDS = tuple(_COUNTED)
_PURGE = _PURGE.format(
    vendor_rows_gone="".join(
        f"{table}_gone AS (\n    DELETE FROM {table} WHERE notice_id IN (SELECT id FROM notes)"
        " RETURNING 1\n),\n"
        for table in _VENDOR_TABLES
    ).rstrip("\n"),
    counted=", ".join(f"'{kind}', {sql}" for kind, sql in _COUNTED.items()),
)


@dataclass(frozen=True, slots=True)
class Purged:
    """What the purge of one school year removed: counts by kind, nothing else."""

    school_year: int
    removed: dict[str, int]


async def purge_year(db: asyncpg.Connection, school_year: int) -> Purged:
    """Remove every row of the days before the next school year (and of older ones), in a
    transaction that `take_the_purge` gave the purge's bounds."""
    next_year_starts, _ = school_year_days(school_year + 1)
    at = dt.datetime.combine(next_year_starts, dt.time(), SOFIA)  # its first moment
    await db.execute("SELECT set_config('notegateway.retention_purge', 'on', true)")
    counts: dict[str, int] = await db.fetchval(  # jsonb arrives decoded (core/db.py's pool)
        _PURGE, next_year_starts, at, school_year, timeout=PURGE_TIMEOUT_S + 1
    )
    await db.execute("SELECT set_config('notegateway.retention_purge', 'off', true)")
    return Purged(school_year, {kind: counts[kind] for kind in KINDS})
