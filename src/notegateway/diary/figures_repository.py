"""SQL of the monthly figures that decide child benefits (contract: "Figures")."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import asyncpg

from notegateway.core.db import rows_as
from notegateway.core.feed import watermark
from notegateway.diary.changes_repository import CHANGES

# Per pupil enrolled in the institution at some time in the month (class and section of
# the latest such enrollment), over the absences of the month there on days NEISPUO's
# own diary keeps: unexcused lessons, unexcused preschool days (counted per day, not per
# absence: a day is one whether it has one absence or several), late arrivals, the
# absences notes hold, and the unexcused ones an active note covers (a person's override,
# a locked day). `dplr` absences count nowhere; deleted ones are gone. One statement per
# institution-month. $1 institution, $2 the month's first day.
_MONTH = """
WITH month AS (
    SELECT $2::date AS first, ($2::date + interval '1 month' - interval '1 day')::date AS last
),
enrolled AS (
    SELECT DISTINCT ON (e.person_id) e.person_id, e.class_name, e.section
    FROM enrollments AS e CROSS JOIN month AS m
    WHERE e.institution_id = $1 AND e.from_date <= m.last
      AND coalesce(e.to_date, 'infinity') >= m.first
    ORDER BY e.person_id, e.from_date DESC
),
kept AS (
    SELECT a.person_id, a.date, a.lesson, a.kind, a.excused_by_notice_id
    FROM absences AS a CROSS JOIN month AS m
    JOIN institution_diaries AS d
      ON d.institution_id = a.institution_id AND a.date BETWEEN d.from_date AND d.to_date
    WHERE a.institution_id = $1 AND a.date BETWEEN m.first AND m.last
      AND d.diary_client_id IS NULL
),
counted AS (
    SELECT person_id,
           count(*) FILTER (WHERE kind = 'unexcused' AND lesson IS NOT NULL) AS lessons,
           count(DISTINCT date) FILTER (WHERE kind = 'unexcused' AND lesson IS NULL) AS days,
           count(*) FILTER (WHERE kind = 'late') AS late,
           count(*) FILTER (WHERE excused_by_notice_id IS NOT NULL
                            AND kind = 'excused') AS by_notes,
           array_agg(date) FILTER (WHERE kind = 'unexcused') AS unexcused_each,
           array_agg(DISTINCT date ORDER BY date) FILTER (WHERE kind = 'unexcused')
               AS unexcused_dates
    FROM kept GROUP BY person_id
)
SELECT e.person_id, e.class_name, e.section, coalesce(c.lessons, 0) AS lessons,
       coalesce(c.days, 0) AS days, coalesce(c.late, 0) AS late,
       coalesce(c.by_notes, 0) AS by_notes,
       coalesce((SELECT count(*) FROM unnest(c.unexcused_each) AS day
                 WHERE day = ANY (covered.days)), 0) AS under_notes,
       coalesce(c.unexcused_dates, '{}') AS unexcused_dates
FROM enrolled AS e LEFT JOIN counted AS c USING (person_id)
-- The days of the month here that the pupil's active notes cover (an unexcused absence
-- on one is "under a note": a person's override, a locked day): looked up once per pupil
-- with unexcused absences, from the pupil's few notes, each note's placements by the note
-- (OFFSET 0 keeps both that way round). Once per absence, 1,500 pupils with 8,000 notes
-- and 21,521 unexcused absences took 398,734 buffers and 178 ms.
CROSS JOIN LATERAL (
    SELECT array_agg(day::date) AS days
    FROM (SELECT id FROM medical_notices
          WHERE person_id = e.person_id AND status = 'active' AND c.unexcused_each IS NOT NULL
          OFFSET 0) AS n
    CROSS JOIN month AS m
    CROSS JOIN LATERAL (SELECT p.from_date, p.to_date FROM placements AS p
                        WHERE p.notice_id = n.id AND p.institution_id = $1
                          AND p.from_date <= m.last AND p.to_date >= m.first
                        OFFSET 0) AS p
    CROSS JOIN LATERAL generate_series(greatest(p.from_date, m.first),
                                       least(p.to_date, m.last), interval '1 day') AS day
) AS covered
ORDER BY e.person_id
"""


async def change_seq(db: asyncpg.Connection) -> int:
    """How far the change feed has surely come: every change numbered up to this has
    committed or never will (core/feed.py: the watermark). Read before figures, so that
    they hold every change up to it (and perhaps a few after it)."""
    return await watermark(db, CHANGES) - 1


@dataclass(frozen=True, slots=True)
class PupilCounts:
    """One pupil's month at one institution, as NEISPUO counts it."""

    person_id: int
    class_name: str
    section: str | None
    lessons: int  # unexcused lessons
    days: int  # preschool days with an unexcused absence
    late: int  # late arrivals
    by_notes: int  # absences a note excused
    under_notes: int  # unexcused absences an active note covers
    unexcused_dates: list[dt.date]


async def month(
    db: asyncpg.Connection, institution_id: int, first_day: dt.date
) -> list[PupilCounts]:
    return rows_as(PupilCounts, await db.fetch(_MONTH, institution_id, first_day))
