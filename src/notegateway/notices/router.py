"""HTTP of the NZIS side: /api/v1/hisMedicalNotices."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse

from notegateway.clients.auth import NzisClient, require
from notegateway.clients.schemas import Client, Role
from notegateway.core.deps import Db
from notegateway.core.errors import Unprocessable
from notegateway.core.jsonbody import NO_BODY, JsonBody, OptionalJsonBody
from notegateway.core.openapi import json_body
from notegateway.core.wire import known_names, validated
from notegateway.notices import service
from notegateway.notices.schemas import (
    CancelIn,
    CancelResult,
    HisMedicalNoticeIn,
    NoticeView,
    PushResults,
)

router = APIRouter(prefix="/api/v1/hisMedicalNotices", tags=["NZIS"])

MAX_BATCH = 1000
NrnPath = Annotated[str, Path(pattern=r"^[0-9A-Z]{12}$", description="the note's NRN")]
_CANCEL_NAMES = known_names(CancelIn)
# NZIS calling push or cancel: lastHisSyncTime moves whatever the answer, so the call is
# recorded in the credentials' own transaction, before the request's.
NzisCaller = Annotated[Client, Depends(require(Role.NZIS, on_admit=service.record_call))]


@router.post(
    "",
    summary="Push 1 to 1000 notes; each is judged on its own",
    response_model=PushResults,
    responses={409: {"model": PushResults}, 422: {"model": PushResults}},
    openapi_extra=json_body(HisMedicalNoticeIn, array=(1, MAX_BATCH)),
)
async def push_notes(client: NzisCaller, body: JsonBody, db: Db) -> JSONResponse:
    if not isinstance(body, list) or not 1 <= len(body) <= MAX_BATCH:
        message = f"the body must be a JSON array of 1 to {MAX_BATCH} notes"
        raise Unprocessable(message, [{"loc": [], "msg": message}])
    results = await service.push_notes(db, body, client.name)
    return JSONResponse(
        {"results": [r.wire() for r in results]}, status_code=service.batch_status(results)
    )


@router.post(
    "/{nrn}/cancel",
    summary="NZIS annulled the note (C045); kept and applied later if the note is not here yet",
    response_model=CancelResult,
    responses={202: {"model": CancelResult}},
    openapi_extra=json_body(CancelIn, required=False),
)
async def cancel_note(
    nrn: NrnPath, client: NzisCaller, body: OptionalJsonBody, db: Db
) -> JSONResponse:
    reason = None
    if body is not NO_BODY:
        cancel = validated(CancelIn, body, _CANCEL_NAMES, "the cancellation body is invalid")
        reason = cancel.cancel_reason
    status_code, answer = await service.cancel(db, nrn, reason, client.name)
    return JSONResponse(answer, status_code=status_code)


@router.get("/{nrn}", summary="What became of a note", response_model=NoticeView)
async def get_note(nrn: NrnPath, client: NzisClient, db: Db) -> NoticeView:
    return NoticeView.model_validate(await service.delivery_view(db, nrn))
