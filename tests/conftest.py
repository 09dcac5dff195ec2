"""Each test gets its own database, cloned from a migrated template (CREATE DATABASE ... TEMPLATE).

The server is `NOTEGATEWAY_TEST_DATABASE_URL` when set (CI: the machine's PostgreSQL),
else an embedded PostgreSQL (pgserver) kept in `.notegateway-test/`.
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


@pytest.fixture
def settings() -> Settings:
    # Tests send many concurrent requests as one client: the per-client limit is raised
    # here, and tested at its default in tests/core/test_limits.py.
    return Settings(
        secret_key=TEST_SECRET_KEY,
        trusted_proxies=TRUSTED_PROXY,
        pool_size=40,
        client_concurrency=100,
    )


@pytest.fixture
async def app(settings: Settings, database_url: str) -> AsyncIterator[object]:
    application = create_app(settings, database_url=database_url)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def api(app: object, database_url: str) -> AsyncIterator[Api]:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
        yield Api(http, app, database_url)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection to the test's database, for reading state the HTTP API does not show."""
    conn = await asyncpg.connect(plain(database_url))
    try:
        yield conn
    finally:
        await conn.close()
