"""All SQL about clients and the gateway's own secrets."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import asyncpg

from notegateway.core.db import row_as


async def get_or_create_secret(db: asyncpg.Connection, name: str, candidate: str) -> str:
    """The stored value of secret `name`, storing `candidate` if there is none yet."""
    # DO UPDATE (to itself) waits for a concurrent first writer and returns its value.
    value: str = await db.fetchval(
        """
        INSERT INTO gateway_secrets (name, value) VALUES ($1, $2)
        ON CONFLICT (name) DO UPDATE SET value = gateway_secrets.value
        RETURNING value
        """,
        name,
        candidate,
    )
    return value


@dataclass(frozen=True, slots=True)
class StoredClient:
    id: int
    name: str
    role: str
    region: str | None  # an operator limited to a region (РУО)
    token_hash: str | None
    disabled_at: dt.datetime | None


_CLIENT = "SELECT id, name, role, region, token_hash, disabled_at FROM clients"


@dataclass(frozen=True, slots=True)
class Named:
    """The clients a request's credentials name: by its token, by its certificate."""

    by_token: StoredClient | None
    by_cert: StoredClient | None


# The clients a token hash ($1) and a certificate thumbprint ($2) name, in one round trip
# with the record of an NZIS call ($3: lastHisSyncTime moves whatever the answer). The
# call is recorded when the credentials admit an NZIS client as clients/service.py
# decides it: each one given names a client, they name the same one, enabled, of the
# role nzis. Committed without waiting for the WAL flush: a crash may forget the last
# few milliseconds of calls, never a note.
_NAMED = f"""
WITH by_token AS ({_CLIENT} WHERE token_hash = $1),
by_cert AS ({_CLIENT} WHERE cert_thumbprint = $2),
named AS (SELECT * FROM by_token UNION SELECT * FROM by_cert),
recorded AS (
    INSERT INTO nzis_sync (slot, called_at)
    SELECT pg_backend_pid() % 1024, now()
    FROM (SELECT set_config('synchronous_commit', 'off', true)) AS quick
    WHERE $3 AND ($1 IS NULL OR EXISTS (SELECT 1 FROM by_token))
      AND ($2 IS NULL OR EXISTS (SELECT 1 FROM by_cert))
      AND (SELECT count(*) = 1 AND bool_and(role = 'nzis' AND disabled_at IS NULL)
           FROM named)
    ON CONFLICT (slot) DO UPDATE SET called_at = excluded.called_at
)
SELECT true AS by_token, * FROM by_token
UNION ALL
SELECT false, * FROM by_cert
"""


async def find_named(
    db: asyncpg.Connection, token_hash: str | None, thumbprint: str | None, record_nzis_call: bool
) -> Named:
    """The clients these credentials name, recording an NZIS call when they admit one."""
    found: dict[bool, StoredClient] = {}
    for row in await db.fetch(_NAMED, token_hash, thumbprint, record_nzis_call):
        by_token, *columns = row.values()
        found[by_token] = StoredClient(*columns)
    return Named(found.get(True), found.get(False))


async def find_by_name(db: asyncpg.Connection, name: str) -> StoredClient | None:
    return row_as(StoredClient, await db.fetchrow(f"{_CLIENT} WHERE name = $1", name))


async def insert(
    db: asyncpg.Connection,
    name: str,
    role: str,
    token_hash: str,
    thumbprint: str | None,
    region: str | None = None,
) -> bool:
    """False when a client of that name exists already."""
    row = await db.fetchrow(
        """
        INSERT INTO clients (name, role, token_hash, cert_thumbprint, token_rotated_at, region)
        VALUES ($1, $2, $3, $4, now(), $5)
        ON CONFLICT (name) DO NOTHING RETURNING id
        """,
        name,
        role,
        token_hash,
        thumbprint,
        region,
    )
    return row is not None


# Rotation is how a leaked token is revoked, so it ends the client's console sessions,
# as disabling does.
async def set_token(db: asyncpg.Connection, name: str, token_hash: str) -> bool:
    changed: int = await db.fetchval(
        """
        WITH rotated AS (
            UPDATE clients SET token_hash = $2, token_rotated_at = now() WHERE name = $1
            RETURNING id
        ),
        ended AS (
            DELETE FROM console_sessions WHERE client_id IN (SELECT id FROM rotated)
        )
        SELECT count(*) FROM rotated
        """,
        name,
        token_hash,
    )
    return changed == 1


async def disable(db: asyncpg.Connection, name: str) -> bool:
    changed: int = await db.fetchval(
        """
        WITH disabled AS (
            UPDATE clients SET disabled_at = coalesce(disabled_at, now()) WHERE name = $1
            RETURNING id
        ),
        ended AS (
            DELETE FROM console_sessions WHERE client_id IN (SELECT id FROM disabled)
        )
        SELECT count(*) FROM disabled
        """,
        name,
    )
    return changed == 1


async def list_all(db: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every client, for `clients list` (read into ClientListing by the service)."""
    rows: list[asyncpg.Record] = await db.fetch(
        """
        SELECT name, role, cert_thumbprint, disabled_at, created_at, token_rotated_at, region
        FROM clients ORDER BY name
        """
    )
    return rows


async def vendor_id_by_name(db: asyncpg.Connection, name: str) -> int | None:
    value: int | None = await db.fetchval(
        "SELECT id FROM clients WHERE name = $1 AND role = 'vendor'", name
    )
    return value
