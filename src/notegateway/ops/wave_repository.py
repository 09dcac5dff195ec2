"""SQL of the illness wave (ops/wave.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import asyncpg

from notegateway.core.db import rows_as
from notegateway.core.scope import institution_in_region

# Per day and region (or town): the pupils an active, matched note covers that day, by its
# placements. Every group that has an institution gets every day, 0 included.
_NOTES_BY_DAY = """
WITH days AS (
    SELECT d::date AS date FROM generate_series($1::date, $2::date, '1 day') AS d
),
groups AS (
    SELECT {group} AS name, {parent} AS parent FROM institutions WHERE {region_ok} GROUP BY 1
),
covered AS (
    SELECT days.date, {group} AS name, count(DISTINCT n.person_id) AS pupils
    FROM days
    JOIN placements AS p ON days.date BETWEEN p.from_date AND p.to_date
    JOIN medical_notices AS n ON n.id = p.notice_id
    JOIN institutions ON institutions.id = p.institution_id
    WHERE n.status = 'active' AND n.person_id IS NOT NULL
      AND {region_ok}
    GROUP BY 1, 2
)
SELECT days.date, groups.name, groups.parent, coalesce(covered.pupils, 0) AS pupils
FROM days CROSS JOIN groups
LEFT JOIN covered ON covered.date = days.date AND covered.name IS NOT DISTINCT FROM groups.name
ORDER BY groups.name NULLS LAST, days.date
"""
_GROUPS = {"region": "institutions.region", "town": "institutions.town"}
# The group whose total is shown beside: a town's region (a town in two regions: the
# first); regions have none (no national total is shown).
_PARENTS = {"region": "NULL::text", "town": "min(institutions.region)"}


@dataclass(frozen=True, slots=True)
class DayCount:
    """Pupils a note covers on one day in one region or town (`parent`: a town's region)."""

    date: dt.date
    name: str | None
    parent: str | None
    pupils: int


async def notes_by_day(
    db: asyncpg.Connection, from_date: dt.date, to_date: dt.date, by: str, region: str | None
) -> list[DayCount]:
    rows = await db.fetch(
        _NOTES_BY_DAY.format(
            group=_GROUPS[by],
            parent=_PARENTS[by],
            region_ok=institution_in_region("institutions.id", "$3"),
        ),
        from_date,
        to_date,
        region,
    )
    return rows_as(DayCount, rows)
