"""Operators: health and metrics (no credentials), and /api/v1/ops (role operator)."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Literal

import asyncpg
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from notegateway.clients.auth import OperatorClient
from notegateway.core import paging
from notegateway.core.db import transaction
from notegateway.core.deps import Db
from notegateway.core.errors import ServiceUnavailable
from notegateway.core.jsonbody import JsonBody
from notegateway.core.metrics import metrics_registry
from notegateway.core.migrate import head_revision
from notegateway.core.note_wire import NrnPath
from notegateway.core.openapi import json_body
from notegateway.core.timeutil import QueryDate, SchoolYear
from notegateway.core.wire import MAX_ID, known_names, validated
from notegateway.diary.schemas import AbsenceOut
from notegateway.ops import repository, service, suggestions, wave
from notegateway.ops.schemas import (
    MatchIn,
    NoteFigures,
    NoteSearch,
    NoteWithAudit,
    Redelivery,
    RedeliveryIn,
    RejectionList,
    ReviewList,
    ReviewResolutionIn,
    SuggestedPerson,
    Suggestions,
)
from notegateway.ops.scrape import FeedMetrics

router = APIRouter(tags=["Operators"])
READY_TIMEOUT_S = 3.0
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
    expected = head_revision()
    try:
        async with asyncio.timeout(READY_TIMEOUT_S), transaction(request.app.state.engine) as db:
            current = await repository.schema_revision(db)
    except (ServiceUnavailable, TimeoutError, asyncpg.PostgresError) as exc:  # down, or no schema
        log.warning("readiness check failed: %s", type(exc).__name__)
        return JSONResponse(
            {"status": "unavailable", "database": "unreachable"},
            status_code=503,
            headers={"Retry-After": str(ServiceUnavailable.retry_after)},
        )
    if current != expected:
        return JSONResponse(
            {"status": "unavailable", "schema": current, "expected": expected}, status_code=503
        )
    return JSONResponse({"status": "ready", "schema": current})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    feed_metrics: FeedMetrics = request.app.state.feed_metrics
    await feed_metrics.refresh(request.app.state.engine)
    return Response(generate_latest(metrics_registry()), media_type=CONTENT_TYPE_LATEST)


api_router = APIRouter(prefix="/api/v1/ops", tags=["Operators"])


@api_router.get(
    "/notes",
    summary="Search notes, newest first (match=unmatched: the queue of notes waiting for a pupil)",
    response_model=NoteSearch,
)
async def search_notes(
    client: OperatorClient,
    db: Db,
    match: Literal["matched", "unmatched"] | None = None,
    status: Literal["active", "cancelled"] | None = None,
    nrn: Annotated[str | None, Query(alias="nrnMedicalNotice", min_length=4, max_length=12)] = None,
    nrn_examination: Annotated[
        str | None, Query(alias="nrnExamination", min_length=4, max_length=12)
    ] = None,
    identifier: Annotated[str | None, Query(min_length=4, max_length=255)] = None,
    from_date: Annotated[QueryDate, Query(alias="fromDate")] = None,
    to_date: Annotated[QueryDate, Query(alias="toDate")] = None,
    school_year: Annotated[SchoolYear | None, Query(alias="schoolYear")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> NoteSearch:
    query = service.NoteQuery(
        match, status, nrn, nrn_examination, identifier, from_date, to_date, school_year
    )
    return await service.search_notes(db, query, limit, offset, client.region)


@api_router.get(
    "/notes/{nrn}",
    summary="A note as NZIS sees it, with its audit log",
    response_model=NoteWithAudit,
)
async def note_with_audit(nrn: NrnPath, client: OperatorClient, db: Db) -> NoteWithAudit:
    return (await service.note_with_audit(db, nrn, client.region)).note


@api_router.get(
    "/notes/{nrn}/suggestions",
    summary="For an unmatched note, up to 5 registered persons it may belong to, best first",
    response_model=Suggestions,
)
async def note_suggestions(nrn: NrnPath, client: OperatorClient, db: Db) -> Suggestions:
    found = await suggestions.suggestions(db, nrn, client.region)
    return Suggestions(
        items=[
            SuggestedPerson(
                person_id=s.person_id,
                given_name=s.given_name,
                family_name=s.family_name,
                identifier=s.identifier,
                why=s.why.value,
            )
            for s in found
        ]
    )


@api_router.get(
    "/review", summary="Absences left for a person to review", response_model=ReviewList
)
async def review(
    client: OperatorClient,
    db: Db,
    limit: paging.Limit = paging.DEFAULT_LIMIT,
    after: paging.After = None,
) -> ReviewList:
    return await service.review(db, after, limit, client.region)


@api_router.get(
    "/rejections",
    summary="Pushed items judged invalid or conflict, newest first, identifiers masked",
    response_model=RejectionList,
)
async def rejections(
    client: OperatorClient,
    db: Db,
    nrn: Annotated[str | None, Query(alias="nrnMedicalNotice", max_length=12)] = None,
    from_date: Annotated[QueryDate, Query(alias="fromDate")] = None,
    to_date: Annotated[QueryDate, Query(alias="toDate")] = None,
    limit: paging.Limit = paging.DEFAULT_LIMIT,
    after: paging.After = None,
) -> RejectionList:
    return await service.rejections(db, nrn, from_date, to_date, after, limit, client.region)


_RESOLUTION_NAMES = known_names(ReviewResolutionIn)


@api_router.post(
    "/review/{absenceId}/resolve",
    summary="Close an absence's review: keep it as the person set it, or make it unexcused",
    response_model=AbsenceOut,
    openapi_extra=json_body(ReviewResolutionIn),
)
async def resolve_review(
    absence_id: Annotated[int, Path(alias="absenceId", ge=1, le=MAX_ID)],
    client: OperatorClient,
    body: JsonBody,
    db: Db,
) -> AbsenceOut:
    resolution = validated(ReviewResolutionIn, body, _RESOLUTION_NAMES, "the resolution is invalid")
    absence = await service.resolve_review(
        db, absence_id, resolution.resolution, resolution.reason, client.name, client.region
    )
    return AbsenceOut.of(absence)


_REDELIVERY_NAMES = known_names(RedeliveryIn)


@api_router.post(
    "/notes/{nrn}/redeliver",
    summary="Hand a note to a vendor again: its next serves it, its feed tells it again",
    status_code=202,
    response_model=Redelivery,
    openapi_extra=json_body(RedeliveryIn),
)
async def redeliver(nrn: NrnPath, client: OperatorClient, body: JsonBody, db: Db) -> Redelivery:
    redelivery = validated(RedeliveryIn, body, _REDELIVERY_NAMES, "the redelivery is invalid")
    return await service.redeliver(
        db, nrn, redelivery.vendor, redelivery.reason, client.name, client.region
    )


_MATCH_NAMES = known_names(MatchIn)


@api_router.post(
    "/notes/{nrn}/match",
    summary="Link a note to a person by hand (null: back to matching by identifier)",
    response_model=NoteWithAudit,
    openapi_extra=json_body(MatchIn),
)
async def match(nrn: NrnPath, client: OperatorClient, body: JsonBody, db: Db) -> NoteWithAudit:
    wanted = validated(MatchIn, body, _MATCH_NAMES, "the match is invalid")
    linked = await service.link(
        db, nrn, wanted.person_id, wanted.reason, client.name, client.region
    )
    return linked.note


@api_router.get(
    "/stats/notes",
    summary="Pupils a note covers, per day and region (or town); counts under 5 suppressed",
    response_model=NoteFigures,
    response_model_exclude_unset=True,  # a day's figure names its region or its town
)
async def notes_by_day(
    client: OperatorClient,
    db: Db,
    from_date: Annotated[QueryDate, Query(alias="fromDate")] = None,
    to_date: Annotated[QueryDate, Query(alias="toDate")] = None,
    by: Literal["region", "town"] = "region",
) -> NoteFigures:
    return await wave.notes_by_day(db, from_date, to_date, by, client.region)
