"""A vendor's feed: a page of 1000 events, and how soon a long poll hears of a push."""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass

import asyncpg
import httpx
from tests.factories import note

from benchmarks.common import BENCH_SECRET, serving
from benchmarks.seed import NOTE_DAYS, seed

VENDOR_PUPILS = 2_000
EVENTS = 1_200
SAMPLES = 20


@dataclass(frozen=True)
class FeedFigures:
    page_median_ms: float
    page_max_ms: float
    page_events: int
    wake_median_ms: float
    wake_max_ms: float


async def _vendor(url: str) -> str:
    """A vendor keeping the diaries of every school of the database; its token."""
    from notegateway.clients import service

    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            key = (await service.load_keys(conn, BENCH_SECRET)).tokens
            token = await service.add(conn, key, "bench-vendor", "vendor", None)
            await conn.execute(
                "UPDATE institution_diaries SET diary_client_id = "
                "(SELECT id FROM clients WHERE name = 'bench-vendor')"
            )
    finally:
        await conn.close()
    return token


async def measure_feed(url: str, workers: int) -> FeedFigures:
    """On a fresh database `url`: EVENTS notes pushed to a vendor's schools, then a page of
    1000 read SAMPLES times, then SAMPLES pushes each awaited by an open long poll."""
    seeded = await seed(url, VENDOR_PUPILS, NOTE_DAYS)
    idents, nzis = seeded.identifiers, seeded.nzis_token
    vendor = await _vendor(url)
    nzis_auth = {"Authorization": f"Bearer {nzis}"}
    vendor_auth = {"Authorization": f"Bearer {vendor}"}
    async with (
        serving(url, workers) as (gateway, _bare),
        httpx.AsyncClient(base_url=gateway, timeout=60) as http,
    ):
        for start in range(0, EVENTS, 600):
            batch = [note(f"F{i:011d}", idents[i % len(idents)]) for i in range(start, start + 600)]
            pushed = await http.post("/api/v1/hisMedicalNotices", json=batch, headers=nzis_auth)
            assert pushed.status_code == 200, pushed.text
        pages = []
        for _ in range(SAMPLES):
            sent = time.monotonic()
            page = await http.get(
                "/api/v1/medicalNotices/events", params={"limit": 1000}, headers=vendor_auth
            )
            pages.append((time.monotonic() - sent) * 1000)
        events = len(page.json()["events"])
        rest = await http.get(
            "/api/v1/medicalNotices/events",
            params={"limit": 1000, "after": page.json()["nextCursor"]},
            headers=vendor_auth,
        )
        cursor = rest.json()["nextCursor"]
        wakes = []
        for i in range(SAMPLES):
            poll = asyncio.create_task(
                http.get(
                    "/api/v1/medicalNotices/events",
                    params={"after": cursor, "wait": 20},
                    headers=vendor_auth,
                )
            )
            await asyncio.sleep(0.3)  # the poll is waiting
            pushed = await http.post(
                "/api/v1/hisMedicalNotices",
                json=[note(f"G{i:011d}", idents[i])],
                headers=nzis_auth,
            )
            committed = time.monotonic()  # the push's answer follows its commit
            answer = await poll
            wakes.append(max(time.monotonic() - committed, 0.0) * 1000)
            assert pushed.status_code == 200, pushed.text
            assert answer.json()["events"], answer.text
            cursor = answer.json()["nextCursor"]
    return FeedFigures(
        statistics.median(pages), max(pages), events, statistics.median(wakes), max(wakes)
    )
