"""Health and metrics for operators (no credentials)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine

from notegateway.core.migrate import head_revision
from notegateway.ops import repository

router = APIRouter(tags=["Operators"])
log = logging.getLogger(__name__)


@router.get("/health/live", summary="200 while the process runs")
async def live() -> dict[str, str]:
    return {"status": "live"}


@router.get(
    "/health/ready",
    summary="200 when the database answers and its schema is at the newest migration",
    responses={503: {"description": "not ready"}},
)
async def ready(request: Request) -> JSONResponse:
    engine: AsyncEngine = request.app.state.engine
    expected = head_revision()
    try:
        current = await repository.schema_revision(engine)
    except Exception as exc:  # the database is down or unreachable
        log.warning("readiness check failed: %s", type(exc).__name__)
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    if current != expected:
        return JSONResponse(
            {"status": "unavailable", "schema": current, "expected": expected}, status_code=503
        )
    return JSONResponse({"status": "ready", "schema": current})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
