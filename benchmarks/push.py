"""Push throughput against the bar: one process, 32 connections, 20k pupils.

    python -m benchmarks.push [--seconds 8] [--server-url postgresql://...]

Starts the gateway and a bare FastAPI + asyncpg one-INSERT endpoint (the yardstick) as
uvicorn processes on loopback, drives each with 32 concurrent clients for a bounded time,
and prints notes per second for single-note pushes and for 1000-note batches. The
database is a fresh one on the given server (default: the local PostgreSQL at
127.0.0.1:5432, else the embedded one), dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx
from tests.factories import make_egn, note

from notegateway.core.db import start_embedded_postgres, to_libpq_url
from notegateway.core.migrate import upgrade

PUPILS = 20_000  # with 3 unexcused absences each on the days the notes cover
INSTITUTIONS = 50
CONCURRENCY = 32
BENCH_SECRET = "bench-secret-key-of-at-least-32-bytes"


def _db_url(server: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(to_libpq_url(server)).set(database=name).render_as_string(hide_password=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _seed(url: str) -> tuple[list[str], str]:
    """20k pupils in 50 schools (direct SQL: seeding is not what is measured); an NZIS token."""
    from notegateway.clients import service

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "INSERT INTO institutions (id, name, town) SELECT g, 'School ' || g, 'Town' "
            "FROM generate_series(1, $1) AS g",
            INSTITUTIONS,
        )
        await conn.execute(
            "INSERT INTO institution_diaries (institution_id, from_date, to_date) "
            "SELECT id, '-infinity', 'infinity' FROM institutions"
        )
        identifiers = [
            make_egn(dt.date(2010, 1, 1) + dt.timedelta(days=i % 3000), i // 3000 * 7 + 1)
            for i in range(PUPILS)
        ]
        assert len(set(identifiers)) == PUPILS
        await conn.execute(
            "INSERT INTO persons (id, identifier_type, identifier_kind, identifier, given_name, "
            "family_name) SELECT g, 1, 1, ident, 'ИВАН', 'ТОДОРОВ' "
            "FROM unnest($1::text[]) WITH ORDINALITY AS t(ident, g)",
            identifiers,
        )
        await conn.execute(
            "INSERT INTO enrollments (person_id, institution_id, class_name, section, from_date) "
            "SELECT id, 1 + id % $1, '5', 'А', DATE '2026-09-15' FROM persons",
            INSTITUTIONS,
        )
        # 3 unexcused absences per pupil on the days every note covers (18-20 Nov): each
        # note excuses 3 absences, as in the bar.
        await conn.execute(
            "INSERT INTO absences (id, person_id, institution_id, date, lesson, subject, kind, "
            "set_by_person, posted) "
            "SELECT row_number() OVER (), p.id, e.institution_id, d::date, 1, 'Математика', "
            "'unexcused', false, '{}' "
            "FROM persons AS p JOIN enrollments AS e ON e.person_id = p.id "
            "CROSS JOIN generate_series(DATE '2026-11-18', DATE '2026-11-20', '1 day') AS d"
        )
        async with conn.transaction():
            key = (await service.load_keys(conn, BENCH_SECRET)).tokens
            token = await service.add(conn, key, "bench-nzis", "nzis", None)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return identifiers, token


def _start(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    log = open(f"/tmp/bench-{port}.log", "w")  # noqa: SIM115
    process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server on port {port} did not start")


async def _server(configured: str | None) -> str:
    """The PostgreSQL server to benchmark on: the one given, else the local one at
    127.0.0.1:5432 when it answers, else the embedded one."""
    server = configured or "postgresql://postgres@127.0.0.1:5432/postgres"
    try:
        probe = await asyncpg.connect(to_libpq_url(server), timeout=3)
        await probe.close()
    except (OSError, asyncpg.PostgresError):
        server = start_embedded_postgres(Path(".notegateway-test"))
    return server


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """Ask the served processes to stop; kill those that take over 10 s."""
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _drive(
    url: str, headers: dict[str, str], bodies: itertools.count, make_body, seconds: float
) -> tuple[int, int]:  # type: ignore[no-untyped-def,type-arg]
    """CONCURRENCY clients posting for `seconds`; returns (requests, non-2xx answers)."""
    done = errors = 0
    stop_at = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:

        async def worker() -> None:
            nonlocal done, errors
            while time.monotonic() < stop_at:
                response = await http.post(url, json=make_body(next(bodies)), headers=headers)
                done += 1
                errors += response.status_code >= 300

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return done, errors


WRK_SCRIPT = """
local counter = 0
local thread_count = 0
setup = function(thread)
  thread:set("tid", thread_count)
  thread_count = thread_count + 1
end
init = function(args)
  math.randomseed(tid + 7)
end
request = function()
  counter = counter + 1
  local nrn = string.format("W%s%01d%09d", run, tid, counter)
  local ident = ids[math.random(#ids)]
  local body = '[{"nrnMedicalNotice":"' .. nrn .. '","nrnExamination":"26317A000077",'
    .. '"patient":{"identifierType":1,"identifier":"' .. ident .. '","givenName":"ИВАН",'
    .. '"familyName":"ТОДОРОВ"},"practitioner":{"pmi":"2300011922"},'
    .. '"medicalNotice":{"fromDate":"2026-11-18","toDate":"2026-11-20",'
    .. '"authoredOn":"2026-11-20T10:31:00"}}]'
  return wrk.format("POST", nil, wrk.headers, body)
end
"""


def _wrk(
    url: str, token: str | None, identifiers: list[str], seconds: float, run: int
) -> tuple[float, int]:
    """Single-note pushes driven by wrk (C, 2 threads, 32 connections): (requests/s, non-2xx)."""
    script = Path(f"/tmp/notegateway-bench-{os.getpid()}-{run}.lua")
    header = f'wrk.headers["Authorization"] = "Bearer {token}"\n' if token else ""
    header += f'run = "{"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[run % 36]}"\n'
    script.write_text(
        'wrk.headers["Content-Type"] = "application/json"\n'
        + header
        + "ids = {"
        + ",".join(f'"{i}"' for i in identifiers)
        + "}\n"
        + WRK_SCRIPT
    )
    try:
        out = subprocess.run(
            ["wrk", "-t2", f"-c{CONCURRENCY}", f"-d{int(seconds)}s", "-s", str(script), url],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
        ).stdout
    finally:
        script.unlink(missing_ok=True)
    rate = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+([0-9]+)", out)
    return rate, int(bad.group(1)) if bad else 0


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--server-url", default=os.environ.get("NOTEGATEWAY_TEST_DATABASE_URL"))
    args = parser.parse_args()
    server = await _server(args.server_url)
    name = f"ngw_bench_{os.getpid()}"
    admin = await asyncpg.connect(_db_url(server, "postgres"))
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = _db_url(server, name)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        await asyncio.to_thread(upgrade, url)
        identifiers, token = await _seed(url)
        env = {k: v for k, v in os.environ.items() if not k.startswith("NOTEGATEWAY_")}
        env |= {
            "NOTEGATEWAY_DATABASE_URL": url,
            "NOTEGATEWAY_SECRET_KEY": BENCH_SECRET,
            "NOTEGATEWAY_LOG_LEVEL": "WARNING",
            "NOTEGATEWAY_POOL_SIZE": "12",  # sized to two cores shared with the database
            # One NZIS client drives 32 connections: above the default of 16 in progress.
            "NOTEGATEWAY_CLIENT_CONCURRENCY": "64",
            "BENCH_BARE_DSN": url,
        }
        gateway_port, bare_port = _free_port(), _free_port()
        processes.append(
            _start(
                [sys.executable, "-m", "notegateway", "serve", "--port", str(gateway_port)],
                env,
                gateway_port,
            )
        )
        processes.append(
            _start(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "benchmarks.bare_app:app",
                    "--port",
                    str(bare_port),
                    "--no-access-log",
                    "--log-level",
                    "warning",
                ],
                env,
                bare_port,
            )
        )

        if shutil.which("wrk"):
            bare_rate, bare_err = await asyncio.to_thread(
                _wrk, f"http://127.0.0.1:{bare_port}/bare", None, identifiers, args.seconds, 1
            )
            gate_rate, gate_err = await asyncio.to_thread(
                _wrk,
                f"http://127.0.0.1:{gateway_port}/api/v1/hisMedicalNotices",
                token,
                identifiers,
                args.seconds,
                2,
            )
            wrk_row = ("single-note (wrk)", bare_rate, gate_rate, bare_err, gate_err)
        else:
            wrk_row = None
        rng = random.Random(7)
        counter = itertools.count()

        def one(i: int) -> list[dict[str, object]]:
            return [note(f"B{i:011d}", rng.choice(identifiers))]

        def thousand(i: int) -> list[dict[str, object]]:
            return [note(f"K{i:05d}{j:06d}", rng.choice(identifiers)) for j in range(1000)]

        auth = {"Authorization": f"Bearer {token}"}
        rows = []
        for label, make_body, per_request in (
            ("single-note pushes", one, 1),
            ("1000-note batches", thousand, 1000),
        ):
            bare, bare_err = await _drive(
                f"http://127.0.0.1:{bare_port}/bare", {}, counter, make_body, args.seconds
            )
            gate, gate_err = await _drive(
                f"http://127.0.0.1:{gateway_port}/api/v1/hisMedicalNotices",
                auth,
                counter,
                make_body,
                args.seconds,
            )
            bare_rate = bare * per_request / args.seconds
            gate_rate = gate * per_request / args.seconds
            rows.append((label, bare_rate, gate_rate, bare_err, gate_err))
        if wrk_row:
            rows.insert(0, wrk_row)
        print(
            f"{PUPILS} pupils, {CONCURRENCY} concurrent clients, {args.seconds:.0f} s per run, server {server.split('@')[-1]}"
        )
        print(
            f"{'workload':22} {'bare notes/s':>13} {'gateway notes/s':>16} {'ratio':>7} {'errors (bare/gw)':>17}"
        )
        for label, bare_rate, gate_rate, bare_err, gate_err in rows:
            print(
                f"{label:22} {bare_rate:13.0f} {gate_rate:16.0f} {gate_rate / bare_rate:7.2f} {bare_err:>8}/{gate_err}"
            )
        check = await asyncpg.connect(url)
        try:
            excused = await check.fetchval("SELECT count(*) FROM absences WHERE kind = 'excused'")
            notes = await check.fetchval("SELECT count(*) FROM medical_notices")
        finally:
            await check.close()
        print(f"{notes} notes stored, {excused} absences excused by them")
    finally:
        _stop(processes)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
