"""The yardstick: a bare FastAPI + asyncpg endpoint that inserts what it is sent, nothing more."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import FastAPI, Request, Response

DSN = os.environ["BENCH_BARE_DSN"]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(
        DSN, min_size=4, max_size=int(os.environ.get("BENCH_BARE_POOL", "32"))
    )
    async with app.state.pool.acquire() as conn:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS bare_notes (id bigserial PRIMARY KEY, nrn text UNIQUE, payload jsonb)"
        )
    yield
    await app.state.pool.close()


app = FastAPI(lifespan=lifespan)


@app.post("/bare")
async def bare(request: Request) -> Response:
    notes: list[dict[str, Any]] = json.loads(await request.body())
    async with request.app.state.pool.acquire() as conn:
        if len(notes) == 1:
            await conn.execute(
                "INSERT INTO bare_notes (nrn, payload) VALUES ($1, $2::jsonb)",
                notes[0]["nrnMedicalNotice"],
                json.dumps(notes[0]),
            )
        else:
            await conn.execute(
                "INSERT INTO bare_notes (nrn, payload) SELECT * FROM unnest($1::text[], $2::jsonb[])",
                [n["nrnMedicalNotice"] for n in notes],
                [json.dumps(n) for n in notes],
            )
    return Response(b'{"ok":true}', media_type="application/json")
