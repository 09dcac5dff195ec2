"""The console's working pages: the unmatched queue and its match form, the review list,
rejections, vendors, the illness-wave chart, and the note's helpdesk forms. Each does
what its operators' API endpoint does, by the same service call."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from notegateway.console import chart
from notegateway.console.router import ConsoleSession, checked, page
from notegateway.core.deps import Db
from notegateway.core.errors import DomainError, Forbidden
from notegateway.core.scope import refuse_regional
from notegateway.diary import figures_service, parents_service
from notegateway.notices import service as notices_service
from notegateway.ops import service as ops_service
from notegateway.registry.schemas import MAX_ID
from notegateway.vendors import service as vendors_service

router = APIRouter(prefix="/console", include_in_schema=False)
Text = Annotated[str, Form(max_length=500)]


def _refused(session: ConsoleSession, exc: DomainError) -> HTMLResponse:
    return page("error.html", exc.status_code, session=session, message=exc.detail)


def _national_only(session: ConsoleSession, what: str) -> HTMLResponse | None:
    """The refusal page for an operator limited to a region (core/scope.py), else None."""
    try:
        refuse_regional(session.client.region, what)
    except Forbidden as exc:
        return _refused(session, exc)
    return None


MAX_OFFSET = 1_000_000
NOT_A_NUMBER = "Въведете цяло число от {low} до {high}."


def number(text: str, low: int, high: int) -> int | None:
    """A whole number from a form or an address, within low..high, or None (the page
    then says so: an out-of-range number is never a 500)."""
    text = text.strip()
    if not text.isascii() or not text.lstrip("-").isdigit() or len(text) > 20:
        return None
    value = int(text)
    return value if low <= value <= high else None


def _not_a_number(session: ConsoleSession, low: int, high: int) -> HTMLResponse:
    message = NOT_A_NUMBER.format(low=low, high=high)
    return page("error.html", 400, session=session, message=message)


@router.get("/unmatched", response_class=HTMLResponse)
async def unmatched(session: ConsoleSession, db: Db, offset: str = "0") -> HTMLResponse:
    if refused := _national_only(session, "unmatched notes"):
        return refused
    start = number(offset, 0, MAX_OFFSET)
    if start is None:
        return _not_a_number(session, 0, MAX_OFFSET)
    found = await ops_service.search_notes(
        db,
        match="unmatched",
        status="active",
        nrn=None,
        nrn_examination=None,
        identifier=None,
        from_date=None,
        to_date=None,
        limit=50,
        offset=start,
        region=None,
    )
    return page("unmatched.html", session=session, found=found, offset=start)


@router.post("/notes/{nrn}/match")
async def match(
    nrn: str,
    session: ConsoleSession,
    db: Db,
    csrf: Text = "",
    person_id: Text = "",
    reason: Text = "",
) -> Response:
    checked(session, csrf)
    try:
        refuse_regional(session.client.region, "links by hand")
        wanted = number(person_id, 1, MAX_ID) if person_id.strip() else None
        if person_id.strip() and wanted is None:
            return _not_a_number(session, 1, MAX_ID)
        if not reason.strip():
            return page("error.html", 422, session=session, message="Посочете причина.")
        await notices_service.link(db, nrn[:12], wanted, reason.strip(), session.client.name)
    except DomainError as exc:
        return _refused(session, exc)
    return RedirectResponse(f"/console/notes/{nrn[:12]}", status_code=303)


@router.post("/notes/{nrn}/redeliver")
async def redeliver(
    nrn: str,
    session: ConsoleSession,
    db: Db,
    csrf: Text = "",
    vendor: Text = "",
    reason: Text = "",
) -> Response:
    checked(session, csrf)
    if not reason.strip() or not vendor.strip():
        return page("error.html", 422, session=session, message="Посочете дневник и причина.")
    try:
        await ops_service.redeliver(
            db, nrn[:12], vendor.strip(), reason.strip(), session.client.name, session.client.region
        )
    except DomainError as exc:
        return _refused(session, exc)
    return RedirectResponse(f"/console/notes/{nrn[:12]}", status_code=303)


@router.get("/review", response_class=HTMLResponse)
async def review(session: ConsoleSession, db: Db, after: str | None = None) -> HTMLResponse:
    try:
        listed = await ops_service.review(db, after, 50, session.client.region)
    except DomainError as exc:
        return _refused(session, exc)
    names = await ops_service.institution_names(
        db, [r["absence"]["institutionId"] for r in listed["items"]]
    )
    return page("review.html", session=session, listed=listed, names=names)


@router.post("/review/{absence_id}/resolve")
async def resolve(
    absence_id: str,
    session: ConsoleSession,
    db: Db,
    csrf: Text = "",
    resolution: Text = "",
    reason: Text = "",
) -> Response:
    checked(session, csrf)
    absence = number(absence_id, 1, MAX_ID)
    if absence is None:
        return _not_a_number(session, 1, MAX_ID)
    if resolution not in ("keep", "unexcuse") or not reason.strip():
        return page("error.html", 422, session=session, message="Изберете решение и причина.")
    try:
        await ops_service.resolve_review(
            db, absence, resolution, reason.strip(), session.client.name, session.client.region
        )
    except DomainError as exc:
        return _refused(session, exc)
    return RedirectResponse("/console/review", status_code=303)


@router.get("/rejections", response_class=HTMLResponse)
async def rejections(session: ConsoleSession, db: Db, after: str | None = None) -> HTMLResponse:
    try:
        refuse_regional(session.client.region, "rejections")
        listed = await ops_service.rejections(db, None, None, None, after, 50)
    except DomainError as exc:
        return _refused(session, exc)
    return page("rejections.html", session=session, listed=listed)


@router.get("/vendors", response_class=HTMLResponse)
async def vendors(session: ConsoleSession, db: Db) -> HTMLResponse:
    # the whole country's vendors: feed lag and acks of every region
    if refused := _national_only(session, "vendors"):
        return refused
    return page("vendors.html", session=session, vendors=await vendors_service.vendors_status(db))


@router.get("/pupils/{person_id}", response_class=HTMLResponse)
async def pupil(
    person_id: str, session: ConsoleSession, db: Db, school_year: str = ""
) -> HTMLResponse:
    """A pupil's notes as the parent view shows them: an operator on the phone with a
    parent sees what the parent sees. The whole country's operators only."""
    if refused := _national_only(session, "pupils' lists"):
        return refused
    person = number(person_id, 1, MAX_ID)
    if person is None:
        return _not_a_number(session, 1, MAX_ID)
    year = number(school_year, 2000, 2999) if school_year.strip() else None
    if school_year.strip() and year is None:
        return _not_a_number(session, 2000, 2999)
    try:
        listed = await parents_service.person_notices(db, person, year)
    except DomainError as exc:
        return _refused(session, exc)
    ids = [d["institutionId"] for n in listed["items"] for d in n["days"] if "institutionId" in d]
    names = await ops_service.institution_names(db, ids)
    return page("pupil.html", session=session, pupil=listed, names=names)


@router.get("/months", response_class=HTMLResponse)
async def months(session: ConsoleSession, db: Db) -> HTMLResponse:
    listed = await figures_service.reported_months(db, session.client.region)
    return page("months.html", session=session, months=listed)


@router.get("/institutions/{institution_id}/months/{month}", response_class=HTMLResponse)
async def corrections(
    institution_id: str, month: str, request: Request, session: ConsoleSession, db: Db
) -> HTMLResponse:
    """A reported month's corrections (as the API's …/corrections), for the operator's region."""
    institution = number(institution_id, 1, MAX_ID)
    if institution is None:
        return _not_a_number(session, 1, MAX_ID)
    try:
        first_day = dt.date.fromisoformat(f"{month}-01")
    except ValueError:
        return page("error.html", 400, session=session, message="Месецът е във вида ГГГГ-ММ.")
    limits = figures_service.BenefitLimits.of(request.app.state.settings)
    try:
        found = await figures_service.corrections(
            db, institution, first_day, limits, session.client.region
        )
    except DomainError as exc:
        return _refused(session, exc)
    return page("corrections.html", session=session, found=found)


@router.get("/wave", response_class=HTMLResponse)
async def wave(
    session: ConsoleSession, db: Db, from_date: str = "", to_date: str = "", by: str = "region"
) -> HTMLResponse:
    by = by if by in ("region", "town") else "region"
    try:
        start = dt.date.fromisoformat(from_date) if from_date else None
        end = dt.date.fromisoformat(to_date) if to_date else None
        figures = await ops_service.notes_by_day(db, start, end, by, session.client.region)
    except ValueError:
        return page("error.html", 400, session=session, message="Датите са във вида ГГГГ-ММ-ДД.")
    except DomainError as exc:
        return _refused(session, exc)
    lines = chart.series(figures["items"], by)
    drawn = chart.svg(lines, "Ученици с медицинска бележка по дни")
    days = sorted({day for points in lines.values() for day, _ in points})
    return page(
        "wave.html",
        session=session,
        svg=drawn,
        lines=lines,
        days=days,
        by=by,
        from_date=days[0].isoformat() if days else from_date,
        to_date=days[-1].isoformat() if days else to_date,
    )
