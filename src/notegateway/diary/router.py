"""HTTP of NEISPUO's own diary: /api/v1/diary."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from notegateway.clients.auth import (
    FiguresClient,
    NeispuoClient,
    NeispuoOnlyClient,
    authenticate,
)
from notegateway.core import feed, paging
from notegateway.core.deps import Db
from notegateway.core.jsonbody import NO_BODY, JsonBody, OptionalJsonBody
from notegateway.core.openapi import json_body
from notegateway.core.timeutil import QueryDate, SchoolYear
from notegateway.core.wire import MAX_ID, known_names, validated
from notegateway.diary import figures_service, parents_service, service
from notegateway.diary.schemas import (
    AbsenceIn,
    AbsenceList,
    AbsenceOut,
    AbsencePatchIn,
    AtRiskMonth,
    ChangeFeedPage,
    InstitutionNoticeList,
    MonthCorrections,
    MonthFigures,
    PersonNotices,
    ReportedMonth,
    ReportIn,
)

router = APIRouter(prefix="/api/v1/diary", tags=["Diary"])
_REPORT_NAMES = known_names(ReportIn)
_ABSENCE_NAMES = known_names(AbsenceIn)
_PATCH_NAMES = known_names(AbsencePatchIn)


@router.post(
    "/absences",
    summary="Record an absence (201 when new, 200 for an identical repeat, 409 otherwise)",
    response_model=AbsenceOut,
    responses={
        201: {"model": AbsenceOut},
        409: {"description": "this absenceId was posted with other fields"},
    },
    openapi_extra=json_body(AbsenceIn),
)
async def record_absence(
    client: NeispuoClient, body: JsonBody, db: Db, response: Response
) -> AbsenceOut:
    posted = validated(AbsenceIn, body, _ABSENCE_NAMES, "the absence is invalid")
    created, absence = await service.record_absence(db, posted, client.name)
    if created:
        response.status_code = 201
    return AbsenceOut.of(absence)


@router.patch(
    "/absences/{absenceId}",
    summary="A person sets kind and/or comment; no note changes the absence after that",
    response_model=AbsenceOut,
    openapi_extra=json_body(AbsencePatchIn),
)
async def change_absence(
    absence_id: Annotated[int, Path(alias="absenceId", ge=1, le=MAX_ID)],
    client: NeispuoClient,
    body: JsonBody,
    db: Db,
) -> AbsenceOut:
    patch = validated(AbsencePatchIn, body, _PATCH_NAMES, "the change is invalid")
    return AbsenceOut.of(await service.change_absence(db, absence_id, patch, client.name))


@router.delete(
    "/absences/{absenceId}",
    summary="The diary removed the absence (entered by mistake); 204 again once deleted",
    status_code=204,
    response_class=Response,
    responses={404: {"description": "this absenceId was never recorded"}},
)
async def delete_absence(
    absence_id: Annotated[int, Path(alias="absenceId", ge=1, le=MAX_ID)],
    client: NeispuoOnlyClient,
    db: Db,
) -> Response:
    await service.delete_absence(db, absence_id, client.name)
    return Response(status_code=204)


@router.get(
    "/absences",
    summary="A page of an institution's or a person's absences (one of the two is required)",
    response_model=AbsenceList,
)
async def list_absences(
    client: NeispuoClient,
    db: Db,
    institution_id: Annotated[int | None, Query(alias="institutionId", ge=1, le=MAX_ID)] = None,
    person_id: Annotated[int | None, Query(alias="personId", ge=1, le=MAX_ID)] = None,
    from_date: Annotated[QueryDate, Query(alias="fromDate")] = None,
    to_date: Annotated[QueryDate, Query(alias="toDate")] = None,
    limit: paging.Limit = paging.DEFAULT_LIMIT,
    after: paging.After = None,
) -> AbsenceList:
    page = await service.list_absences(
        db, institution_id, person_id, from_date, to_date, after, limit
    )
    return AbsenceList(items=[AbsenceOut.of(a) for a in page.items], next_cursor=page.next_cursor)


@router.get(
    "/institutions/{institutionId}/medicalNotices",
    summary="Notes of the pupils of a class and section (or group), for its diary view",
    response_model=InstitutionNoticeList,
)
async def institution_notices(
    institution_id: Annotated[int, Path(alias="institutionId", ge=1, le=MAX_ID)],
    client: NeispuoClient,
    db: Db,
    class_name: Annotated[str | None, Query(alias="className", max_length=100)] = None,
    section: Annotated[str | None, Query(max_length=50)] = None,
    person_id: Annotated[int | None, Query(alias="personId", ge=1, le=MAX_ID)] = None,
    from_date: Annotated[QueryDate, Query(alias="fromDate")] = None,
    to_date: Annotated[QueryDate, Query(alias="toDate")] = None,
    school_year: Annotated[SchoolYear | None, Query(alias="schoolYear")] = None,
) -> InstitutionNoticeList:
    return await service.institution_notices(
        db, institution_id, class_name, section, person_id, from_date, to_date, school_year
    )


@router.get(
    "/persons/{personId}/medicalNotices",
    summary="A pupil's notes of a school year, and what each did on each covered day",
    response_model=PersonNotices,
    response_model_exclude_unset=True,  # no institutionId on a day enrolled nowhere
)
async def person_notices(
    person_id: Annotated[int, Path(alias="personId", ge=1, le=MAX_ID)],
    client: NeispuoOnlyClient,
    db: Db,
    school_year: Annotated[SchoolYear | None, Query(alias="schoolYear")] = None,
) -> PersonNotices:
    """For NEISPUO's parent view, which calls it on a parent's behalf (role neispuo)."""
    return await parents_service.person_notices(db, person_id, school_year)


Month = Annotated[
    str,
    Path(pattern=r"^(19|20)[0-9]{2}-(0[1-9]|1[0-2])$", description="YYYY-MM"),
]
InstitutionId = Annotated[int, Path(alias="institutionId", ge=1, le=MAX_ID)]


def _limits(request: Request) -> figures_service.BenefitLimits:
    return figures_service.BenefitLimits.of(request.app.state.settings)


def _first_day(month: str) -> dt.date:
    return dt.date(int(month[:4]), int(month[5:]), 1)


@router.get(
    "/institutions/{institutionId}/months/{month}",
    summary="A month's figures per pupil: unexcused lessons and preschool days, late arrivals",
    response_model=MonthFigures,
)
async def month_figures(
    request: Request, institution_id: InstitutionId, month: Month, client: FiguresClient, db: Db
) -> MonthFigures:
    return await figures_service.month_figures(
        db, institution_id, _first_day(month), _limits(request), client.region
    )


@router.put(
    "/institutions/{institutionId}/months/{month}/report",
    summary="Record the month's figures as they are now as the ones sent to social assistance",
    status_code=200,
    response_model=ReportedMonth,
    responses={201: {"model": ReportedMonth, "description": "the month's first report"}},
    openapi_extra=json_body(ReportIn, required=False),
)
async def report_month(
    request: Request,
    institution_id: InstitutionId,
    month: Month,
    client: NeispuoOnlyClient,
    body: OptionalJsonBody,
    db: Db,
    response: Response,
) -> ReportedMonth:
    if body is not NO_BODY:
        validated(ReportIn, body, _REPORT_NAMES, "the report body is invalid")
    first = await figures_service.report_month(
        db, institution_id, _first_day(month), _limits(request), client.name
    )
    if first:
        response.status_code = 201
    return ReportedMonth(institution_id=institution_id, month=month)


@router.get(
    "/institutions/{institutionId}/months/{month}/corrections",
    summary="Pupils whose figures differ from those reported, and the notes that made it",
    response_model=MonthCorrections,
    responses={404: {"description": "no such institution, or the month is not reported"}},
)
async def corrections(
    request: Request, institution_id: InstitutionId, month: Month, client: FiguresClient, db: Db
) -> MonthCorrections:
    return await figures_service.corrections(
        db, institution_id, _first_day(month), _limits(request), client.region
    )


@router.get(
    "/institutions/{institutionId}/months/{month}/atRisk",
    summary="Pupils one lesson or one preschool day from the benefit limit, with the dates",
    response_model=AtRiskMonth,
)
async def at_risk(
    request: Request, institution_id: InstitutionId, month: Month, client: FiguresClient, db: Db
) -> AtRiskMonth:
    return await figures_service.at_risk(
        db, institution_id, _first_day(month), _limits(request), client.region
    )


@router.get(
    "/changes",
    summary="The ordered feed of every change the gateway made to an absence; long polls",
    response_model=ChangeFeedPage,
    responses={410: {"description": "the cursor is older than the feed keeps"}},
)
async def changes(
    request: Request,
    client: NeispuoOnlyClient,
    after: feed.After = None,
    limit: feed.Limit = feed.DEFAULT_LIMIT,
    wait: feed.Wait = 0,
) -> JSONResponse:
    reader = service.change_reader(request.app.state.cursor_key, client.id)
    position = reader.position(after)

    async def look(db: asyncpg.Connection) -> feed.Answer:
        return await service.change_page(db, reader, position, limit)

    async def answered(db: asyncpg.Connection, reached: int) -> None:
        await service.record_change_read(db, client.id, reached)

    recheck = functools.partial(authenticate, request)
    return JSONResponse(await feed.long_poll(request, client.id, wait, look, recheck, answered))
