"""Console sessions: an operator's token exchanged for a server-side session.

The cookie holds a random session id, never the token; the database keeps only the id's
SHA-256 and the session's CSRF token, which every form carries back. Sessions end at
sign-out, when their client is disabled or its token rotated (a leaked token revoked), or
SESSION_HOURS after sign-in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import secrets
import time
from dataclasses import dataclass

import asyncpg

from notegateway.clients.schemas import Client, Role

SESSION_HOURS = 8
COOKIE = "ngw_console"
SIGNIN_COOKIE = "ngw_signin_csrf"
SIGNIN_FORM_SECONDS = 3600  # a sign-in form older than this is refused


@dataclass(frozen=True, slots=True)
class Session:
    client: Client
    csrf: str
    id_hash: str = ""
    flash: str | None = None  # the one-time message of the last action, shown once
    search: str | None = None  # the last search's criteria (JSON), for paging


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
    id_hash = _hash(session_id)
    row = await db.fetchrow(
        """
        SELECT c.id, c.name, c.role, c.region, s.csrf, s.flash, s.search::text AS search
        FROM console_sessions AS s JOIN clients AS c ON c.id = s.client_id
        WHERE s.id_hash = $1 AND s.expires_at > now() AND c.disabled_at IS NULL
          AND c.role = 'operator'
        """,
        id_hash,
    )
    if row is None:
        return None
    if row["flash"] is not None:  # shown once
        await db.execute("UPDATE console_sessions SET flash = NULL WHERE id_hash = $1", id_hash)
    client = Client(id=row["id"], name=row["name"], role=Role(row["role"]), region=row["region"])
    return Session(client, row["csrf"], id_hash, row["flash"], row["search"])


async def say(db: asyncpg.Connection, session: Session, text: str) -> None:
    """The message the next page shows once (what an action did)."""
    await db.execute(
        "UPDATE console_sessions SET flash = $2 WHERE id_hash = $1", session.id_hash, text
    )


async def remember_search(db: asyncpg.Connection, session: Session, criteria: str) -> None:
    """The search's criteria (JSON), kept with the session: its pages are read from here,
    so an identifier searched for is in no URL and no page."""
    await db.execute(
        "UPDATE console_sessions SET search = $2::jsonb WHERE id_hash = $1",
        session.id_hash,
        criteria,
    )


async def end(db: asyncpg.Connection, session_id: str) -> None:
    await db.execute("DELETE FROM console_sessions WHERE id_hash = $1", _hash(session_id))


def csrf_ok(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def expires_in() -> dt.timedelta:
    return dt.timedelta(hours=SESSION_HOURS)


# The sign-in form has no session yet, so its CSRF token is a signed double-submit: the
# same value in a cookie and in the form, and the value itself signed with a key of the
# server's (time.nonce.mac). A value someone else set as a cookie (a sibling subdomain
# can) is no use to them: they cannot sign one.
def signin_token(key: bytes) -> str:
    body = f"{int(time.time())}.{secrets.token_urlsafe(24)}"
    return f"{body}.{_mac(key, body)}"


def signin_token_ok(key: bytes, cookie: str | None, form: str | None) -> bool:
    if not cookie or not form or not hmac.compare_digest(cookie.encode(), form.encode()):
        return False
    body, _, mac = form.rpartition(".")
    issued, _, _nonce = body.partition(".")
    if not issued.isascii() or not issued.isdigit():
        return False
    fresh = 0 <= time.time() - int(issued) <= SIGNIN_FORM_SECONDS
    return fresh and hmac.compare_digest(mac.encode(), _mac(key, body).encode())


def _mac(key: bytes, body: str) -> str:
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def _loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cookie_secure(scheme: str, host: str, forwarded_https: bool) -> bool:
    """The session cookie is Secure, except on a loopback address over plain HTTP (a
    developer's machine). Behind the TLS proxy TLS ends there, so the gateway sees plain
    HTTP: the proxy's `X-Forwarded-Proto: https`, or a Host that is not loopback, says so."""
    return scheme == "https" or forwarded_https or not _loopback(host)
