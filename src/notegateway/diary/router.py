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
from notegateway.core.jsonbody import JsonBody
from notegateway.core.openapi import json_body
from notegateway.core.timeutil import QueryDate, SchoolYear
from notegateway.diary import service
from notegateway.diary.schemas import (
    AbsenceIn,
    AbsenceList,
    AbsenceOut,
    AbsencePatchIn,
    ChangeFeedPage,
    InstitutionNoticeList,
    MonthFigures,
)
from notegateway.registry.schemas import MAX_ID

router = APIRouter(prefix="/api/v1/diary", tags=["Diary"])


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
async def record_absence(client: NeispuoClient, body: JsonBody, db: Db) -> JSONResponse:
    created, absence = await service.record_absence(db, body, client.name)
    return JSONResponse(absence, status_code=201 if created else 200)


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
) -> JSONResponse:
    return JSONResponse(await service.change_absence(db, absence_id, body, client.name))


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
) -> JSONResponse:
    return JSONResponse(
        await service.list_absences(db, institution_id, person_id, from_date, to_date, after, limit)
    )


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
) -> JSONResponse:
    return JSONResponse(
        await service.institution_notices(
            db, institution_id, class_name, section, person_id, from_date, to_date, school_year
        )
    )


@router.get(
    "/institutions/{institutionId}/months/{month}",
    summary="A month's figures per pupil: unexcused lessons and preschool days, late arrivals",
    response_model=MonthFigures,
)
async def month_figures(
    request: Request,
    institution_id: Annotated[int, Path(alias="institutionId", ge=1, le=MAX_ID)],
    month: Annotated[
        str, Path(pattern=r"^(19|20)[0-9]{2}-(0[1-9]|1[0-2])$", description="YYYY-MM")
    ],
    client: FiguresClient,
    db: Db,
) -> JSONResponse:
    settings = request.app.state.settings
    first_day = dt.date(int(month[:4]), int(month[5:]), 1)
    limits = service.BenefitLimits(
        settings.limit_lessons, settings.limit_days, settings.late_weight
    )
    return JSONResponse(
        await service.month_figures(db, institution_id, first_day, limits, client.region)
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

    recheck = functools.partial(authenticate, request)
    return JSONResponse(await feed.long_poll(request, client.id, wait, look, recheck))
