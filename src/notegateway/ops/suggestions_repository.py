"""SQL of the suggestions for an unmatched note (ops/suggestions.py)."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg


@dataclass(frozen=True, slots=True)
class NoteIdentity:
    identifier_type: int
    identifier_kind: int
    identifier: str
    person_id: int | None
    payload: str


async def note_identity(db: asyncpg.Connection, nrn: str) -> NoteIdentity | None:
    row = await db.fetchrow(
        "SELECT identifier_type, identifier_kind, identifier, person_id, payload::text "
        "FROM medical_notices WHERE nrn = $1",
        nrn,
    )
    return NoteIdentity(*row.values()) if row is not None else None


@dataclass(frozen=True, slots=True)
class Candidate:
    person_id: int
    given_name: str
    family_name: str
    identifier: str


# Persons whose current identifier is one of the variants, or (for an ЕГН) whose ЕГН
# starts with the birth date: a range of the (identifier_kind, identifier) index, which
# orders digit strings alike in every collation; left() rechecks it.
CANDIDATES_SQL = """
SELECT p.id, p.given_name, p.family_name, p.identifier
FROM persons AS p
WHERE p.identifier_kind = $1 AND p.identifier = ANY($2::text[])
UNION
SELECT p.id, p.given_name, p.family_name, p.identifier
FROM persons AS p
WHERE $3::text IS NOT NULL AND p.identifier_kind = $1
  AND p.identifier >= $3::text AND p.identifier < $4::text AND left(p.identifier, 6) = $3::text
"""


async def candidates(
    db: asyncpg.Connection,
    identifier_kind: int,
    variants: list[str],
    birth_prefix: str | None,
    birth_upper: str | None,
) -> list[Candidate]:
    rows = await db.fetch(CANDIDATES_SQL, identifier_kind, variants, birth_prefix, birth_upper)
    return [Candidate(*row.values()) for row in rows]


# A person by their full identifier, current or former, of any kind (the three kinds
# named, so that both (identifier_kind, identifier) keys serve it).
_BY_IDENTIFIER = """
SELECT p.id, p.given_name, p.family_name, p.identifier
FROM persons AS p WHERE p.identifier_kind = ANY('{1,2,3}'::smallint[]) AND p.identifier = $1
UNION
SELECT p.id, p.given_name, p.family_name, f.identifier
FROM former_identifiers AS f JOIN persons AS p ON p.id = f.person_id
WHERE f.identifier_kind = ANY('{1,2,3}'::smallint[]) AND f.identifier = $1
ORDER BY 1
"""


async def by_identifier(db: asyncpg.Connection, identifier: str) -> list[Candidate]:
    rows = await db.fetch(_BY_IDENTIFIER, identifier)
    return [Candidate(*row.values()) for row in rows]
