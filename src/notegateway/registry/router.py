"""HTTP of the registry: /api/v1/registry (the NEISPUO core)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from notegateway.clients.auth import NeispuoClient
from notegateway.core.deps import Db
from notegateway.core.errors import Unprocessable
from notegateway.core.jsonbody import JsonBody
from notegateway.core.openapi import json_body
from notegateway.core.wire import ErrorOut, known_names, validated
from notegateway.registry import service
from notegateway.registry.schemas import (
    InstitutionIn,
    InstitutionOut,
    PersonBatchItemIn,
    PersonBatchResultItem,
    PersonBatchResults,
    PersonIn,
    PersonOut,
)
from notegateway.registry.validation import judge_persons

router = APIRouter(prefix="/api/v1/registry", tags=["Registry"])

MAX_BATCH = 1000
_INSTITUTION_NAMES = known_names(InstitutionIn)
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
    response: Response,
) -> InstitutionOut:
    institution = validated(InstitutionIn, body, _INSTITUTION_NAMES, "the institution is invalid")
    if await service.put_institution(db, institution_id, institution, client.name):
        response.status_code = 201
    return await service.get_institution(db, institution_id)


@router.get("/institutions/{institutionId}", response_model=InstitutionOut)
async def get_institution(
    institution_id: InstitutionId, client: NeispuoClient, db: Db
) -> InstitutionOut:
    return await service.get_institution(db, institution_id)


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
    response: Response,
) -> PersonOut:
    if isinstance(body, dict):  # the path names the person; a personId in the body is ignored
        body = {k: v for k, v in body.items() if k.casefold() != "personid"}
        body["personId"] = person_id
    [judged] = judge_persons([body])
    if await service.put_person(db, judged, client.name):
        response.status_code = 201
    return await service.get_person(db, person_id)


@router.get("/persons/{personId}", response_model=PersonOut)
async def get_person(person_id: PersonId, client: NeispuoClient, db: Db) -> PersonOut:
    return await service.get_person(db, person_id)


@router.post(
    "/persons:batch",
    summary="Create or replace 1 to 1000 persons; each is judged on its own",
    response_model=PersonBatchResults,
    response_model_exclude_unset=True,
    responses={422: {"model": PersonBatchResults}},
    openapi_extra=json_body(PersonBatchItemIn, array=(1, MAX_BATCH)),
)
async def put_persons(
    client: NeispuoClient, body: JsonBody, db: Db, response: Response
) -> PersonBatchResults:
    if not isinstance(body, list) or not 1 <= len(body) <= MAX_BATCH:
        message = f"the body must be a JSON array of 1 to {MAX_BATCH} persons"
        raise Unprocessable(message, [{"loc": [], "msg": message}])
    results = await service.put_persons(db, judge_persons(body), client.name)
    if any(r.outcome in ("invalid", "conflict") for r in results):
        response.status_code = 422
    items = []
    for r in results:
        item = PersonBatchResultItem(index=r.index, person_id=r.person_id, outcome=r.outcome)
        if r.errors:  # the key is left out when there is nothing to say
            item.errors = ErrorOut.of(r.errors)
        items.append(item)
    return PersonBatchResults(results=items)
