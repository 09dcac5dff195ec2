"""Database plumbing: URL handling, the embedded PostgreSQL, engines, the request transaction."""

from __future__ import annotations

import logging
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from fastapi import Request
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from notegateway.core.config import Settings

log = logging.getLogger(__name__)


def to_asyncpg_url(url: str) -> str:
    """Accept `postgresql://`, `postgres://` or `postgresql+asyncpg://` (Unix-socket URLs too)."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError("NOTEGATEWAY_DATABASE_URL must be a postgresql:// URL")


def to_libpq_url(url: str) -> str:
    """The same URL in the plain form asyncpg.connect() takes."""
    return "postgresql://" + to_asyncpg_url(url)[len("postgresql+asyncpg://") :]


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL kept in `data_dir`; returns its URL.

    pgserver keeps one server per data directory and stops it when the last process
    that uses it exits, so several gateway processes may share it.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import pgserver

    logging.getLogger("pgserver").setLevel(logging.WARNING)
    pg_dir = (data_dir / "pg").resolve()
    pg_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = pgserver.get_server(pg_dir, cleanup_mode="stop")  # type: ignore[attr-defined]
    uri: str = server.get_uri()
    log.info("embedded PostgreSQL running in %s", pg_dir)
    return uri


def resolve_database_url(settings: Settings) -> str:
    """The asyncpg URL of the database to use: configured, or the embedded one."""
    raw = settings.database_url or start_embedded_postgres(settings.data_dir)
    return to_asyncpg_url(raw)


def create_engine(url: str, pool_size: int = 10) -> AsyncEngine:
    """The connection pool. AUTOCOMMIT: transactions are begun explicitly by `transaction()`.

    (SQLAlchemy's asyncpg adapter would otherwise send BEGIN lazily, on its own first
    statement, and statements on the raw asyncpg connection would run outside it.)
    """
    return create_async_engine(
        make_url(to_asyncpg_url(url)),
        pool_size=pool_size,
        max_overflow=pool_size // 2,
        isolation_level="AUTOCOMMIT",
    )


async def raw_connection(conn: AsyncConnection) -> asyncpg.Connection:
    """The asyncpg connection under `conn` (for hot paths; same server session)."""
    fairy = await conn.get_raw_connection()
    driver: Any = fairy.driver_connection
    return driver


@asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[asyncpg.Connection]:
    """One transaction on a pooled connection: committed on exit, rolled back on error."""
    async with engine.connect() as conn:
        db = await raw_connection(conn)
        async with db.transaction():
            yield db


async def get_db(request: Request) -> AsyncIterator[asyncpg.Connection]:
    """One request, one transaction: commits when the endpoint returns, rolls back on error.

    Registered with `scope="function"` so the commit happens before the answer is sent.
    """
    async with transaction(request.app.state.engine) as db:
        yield db
