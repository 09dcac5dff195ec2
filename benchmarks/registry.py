"""Registry load throughput against a bare COPY: persons with their enrollments.

    python -m benchmarks.registry [--persons 20000] [--server-url postgresql://...]

Starts the gateway on loopback, creates 50 institutions through PUT
/api/v1/registry/institutions/{id}, loads N persons (one enrollment each) through POST
/api/v1/registry/persons:batch in 1000-person batches from 4 concurrent clients, re-sends
the same batches (all unchanged), then COPYs the same rows into plain scratch tables, and
prints persons per second for each next to the COPY rate. The database is a fresh one on
the given server (default: the local PostgreSQL at 127.0.0.1:5432, else the embedded one),
dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import subprocess
import sys
import time
from typing import Any

import asyncpg
import httpx
from tests.factories import make_egn

from benchmarks.common import BENCH_SECRET, choose_server, db_url, free_port, start, stop
from notegateway.core.migrate import upgrade

INSTITUTIONS = 50
BATCH = 1000
CONCURRENCY = 4
TIMEOUT = 120.0
FROM_DATE = dt.date(2026, 9, 15)

Item = dict[str, Any]


def _egn(i: int) -> str:
    """A valid, unique EGN per i (as benchmarks.push builds its pupils' identifiers)."""
    return make_egn(dt.date(2010, 1, 1) + dt.timedelta(days=i % 3000), i // 3000 * 7 + 1)


def _persons(n: int) -> list[Item]:
    items = [
        {
            "personId": i,
            "identifierType": 1,
            "identifier": _egn(i),
            "givenName": "ИВАН",
            "familyName": "ТОДОРОВ",
            "enrollments": [
                {
                    "institutionId": 1 + i % INSTITUTIONS,
                    "className": "5",
                    "section": "А",
                    "fromDate": FROM_DATE.isoformat(),
                    "toDate": None,
                }
            ],
        }
        for i in range(1, n + 1)
    ]
    assert len({item["identifier"] for item in items}) == n, "EGNs must be unique"
    return items


async def _token(url: str) -> str:
    """A client with role neispuo (direct SQL: setting up clients is not what is measured)."""
    from notegateway.clients import service

    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            key = (await service.load_keys(conn, BENCH_SECRET)).tokens
            return await service.add(conn, key, "bench-neispuo", "neispuo", None)
    finally:
        await conn.close()


async def _institutions(http: httpx.AsyncClient, base: str, auth: dict[str, str]) -> None:
    for i in range(1, INSTITUTIONS + 1):
        body = {"name": f"School {i}", "town": "Town", "diary": "neispuo"}
        r = await http.put(f"{base}/api/v1/registry/institutions/{i}", json=body, headers=auth)
        if r.status_code not in (200, 201):
            sys.exit(f"PUT institution {i}: {r.status_code} {r.text[:2000]}")


async def _load(
    http: httpx.AsyncClient, base: str, auth: dict[str, str], batches: list[list[Item]], want: str
) -> float:
    """Posts every batch from CONCURRENCY clients; every outcome must be `want`. Seconds taken."""
    queue = list(reversed(batches))

    async def worker() -> None:
        while queue:
            batch = queue.pop()
            r = await http.post(f"{base}/api/v1/registry/persons:batch", json=batch, headers=auth)
            results = r.json().get("results", []) if r.status_code in (200, 422) else []
            bad = [x for x in results if x.get("outcome") != want]
            if r.status_code != 200 or bad or len(results) != len(batch):
                print(f"FAILED: status {r.status_code}, want all {want!r}", file=sys.stderr)
                print(bad[:5] if bad else r.text[:2000], file=sys.stderr)
                raise SystemExit(1)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return time.perf_counter() - start


async def _copy(url: str, items: list[Item]) -> float:
    """Checks the gateway stored every row, then COPYs the same rows into scratch tables."""
    persons = [
        (p["personId"], 1, 1, p["identifier"], p["givenName"], p["familyName"]) for p in items
    ]
    enrollments = [
        (p["personId"], e["institutionId"], e["className"], e["section"], FROM_DATE, None)
        for p in items
        for e in p["enrollments"]
    ]
    conn = await asyncpg.connect(url)
    try:
        stored = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM persons) AS p, (SELECT count(*) FROM enrollments) AS e"
        )
        assert stored is not None
        assert tuple(stored) == (len(persons), len(enrollments)), stored
        await conn.execute(
            "CREATE TABLE bench_persons (id bigint PRIMARY KEY, identifier_type smallint, "
            "identifier_kind smallint, identifier text UNIQUE, given_name text, family_name text);"
            "CREATE TABLE bench_enrollments (person_id bigint, institution_id bigint, "
            "class_name text, section text, from_date date, to_date date)"
        )
        start = time.perf_counter()
        await conn.copy_records_to_table("bench_persons", records=persons)
        await conn.copy_records_to_table("bench_enrollments", records=enrollments)
        return time.perf_counter() - start
    finally:
        await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--server-url", default=os.environ.get("NOTEGATEWAY_TEST_DATABASE_URL"))
    args = parser.parse_args()
    assert 1 <= args.persons <= 400_000, "EGN serials run out past 400k persons"
    server = await choose_server(args.server_url)
    name = f"ngw_bench_registry_{os.getpid()}"
    admin = await asyncpg.connect(db_url(server, "postgres"))
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = db_url(server, name)
    process: subprocess.Popen[bytes] | None = None
    try:
        await asyncio.to_thread(upgrade, url)
        token = await _token(url)
        env = {k: v for k, v in os.environ.items() if not k.startswith("NOTEGATEWAY_")}
        env |= {
            "NOTEGATEWAY_DATABASE_URL": url,
            "NOTEGATEWAY_SECRET_KEY": BENCH_SECRET,
            "NOTEGATEWAY_LOG_LEVEL": "WARNING",
        }
        port = free_port()
        cmd = [sys.executable, "-m", "notegateway", "serve", "--port", str(port)]
        process = start(cmd, env, port)
        base, auth = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {token}"}
        items = _persons(args.persons)
        batches = [items[i : i + BATCH] for i in range(0, len(items), BATCH)]
        limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
        async with httpx.AsyncClient(timeout=TIMEOUT, limits=limits) as http:
            await _institutions(http, base, auth)
            created = await _load(http, base, auth, batches, "created")
            print(f"new persons: {args.persons / created:.0f} persons/s ({created:.1f} s)")
            unchanged = await _load(http, base, auth, batches, "unchanged")
            print(
                f"unchanged re-send: {args.persons / unchanged:.0f} persons/s ({unchanged:.1f} s)"
            )
        copy = await _copy(url, items)
        print(f"bare COPY: {args.persons / copy:.0f} rows/s ({copy:.2f} s)")
        print()
        print(
            f"{args.persons} persons, {INSTITUTIONS} institutions, {BATCH}-person batches, "
            f"{CONCURRENCY} concurrent clients, server {server.split('@')[-1]}"
        )
        print(f"{'workload':22} {'persons/s':>10} {'ratio to COPY':>14}")
        for label, seconds in (
            ("new persons", created),
            ("unchanged re-send", unchanged),
            ("bare COPY", copy),
        ):
            print(f"{label:22} {args.persons / seconds:10.0f} {copy / seconds:14.3f}")
    finally:
        if process is not None:
            stop([process])
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
