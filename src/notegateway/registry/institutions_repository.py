"""SQL of the registry's institutions and their diary periods (the days each diary keeps)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg


@dataclass(frozen=True, slots=True)
class DiaryPeriod:
    from_date: dt.date  # date.min: the first period, from the beginning
    to_date: dt.date  # date.max: open
    diary_client_id: int | None  # None: NEISPUO's own diary
    diary: str  # "neispuo" or the vendor client's name


@dataclass(frozen=True, slots=True)
class StoredInstitution:
    institution_id: int
    name: str
    town: str
    region: str | None
    locked_through: dt.date | None
    diaries: list[DiaryPeriod]


async def upsert_institution(
    db: asyncpg.Connection,
    institution_id: int,
    name: str,
    town: str,
    region: str | None,
    locked_through: tuple[dt.date | None] | None,
) -> bool:
    """Create or update the institution's row (locking it: absences being recorded hold it
    FOR SHARE); True when new. `locked_through`: (the day) to set it, None to leave it."""
    created: bool = await db.fetchval(
        """
        INSERT INTO institutions (id, name, town, region, locked_through)
        VALUES ($1, $2, $3, $4, $6)
        ON CONFLICT (id) DO UPDATE
           SET name = excluded.name, town = excluded.town, region = excluded.region,
               locked_through = CASE WHEN $5 THEN excluded.locked_through
                                     ELSE institutions.locked_through END,
               updated_at = now()
        RETURNING xmax = 0
        """,
        institution_id,
        name,
        town,
        region,
        locked_through is not None,
        locked_through[0] if locked_through is not None else None,
    )
    return created


async def get_institution(db: asyncpg.Connection, institution_id: int) -> StoredInstitution | None:
    rows = await db.fetch(
        """
        SELECT i.id, i.name, i.town, i.region, i.locked_through, d.from_date, d.to_date,
               d.diary_client_id,
               coalesce(c.name, 'neispuo') AS diary
        FROM institutions AS i
        JOIN institution_diaries AS d ON d.institution_id = i.id
        LEFT JOIN clients AS c ON c.id = d.diary_client_id
        WHERE i.id = $1
        ORDER BY d.from_date
        """,
        institution_id,
    )
    if not rows:
        return None
    first = rows[0]
    return StoredInstitution(
        first["id"],
        first["name"],
        first["town"],
        first["region"],
        first["locked_through"],
        [DiaryPeriod(r["from_date"], r["to_date"], r["diary_client_id"], r["diary"]) for r in rows],
    )


async def write_diary_periods(
    db: asyncpg.Connection,
    institution_id: int,
    delete_from: Sequence[dt.date],
    upsert: Sequence[tuple[dt.date, dt.date, int | None]],
    audit: tuple[dict[str, Any] | None, dict[str, Any]],
    actor: str,
) -> None:
    """Delete the periods starting on `delete_from`, then write `upsert` (from, to, diary),
    and audit the change. The no-overlap constraint is checked row by row, so deletions
    go first and a shortened period is written before the one that follows it."""
    await db.execute(
        """
        DELETE FROM institution_diaries
        WHERE institution_id = $1 AND from_date = ANY($2::date[])
        """,
        institution_id,
        list(delete_from),
    )
    await db.execute(
        """
        WITH written AS (
            INSERT INTO institution_diaries (institution_id, from_date, to_date, diary_client_id)
            SELECT $1, f, t, c FROM unnest($2::date[], $3::date[], $4::bigint[]) AS u(f, t, c)
            ORDER BY t  -- a shortened period before the one that starts after it
            ON CONFLICT (institution_id, from_date) DO UPDATE
               SET to_date = excluded.to_date, diary_client_id = excluded.diary_client_id
        )
        INSERT INTO audit_log (actor, action, before, after)
        VALUES ($5, 'institution.diary_changed', $6::jsonb, $7::jsonb)
        """,
        institution_id,
        [u[0] for u in upsert],
        [u[1] for u in upsert],
        [u[2] for u in upsert],
        actor,
        json.dumps(audit[0]) if audit[0] is not None else None,
        json.dumps(audit[1]),
    )


async def absences_from(
    db: asyncpg.Connection, institution_id: int, from_date: dt.date
) -> list[int]:
    """The persons with absences in this institution on or after `from_date`."""
    rows = await db.fetch(
        "SELECT DISTINCT person_id FROM absences WHERE institution_id = $1 AND date >= $2",
        institution_id,
        from_date,
    )
    return [r["person_id"] for r in rows]


async def notices_placed_in(
    db: asyncpg.Connection, institution_id: int, from_date: dt.date
) -> list[int]:
    """The notes placed in this institution on or after `from_date`."""
    rows = await db.fetch(
        "SELECT DISTINCT notice_id FROM placements WHERE institution_id = $1 AND to_date >= $2",
        institution_id,
        from_date,
    )
    return [r["notice_id"] for r in rows]


async def missing_institutions(db: asyncpg.Connection, ids: Sequence[int]) -> set[int]:
    rows = await db.fetch(
        "SELECT unnest($1::bigint[]) AS id EXCEPT SELECT id FROM institutions", list(set(ids))
    )
    return {row["id"] for row in rows}
