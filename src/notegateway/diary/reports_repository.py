"""SQL of reported months: the figures a school sent to social assistance, kept as they
were, and the notes whose changes since made a pupil's figures differ."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import asyncpg

from notegateway.core.db import rows_as
from notegateway.core.scope import institution_in_region


@dataclass(frozen=True, slots=True)
class Figure:
    """What decides a pupil's benefit in a month, as a report keeps it."""

    unexcused_hours: float
    unexcused_days: int
    over_benefit_limit: bool


NO_FIGURE = Figure(0.0, 0, False)  # a pupil not counted (not enrolled that month)

# How a report keeps each pupil's figure (month_reports.pupils, a JSON array).
_STORED = {
    "unexcused_hours": "unexcusedHours",
    "unexcused_days": "unexcusedDays",
    "over_benefit_limit": "overBenefitLimit",
}


@dataclass(frozen=True, slots=True)
class Report:
    reported_at: dt.datetime
    change_seq: int
    pupils: dict[int, Figure]  # by person


async def record(
    db: asyncpg.Connection,
    institution_id: int,
    month: dt.date,
    change_seq: int,
    pupils: dict[int, Figure],
    actor: str,
) -> bool:
    """Keep (or replace) the month's report; True when it is the first."""
    stored = [
        {"personId": person} | {_STORED[k]: getattr(f, k) for k in _STORED}
        for person, f in pupils.items()
    ]
    first: bool = await db.fetchval(
        """
        INSERT INTO month_reports (institution_id, month, reported_by, change_seq, pupils)
        VALUES ($1, $2, $3, $4, $5::jsonb)
        ON CONFLICT (institution_id, month) DO UPDATE
           SET reported_at = now(), reported_by = excluded.reported_by,
               change_seq = excluded.change_seq, pupils = excluded.pupils
        RETURNING xmax = 0
        """,
        institution_id,
        month,
        actor,
        change_seq,
        json.dumps(stored),
    )
    return first


@dataclass(frozen=True, slots=True)
class ReportedMonth:
    institution_id: int
    institution: str
    month: dt.date
    reported_at: dt.datetime


async def latest(
    db: asyncpg.Connection, region: str | None, limit: int, offset: int = 0
) -> list[ReportedMonth]:
    """The months reported most lately (of the region's institutions, when given)."""
    rows = await db.fetch(
        f"""
        SELECT r.institution_id, i.name AS institution, r.month, r.reported_at
        FROM month_reports AS r JOIN institutions AS i ON i.id = r.institution_id
        WHERE {institution_in_region("r.institution_id", "$1")}
        ORDER BY r.reported_at DESC, r.institution_id, r.month
        LIMIT $2 OFFSET $3
        """,
        region,
        limit,
        offset,
    )
    return rows_as(ReportedMonth, rows)


async def report(db: asyncpg.Connection, institution_id: int, month: dt.date) -> Report | None:
    row = await db.fetchrow(
        "SELECT reported_at, change_seq, pupils::text AS pupils FROM month_reports "
        "WHERE institution_id = $1 AND month = $2",
        institution_id,
        month,
    )
    if row is None:
        return None
    reported_at, change_seq, kept = row.values()
    pupils = {
        p["personId"]: Figure(**{k: p[stored] for k, stored in _STORED.items()})
        for p in json.loads(kept)
    }
    return Report(reported_at, change_seq, pupils)


async def notes_changed_since(
    db: asyncpg.Connection, institution_id: int, month: dt.date, change_seq: int
) -> dict[int, list[str]]:
    """Per pupil, the NRNs of the notes whose changes to the month's absences there came
    after `change_seq` in the change feed (excused, taken over, reverted, resolved): from
    the school's absences of the month, by their audit entries."""
    rows = await db.fetch(
        """
        SELECT a.person_id, array_agg(DISTINCT named.nrn ORDER BY named.nrn) AS nrns
        FROM absences AS a
        JOIN audit_log AS l ON l.absence_id = a.id
        JOIN diary_changes AS c ON c.audit_id = l.id AND c.seq > $3
        LEFT JOIN medical_notices AS n ON n.id = l.notice_id
        CROSS JOIN LATERAL (
            VALUES (n.nrn), (l.before->>'excusedByNrn'), (l.after->>'excusedByNrn')
        ) AS named(nrn)
        WHERE a.institution_id = $1
          AND a.date BETWEEN $2 AND ($2 + interval '1 month' - interval '1 day')::date
          AND named.nrn IS NOT NULL
        GROUP BY a.person_id
        """,
        institution_id,
        month,
        change_seq,
    )
    return {person: list(nrns) for person, nrns in (tuple(r.values()) for r in rows)}
