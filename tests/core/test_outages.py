"""Database outages: dead connections replaced at once, 503 with Retry-After meanwhile,
never a hang or a 500."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import time
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from notegateway.app import create_app
from notegateway.core.config import Settings
from notegateway.ops import scrape
from tests.conftest import TEST_SECRET_KEY, plain
from tests.factories import Api, make_egn, note
from tests.tcp_proxy import TcpProxy, for_database_url, through

BIRTH = dt.date(2014, 3, 15)


def nrn(i: int) -> str:
    return f"26100A{i:06d}"


def a_note(i: int) -> dict[str, object]:
    return note(nrn(i), make_egn(BIRTH, i))


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[TcpProxy]:
    tcp = for_database_url(database_url)
    await tcp.start()
    yield tcp
    await tcp.close()


@pytest.fixture
async def proxied_api(database_url: str, proxy: TcpProxy) -> AsyncIterator[Api]:
    """The gateway reaching its database through the proxy (statements bounded at 1 s)."""
    proxied = through(database_url, proxy)
    settings = Settings(secret_key=TEST_SECRET_KEY, pool_size=8, statement_timeout_ms=1000)
    app = create_app(settings, database_url=proxied)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            api = Api(http, app, database_url)
            await api.token("nzis")
            yield api


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) >= 1


async def test_killed_backends_are_replaced_and_the_first_request_succeeds(
    api: Api, db: asyncpg.Connection
) -> None:
    for round_no in range(5):
        for i in range(10):  # fill the pool
            assert (await api.push(a_note(100 * round_no + i))).status_code == 200
        killed = await db.fetchval(
            "SELECT array_agg(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        assert len(killed) >= 2
        await db.execute("SELECT pg_terminate_backend(p) FROM unnest($1::int[]) AS p", killed)
        # pg_terminate_backend only signals: wait until the backends are gone (the kill is
        # over), as after a restart, before the first request.
        for _ in range(100):
            alive = await db.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])", killed
            )
            if not alive:
                break
            await asyncio.sleep(0.05)
        response = await api.push(a_note(100 * round_no + 99))
        assert response.status_code == 200, f"round {round_no}: {response.text}"
        assert (await api.view(nrn(100 * round_no + 99))).status_code == 200


async def test_database_away_then_back(proxied_api: Api, proxy: TcpProxy) -> None:
    api = proxied_api
    assert (await api.push(a_note(1))).status_code == 200
    await proxy.cut()
    started = time.monotonic()
    assert_unavailable(await api.push(a_note(2)))
    assert_unavailable(await api.view(nrn(1)))
    ready = await api.http.get("/health/ready")
    assert ready.status_code == 503
    assert time.monotonic() - started < 5  # refused at once, not a hang
    await proxy.restore()
    # The first request after the database is back succeeds.
    assert (await api.push(a_note(3))).status_code == 200
    assert (await api.http.get("/health/ready")).status_code == 200


async def test_database_that_never_answers_is_503_within_bounds(
    proxied_api: Api, proxy: TcpProxy
) -> None:
    api = proxied_api
    assert (await api.push(a_note(1))).status_code == 200
    await proxy.cut(black_hole=True)
    started = time.monotonic()
    assert_unavailable(await api.push(a_note(2)))
    assert time.monotonic() - started < 12  # the connect timeout, not a minute
    await proxy.restore()
    assert (await api.push(a_note(3))).status_code == 200


async def test_held_table_lock_is_503_within_the_statement_timeout(
    proxied_api: Api, database_url: str
) -> None:
    api = proxied_api
    holder = await asyncpg.connect(plain(database_url))
    try:
        async with holder.transaction():
            await holder.execute("LOCK TABLE medical_notices IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            assert_unavailable(await api.push(a_note(1)))
            assert time.monotonic() - started < 3
    finally:
        await holder.close()
    # Nothing of it was kept; the same push now succeeds.
    assert (await api.view(nrn(1))).status_code == 404
    assert (await api.push(a_note(1))).status_code == 200


async def test_metrics_say_when_the_database_is_away(
    proxied_api: Api, proxy: TcpProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/metrics still answers with the database away, and says so (an alert rule reads it)."""
    monkeypatch.setattr(scrape, "FEED_METRICS_EVERY_S", 0.0)
    api = proxied_api
    assert "notegateway_database_up 1.0" in (await api.http.get("/metrics")).text
    await proxy.cut()
    away = await api.http.get("/metrics")
    assert away.status_code == 200
    assert "notegateway_database_up 0.0" in away.text
    await proxy.restore()
    assert "notegateway_database_up 1.0" in (await api.http.get("/metrics")).text


async def test_a_url_listing_a_primary_and_its_standby_reaches_the_one_that_answers(
    database_url: str, proxy: TcpProxy
) -> None:
    """NOTEGATEWAY_DATABASE_URL as libpq lists a primary and its standby, with
    target_session_attrs=read-write: the first host is down, so requests and the LISTEN
    connection go to the next (make deploy-check does it with a real failover)."""
    reachable = make_url(through(database_url, proxy))
    with socket.socket() as dead:  # a port nothing listens on
        dead.bind(("127.0.0.1", 0))
        dead_port = dead.getsockname()[1]
    url = (
        f"postgresql://{reachable.username}@127.0.0.1:{dead_port},127.0.0.1:{reachable.port}"
        f"/{reachable.database}?target_session_attrs=read-write"
    )
    app = create_app(Settings(secret_key=TEST_SECRET_KEY, pool_size=4), database_url=url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            api = Api(http, app, database_url)
            await api.token("nzis")
            assert (await api.push(a_note(1))).status_code == 200
            assert (await http.get("/health/ready")).status_code == 200
            assert app.state.feed_notifier.listening  # LISTEN, through the same hosts


async def test_a_commit_that_hangs_is_503_within_the_bound(
    proxied_api: Api, db: asyncpg.Connection
) -> None:
    """PostgreSQL does not bound a commit's own work by statement_timeout (a commit waiting
    for an absent synchronous standby hangs; so does a deferred trigger, which stands in
    for it here): the client's bound cuts it, 503, and nothing is kept."""
    api = proxied_api
    await db.execute(
        """
        CREATE FUNCTION test_slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_sleep(30); RETURN NULL; END $$;
        CREATE CONSTRAINT TRIGGER test_slow_commit AFTER INSERT ON medical_notices
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_slow_commit();
        """
    )
    started = time.monotonic()
    assert_unavailable(await api.push(a_note(1)))
    assert time.monotonic() - started < 5  # statement timeout 1 s, the client's 2 s
    await db.execute("DROP TRIGGER test_slow_commit ON medical_notices")
    assert (await api.view(nrn(1))).status_code == 404  # cancelled: nothing kept
    assert (await api.push(a_note(2))).status_code == 200
