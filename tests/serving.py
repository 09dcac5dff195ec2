"""Running the real `notegateway` command: CLI calls and served processes on a test database."""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

# Set by the tests' pgbouncer fixture: served gateways and CLI calls go through it.
THROUGH_PGBOUNCER: str | None = None


def gateway_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTEGATEWAY_")}
    env["NOTEGATEWAY_DATABASE_URL"] = database_url
    if THROUGH_PGBOUNCER is not None:
        name = make_url(database_url).database or ""
        env["NOTEGATEWAY_DATABASE_URL"] = (
            make_url(THROUGH_PGBOUNCER).set(database=name).render_as_string(hide_password=False)
        )
        env["NOTEGATEWAY_PGBOUNCER"] = "true"
        env["NOTEGATEWAY_LISTEN_DATABASE_URL"] = database_url
    return env


def run_cli(
    database_url: str, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "notegateway", *args],
        env=gateway_env(database_url),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def cli_token(database_url: str, name: str, role: str) -> str:
    """`clients add`; the token is the last line of its output."""
    result = run_cli(database_url, "clients", "add", name, "--role", role)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def served(
    database_url: str, log_path: Path, workers: int = 1, env: dict[str, str] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """`notegateway serve` on a free port until ready; its output goes to `log_path`."""
    async with served_process(database_url, log_path, workers, env) as (http, _server):
        yield http


@asynccontextmanager
async def served_process(
    database_url: str, log_path: Path, workers: int = 1, env: dict[str, str] | None = None
) -> AsyncIterator[tuple[httpx.AsyncClient, subprocess.Popen[bytes]]]:
    """`served`, with the server's process (to signal it); `env` adds settings."""
    port = free_port()
    command = ["serve", "--port", str(port), "--workers", str(workers)]
    with log_path.open("w") as log_file:
        server = subprocess.Popen(  # noqa: ASYNC220 - a server process, stopped below
            [sys.executable, "-m", "notegateway", *command],
            env=gateway_env(database_url) | (env or {}),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
                deadline = time.monotonic() + 30
                while not await _ready(http):
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"the server did not get ready; see {log_path}")
                    await asyncio.sleep(0.2)
                yield http, server
        finally:
            if server.poll() is None:
                server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


async def _ready(http: httpx.AsyncClient) -> bool:
    try:
        return (await http.get("/health/ready")).status_code == 200
    except httpx.TransportError:
        return False


class RoundRobin(httpx.AsyncBaseTransport):
    """Sends each request to the next of several served gateways in turn: two requests
    sent together reach two different processes."""

    def __init__(self, clients: list[httpx.AsyncClient]) -> None:
        self._clients = clients
        self._turn = itertools.cycle(range(len(clients)))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        client = self._clients[next(self._turn)]
        target = request.url.copy_with(
            scheme=client.base_url.scheme, host=client.base_url.host, port=client.base_url.port
        )
        response = await client.send(
            httpx.Request(request.method, target, headers=request.headers, content=request.content)
        )
        return httpx.Response(
            response.status_code, headers=response.headers, content=response.content
        )


@asynccontextmanager
async def served_pair(
    database_url: str, folder: Path, env: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    """Two `notegateway serve` processes on one database, behind one client that sends
    its requests to each in turn."""
    async with (
        served(database_url, folder / "first.log", env=env) as first,
        served(database_url, folder / "second.log", env=env) as second,
    ):
        transport = RoundRobin([first, second])
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1", timeout=30
        ) as http:
            yield http
