"""Long polls: a limit per vendor, no write per second while waiting, credentials that
stop working end the poll at once, and SIGTERM answers every open poll."""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import time
from pathlib import Path

import asyncpg

from notegateway.clients import service as clients_service
from tests.factories import Api, bearer, enrollment, make_egn, note, person
from tests.serving import cli_token, served_process
from tests.vendors.conftest import ACME_SCHOOL, MOVER, PUPIL, Vendor

OUTSIDER = make_egn(dt.date(2012, 2, 2), 9)


async def test_forty_long_polls_from_one_vendor_while_pushes_are_timed(
    api: Api, acme: Vendor, schools: None
) -> None:
    cursor = (await acme.feed())["nextCursor"]
    polls = [asyncio.create_task(acme.get("/events", after=cursor, wait=3)) for _ in range(40)]
    await asyncio.sleep(0.5)
    timings = []
    for i in range(5):
        started = time.monotonic()
        assert (
            await api.push(note(f"25317A{700 + i:06d}", MOVER if i else OUTSIDER))
        ).status_code == 200
        timings.append(time.monotonic() - started)
    print(f"pushes while 40 long polls are open: {[round(1000 * t) for t in timings]} ms")
    assert max(timings) < 1.0
    answers = await asyncio.gather(*polls)
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * 4 + [429] * 36  # four held, the rest refused at once
    assert all(int(a.headers["retry-after"]) >= 1 for a in answers if a.status_code == 429)
    # A plain read (no wait) is no long poll: always served.
    assert (await acme.get("/events", after=cursor)).status_code == 200


async def test_a_waiting_poll_writes_nothing_until_it_answers(
    api: Api, acme: Vendor, schools: None, db: asyncpg.Connection
) -> None:
    cursor = (await acme.feed())["nextCursor"]
    first = await db.fetchval("SELECT read_at FROM feed_reads")
    poll = asyncio.create_task(acme.get("/events", after=cursor, wait=2.5))
    await asyncio.sleep(1.8)
    assert await db.fetchval("SELECT read_at FROM feed_reads") == first
    assert (await poll).status_code == 200
    assert await db.fetchval("SELECT read_at FROM feed_reads") > first


async def test_a_client_disabled_mid_poll_gets_401_within_a_second(
    api: Api, acme: Vendor, schools: None, db: asyncpg.Connection
) -> None:
    cursor = (await acme.feed())["nextCursor"]
    poll = asyncio.create_task(acme.get("/events", after=cursor, wait=20))
    await asyncio.sleep(0.5)
    async with db.transaction():
        await clients_service.disable(db, "acme")
    disabled = time.monotonic()
    response = await poll
    assert response.status_code == 401
    print(f"poll ended {1000 * (time.monotonic() - disabled):.0f} ms after the client was disabled")
    assert time.monotonic() - disabled < 1.0


async def test_sigterm_answers_open_polls_and_exits(database_url: str, tmp_path: Path) -> None:
    neispuo, acme = await asyncio.gather(
        asyncio.to_thread(cli_token, database_url, "neispuo-core", "neispuo"),
        asyncio.to_thread(cli_token, database_url, "acme", "vendor"),
    )
    async with served_process(database_url, tmp_path / "serve.log") as (http, server):
        await http.put(
            f"/api/v1/registry/institutions/{ACME_SCHOOL}",
            json={"name": "ПГ", "town": "Варна", "diary": "acme"},
            headers=bearer(neispuo),
        )
        await http.put(
            "/api/v1/registry/persons/1",
            json=person(PUPIL, enrollment(ACME_SCHOOL)),
            headers=bearer(neispuo),
        )
        cursor = (await http.get("/api/v1/medicalNotices/events", headers=bearer(acme))).json()[
            "nextCursor"
        ]
        polls = [
            asyncio.create_task(
                http.get(
                    "/api/v1/medicalNotices/events",
                    params={"after": cursor, "wait": 30},
                    headers=bearer(acme),
                )
            )
            for _ in range(3)
        ]
        await asyncio.sleep(0.5)
        server.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        answers = await asyncio.gather(*polls)
        answered = time.monotonic() - signalled
        assert {a.status_code for a in answers} == {200}
        assert all(a.json()["events"] == [] for a in answers)
        exit_code = await asyncio.to_thread(server.wait, 15)
        exited = time.monotonic() - signalled
    print(f"polls answered {answered:.2f} s after SIGTERM; exited after {exited:.2f} s")
    assert answered < 2
    assert exited < 11
    # uvicorn shuts down gracefully, then re-raises the signal it caught.
    assert exit_code in (0, -signal.SIGTERM)
