"""Transaction-scoped advisory locks that serialise work on one NRN or one person.

Every path that could race on a note (push, cancel) takes the NRN's lock, and every path
that matches notes to people (push, registry write) takes the identity's lock, all in one
statement in a fixed order, so two such transactions never deadlock and the second one's
statements see what the first committed.
"""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg


def nrn_key(nrn: str) -> str:
    return f"nrn:{nrn}"


def identity_key(kind: int, identifier: str) -> str:
    return f"identity:{kind}:{identifier}"


async def lock_keys(db: asyncpg.Connection, keys: Iterable[str]) -> None:
    await db.execute(
        """
        SELECT count(pg_advisory_xact_lock(k))
        FROM (SELECT DISTINCT hashtextextended(key, 0) AS k FROM unnest($1::text[]) AS key
              ORDER BY 1) AS ordered
        """,
        list(keys),
    )


def person_key(person_id: int) -> str:
    """Taken before any identity key by registry writes (a fixed order: no deadlocks)."""
    return f"person:{person_id}"
