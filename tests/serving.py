"""Running the real `notegateway` command: CLI calls and served processes on a test database."""

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

import httpx


def gateway_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTEGATEWAY_")}
    env["NOTEGATEWAY_DATABASE_URL"] = database_url
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
async def served(database_url: str, log_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """`notegateway serve` on a free port until ready; its output goes to `log_path`."""
    async with served_process(database_url, log_path) as (http, _server):
        yield http


@asynccontextmanager
async def served_process(
    database_url: str, log_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, subprocess.Popen[bytes]]]:
    """`served`, with the server's process (to signal it)."""
    port = free_port()
    with log_path.open("w") as log_file:
        server = subprocess.Popen(  # noqa: ASYNC220 - a server process, stopped below
            [sys.executable, "-m", "notegateway", "serve", "--port", str(port)],
            env=gateway_env(database_url),
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
