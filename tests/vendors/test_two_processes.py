"""Two server processes on one database: a push on one wakes a long poll on the other."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from tests.factories import bearer, enrollment, note, person
from tests.test_cli import free_port, run_cli
from tests.vendors.conftest import ACME_SCHOOL, PUPIL


@asynccontextmanager
async def served(database_url: str, log_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTEGATEWAY_")}
    env["NOTEGATEWAY_DATABASE_URL"] = database_url
    with log_path.open("w") as log_file:
        server = subprocess.Popen(  # noqa: ASYNC220 - a server process, stopped below
            [sys.executable, "-m", "notegateway", "serve", "--port", str(port)],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
                deadline = time.monotonic() + 30
                while True:
                    try:
                        if (await http.get("/health/ready")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    assert time.monotonic() < deadline, log_path.read_text()
                    await asyncio.sleep(0.2)
                yield http
        finally:
            server.terminate()
            server.wait(timeout=20)


def token(database_url: str, name: str, role: str) -> str:
    result = run_cli(database_url, "clients", "add", name, "--role", role)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


async def test_push_on_one_process_wakes_a_long_poll_on_the_other(
    database_url: str, tmp_path: Path
) -> None:
    nzis, neispuo, acme = await asyncio.gather(
        asyncio.to_thread(token, database_url, "nzis-main", "nzis"),
        asyncio.to_thread(token, database_url, "neispuo-core", "neispuo"),
        asyncio.to_thread(token, database_url, "acme", "vendor"),
    )
    async with (
        served(database_url, tmp_path / "a.log") as intake,
        served(database_url, tmp_path / "b.log") as polling,
    ):
        put = await intake.put(
            f"/api/v1/registry/institutions/{ACME_SCHOOL}",
            json={"name": "ПГ", "town": "Варна", "diary": "acme"},
            headers=bearer(neispuo),
        )
        assert put.status_code == 201
        await intake.put(
            "/api/v1/registry/persons/1",
            json=person(PUPIL, enrollment(ACME_SCHOOL)),
            headers=bearer(neispuo),
        )
        start = (await polling.get("/api/v1/medicalNotices/events", headers=bearer(acme))).json()

        async def push_later() -> float:
            await asyncio.sleep(0.5)
            response = await intake.post(
                "/api/v1/hisMedicalNotices",
                json=[note("25317A000001", PUPIL)],
                headers=bearer(nzis),
            )
            assert response.status_code == 200
            return time.monotonic()

        poll, pushed_at = await asyncio.gather(
            polling.get(
                "/api/v1/medicalNotices/events",
                params={"after": start["nextCursor"], "wait": 20},
                headers=bearer(acme),
            ),
            push_later(),
        )
        answered = time.monotonic()
    page = poll.json()
    assert [e["type"] for e in page["events"]] == ["note.issued"]
    assert answered - pushed_at < 1.0, f"answered {answered - pushed_at:.2f} s after the push"
