"""SQL of the registry's persons: identifiers, enrollments, and re-matching and re-placing
notes, set-based (a statement per step for a whole batch, never one per person).
Institutions and their diary periods: institutions_repository.py."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from notegateway.core.placement_sql import placement_runs

EnrollmentRow = tuple[int, str, str | None, dt.date, dt.date | None]
Identity = tuple[int, str]  # (identifier kind, identifier)


def enrollment_order(row: EnrollmentRow) -> tuple[dt.date, int, str, str, dt.date]:
    return (row[3], row[0], row[1], row[2] or "", row[4] or dt.date.max)


# Persons and their identifiers


@dataclass(frozen=True, slots=True)
class StoredPerson:
    person_id: int
    identifier_type: int
    identifier_kind: int
    identifier: str
    given_name: str
    family_name: str
    enrollments: tuple[EnrollmentRow, ...]  # in enrollment_order

    @property
    def identity(self) -> Identity:
        return (self.identifier_kind, self.identifier)


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds an identity: as its current identifier, or as a former one."""

    person_id: int
    current: bool
    identifier_type: int


async def stored_persons(
    db: asyncpg.Connection, person_ids: Sequence[int]
) -> dict[int, StoredPerson]:
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
    persons = {}
    for row in rows:
        enrollments: list[EnrollmentRow] = [
            (
                inst,
                cls,
                sec,
                dt.date.fromisoformat(start),
                dt.date.fromisoformat(end) if end else None,
            )
            for inst, cls, sec, start, end in json.loads(row["enrollments"])
        ]
        persons[row["id"]] = StoredPerson(
            row["id"],
            row["identifier_type"],
            row["identifier_kind"],
            row["identifier"],
            row["given_name"],
            row["family_name"],
            tuple(sorted(enrollments, key=enrollment_order)),
        )
    return persons


async def holders(db: asyncpg.Connection, identities: Sequence[Identity]) -> dict[Identity, Holder]:
    """Who holds each of these identities now (current or former), where anyone does."""
    rows = await db.fetch(
        """
        WITH wanted AS (SELECT * FROM unnest($1::int2[], $2::text[]) AS w(kind, ident))
        SELECT p.identifier_kind AS kind, p.identifier AS ident, p.id AS person_id,
               true AS current, p.identifier_type
        FROM wanted AS w JOIN persons AS p ON p.identifier_kind = w.kind AND p.identifier = w.ident
        UNION ALL
        SELECT f.identifier_kind, f.identifier, f.person_id, false, f.identifier_type
        FROM wanted AS w
        JOIN former_identifiers AS f ON f.identifier_kind = w.kind AND f.identifier = w.ident
        """,
        [i[0] for i in identities],
        [i[1] for i in identities],
    )
    return {
        (r["kind"], r["ident"]): Holder(r["person_id"], r["current"], r["identifier_type"])
        for r in rows
    }


async def upsert_persons(db: asyncpg.Connection, persons: Sequence[StoredPerson]) -> None:
    """Write these persons, in this order (an identifier one releases, a later one may
    claim: the unique check is made row by row)."""
    await db.execute(
        """
        INSERT INTO persons (id, identifier_type, identifier_kind, identifier, given_name,
                             family_name)
        SELECT id, t, k, i, g, f
        FROM unnest($1::bigint[], $2::int2[], $3::int2[], $4::text[], $5::text[], $6::text[])
             WITH ORDINALITY AS u(id, t, k, i, g, f, ord)
        ORDER BY ord
        ON CONFLICT (id) DO UPDATE
           SET identifier_type = excluded.identifier_type,
               identifier_kind = excluded.identifier_kind,
               identifier = excluded.identifier, given_name = excluded.given_name,
               family_name = excluded.family_name, updated_at = now()
        """,
        [p.person_id for p in persons],
        [p.identifier_type for p in persons],
        [p.identifier_kind for p in persons],
        [p.identifier for p in persons],
        [p.given_name for p in persons],
        [p.family_name for p in persons],
    )


async def write_former_identifiers(
    db: asyncpg.Connection, claimed: Sequence[Identity], released: Sequence[tuple[Identity, Holder]]
) -> None:
    """Identities now someone's current one leave the former list; released ones join it
    (as their last holder's, until now)."""
    await db.execute(
        """
        WITH claimed AS (
            DELETE FROM former_identifiers AS f
             USING unnest($1::int2[], $2::text[]) AS c(kind, ident)
             WHERE f.identifier_kind = c.kind AND f.identifier = c.ident
        )
        INSERT INTO former_identifiers (identifier_kind, identifier, identifier_type, person_id,
                                        until)
        SELECT kind, ident, type, person_id, clock_timestamp()
        FROM unnest($3::int2[], $4::text[], $5::int2[], $6::bigint[])
             AS r(kind, ident, type, person_id)
        ON CONFLICT (identifier_kind, identifier) DO UPDATE
           SET identifier_type = excluded.identifier_type, person_id = excluded.person_id,
               until = excluded.until
        """,
        [c[0] for c in claimed],
        [c[1] for c in claimed],
        [r[0][0] for r in released],
        [r[0][1] for r in released],
        [r[1].identifier_type for r in released],
        [r[1].person_id for r in released],
    )


async def replace_enrollments(
    db: asyncpg.Connection, enrollments: dict[int, tuple[EnrollmentRow, ...]]
) -> None:
    """Replace these persons' enrollments (two statements: the old rows must be gone
    before the new ones are checked against them)."""
    await db.execute(
        "DELETE FROM enrollments WHERE person_id = ANY($1::bigint[])", list(enrollments)
    )
    rows = [(pid, *row) for pid, rows in enrollments.items() for row in rows]
    if rows:
        await db.execute(
            """
            INSERT INTO enrollments (person_id, institution_id, class_name, section, from_date,
                                     to_date)
            SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[],
                                 $5::date[], $6::date[])
            """,
            *([r[i] for r in rows] for i in range(6)),
        )


_REMATCH = f"""
WITH affected AS (SELECT * FROM unnest($1::int2[], $2::text[]) AS a(kind, ident)),
holder AS (
    SELECT a.kind, a.ident, coalesce(p.id, f.person_id) AS person_id
    FROM affected AS a
    LEFT JOIN persons AS p ON p.identifier_kind = a.kind AND p.identifier = a.ident
    LEFT JOIN former_identifiers AS f ON f.identifier_kind = a.kind AND f.identifier = a.ident
),
before AS (
    SELECT n.id, n.person_id AS was, h.person_id AS now
    FROM holder AS h
    JOIN medical_notices AS n ON n.identifier_kind = h.kind AND n.identifier = h.ident
    WHERE n.person_id IS DISTINCT FROM h.person_id
      AND NOT n.matched_manually  -- an operator's link stands until an operator undoes it
),
moved AS (
    UPDATE medical_notices AS n
       SET person_id = b.now, matched_at = CASE WHEN b.now IS NULL THEN NULL ELSE now() END,
           processed_at = now()
      FROM before AS b
     WHERE n.id = b.id
    RETURNING n.id, b.was, b.now
),
audited AS (
    INSERT INTO audit_log (actor, action, notice_id, before, after)
    SELECT $4, CASE WHEN now IS NULL THEN 'note.unmatched' ELSE 'note.matched' END, id,
           CASE WHEN was IS NOT NULL THEN jsonb_build_object('personId', was) END,
           CASE WHEN now IS NOT NULL THEN jsonb_build_object('personId', now) END
    FROM moved
),
to_place AS (
    SELECT id AS notice_id, now AS person_id FROM moved
    UNION
    SELECT n.id, n.person_id FROM medical_notices AS n
    WHERE n.person_id = ANY($3::bigint[]) AND n.id NOT IN (SELECT id FROM moved)
),
to_place_notes AS (
    SELECT pl.notice_id, pl.person_id, n.from_date, n.to_date
    FROM to_place AS pl JOIN medical_notices AS n ON n.id = pl.notice_id
),
cleared AS (
    DELETE FROM placements WHERE notice_id IN (SELECT notice_id FROM to_place)
),
placed AS (
    INSERT INTO placements (notice_id, institution_id, class_name, section, from_date, to_date)
    {placement_runs("to_place_notes")}
)
SELECT (SELECT coalesce(array_agg(id), '{{}}') FROM moved) AS moved,
       (SELECT count(*) FROM moved WHERE was IS NULL) AS newly_matched,
       (SELECT coalesce(array_agg(notice_id), '{{}}') FROM to_place) AS placed
"""


@dataclass(frozen=True, slots=True)
class Rematched:
    moved: list[int]  # notes whose person changed (matched, unmatched or passed on)
    newly_matched: int  # of them, notes that had no person before
    placed: list[int]  # notes placed anew (the moved ones and those of `replaced` persons)


async def rematch_and_place(
    db: asyncpg.Connection, identities: Sequence[Identity], replaced: Sequence[int], actor: str
) -> Rematched:
    """Give every note under these identities to the identity's holder now (or none), and
    place anew those notes and every note of the persons `replaced` (enrollments changed)."""
    row = await db.fetchrow(
        _REMATCH,
        [i[0] for i in identities],
        [i[1] for i in identities],
        list(replaced),
        actor,
    )
    assert row is not None
    return Rematched(list(row["moved"]), row["newly_matched"], list(row["placed"]))


@dataclass(frozen=True, slots=True)
class PersonView:
    person: StoredPerson
    former: list[tuple[int, str, dt.datetime]]  # (type, identifier, until), newest first


async def get_person(db: asyncpg.Connection, person_id: int) -> PersonView | None:
    stored = (await stored_persons(db, [person_id])).get(person_id)
    if stored is None:
        return None
    rows = await db.fetch(
        """
        SELECT identifier_type, identifier, until FROM former_identifiers
        WHERE person_id = $1 ORDER BY until DESC, identifier
        """,
        person_id,
    )
    return PersonView(stored, [(r["identifier_type"], r["identifier"], r["until"]) for r in rows])
