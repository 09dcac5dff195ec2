"""The `notegateway` command as an operator runs it: real processes on the test's database."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from pathlib import Path

import asyncpg
import httpx
import pytest

from notegateway.app import create_app
from notegateway.core.config import Settings
from notegateway.core.migrate import head_revision
from tests.conftest import plain, with_database
from tests.factories import bearer, make_egn, note
from tests.serving import run_cli, served

EGN = make_egn(dt.date(2014, 3, 15), 123)
LNCH_LIKE = "9999999999"


async def test_clients_commands(database_url: str) -> None:
    added = await asyncio.to_thread(
        run_cli, database_url, "clients", "add", "nzis-main", "--role", "nzis"
    )
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip().splitlines()[-1]
    assert token.startswith("ngw_")
    again = await asyncio.to_thread(
        run_cli, database_url, "clients", "add", "nzis-main", "--role", "nzis"
    )
    assert again.returncode != 0
    listing = await asyncio.to_thread(run_cli, database_url, "clients", "list")
    assert "nzis-main\tnzis\tactive" in listing.stdout
    assert token not in listing.stdout

    # The server keeps its token key in the database (no NOTEGATEWAY_SECRET_KEY): same as the CLI.
    app = create_app(Settings(secret_key=None), database_url=database_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            url = "/api/v1/hisMedicalNotices/25317A000123"
            assert (await http.get(url, headers=bearer(token))).status_code == 404
            rotated = await asyncio.to_thread(
                run_cli, database_url, "clients", "rotate", "nzis-main"
            )
            new_token = rotated.stdout.strip().splitlines()[-1]
            assert (await http.get(url, headers=bearer(token))).status_code == 401
            assert (await http.get(url, headers=bearer(new_token))).status_code == 404
            disabled = await asyncio.to_thread(
                run_cli, database_url, "clients", "disable", "nzis-main"
            )
            assert disabled.returncode == 0
            assert (await http.get(url, headers=bearer(new_token))).status_code == 401
    listing = await asyncio.to_thread(run_cli, database_url, "clients", "list")
    assert "nzis-main\tnzis\tdisabled" in listing.stdout


async def test_migrate_from_any_directory(server_url: str, tmp_path: Path) -> None:
    name = f"ngw_migrate_{os.getpid()}"
    admin = await asyncpg.connect(plain(with_database(server_url, "postgres")))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = plain(with_database(server_url, name))  # a plain postgresql:// URL
        result = await asyncio.to_thread(run_cli, url, "migrate", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        conn = await asyncpg.connect(url)
        try:
            assert await conn.fetchval("SELECT version_num FROM alembic_version") == head_revision()
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.mark.smoke
async def test_served_gateway_logs_no_identifiers(database_url: str, tmp_path: Path) -> None:
    added = await asyncio.to_thread(
        run_cli, database_url, "clients", "add", "nzis-main", "--role", "nzis"
    )
    token = added.stdout.strip().splitlines()[-1]
    log_path = tmp_path / "serve.log"
    async with served(database_url, log_path) as http:
        invalid = note("25317A000124", LNCH_LIKE)
        pushed = await http.post(
            "/api/v1/hisMedicalNotices",
            json=[note("25317A000123", EGN), invalid, {"patient": {"identifier": EGN}}],
            headers=bearer(token),
        )
        assert pushed.status_code == 422
        await http.get(
            f"/api/v1/hisMedicalNotices/25317A000123?identifier={EGN}", headers=bearer(token)
        )
        await http.get(f"/api/v1/nowhere/{EGN}", headers=bearer(token))
        await http.post(
            "/api/v1/hisMedicalNotices", content=f'[{{"x": "{EGN}"'.encode(), headers=bearer(token)
        )
    log = log_path.read_text()
    assert "POST /api/v1/hisMedicalNotices 422" in log
    assert "GET /api/v1/hisMedicalNotices/{nrn} 200" in log
    for secret in (EGN, LNCH_LIKE, token):
        assert secret not in log


async def test_demo_loads_twice_and_its_note_excuses_its_absences(database_url: str) -> None:
    for _ in range(2):  # tokens are rotated on every run; the data is kept once
        result = await asyncio.to_thread(run_cli, database_url, "demo")
        assert result.returncode == 0, result.stderr
    nzis = next(line.split()[1] for line in result.stdout.splitlines() if "demo-nzis" in line)
    curl = next(line for line in result.stdout.splitlines() if "-X POST" in line)
    body = curl.split("-d '", 1)[1].rstrip("'")
    app = create_app(Settings(secret_key=None), database_url=database_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            pushed = await http.post(
                "/api/v1/hisMedicalNotices", content=body.encode(), headers=bearer(nzis)
            )
            assert pushed.status_code == 200
            view = (
                await http.get("/api/v1/hisMedicalNotices/26328A000001", headers=bearer(nzis))
            ).json()
    assert view["excusedAbsences"] == 4
