"""Set-based SQL shared by every domain that places notes or shows placements.

A placement is one run of consecutive covered days with the same institution, class and
section; a pupil enrolled in several places at once (a school and a centre, a class and a
group, two schools during a move) has a run in each.
"""

from __future__ import annotations

# The contract's order of placements.
PLACEMENT_ORDER = "from_date, institution_id, class_name, section"


def placement_runs(source: str) -> str:
    """SQL placing notes: `source` names a relation with columns (notice_id, person_id,
    from_date, to_date); the result has (notice_id, institution_id, class_name, section,
    from_date, to_date), one row per run of covered days in one enrollment's institution,
    class and section. Enrollments with the same institution, class and section never
    overlap (ex_enrollments_no_overlap), so adjacent pieces of one key join into a run."""
    return f"""
    SELECT notice_id, institution_id, class_name, section,
           min(run_from) AS from_date, max(run_to) AS to_date
    FROM (
        SELECT piece.*,
               sum(starts_run) OVER (PARTITION BY notice_id, institution_id, class_name, section
                                     ORDER BY run_from) AS run_no
        FROM (
            SELECT cut.*,
                   CASE WHEN lag(run_to) OVER (
                             PARTITION BY notice_id, institution_id, class_name, section
                             ORDER BY run_from) = run_from - 1
                        THEN 0 ELSE 1 END AS starts_run
            FROM (
                SELECT s.notice_id, e.institution_id, e.class_name, e.section,
                       greatest(e.from_date, s.from_date) AS run_from,
                       least(coalesce(e.to_date, s.to_date), s.to_date) AS run_to
                FROM {source} AS s
                -- each note's person's enrollments, by index, whatever the statistics guess
                CROSS JOIN LATERAL (
                    SELECT * FROM enrollments AS e
                    WHERE e.person_id = s.person_id
                      AND e.from_date <= s.to_date
                      AND (e.to_date IS NULL OR e.to_date >= s.from_date)
                    OFFSET 0
                ) AS e
            ) AS cut
        ) AS piece
    ) AS runs
    GROUP BY notice_id, institution_id, class_name, section, run_no
    """


def by_diary(placements: str) -> str:
    """SQL: the rows of `placements` (a relation shaped like the placements table) cut at
    the diary periods of their institutions, each piece with the `diary_client_id` that
    keeps those days (NULL: NEISPUO's own diary)."""
    return f"""
    SELECT p.notice_id, p.institution_id, p.class_name, p.section,
           greatest(p.from_date, d.from_date) AS from_date,
           least(p.to_date, d.to_date) AS to_date, d.diary_client_id
    FROM {placements} AS p
    JOIN institution_diaries AS d
      ON d.institution_id = p.institution_id
     AND d.from_date <= p.to_date AND d.to_date >= p.from_date
    """


def placement_json(alias: str) -> str:
    """SQL: the wire form of one placement row `alias`."""
    return f"""jsonb_build_object(
        'institutionId', {alias}.institution_id, 'className', {alias}.class_name,
        'section', {alias}.section, 'fromDate', {alias}.from_date, 'toDate', {alias}.to_date)"""


def placements_array(alias: str) -> str:
    """SQL aggregate: the placement rows `alias` as a JSON array in the contract's order."""
    order = ", ".join(f"{alias}.{column.strip()}" for column in PLACEMENT_ORDER.split(","))
    return f"jsonb_agg({placement_json(alias)} ORDER BY {order})"
