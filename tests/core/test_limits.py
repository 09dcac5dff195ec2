"""Slow or greedy clients: bodies read before any database work and within a deadline,
a per-client limit of requests in progress, oversized headers refused, no caching."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from notegateway.core.config import Settings
from tests.conftest import TEST_SECRET_KEY
from tests.factories import Api, bearer, make_egn, note

NOTES = "/api/v1/hisMedicalNotices"
EGN = make_egn(dt.date(2014, 3, 15), 555)


@pytest.fixture
def settings() -> Settings:
    """The contract's defaults, but for a short body deadline."""
    return Settings(secret_key=TEST_SECRET_KEY, pool_size=8, body_timeout_s=1.5)


def slow_body(pause: float, release: asyncio.Event | None = None) -> AsyncIterator[bytes]:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"["
        if release is not None:
            await release.wait()
        else:
            await asyncio.sleep(pause)
        yield b"]"

    return chunks()


async def connections(db: asyncpg.Connection) -> int:
    value: int = await db.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND state <> 'idle'"
    )
    return value


async def test_sixty_slow_senders_hold_no_connection_and_slow_nobody(
    api: Api, db: asyncpg.Connection
) -> None:
    """60 requests whose bodies do not come (four clients of 15), while another client
    writes: no connection is held for them, and the writer is answered at once."""
    senders_tokens = [await api.token("nzis", f"slow-nzis-{i}") for i in range(4)]
    writer = await api.token("nzis", "writer-nzis")
    # A first push warms the pool and the statements: first-use costs are not measured.
    warm = await api.http.post(
        NOTES,
        json=[note("25317A000500", make_egn(dt.date(2014, 3, 15), 9))],
        headers=bearer(writer),
    )
    assert warm.status_code == 200
    release = asyncio.Event()
    senders = [
        asyncio.create_task(
            api.http.post(NOTES, content=slow_body(0, release), headers=bearer(token))
        )
        for token in senders_tokens
        for _ in range(15)
    ]
    await asyncio.sleep(1.0)  # all 60 are in progress (admitted), waiting for their bodies
    assert await connections(db) == 0  # no transaction is open for any of them
    timings = []
    for i in range(5):
        started = time.monotonic()
        pushed = await api.http.post(
            NOTES,
            json=[note(f"25317A{501 + i:06d}", make_egn(dt.date(2014, 3, 15), i))],
            headers=bearer(writer),
        )
        timings.append(time.monotonic() - started)
        assert pushed.status_code == 200
    print(f"pushes while 60 slow senders wait: {[round(1000 * t) for t in timings]} ms")
    assert max(timings) < 1.0
    release.set()
    answers = await asyncio.gather(*senders)
    assert {a.status_code for a in answers} == {422}  # an empty array, once it came


async def test_a_client_beyond_its_requests_in_progress_gets_429(api: Api) -> None:
    nzis = await api.token("nzis")
    release = asyncio.Event()
    held = [
        asyncio.create_task(
            api.http.post(NOTES, content=slow_body(0, release), headers=bearer(nzis))
        )
        for _ in range(16)
    ]
    await asyncio.sleep(0.5)
    refused = await api.http.post(NOTES, json=[], headers=bearer(nzis))
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["retry-after"]) >= 1
    release.set()
    await asyncio.gather(*held)
    assert (await api.http.post(NOTES, json=[], headers=bearer(nzis))).status_code == 422


async def test_a_body_not_received_in_time_is_408(api: Api, db: asyncpg.Connection) -> None:
    nzis = await api.token("nzis")
    started = time.monotonic()
    response = await api.http.post(NOTES, content=slow_body(5), headers=bearer(nzis))
    assert response.status_code == 408
    assert response.headers["content-type"] == "application/problem+json"
    assert time.monotonic() - started < 4
    assert await db.fetchval("SELECT count(*) FROM medical_notices") == 0


async def test_oversized_headers_are_refused(api: Api) -> None:
    headers = await api.as_role("nzis") | {"X-Padding": "x" * 100_000}
    response = await api.http.get(f"{NOTES}/25317A000123", headers=headers)
    assert response.status_code == 431


async def test_answers_with_personal_data_are_not_cached(api: Api) -> None:
    await api.push(note("25317A000502", make_egn(dt.date(2014, 3, 15))))
    response = await api.view("25317A000502")
    assert response.headers["cache-control"] == "no-store"
    assert (
        await api.http.get("/api/v1/registry/persons/1", headers=await api.as_role("neispuo"))
    ).headers["cache-control"] == "no-store"


async def test_limits_are_per_client(api: Api) -> None:
    """A client whose requests end frees its slots: three rounds of 16 at once."""
    nzis = await api.token("nzis")
    for _ in range(3):
        answers = await asyncio.gather(
            *(api.http.get(f"{NOTES}/25317A000123", headers=bearer(nzis)) for _ in range(16))
        )
        assert {a.status_code for a in answers} == {404}
    limits = api.app.state.client_limits
    assert not limits._requests  # every slot given back


async def test_a_process_beyond_its_requests_in_progress_answers_503(database_url: str) -> None:
    """All clients together: past NOTEGATEWAY_MAX_REQUESTS in progress, 503 with
    Retry-After (not uvicorn's bare 503, nor a queue), and nothing is done for it."""
    from notegateway.app import create_app

    app = create_app(
        Settings(secret_key=TEST_SECRET_KEY, pool_size=8, max_requests=5),
        database_url=database_url,
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            api = Api(http, app, database_url)
            tokens = [await api.token("nzis", f"nzis-{i}") for i in range(6)]
            release = asyncio.Event()
            held = [
                asyncio.create_task(
                    http.post(NOTES, content=slow_body(0, release), headers=bearer(token))
                )
                for token in tokens[:5]
            ]
            await asyncio.sleep(0.5)
            refused = await http.post(
                NOTES, json=[note("25317A000777", EGN)], headers=bearer(tokens[5])
            )
            assert refused.status_code == 503
            assert refused.headers["content-type"] == "application/problem+json"
            assert int(refused.headers["retry-after"]) >= 1
            release.set()
            await asyncio.gather(*held)
            assert (await api.view("25317A000777")).status_code == 404  # nothing was kept
            again = await http.post(
                NOTES, json=[note("25317A000777", EGN)], headers=bearer(tokens[5])
            )
            assert again.status_code == 200
