"""SQL of the parent's view: a pupil's notes of a school year and, per covered day and
institution the pupil was enrolled in, what each note did there (one statement)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import asyncpg

from notegateway.core.db import rows_as
from notegateway.diary.repository import held_absences_sql


@dataclass(frozen=True, slots=True)
class NoteDays:
    notice_id: int
    nrn: str
    authored_on: dt.datetime
    from_date: dt.date
    to_date: dt.date
    pmi: str
    status: str
    excused: int


@dataclass(frozen=True, slots=True)
class DayCell:
    """One covered day of a note in one institution (None: enrolled nowhere that day)."""

    notice_id: int
    date: dt.date
    institution_id: int | None
    at_vendor: bool
    vendor_ack: str | None
    locked: bool
    recorded: int  # absences a note can excuse (unexcused or excused), not late or dplr
    unexcused: int
    kept_by_school: int  # unexcused, set so by a person
    held_by_this: int  # excused by this note


# $1 person, $2..$3 the school year's days: the notes overlapping them, newest first.
_NOTES = f"""
SELECT n.id AS notice_id, n.nrn, n.authored_on, n.from_date, n.to_date, n.pmi, n.status,
       {held_absences_sql("n")} AS excused
FROM medical_notices AS n
WHERE n.person_id = $1 AND n.to_date >= $2 AND n.from_date <= $3
ORDER BY n.authored_on DESC, n.id DESC
"""

# The same notes' covered days, each in every institution the person was enrolled in
# that day (or in none), with its diary, the vendor's ack, the lock and the absences.
_CELLS = """
WITH notes AS (
    SELECT n.id, n.from_date, n.to_date FROM medical_notices AS n
    WHERE n.person_id = $1 AND n.to_date >= $2 AND n.from_date <= $3
),
cells AS (
    SELECT n.id AS notice_id, d::date AS date, e.institution_id
    FROM notes AS n
    CROSS JOIN generate_series(n.from_date, n.to_date, interval '1 day') AS d
    LEFT JOIN LATERAL (
        SELECT DISTINCT e.institution_id FROM enrollments AS e
        WHERE e.person_id = $1
          AND d::date BETWEEN e.from_date AND coalesce(e.to_date, 'infinity')
    ) AS e ON true
)
SELECT c.notice_id, c.date, c.institution_id,
       d.diary_client_id IS NOT NULL AS at_vendor, ack.outcome AS vendor_ack,
       coalesce(c.date <= i.locked_through, false) AS locked,
       count(a.id) FILTER (WHERE a.kind IN ('unexcused', 'excused')) AS recorded,
       count(a.id) FILTER (WHERE a.kind = 'unexcused') AS unexcused,
       count(a.id) FILTER (WHERE a.kind = 'unexcused' AND a.set_by_person) AS kept_by_school,
       count(a.id) FILTER (WHERE a.kind = 'excused' AND a.excused_by_notice_id = c.notice_id)
           AS held_by_this
FROM cells AS c
LEFT JOIN institutions AS i ON i.id = c.institution_id
LEFT JOIN institution_diaries AS d
  ON d.institution_id = c.institution_id AND c.date BETWEEN d.from_date AND d.to_date
LEFT JOIN vendor_acks AS ack
  ON ack.vendor_id = d.diary_client_id AND ack.notice_id = c.notice_id
LEFT JOIN absences AS a
  ON a.person_id = $1 AND a.institution_id = c.institution_id AND a.date = c.date
GROUP BY c.notice_id, c.date, c.institution_id, d.diary_client_id, ack.outcome,
         i.locked_through
ORDER BY c.date, c.institution_id NULLS FIRST
"""


async def person_days(
    db: asyncpg.Connection, person_id: int, from_date: dt.date, to_date: dt.date
) -> tuple[list[NoteDays], list[DayCell]]:
    """The person's notes overlapping `from_date..to_date`, newest first, and their days:
    two statements, whatever the number of notes and days."""
    notes = rows_as(NoteDays, await db.fetch(_NOTES, person_id, from_date, to_date))
    cells = rows_as(DayCell, await db.fetch(_CELLS, person_id, from_date, to_date))
    return notes, cells
