"""The gateway against its bare floor (issue 9), side by side in one run:

    python -m benchmarks.push [--seconds 8] [--server-url postgresql://...] [--no-large]

A bare FastAPI + asyncpg endpoint doing one INSERT per note (benchmarks/bare_app.py) is
the floor. On 20k pupils (3 unexcused absences each, on the days the notes cover), with 1
and then 2 worker processes each: single-note pushes by wrk (32 connections) and 1000-note
batches (4 clients), as notes per second and as a ratio to the floor. Then a vendor's feed
page of 1000 events and the long-poll wake-up after a push (benchmarks/feed.py), and the
single-note load again on 1M pupils with 5M absences, against the 20k figure. Each part
runs on a fresh database of the given server (default: the local PostgreSQL at
127.0.0.1:5432, else the embedded one), dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import shutil
import statistics
import time
from typing import Any

import httpx
from tests.factories import note

from benchmarks import cpu
from benchmarks.common import choose_server, fresh_database, serving
from benchmarks.feed import measure_feed
from benchmarks.load import BATCH_CLIENTS, CONNECTIONS, Load, drive, wrk_single
from benchmarks.seed import BIG_SCHOOL_PUPILS, NOTE_DAYS, seed

PUPILS = 20_000
LARGE_PUPILS = 1_000_000
LARGE_DAYS = (dt.date(2026, 11, 17), dt.date(2026, 11, 21))  # 5 absences each

_run = iter(range(1, 10**6))


async def _single(
    base: str, token: str | None, idents: list[str], seconds: float, in_flight: int = CONNECTIONS
) -> Load:
    url = f"{base}/api/v1/hisMedicalNotices" if token else f"{base}/bare"
    if shutil.which("wrk"):
        run = next(_run)
        return await asyncio.to_thread(wrk_single, url, token, idents, seconds, run, in_flight)
    rng, mark = random.Random(7), next(_run)
    return await drive(
        url,
        {"Authorization": f"Bearer {token}"} if token else {},
        lambda i: [note(f"P{mark:03d}{i:08d}", rng.choice(idents))],
        seconds,
        in_flight,
    )


IN_FLIGHT = (16, 32, 64)


async def _sweep(
    gateway: str, bare: str, token: str, idents: list[str], seconds: float
) -> list[str]:
    """Single-note pushes at 16, 32 and 64 in flight, the gateway beside its floor: rate,
    p50/p99, and the CPU one push costs in PostgreSQL and in the server's processes."""
    lines = []
    for in_flight in IN_FLIGHT:
        row = [f"{in_flight:>9}"]
        for base, auth in ((bare, None), (gateway, token)):
            pid = cpu.listening_pid(int(base.rsplit(":", 1)[1]))
            before = cpu.sample(pid)
            load = await _single(base, auth, idents, seconds, in_flight)
            postgres_ms, server_ms = cpu.per_request(
                before, cpu.sample(pid), load.per_second * seconds
            )
            row.append(
                f"{load.per_second:9.0f} {load.p50_ms or 0:6.1f} {load.p99_ms or 0:7.1f} "
                f"{postgres_ms:6.2f} {server_ms:6.2f}"
            )
        lines.append("  ".join(row))
    return lines


async def _month_figures(base: str, token: str) -> list[float]:
    """The monthly figures of school 1 (its 1500 pupils), 20 times: milliseconds each."""
    timings = []
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        for _ in range(20):
            sent = time.monotonic()
            answer = await http.get(
                "/api/v1/diary/institutions/1/months/2026-11",
                headers={"Authorization": f"Bearer {token}"},
            )
            timings.append((time.monotonic() - sent) * 1000)
            assert len(answer.json()["pupils"]) == BIG_SCHOOL_PUPILS, answer.text
    return timings


async def _change_pages(base: str, token: str) -> tuple[list[float], int]:
    """Pages of 1000 changes of the diary's change feed from its start, 20 times:
    milliseconds each, and the changes in a page."""
    timings, count = [], 0
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        for _ in range(20):
            sent = time.monotonic()
            answer = await http.get(
                "/api/v1/diary/changes",
                params={"limit": 1000},
                headers={"Authorization": f"Bearer {token}"},
            )
            timings.append((time.monotonic() - sent) * 1000)
            count = len(answer.json()["changes"])
    return timings, count


async def _batches(base: str, token: str | None, idents: list[str], seconds: float) -> Load:
    url = f"{base}/api/v1/hisMedicalNotices" if token else f"{base}/bare"
    rng, mark = random.Random(11), next(_run)

    def body(i: int) -> list[dict[str, Any]]:
        return [note(f"K{mark:03d}{i:04d}{j:04d}", rng.choice(idents)) for j in range(1000)]

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await drive(url, headers, body, seconds, BATCH_CLIENTS)


def _row(label: str, bare: Load | None, gateway: Load, goal: str) -> str:
    ratio = f"{gateway.per_second / bare.per_second:6.2f}" if bare else "     -"
    bare_rate = f"{bare.per_second:10.0f}" if bare else "         -"
    latency = f"{gateway.p50_ms:6.0f} {gateway.p99_ms:6.0f}" if gateway.p50_ms is not None else ""
    errors = f"{bare.errors if bare else '-'}/{gateway.errors}"
    return f"{label:34} {bare_rate} {gateway.per_second:10.0f} {ratio}  {errors:>9} {latency:>13}  {goal}"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--server-url", default=os.environ.get("NOTEGATEWAY_TEST_DATABASE_URL"))
    parser.add_argument("--no-large", action="store_true", help="skip the 1M-pupil registry")
    args = parser.parse_args()
    server = await choose_server(args.server_url)
    seconds = args.seconds
    lines: list[str] = []
    small: dict[int, Load] = {}
    sweep: list[str] = []
    print(f"server {server.split('@')[-1]}, {seconds:.0f} s per run")
    async with fresh_database(server, "20k") as url:
        seeded = await seed(url, PUPILS, NOTE_DAYS)
        idents, token = seeded.identifiers, seeded.nzis_token
        for workers in (1, 2):
            async with serving(url, workers) as (gateway, bare):
                bare_single = await _single(bare, None, idents, seconds)
                small[workers] = await _single(gateway, token, idents, seconds)
                bare_batch = await _batches(bare, None, idents, seconds)
                batch = await _batches(gateway, token, idents, seconds)
                if workers == 2:
                    sweep = await _sweep(gateway, bare, token, idents, seconds)
            lines.append(
                _row(
                    f"single-note pushes, {workers} worker(s)",
                    bare_single,
                    small[workers],
                    ">= 0.5, p99 < 100 ms",
                )
            )
            lines.append(
                _row(f"1000-note batches, {workers} worker(s)", bare_batch, batch, ">= 0.33")
            )
    feeds = {}
    for workers in (1, 2):
        async with fresh_database(server, f"feed{workers}") as url:
            feeds[workers] = await measure_feed(url, workers)
    large = None
    month_ms: list[float] = []
    change_ms: list[float] = []
    changes = 0
    if not args.no_large:
        async with fresh_database(server, "1m") as url:
            big = await seed(url, LARGE_PUPILS, LARGE_DAYS)
            async with serving(url, 1) as (gateway, _bare):
                large = await _single(gateway, big.nzis_token, big.identifiers, seconds)
                month_ms = await _month_figures(gateway, big.neispuo_token)
                change_ms, changes = await _change_pages(gateway, big.neispuo_token)

    print()
    print(
        f"{PUPILS:,} pupils; single notes over {CONNECTIONS} connections, batches from "
        f"{BATCH_CLIENTS} clients; notes per second"
    )
    print(
        f"{'workload':34} {'bare':>10} {'gateway':>10} {'ratio':>6}  {'errors':>9} "
        f"{'p50/p99 ms':>13}  goal"
    )
    print("\n".join(lines))
    print()
    print(
        "single-note pushes, 2 workers, by requests in flight; CPU ms per push of PostgreSQL "
        "(all its processes) and of the server's processes"
    )
    side = f"{'req/s':>9} {'p50':>6} {'p99':>7} {'pg ms':>6} {'py ms':>6}"
    print(f"{'in flight':>9}  {'bare: ' + side[6:]:>38}  {'gateway: ' + side[9:]:>38}")
    print("\n".join(sweep))
    for workers, feed in feeds.items():
        print(
            f"feed page of {feed.page_events} events, {workers} worker(s): median "
            f"{feed.page_median_ms:.0f} ms, max {feed.page_max_ms:.0f} ms (goal < 100 ms)"
        )
        print(
            f"long poll answered after the push's commit, {workers} worker(s): median "
            f"{feed.wake_median_ms:.0f} ms, max {feed.wake_max_ms:.0f} ms (goal < 1000 ms)"
        )
    if large is not None:
        print(
            f"monthly figures of a {BIG_SCHOOL_PUPILS:,}-pupil school, 5M absences in the "
            f"database: median {statistics.median(month_ms):.0f} ms, max {max(month_ms):.0f} ms "
            "(goal < 200 ms)"
        )
        print(
            f"change feed page of {changes} changes, 5M absences in the database: median "
            f"{statistics.median(change_ms):.0f} ms, max {max(change_ms):.0f} ms (goal < 100 ms)"
        )
        print(
            f"single-note pushes on {LARGE_PUPILS:,} pupils / 5M absences, 1 worker: "
            f"{large.per_second:.0f}/s (p99 {large.p99_ms or 0:.0f} ms) vs {small[1].per_second:.0f}/s "
            f"on {PUPILS:,}: {small[1].per_second / large.per_second:.2f}x slower (goal <= 1.5x)"
        )


if __name__ == "__main__":
    asyncio.run(main())
