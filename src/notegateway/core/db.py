"""Database plumbing: URL handling, the embedded PostgreSQL, engines, the request transaction."""

from __future__ import annotations

import contextlib
import logging
import warnings
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import asyncpg
from fastapi import Request
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from notegateway.core.config import Settings
from notegateway.core.errors import ServiceUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")


def to_asyncpg_url(url: str) -> str:
    """Accept `postgresql://`, `postgres://` or `postgresql+asyncpg://` (Unix-socket URLs
    too), with several hosts as libpq writes them (`h1:5432,h2:5432`, for a primary and
    its standby, with `?target_session_attrs=read-write`): SQLAlchemy takes those as
    `host` query parameters."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            rest = url[len(prefix) :]
            break
    else:
        raise ValueError("NOTEGATEWAY_DATABASE_URL must be a postgresql:// URL")
    netloc, _, path = rest.partition("/")
    user, at, hosts = netloc.rpartition("@")
    if "," in hosts:  # SQLAlchemy wants every host's port (IPv6 literals: not supported)
        database, question, query = path.partition("?")
        listed = "&".join(
            f"host={host if ':' in host else host + ':5432'}" for host in hosts.split(",")
        )
        rest = f"{user}{at}/{database}?{listed}{'&' + query if question and query else ''}"
    return "postgresql+asyncpg://" + rest


def to_libpq_url(url: str) -> str:
    """The same URL in the plain form asyncpg.connect() takes (several hosts listed as
    libpq lists them)."""
    parsed = make_url(to_asyncpg_url(url))
    hosts = parsed.query.get("host")
    if isinstance(hosts, tuple):
        query = {k: v for k, v in parsed.query.items() if k != "host"}
        secret = f":{quote(parsed.password, safe='')}" if parsed.password else ""
        user = f"{quote(parsed.username or '', safe='')}{secret}@" if parsed.username else ""
        suffix = "&".join(f"{k}={v}" for k, v in query.items() if isinstance(v, str))
        return f"postgresql://{user}{','.join(hosts)}/{parsed.database or ''}" + (
            f"?{suffix}" if suffix else ""
        )
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
    _EMBEDDED.append(server)
    uri: str = server.get_uri()
    log.info("embedded PostgreSQL running in %s", pg_dir)
    return uri


_EMBEDDED: list[Any] = []  # the embedded servers this process started or joined


def stop_embedded_postgres() -> None:
    """Leave the embedded PostgreSQL this process started or joined: pgserver stops it
    when no other process uses it (as at exit, but also when a signal ends the server).
    pgserver counts its users by pid in a file; a user killed without its exit handler
    (SIGKILL) stays listed for ever and the server would never stop, so dead pids are
    dropped first, under pgserver's own lock."""
    import json

    import psutil  # type: ignore[import-untyped]

    while _EMBEDDED:
        server = _EMBEDDED.pop()
        listed = Path(server.pgdata) / ".handle_pids.json"
        with server._lock:
            if listed.is_file():
                alive = [pid for pid in json.loads(listed.read_text()) if psutil.pid_exists(pid)]
                listed.write_text(json.dumps(alive))
        server.cleanup()


def stop_leftover_postgres(data_dir: Path) -> bool:
    """Stop an embedded PostgreSQL that a killed process left running in `data_dir`;
    False when none runs there. As pgserver does: as the `pgserver` user under root."""
    import os

    from pgserver import postgres_server

    pg_dir = (data_dir / "pg").resolve()
    if not (pg_dir / "postmaster.pid").is_file():
        return False
    user = "pgserver" if os.geteuid() == 0 else None
    postgres_server.pg_ctl(  # type: ignore[attr-defined]
        ["-w", "stop", "-m", "fast"], pgdata=pg_dir, user=user
    )
    (pg_dir / ".handle_pids.json").unlink(missing_ok=True)  # nobody uses it now
    return True


def resolve_database_url(settings: Settings) -> str:
    """The asyncpg URL of the database to use: configured, or the embedded one."""
    raw = settings.database_url or start_embedded_postgres(settings.data_dir)
    return to_asyncpg_url(raw)


POOL_TIMEOUT_S = 5.0  # no pooled connection free within this: 503
CONNECT_TIMEOUT_S = 5.0

# Errors that mean "the database is not there for us right now": the request is rolled
# back and answered 503 with Retry-After; retrying it later is safe.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,  # class 08: the connection failed or was lost
    asyncpg.InterfaceError,  # the client side: "connection is closed", and the like
    # A backend killed while its connection was idle sends an error the protocol did not
    # expect: the connection is unusable.
    asyncpg.InternalClientError,
    asyncpg.OperatorInterventionError,  # class 57: shutdown, statement timeout, starting
    asyncpg.InsufficientResourcesError,  # class 53: too many connections, shared memory
    asyncpg.LockNotAvailableError,  # lock_timeout
    asyncpg.IdleInTransactionSessionTimeoutError,
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
)
# Getting a connection may also fail in SQLAlchemy's words.
_NO_CONNECTION: tuple[type[BaseException], ...] = (
    *UNAVAILABLE,
    sa_exc.TimeoutError,  # no pooled connection within POOL_TIMEOUT_S
    sa_exc.DBAPIError,  # connecting failed (SQLAlchemy wraps the driver's error)
)
# Of those, the ones that leave the connection unusable: it is thrown away (and, since a
# lost connection usually means a restart or failover, the pool's older ones with it).
_LOST = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
)


# A commit the synchronous standby did not confirm. With the standby away, a commit waits
# for it; when the wait is cancelled (our command_timeout, or an operator's
# pg_cancel_backend), PostgreSQL keeps the commit, on the primary alone, and only warns.
# That is never answered as a success: 503, and the client's retry finds what was committed
# (a duplicate), or, after a failover that lost it, makes it again. Connections are watched
# from the moment they are made (create_engine).
_UNREPLICATED: weakref.WeakSet[asyncpg.Connection] = weakref.WeakSet()
_NOT_REPLICATED = "canceling wait for synchronous replication"


def _watch_replication(connection: Any, message: Any) -> None:
    if str(getattr(message, "message", "")).startswith(_NOT_REPLICATED):
        _UNREPLICATED.add(connection)


class NotReplicated(ServiceUnavailable):
    """Committed on the primary, but not confirmed by its synchronous standby."""


@dataclass(frozen=True, slots=True)
class _Session:
    """How transactions begin on an engine's connections."""

    begin: str  # the simple query that begins one (and sets what it must)
    autocommit: bool  # a statement may run outside a transaction


# Set by create_engine, read by transaction(): the engines of this process.
_SESSIONS: weakref.WeakKeyDictionary[AsyncEngine, _Session] = weakref.WeakKeyDictionary()


def create_engine(url: str, settings: Settings | None = None) -> AsyncEngine:
    """The connection pool. AUTOCOMMIT: transactions are begun explicitly by `transaction()`.

    (SQLAlchemy's asyncpg adapter would otherwise send BEGIN lazily, on its own first
    statement, and statements on the raw asyncpg connection would run outside it.) Every
    transaction bounds its statements and lock waits, and idling inside it.

    Directly on PostgreSQL, the bounds are the connection's settings and statements are
    prepared once per connection. Behind PgBouncer in transaction mode
    (NOTEGATEWAY_PGBOUNCER), a connection is a different server session from one
    transaction to the next: nothing is kept in the session (no prepared statements, no
    settings), every statement runs inside a transaction, and each transaction sets its
    bounds itself, in the query that begins it.
    """
    settings = settings or Settings()
    timeout_ms = settings.statement_timeout_ms
    bounds = {
        "statement_timeout": str(timeout_ms),
        "lock_timeout": str(timeout_ms),
        "idle_in_transaction_session_timeout": str(3 * timeout_ms),
        # The hot statements are large and run with arrays of any length: planned once
        # per connection, they save a millisecond or two each time.
        "plan_cache_mode": "force_generic_plan",
    }
    # The client's own bound, a second past the server's: PostgreSQL does not apply
    # statement_timeout to a commit's work (deferred triggers, the wait for a synchronous
    # standby), so a commit could otherwise hang for as long as the standby is away.
    connect_args: dict[str, Any] = {
        "timeout": CONNECT_TIMEOUT_S,
        "command_timeout": timeout_ms / 1000 + 1,
    }
    sa_url = make_url(to_asyncpg_url(url))
    if settings.pgbouncer:
        connect_args["statement_cache_size"] = 0
        sa_url = sa_url.update_query_dict({"prepared_statement_cache_size": "0"})
        session = _Session(
            "BEGIN; " + " ".join(f"SET LOCAL {k} = {v};" for k, v in bounds.items()), False
        )
    else:
        connect_args["server_settings"] = bounds
        session = _Session("BEGIN", True)
    engine = create_async_engine(
        sa_url,
        pool_size=settings.pool_size,
        max_overflow=settings.pool_size // 2,
        pool_timeout=POOL_TIMEOUT_S,
        isolation_level="AUTOCOMMIT",
        connect_args=connect_args,
    )
    _SESSIONS[engine] = session

    @event.listens_for(engine.sync_engine, "connect")
    def _watch(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.driver_connection.add_log_listener(_watch_replication)

    return engine


MANY_ITEMS = 16


async def plan_for(db: asyncpg.Connection, items: int) -> None:
    """The statements of this transaction run over `items` items. Connections keep one
    generic plan per statement, made for the usual request of one or a few items; past
    MANY_ITEMS, each statement is planned for its own arrays instead (1000-note batches
    went about a tenth faster for it)."""
    if items > MANY_ITEMS:
        await db.execute("SET LOCAL plan_cache_mode = force_custom_plan")


def rows_as(make: Callable[..., T], rows: Iterable[asyncpg.Record]) -> list[T]:
    """Records as frozen dataclasses (or any type) whose fields are the columns, by name."""
    return [make(**dict(row.items())) for row in rows]


def row_as(make: Callable[..., T], row: asyncpg.Record | None) -> T | None:
    return None if row is None else make(**dict(row.items()))


async def raw_connection(conn: AsyncConnection) -> asyncpg.Connection:
    """The asyncpg connection under `conn` (for hot paths; same server session)."""
    fairy = await conn.get_raw_connection()
    driver = fairy.driver_connection  # SQLAlchemy types it Any | None
    assert isinstance(driver, asyncpg.Connection)
    return driver


async def _drop(engine: AsyncEngine, conn: AsyncConnection) -> None:
    """A connection was found dead: throw it away, and with it every idle one of the
    pool (a lost connection usually means a restart or a failover; the others are dead
    too). Connections in use are dropped when they come back."""
    with contextlib.suppress(Exception):
        await conn.invalidate()
    with contextlib.suppress(Exception):
        await conn.close()
    await engine.dispose(close=False)


async def _begin(
    engine: AsyncEngine, begin: str | None
) -> tuple[AsyncConnection, asyncpg.Connection]:
    """A pooled connection, with a transaction begun on it by the query `begin`. One found
    dead (the database restarted, or its backend was killed) is replaced: the idle ones
    are dropped with it, so the next try gets a fresh one (three tries in all)."""
    for attempt in (1, 2, 3):
        conn = await engine.connect()
        db: asyncpg.Connection | None = None
        try:
            db = await raw_connection(conn)
            if begin is not None:
                await db.execute(begin)
            elif db.is_closed():
                raise asyncpg.InterfaceError("connection is closed")
        except (*_LOST, sa_exc.DBAPIError):
            await _drop(engine, conn)
            if attempt == 3:
                raise
            continue
        except BaseException:  # the begin query's own statements refused (`transaction`'s
            if db is not None:  # `also`): nothing is kept
                with contextlib.suppress(Exception):
                    await db.execute("ROLLBACK")
            with contextlib.suppress(Exception):
                await conn.close()
            raise
        return conn, db
    raise AssertionError("unreachable")


@asynccontextmanager
async def transaction(
    engine: AsyncEngine,
    begin: bool = True,
    commit_timeout_s: float | None = None,
    also: str | None = None,
) -> AsyncIterator[asyncpg.Connection]:
    """One transaction on a pooled connection: committed on exit, rolled back on error.

    With `begin=False`, no transaction is begun where the engine allows it: each
    statement is a transaction of its own (one round trip instead of three, for a single
    statement or a few independent ones). A database that is away, a lost connection, or
    a statement or lock wait past its bound raise ServiceUnavailable (503 with
    Retry-After), the transaction rolled back. `commit_timeout_s`: the COMMIT's own bound
    (a long job's commit may wait longer for the standby than a request's). `also`: SQL
    (no parameters: literals the caller made safe) run in the round trip that begins the
    transaction, inside it; its error ends the transaction and is raised as it is.
    """
    session = _SESSIONS[engine]
    begin = begin or not session.autocommit or also is not None
    begins = session.begin if also is None else f"{session.begin.rstrip('; ')}; {also}"
    try:
        conn, db = await _begin(engine, begins if begin else None)
    except _NO_CONNECTION as exc:
        raise ServiceUnavailable("the database is unavailable; try again shortly") from exc
    _UNREPLICATED.discard(db)  # a warning of an earlier transaction, answered already
    try:
        try:
            yield db
        except BaseException:
            if begin:
                with contextlib.suppress(Exception):
                    await db.execute("ROLLBACK")
            raise
        if begin and await db.execute("COMMIT", timeout=commit_timeout_s) != "COMMIT":
            # PostgreSQL answers COMMIT of a failed transaction with ROLLBACK.
            raise RuntimeError("the transaction had failed and was rolled back")
        if db in _UNREPLICATED:
            _UNREPLICATED.discard(db)
            raise NotReplicated("the standby did not confirm the write; try again shortly")
    except UNAVAILABLE as exc:
        # An InterfaceError on a connection still open is a misuse of that connection, not
        # an outage: throwing the whole pool away for it (every 2 s, once) leaked
        # connections until PostgreSQL refused more.
        misuse = isinstance(exc, asyncpg.InterfaceError) and not db.is_closed()
        if db.is_closed() or (isinstance(exc, _LOST) and not misuse):
            await _drop(engine, conn)
        elif misuse or isinstance(exc, TimeoutError):  # cut by the client: what the server
            with contextlib.suppress(Exception):  # still sends (a commit's warning) is not
                await conn.invalidate()  # for the next transaction on this connection
        raise ServiceUnavailable("the database is unavailable; try again shortly") from exc
    finally:
        with contextlib.suppress(Exception):
            await conn.close()


async def idempotent(engine: AsyncEngine, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    """Run `work`, statements that are safe to repeat, each a transaction of its own (no
    BEGIN, no COMMIT: one round trip per statement). A connection found dead on the way
    is replaced and `work` run again, three tries in all; other outages: 503."""
    for attempt in (1, 2, 3):
        try:
            async with transaction(engine, begin=False) as db:
                return await work(db)
        except ServiceUnavailable as exc:
            if attempt == 3 or not isinstance(exc.__cause__, _LOST):
                raise
    raise AssertionError("unreachable")


async def get_db(request: Request) -> AsyncIterator[asyncpg.Connection]:
    """One request, one transaction: commits when the endpoint returns, rolls back on error.

    Registered with `scope="function"` so the commit happens before the answer is sent.
    """
    async with transaction(request.app.state.engine) as db:
        yield db


_REHEARSING: ContextVar[bool] = ContextVar("rehearsing", default=False)


@asynccontextmanager
async def rehearsal(db: asyncpg.Connection) -> AsyncIterator[None]:
    """Writes made inside are undone when it ends (a savepoint rolled back): a page that
    must state an action's consequence before it is confirmed runs the action here and
    reads what it did. Metrics are not counted meanwhile (`rehearsing()`)."""
    # The request's transaction was begun by a BEGIN of our own (`transaction` above), so
    # the savepoint is SQL too: asyncpg's transaction() refuses to nest in one.
    token = _REHEARSING.set(True)
    try:
        await db.execute("SAVEPOINT ngw_rehearsal")
        try:
            yield
        finally:
            await db.execute("ROLLBACK TO SAVEPOINT ngw_rehearsal; RELEASE SAVEPOINT ngw_rehearsal")
    finally:
        _REHEARSING.reset(token)


def rehearsing() -> bool:
    """Inside a `rehearsal`: what happens is undone, so nothing is counted."""
    return _REHEARSING.get()
