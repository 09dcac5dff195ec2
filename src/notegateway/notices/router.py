"""HTTP of the NZIS side: /api/v1/hisMedicalNotices."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from notegateway.clients.auth import (
    Admission,
    NzisClient,
    admitted_caller,
    admitting,
    caller_transaction,
    require,
)
from notegateway.clients.schemas import Client, Role
from notegateway.core.deps import Db
from notegateway.core.errors import (
    BadRequest,
    DomainError,
    PayloadTooLarge,
    Unprocessable,
    problem_of,
)
from notegateway.core.jsonbody import NO_BODY, read_json
from notegateway.core.note_wire import NrnPath
from notegateway.core.openapi import json_body
from notegateway.core.timeutil import QueryDate, today_in_sofia
from notegateway.core.wire import ErrorOut, known_names, validated
from notegateway.notices import service
from notegateway.notices.medical import Path as KeyPath
from notegateway.notices.medical import drop_medical_content
from notegateway.notices.schemas import (
    CancelIn,
    CancelResult,
    DoctorFeedback,
    HisMedicalNoticeIn,
    NoticeView,
    PushResultItem,
    PushResults,
)
from notegateway.notices.validation import judge_notes

router = APIRouter(prefix="/api/v1/hisMedicalNotices", tags=["NZIS"])

MAX_BATCH = 1000
_CANCEL_NAMES = known_names(CancelIn)
# NZIS calling push or cancel: lastHisSyncTime moves whatever the answer, so the call is
# recorded in the credentials' own statement, before the request's transaction; a push by
# a known caller (clients/auth.py: KnownCallers), in the round trip that begins its
# transaction, or after it when that does not commit.
NZIS_CALLER = Admission((Role.NZIS,), records_nzis_call=True)
NzisCaller = Annotated[Client, Depends(admitting(NZIS_CALLER))]


@dataclass(frozen=True, slots=True)
class NzisBody:
    """An NZIS body as read: parsed with medical content already dropped (`dropped`: the
    paths of the keys taken out), or the reason it was refused as a whole."""

    value: Any = NO_BODY
    dropped: list[KeyPath] = field(default_factory=list)
    refusal: DomainError | None = None


async def _read_nzis_body(request: Request, optional: bool) -> NzisBody:
    """The first point an NZIS body is read: medical keys go before anything else sees it."""
    try:
        parsed = await read_json(request, optional=optional)
    except (BadRequest, PayloadTooLarge) as exc:
        return NzisBody(refusal=exc)
    if parsed is NO_BODY:
        return NzisBody()
    value, dropped = drop_medical_content(parsed)
    return NzisBody(value, dropped)


async def _push_body(request: Request) -> NzisBody:
    return await _read_nzis_body(request, optional=False)


async def _cancel_body(request: Request) -> NzisBody:
    body = await _read_nzis_body(request, optional=True)
    if body.refusal is not None:
        raise body.refusal
    return body


@router.post(
    "",
    summary="Push 1 to 1000 notes; each is judged on its own",
    response_model=PushResults,
    response_model_exclude_unset=True,
    responses={409: {"model": PushResults}, 422: {"model": PushResults}},
    openapi_extra=json_body(HisMedicalNoticeIn, array=(1, MAX_BATCH)),
)
async def push_notes(request: Request) -> Response:
    # The hot path, written out without FastAPI's dependencies (issue 21): the client
    # admitted (a known caller's credentials are checked again as its transaction begins),
    # then the body read, then one transaction; the answer serialised once (the
    # decorator's response model documents it). The same steps, in the same order, as
    # the dependencies of the other endpoints (`NzisCaller`, `_push_body`, `Db`). A
    # comment, not a docstring: the OpenAPI document would take it as the description.
    async with admitted_caller(request, NZIS_CALLER) as caller:
        client = caller.client
        body = await _push_body(request)
        async with caller_transaction(request, caller) as db:
            refusal = body.refusal
            batch = body.value if isinstance(body.value, list) else []
            if refusal is None and not 1 <= len(batch) <= MAX_BATCH:
                message = f"the body must be a JSON array of 1 to {MAX_BATCH} notes"
                refusal = Unprocessable(message, [{"loc": [], "msg": message}])
            if refusal is not None:  # kept for the helpdesk, then answered (it commits)
                await service.record_refused_push(db, client.name, refusal, body.value)
                return problem_of(refusal)
            judged = judge_notes(batch, body.dropped, today_in_sofia())
            results = await service.push_notes(db, judged, client.name)
    answer = PushResults(results=[_result_item(r) for r in results])
    return Response(
        answer.model_dump_json(by_alias=True, exclude_unset=True),
        service.batch_status(results),
        media_type="application/json",
    )


def _result_item(result: service.PushOutcome) -> PushResultItem:
    item = PushResultItem(index=result.index, nrn_medical_notice=result.nrn, outcome=result.outcome)
    if result.errors:  # the keys are left out when there is nothing to say
        item.errors = ErrorOut.of(result.errors)
    if result.warnings:
        item.warnings = ErrorOut.of(result.warnings)
    return item


@router.post(
    "/{nrn}/cancel",
    summary="NZIS annulled the note (C045); kept and applied later if the note is not here yet",
    response_model=CancelResult,
    responses={202: {"model": CancelResult}},
    openapi_extra=json_body(CancelIn, required=False),
)
async def cancel_note(
    nrn: NrnPath,
    client: NzisCaller,
    body: Annotated[NzisBody, Depends(_cancel_body)],
    db: Db,
    response: Response,
) -> CancelResult:
    reason = None
    if body.value is not NO_BODY:
        cancel = validated(CancelIn, body.value, _CANCEL_NAMES, "the cancellation body is invalid")
        reason = cancel.cancel_reason
    answer = await service.cancel(db, nrn, reason, client.name)
    response.status_code = answer.status_code
    return CancelResult(
        nrn_medical_notice=answer.nrn,
        status="cancelled",
        reverted_absences=answer.reverted,
        reattributed_absences=answer.reattributed,
    )


NzisOnly = Annotated[Client, Depends(require(Role.NZIS))]


@router.get(
    "",
    summary="A doctor's notes in a period (at most 92 days): counts, and the unmatched NRNs",
    response_model=DoctorFeedback,
)
async def doctor_feedback(
    client: NzisOnly,
    db: Db,
    pmi: Annotated[str, Query(min_length=1, max_length=255, description="the doctor's УИН")],
    from_date: Annotated[QueryDate, Query(alias="fromDate")] = None,
    to_date: Annotated[QueryDate, Query(alias="toDate")] = None,
) -> DoctorFeedback:
    """Nothing about pupils: how many notes arrived, found their pupil, reached a diary
    (NEISPUO's or a vendor's) or were cancelled, and the NRNs of active notes no pupil
    was found for (the doctor should check the identifier, cancel and reissue)."""
    digest = await service.doctor_digest(db, pmi, from_date, to_date)
    return DoctorFeedback(
        pmi=pmi,
        notes=digest.notes,
        matched=digest.matched,
        reached_diary=digest.reached_diary,
        cancelled=digest.cancelled,
        unmatched=list(digest.unmatched),
    )


@router.get("/{nrn}", summary="What became of a note", response_model=NoticeView)
async def get_note(nrn: NrnPath, client: NzisClient, db: Db) -> NoticeView:
    return await service.delivery_view(db, nrn)
