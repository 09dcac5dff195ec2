"""Errors as problem+json, size limits, the OpenAPI document and the schema's drift."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import asyncpg
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from notegateway.core.tables import metadata
from tests.factories import Api, make_egn, note

OPENAPI_FILE = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


async def test_malformed_json_is_400(api: Api, db: asyncpg.Connection) -> None:
    headers = await api.as_role("nzis")
    for body in (b"[{", b"\xff\xfe", b"", b"[1,]"):
        response = await api.http.post("/api/v1/hisMedicalNotices", content=body, headers=headers)
        assert response.status_code == 400, body
        problem = response.json()
        assert response.headers["content-type"] == "application/problem+json"
        assert {"type", "title", "status", "detail"} <= set(problem)
    assert await db.fetchval("SELECT count(*) FROM medical_notices") == 0


async def test_body_over_one_mebibyte_is_413(api: Api, db: asyncpg.Connection) -> None:
    headers = await api.as_role("nzis")
    padded = note("25317A000123", make_egn(dt.date(2014, 3, 15)))
    padded["padding"] = "x" * (1024 * 1024)
    response = await api.http.post("/api/v1/hisMedicalNotices", json=[padded], headers=headers)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"

    async def chunks():  # no Content-Length: counted while reading
        for _ in range(17):
            yield b" " * 65536

    streamed = await api.http.post("/api/v1/hisMedicalNotices", content=chunks(), headers=headers)
    assert streamed.status_code == 413
    assert await db.fetchval("SELECT count(*) FROM medical_notices") == 0


async def test_unknown_path_and_method_are_problems(api: Api) -> None:
    missing = await api.http.get("/api/v1/nothing")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    wrong = await api.http.delete("/api/v1/hisMedicalNotices", headers=await api.as_role("nzis"))
    assert wrong.status_code == 405
    assert wrong.json()["status"] == 405


async def test_openapi_document_is_served_and_matches_the_repository(api: Api) -> None:
    response = await api.http.get("/openapi.json")
    assert response.status_code == 200
    served = response.json()
    committed = json.loads(OPENAPI_FILE.read_text())
    assert served == committed, "openapi/openapi.json is stale: run `make openapi`"
    paths = served["paths"]
    for path, method in [
        ("/api/v1/hisMedicalNotices", "post"),
        ("/api/v1/hisMedicalNotices/{nrn}/cancel", "post"),
        ("/api/v1/hisMedicalNotices/{nrn}", "get"),
        ("/api/v1/registry/institutions/{institutionId}", "put"),
        ("/api/v1/registry/persons/{personId}", "put"),
        ("/api/v1/registry/persons:batch", "post"),
        ("/health/live", "get"),
        ("/health/ready", "get"),
        ("/metrics", "get"),
        ("/api/v1/diary/absences", "post"),
        ("/api/v1/diary/absences", "get"),
        ("/api/v1/diary/absences/{absenceId}", "patch"),
        ("/api/v1/diary/institutions/{institutionId}/medicalNotices", "get"),
        ("/api/v1/medicalNotices/next/{next}", "get"),
        ("/api/v1/medicalNotices/acknowledge", "post"),
        ("/api/v1/medicalNotices/events", "get"),
        ("/api/v1/medicalNotices/events/{cursor}/ack", "post"),
        ("/api/v1/medicalNotices/{nrn}", "get"),
        ("/api/v1/ops/notes", "get"),
        ("/api/v1/ops/notes/{nrn}", "get"),
        ("/api/v1/ops/review", "get"),
    ]:
        assert method in paths[path], (path, method)
    body = paths["/api/v1/hisMedicalNotices"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["items"]["$ref"] == "#/components/schemas/HisMedicalNoticeIn"
    assert "HisMedicalNoticeIn" in served["components"]["schemas"]


async def test_migrations_match_the_table_definitions(database_url: str) -> None:
    engine = create_async_engine(database_url)
    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": True}), metadata
            )
        )
    await engine.dispose()
    assert diff == []
