"""What the benchmarks share: choosing the server, a fresh database, served processes."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from notegateway.core.db import start_embedded_postgres, to_libpq_url
from notegateway.core.migrate import upgrade

BENCH_SECRET = "bench-secret-key-of-at-least-32-bytes"


def db_url(server: str, name: str) -> str:
    return make_url(to_libpq_url(server)).set(database=name).render_as_string(hide_password=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def choose_server(configured: str | None) -> str:
    """The PostgreSQL server to benchmark on: the one given, else the local one at
    127.0.0.1:5432 when it answers, else the embedded one."""
    server = configured or "postgresql://postgres@127.0.0.1:5432/postgres"
    try:
        probe = await asyncpg.connect(to_libpq_url(server), timeout=3)
        await probe.close()
    except (OSError, asyncpg.PostgresError):
        server = start_embedded_postgres(Path(".notegateway-test"))
    return server


@asynccontextmanager
async def fresh_database(server: str, label: str) -> AsyncIterator[str]:
    """A new, migrated database on `server`, dropped afterwards."""
    name = f"ngw_bench_{label}_{os.getpid()}"
    admin = await asyncpg.connect(db_url(server, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = db_url(server, name)
        await asyncio.to_thread(upgrade, url)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def start(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """A served process, once its port answers; its output goes to /tmp/bench-PORT.log."""
    log = open(f"/tmp/bench-{port}.log", "w")  # noqa: SIM115
    process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server on port {port} did not start")


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """Ask the served processes to stop; kill those that take over 20 s."""
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def gateway_env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTEGATEWAY_")}
    return env | {
        "NOTEGATEWAY_DATABASE_URL": url,
        "NOTEGATEWAY_SECRET_KEY": BENCH_SECRET,
        "NOTEGATEWAY_LOG_LEVEL": "WARNING",
        "NOTEGATEWAY_POOL_SIZE": "12",  # per process: sized to two cores shared with the database
        # One NZIS client drives 32 connections: above the default of 16 in progress. The
        # limit is the service's, shared equally by the worker processes, and connections
        # do not spread evenly over them: room enough that the figure is throughput.
        "NOTEGATEWAY_CLIENT_CONCURRENCY": "128",
        "BENCH_BARE_DSN": url,
    }


@asynccontextmanager
async def serving(
    url: str, workers: int, settings: dict[str, str] | None = None
) -> AsyncIterator[tuple[str, str]]:
    """The gateway and the bare endpoint, each with `workers` processes: their base URLs.
    `settings`: more NOTEGATEWAY_* variables for the gateway."""
    env = gateway_env(url) | {"BENCH_BARE_POOL": str(32 // workers)}  # 32 connections in all
    env |= settings or {}
    gateway_port, bare_port = free_port(), free_port()
    gateway = [sys.executable, "-m", "notegateway", "serve", "--port", str(gateway_port)]
    bare = [sys.executable, "-m", "uvicorn", "benchmarks.bare_app:app", "--port", str(bare_port)]
    bare += ["--no-access-log", "--log-level", "warning", "--workers", str(workers)]
    processes = [
        start([*gateway, "--workers", str(workers)], env, gateway_port),
        start(bare, env, bare_port),
    ]
    try:
        await asyncio.sleep(1.0 if workers > 1 else 0.2)  # every worker up
        yield f"http://127.0.0.1:{gateway_port}", f"http://127.0.0.1:{bare_port}"
    finally:
        stop(processes)
