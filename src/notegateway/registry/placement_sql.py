"""Set-based SQL that places a note's days: one run per consecutive days in one class.

`source` names a relation with columns (notice_id, person_id, from_date, to_date); the
result has (notice_id, institution_id, class_name, section, from_date, to_date), one row
per run of covered days with the same institution, class and section.
"""

from __future__ import annotations


def placement_runs(source: str) -> str:
    return f"""
    SELECT notice_id, institution_id, class_name, section,
           min(run_from) AS from_date, max(run_to) AS to_date
    FROM (
        SELECT seg.*, sum(starts_run) OVER (PARTITION BY notice_id ORDER BY run_from) AS run_no
        FROM (
            SELECT s.notice_id, e.institution_id, e.class_name, e.section,
                   greatest(e.from_date, s.from_date) AS run_from,
                   least(coalesce(e.to_date, s.to_date), s.to_date) AS run_to,
                   CASE WHEN lag(e.institution_id) OVER w = e.institution_id
                         AND lag(e.class_name) OVER w = e.class_name
                         AND lag(e.section) OVER w IS NOT DISTINCT FROM e.section
                         AND lag(least(coalesce(e.to_date, s.to_date), s.to_date)) OVER w
                             = greatest(e.from_date, s.from_date) - 1
                        THEN 0 ELSE 1 END AS starts_run
            FROM {source} AS s
            JOIN enrollments AS e
              ON e.person_id = s.person_id
             AND e.from_date <= s.to_date
             AND (e.to_date IS NULL OR e.to_date >= s.from_date)
            WINDOW w AS (PARTITION BY s.notice_id ORDER BY e.from_date)
        ) AS seg
    ) AS runs
    GROUP BY notice_id, run_no, institution_id, class_name, section
    """
