"""All SQL of the registry, including re-matching and re-placing a person's notes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from notegateway.registry.placement_sql import placement_runs


async def upsert_institution(
    db: asyncpg.Connection,
    institution_id: int,
    name: str,
    town: str,
    diary_client_id: int | None,
    actor: str,
) -> tuple[bool, bool]:
    """(new, its diary changed); a diary change is audited."""
    row = await db.fetchrow(
        """
        WITH before AS (
            -- No FOR UPDATE: the upsert below updates the row first in this same statement,
            -- and a row lock would then skip it.
            SELECT diary_client_id FROM institutions WHERE id = $1
        ),
        upserted AS (
            INSERT INTO institutions (id, name, town, diary_client_id) VALUES ($1, $2, $3, $4)
            ON CONFLICT (id) DO UPDATE
               SET name = excluded.name, town = excluded.town,
                   diary_client_id = excluded.diary_client_id, updated_at = now()
            RETURNING xmax = 0 AS created
        ),
        changed AS (
            SELECT b.diary_client_id AS was FROM before AS b
            WHERE b.diary_client_id IS DISTINCT FROM $4::bigint
        ),
        audited AS (
            INSERT INTO audit_log (actor, action, before, after)
            SELECT $5, 'institution.diary_changed',
                   jsonb_build_object('institutionId', $1::bigint, 'diary',
                       coalesce((SELECT name FROM clients WHERE id = c.was), 'neispuo')),
                   jsonb_build_object('institutionId', $1::bigint, 'diary',
                       coalesce((SELECT name FROM clients WHERE id = $4::bigint), 'neispuo'))
            FROM changed AS c
        )
        SELECT (SELECT created FROM upserted) AS created,
               EXISTS (SELECT 1 FROM changed) AS diary_changed
        """,
        institution_id,
        name,
        town,
        diary_client_id,
        actor,
    )
    assert row is not None
    return row["created"], row["diary_changed"]


async def persons_with_absences_in(db: asyncpg.Connection, institution_id: int) -> list[int]:
    rows = await db.fetch(
        "SELECT DISTINCT person_id FROM absences WHERE institution_id = $1", institution_id
    )
    return [r["person_id"] for r in rows]


async def identities(db: asyncpg.Connection, person_ids: Sequence[int]) -> list[tuple[int, str]]:
    rows = await db.fetch(
        "SELECT identifier_kind, identifier FROM persons WHERE id = ANY($1::bigint[])",
        list(person_ids),
    )
    return [(r["identifier_kind"], r["identifier"]) for r in rows]


async def get_institution(db: asyncpg.Connection, institution_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        """
        SELECT i.id, i.name, i.town, coalesce(c.name, 'neispuo') AS diary
        FROM institutions AS i LEFT JOIN clients AS c ON c.id = i.diary_client_id
        WHERE i.id = $1
        """,
        institution_id,
    )


async def missing_institutions(db: asyncpg.Connection, ids: Sequence[int]) -> set[int]:
    rows = await db.fetch(
        "SELECT unnest($1::bigint[]) AS id EXCEPT SELECT id FROM institutions", list(set(ids))
    )
    return {row["id"] for row in rows}


async def current_persons(
    db: asyncpg.Connection, person_ids: Sequence[int]
) -> dict[int, asyncpg.Record]:
    """Persons as stored, with their enrollments, for these ids."""
    rows = await db.fetch(
        """
        SELECT p.id, p.identifier_type, p.identifier_kind, p.identifier, p.given_name,
               p.family_name,
               coalesce(json_agg(json_build_array(e.institution_id, e.class_name, e.section,
                                                  e.from_date, e.to_date))
                        FILTER (WHERE e.id IS NOT NULL), '[]')::text AS enrollments
        FROM persons AS p LEFT JOIN enrollments AS e ON e.person_id = p.id
        WHERE p.id = ANY($1::bigint[])
        GROUP BY p.id
        """,
        list(person_ids),
    )
    return {row["id"]: row for row in rows}


async def identifier_holder(
    db: asyncpg.Connection, kind: int, identifier: str, except_person: int
) -> int | None:
    value: int | None = await db.fetchval(
        "SELECT id FROM persons WHERE identifier_kind = $1 AND identifier = $2 AND id <> $3",
        kind,
        identifier,
        except_person,
    )
    return value


async def upsert_person(
    db: asyncpg.Connection,
    person_id: int,
    identifier_type: int,
    kind: int,
    identifier: str,
    given_name: str,
    family_name: str,
) -> None:
    await db.execute(
        """
        INSERT INTO persons (id, identifier_type, identifier_kind, identifier, given_name,
                             family_name)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (id) DO UPDATE
           SET identifier_type = excluded.identifier_type,
               identifier_kind = excluded.identifier_kind,
               identifier = excluded.identifier, given_name = excluded.given_name,
               family_name = excluded.family_name, updated_at = now()
        """,
        person_id,
        identifier_type,
        kind,
        identifier,
        given_name,
        family_name,
    )


EnrollmentRow = tuple[int, str, str | None, dt.date, dt.date | None]


async def replace_enrollments(
    db: asyncpg.Connection, person_id: int, enrollments: Sequence[EnrollmentRow]
) -> None:
    await db.execute("DELETE FROM enrollments WHERE person_id = $1", person_id)
    if enrollments:
        await db.execute(
            """
            INSERT INTO enrollments (person_id, institution_id, class_name, section, from_date,
                                     to_date)
            SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::date[],
                                     $6::date[])
            """,
            person_id,
            [e[0] for e in enrollments],
            [e[1] for e in enrollments],
            [e[2] for e in enrollments],
            [e[3] for e in enrollments],
            [e[4] for e in enrollments],
        )


_REMATCH = f"""
WITH unmatched AS (
    UPDATE medical_notices
       SET person_id = NULL, matched_at = NULL, processed_at = now()
     WHERE person_id = $1 AND (identifier_kind, identifier) <> ($2::int2, $3::text)
    RETURNING id
),
matched AS (
    UPDATE medical_notices
       SET person_id = $1, matched_at = now(), processed_at = now()
     WHERE identifier_kind = $2 AND identifier = $3 AND person_id IS NULL
    RETURNING id
),
audited AS (
    INSERT INTO audit_log (actor, action, notice_id, before, after)
    SELECT $4, 'note.unmatched', id, jsonb_build_object('personId', $1::bigint), NULL
    FROM unmatched
    UNION ALL
    SELECT $4, 'note.matched', id, NULL, jsonb_build_object('personId', $1::bigint)
    FROM matched
),
person_notices AS (
    SELECT n.id AS notice_id, $1::bigint AS person_id, n.from_date, n.to_date
    FROM medical_notices AS n
    WHERE n.identifier_kind = $2 AND n.identifier = $3
),
cleared AS (
    DELETE FROM placements
     WHERE notice_id IN (SELECT id FROM unmatched UNION ALL SELECT notice_id FROM person_notices)
),
placed AS (
    INSERT INTO placements (notice_id, institution_id, class_name, section, from_date, to_date)
    {placement_runs("person_notices")}
    RETURNING notice_id
)
SELECT (SELECT coalesce(array_agg(id), '{{}}') FROM unmatched) AS unmatched,
       (SELECT count(*) FROM matched) AS matched,
       (SELECT coalesce(array_agg(notice_id), '{{}}') FROM person_notices) AS notices
"""


@dataclass(frozen=True, slots=True)
class Rematched:
    unmatched: list[int]  # notes that left the person
    newly_matched: int
    notices: list[int]  # the person's notes now


async def rematch_and_place(
    db: asyncpg.Connection, person_id: int, kind: int, identifier: str, actor: str
) -> Rematched:
    """Match the person's notes to them by identifier (and unmatch the rest), place every day."""
    row = await db.fetchrow(_REMATCH, person_id, kind, identifier, actor)
    assert row is not None
    return Rematched(list(row["unmatched"]), row["matched"], list(row["notices"]))


async def share_lock_institution(db: asyncpg.Connection, institution_id: int) -> bool:
    value = await db.fetchval("SELECT id FROM institutions WHERE id = $1 FOR SHARE", institution_id)
    return value is not None


async def institution_exists(db: asyncpg.Connection, institution_id: int) -> bool:
    value: bool = await db.fetchval(
        "SELECT EXISTS (SELECT 1 FROM institutions WHERE id = $1)", institution_id
    )
    return value


async def get_person(db: asyncpg.Connection, person_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        """
        SELECT p.id, p.identifier_type, p.identifier, p.given_name, p.family_name,
               coalesce((SELECT json_agg(json_build_object(
                            'institutionId', e.institution_id, 'className', e.class_name,
                            'section', e.section, 'fromDate', e.from_date, 'toDate', e.to_date)
                            ORDER BY e.from_date)
                         FROM enrollments AS e WHERE e.person_id = p.id), '[]')::text
                   AS enrollments
        FROM persons AS p WHERE p.id = $1
        """,
        person_id,
    )
