"""HTTP of the registry: /api/v1/registry (the NEISPUO core)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from notegateway.clients.auth import NeispuoClient
from notegateway.core.deps import Db
from notegateway.core.errors import Unprocessable
from notegateway.core.jsonbody import JsonBody
from notegateway.core.openapi import json_body
from notegateway.registry import service
from notegateway.registry.schemas import (
    InstitutionIn,
    InstitutionOut,
    PersonBatchItemIn,
    PersonBatchResults,
    PersonIn,
    PersonOut,
)

router = APIRouter(prefix="/api/v1/registry", tags=["Registry"])

MAX_BATCH = 1000
InstitutionId = Annotated[int, Path(alias="institutionId", ge=1, le=2**62)]
PersonId = Annotated[int, Path(alias="personId", ge=1, le=2**62)]


@router.put(
    "/institutions/{institutionId}",
    summary="Create or replace an institution (201 when new)",
    response_model=InstitutionOut,
    responses={201: {"model": InstitutionOut}},
    openapi_extra=json_body(InstitutionIn),
)
async def put_institution(
    institution_id: InstitutionId,
    client: NeispuoClient,
    body: JsonBody,
    db: Db,
) -> JSONResponse:
    created = await service.put_institution(db, institution_id, body, client.name)
    body = await service.get_institution(db, institution_id)
    return JSONResponse(body, status_code=201 if created else 200)


@router.get("/institutions/{institutionId}", response_model=InstitutionOut)
async def get_institution(
    institution_id: InstitutionId, client: NeispuoClient, db: Db
) -> JSONResponse:
    return JSONResponse(await service.get_institution(db, institution_id))


@router.put(
    "/persons/{personId}",
    summary="Create or replace a person and their enrollments (201 when new)",
    response_model=PersonOut,
    responses={
        201: {"model": PersonOut},
        409: {"description": "the identifier is another person's current identifier"},
    },
    openapi_extra=json_body(PersonIn),
)
async def put_person(
    person_id: PersonId,
    client: NeispuoClient,
    body: JsonBody,
    db: Db,
) -> JSONResponse:
    created = await service.put_person(db, person_id, body, client.name)
    body = await service.get_person(db, person_id)
    return JSONResponse(body, status_code=201 if created else 200)


@router.get("/persons/{personId}", response_model=PersonOut)
async def get_person(person_id: PersonId, client: NeispuoClient, db: Db) -> JSONResponse:
    return JSONResponse(await service.get_person(db, person_id))


@router.post(
    "/persons:batch",
    summary="Create or replace 1 to 1000 persons; each is judged on its own",
    response_model=PersonBatchResults,
    responses={422: {"model": PersonBatchResults}},
    openapi_extra=json_body(PersonBatchItemIn, array=(1, MAX_BATCH)),
)
async def put_persons(client: NeispuoClient, body: JsonBody, db: Db) -> JSONResponse:
    if not isinstance(body, list) or not 1 <= len(body) <= MAX_BATCH:
        message = f"the body must be a JSON array of 1 to {MAX_BATCH} persons"
        raise Unprocessable(message, [{"loc": [], "msg": message}])
    results = await service.put_persons(db, body, client.name)
    status_code = 200 if all(r.outcome not in ("invalid", "conflict") for r in results) else 422
    return JSONResponse({"results": [r.wire() for r in results]}, status_code=status_code)
