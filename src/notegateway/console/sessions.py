"""Console sessions: an operator's token exchanged for a server-side session.

The cookie holds a random session id, never the token; the database keeps only the id's
SHA-256 and the session's CSRF token, which every form carries back. Sessions end at
sign-out, when their client is disabled, or SESSION_HOURS after sign-in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import asyncpg

from notegateway.clients.schemas import Client, Role

SESSION_HOURS = 8
COOKIE = "ngw_console"


@dataclass(frozen=True, slots=True)
class Session:
    client: Client
    csrf: str


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


async def start(db: asyncpg.Connection, client: Client) -> tuple[str, str]:
    """A new session for `client`: (the cookie's session id, its CSRF token)."""
    session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    await db.execute(
        "INSERT INTO console_sessions (id_hash, client_id, csrf, expires_at) "
        "VALUES ($1, $2, $3, now() + make_interval(hours => $4))",
        _hash(session_id),
        client.id,
        csrf,
        SESSION_HOURS,
    )
    await db.execute("DELETE FROM console_sessions WHERE expires_at < now()")
    return session_id, csrf


async def find(db: asyncpg.Connection, session_id: str | None) -> Session | None:
    """The live session of this cookie: unexpired, its operator not disabled."""
    if not session_id or len(session_id) > 100:
        return None
    row = await db.fetchrow(
        """
        SELECT c.id, c.name, c.role, c.region, s.csrf
        FROM console_sessions AS s JOIN clients AS c ON c.id = s.client_id
        WHERE s.id_hash = $1 AND s.expires_at > now() AND c.disabled_at IS NULL
          AND c.role = 'operator'
        """,
        _hash(session_id),
    )
    if row is None:
        return None
    client = Client(id=row["id"], name=row["name"], role=Role(row["role"]), region=row["region"])
    return Session(client, row["csrf"])


async def end(db: asyncpg.Connection, session_id: str) -> None:
    await db.execute("DELETE FROM console_sessions WHERE id_hash = $1", _hash(session_id))


def csrf_ok(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def expires_in() -> dt.timedelta:
    return dt.timedelta(hours=SESSION_HOURS)
