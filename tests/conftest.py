"""Each test gets its own database, cloned from a migrated template (CREATE DATABASE ... TEMPLATE).

The server is `NOTEGATEWAY_TEST_DATABASE_URL` when set (CI: the machine's PostgreSQL),
else an embedded PostgreSQL (pgserver) kept in `.notegateway-test/`. With
NOTEGATEWAY_TEST_VIA_PGBOUNCER=1 the gateways under test (in process and served) reach it
through PgBouncer in transaction mode, and LISTEN directly; the tests' own connections
are direct.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from notegateway.app import create_app
from notegateway.core.config import Settings
from notegateway.core.db import start_embedded_postgres, to_asyncpg_url, to_libpq_url
from notegateway.core.migrate import upgrade
from tests import serving
from tests.factories import Api

TEST_SECRET_KEY = "test-secret-key-of-at-least-32-bytes"
TRUSTED_PROXY = "10.20.30.40"


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name` (asyncpg form)."""
    return make_url(to_asyncpg_url(url)).set(database=name).render_as_string(hide_password=False)


def plain(url: str) -> str:
    return to_libpq_url(url)


@pytest.fixture(scope="session")
def server_url() -> str:
    configured = os.environ.get("NOTEGATEWAY_TEST_DATABASE_URL")
    if configured:
        return to_asyncpg_url(configured)
    return to_asyncpg_url(start_embedded_postgres(Path(".notegateway-test")))


async def _admin(server_url: str) -> asyncpg.Connection:
    return await asyncpg.connect(plain(with_database(server_url, "postgres")))


@pytest.fixture(scope="session")
def template_name(server_url: str) -> Iterator[str]:
    name = f"ngw_template_{os.getpid()}"

    async def create() -> None:
        admin = await _admin(server_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()

    async def drop() -> None:
        admin = await _admin(server_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    asyncio.run(create())
    upgrade(with_database(server_url, name))
    yield name
    asyncio.run(drop())


@pytest.fixture
async def database_url(server_url: str, template_name: str) -> AsyncIterator[str]:
    """A fresh, migrated database for this test only."""
    name = f"ngw_test_{uuid.uuid4().hex[:12]}"
    admin = await _admin(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')
    finally:
        await admin.close()
    yield with_database(server_url, name)
    admin = await _admin(server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def pgbouncer_url(server_url: str) -> Iterator[str | None]:
    """The test server through PgBouncer, when the tests run that way."""
    if os.environ.get("NOTEGATEWAY_TEST_VIA_PGBOUNCER") != "1":
        yield None
        return
    from tests.pgbouncer import running_pgbouncer

    with running_pgbouncer(server_url) as url:
        serving.THROUGH_PGBOUNCER = to_asyncpg_url(url)
        yield to_asyncpg_url(url)
        serving.THROUGH_PGBOUNCER = None


@pytest.fixture
def gateway_database_url(database_url: str, pgbouncer_url: str | None) -> str:
    """What the gateway under test connects to: the test's database, maybe through PgBouncer."""
    if pgbouncer_url is None:
        return database_url
    return with_database(pgbouncer_url, make_url(database_url).database or "")


@pytest.fixture
def settings(database_url: str, pgbouncer_url: str | None) -> Settings:
    # Tests send many concurrent requests as one client: the per-client limit is raised
    # here, and tested at its default in tests/core/test_limits.py.
    return Settings(
        secret_key=TEST_SECRET_KEY,
        trusted_proxies=TRUSTED_PROXY,
        pool_size=40,
        client_concurrency=100,
        pgbouncer=pgbouncer_url is not None,
        listen_database_url=database_url if pgbouncer_url else None,
    )


@pytest.fixture
async def app(settings: Settings, gateway_database_url: str) -> AsyncIterator[object]:
    application = create_app(settings, database_url=gateway_database_url)
    async with application.router.lifespan_context(application):
        yield application


TWO_PROCESSES = "two processes"


@pytest.fixture
async def api(
    app: object, database_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Api]:
    """The gateway over HTTP: in this process, or (parametrized indirectly with
    TWO_PROCESSES) two served processes on the test's database, taking requests in turn."""
    if getattr(request, "param", None) == TWO_PROCESSES:
        env = {
            "NOTEGATEWAY_SECRET_KEY": TEST_SECRET_KEY,
            "NOTEGATEWAY_CLIENT_CONCURRENCY": "100",
            "NOTEGATEWAY_POOL_SIZE": "20",
            "NOTEGATEWAY_LOG_LEVEL": "WARNING",
        }
        async with serving.served_pair(database_url, tmp_path, env) as http:
            yield Api(http, app, database_url)
        return
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        yield Api(http, app, database_url)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection to the test's database, for reading state the HTTP API does not show."""
    conn = await asyncpg.connect(plain(database_url))
    try:
        yield conn
    finally:
        await conn.close()
