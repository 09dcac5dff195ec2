"""Transaction-scoped advisory locks that serialise work on one NRN or one person.

Every path that could race on a note (push, cancel) takes the NRN's lock; every path that
changes what a person's notes excuse (push, cancel, absence, registry write) takes the
lock of the person's identity (kind + identifier). The second of two such transactions
waits, and its statements then see what the first committed.

No deadlocks: locks are taken in classes, always in this order, each class in one
statement in sorted order: person keys, then NRN keys, then identity keys.
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
