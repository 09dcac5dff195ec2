"""The console's working pages: the unmatched queue, the review list and its confirmed
decisions, rejections, vendors, a pupil's notes, reported months and the illness-wave
chart. Each does what its operators' API endpoint does, by the same service call."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from notegateway.console import chart, glossary, sessions
from notegateway.console.render import (
    MAX_OFFSET,
    day_text,
    lesson_text,
    not_a_number_page,
    number,
    page,
    refused_page,
)
from notegateway.console.router import ConsoleSession, checked
from notegateway.console.search import parse_day
from notegateway.console.sessions import Session
from notegateway.core.db import rehearsal
from notegateway.core.deps import Db
from notegateway.core.errors import DomainError, Forbidden
from notegateway.core.scope import refuse_regional
from notegateway.core.wire import MAX_ID
from notegateway.diary import figures_service, parents_service
from notegateway.ops import service as ops_service
from notegateway.ops import wave as wave_service
from notegateway.ops.schemas import ReviewItem
from notegateway.vendors import service as vendors_service

router = APIRouter(prefix="/console", include_in_schema=False)
Text = Annotated[str, Form(max_length=500)]
PAGE_SIZE = 50


def _national_only(session: Session, what: str) -> HTMLResponse | None:
    """The refusal page for an operator limited to a region (core/scope.py), else None."""
    try:
        refuse_regional(session.client.region, what)
    except Forbidden as exc:
        return refused_page(session, exc)
    return None


@router.get("/unmatched", response_class=HTMLResponse)
async def unmatched(session: ConsoleSession, db: Db, offset: str = "0") -> HTMLResponse:
    """The queue of notes waiting for their pupil, the longest waiting first."""
    start = number(offset, 0, MAX_OFFSET)
    if start is None:
        return not_a_number_page(session, 0, MAX_OFFSET)
    query = ops_service.NoteQuery(match="unmatched", status="active", oldest_first=True)
    try:
        found = await ops_service.search_notes(db, query, PAGE_SIZE, start, session.client.region)
    except DomainError as exc:
        return refused_page(session, exc)
    return page(
        "unmatched.html",
        session=session,
        current="unmatched",
        found=found,
        offset=start,
        size=PAGE_SIZE,
    )


async def _review_page(
    db: asyncpg.Connection,
    session: Session,
    after: str | None,
    status: int = 200,
    errors: dict[int, str] | None = None,
) -> HTMLResponse:
    try:
        listed = await ops_service.review(db, after, PAGE_SIZE, session.client.region)
    except DomainError as exc:
        return refused_page(session, exc)
    names = await ops_service.institution_names(
        db, [r.absence.institution_id for r in listed.items]
    )
    return page(
        "review.html",
        status,
        session=session,
        current="review",
        listed=listed,
        names=names,
        errors=errors or {},
    )


@router.get("/review", response_class=HTMLResponse)
async def review(session: ConsoleSession, db: Db, after: str | None = None) -> HTMLResponse:
    return await _review_page(db, session, after)


def _absence_words(item: ReviewItem, names: dict[int, str]) -> str:
    absence = item.absence
    day, lesson = day_text(absence.date), lesson_text(absence.lesson)
    where = names.get(absence.institution_id, "институция")
    return f"отсъствието на ученик № {absence.person_id} на {day}, {lesson}, в {where}"


@router.post("/review/{absence_id}/resolve")
async def resolve(
    absence_id: str,
    session: ConsoleSession,
    db: Db,
    csrf: Text = "",
    resolution: Text = "",
    reason: Text = "",
    confirmed: Text = "",
    was: Text = "",
) -> Response:
    """Decide a listed absence: first a page that says what will become of it, then,
    confirmed, the decision, and a message saying what was done. The confirmation names
    the absence's kind when it was shown (`was`): changed meanwhile, it is asked again."""
    checked(session, csrf)
    absence = number(absence_id, 1, MAX_ID)
    if absence is None:
        return not_a_number_page(session, 1, MAX_ID)
    if resolution not in ("keep", "unexcuse") or not reason.strip():
        problem = "Посочете причина: тя остава в историята на бележката."
        return await _review_page(db, session, None, 422, {absence: problem})
    region, actor = session.client.region, session.client.name
    try:
        listed = await ops_service.review_item(db, absence, region)
        names = await ops_service.institution_names(db, [listed.absence.institution_id])
        words = _absence_words(listed, names)
        if confirmed != "yes" or was != listed.absence.kind:
            async with rehearsal(db):
                await ops_service.resolve_review(
                    db, absence, resolution, reason.strip(), actor, region
                )
                kind = await ops_service.absence_kind(db, absence)
            kinds = (listed.absence.kind, kind)
            return _confirm_resolution(session, absence, resolution, reason.strip(), words, kinds)
        await ops_service.resolve_review(db, absence, resolution, reason.strip(), actor, region)
        kind = await ops_service.absence_kind(db, absence)
    except DomainError as exc:
        return refused_page(session, exc)
    done = f"Прегледано: {words} е {glossary.term(glossary.KINDS, kind)} и излезе от списъка."
    await sessions.say(db, session, done[0].upper() + done[1:])
    return RedirectResponse("/console/review", status_code=303)


def _confirm_resolution(
    session: Session,
    absence: int,
    resolution: str,
    reason: str,
    words: str,
    kinds: tuple[str, str | None],
) -> HTMLResponse:
    """What the decision will do, as its rehearsal did it (`kinds`: now, and after)."""
    now, kind = kinds
    verb = "ще остане" if kind == now else "ще стане"
    consequences = [
        f"{words[0].upper() + words[1:]} {verb} {glossary.term(glossary.KINDS, kind)}.",
        "То излиза от списъка за преглед."
        + (" Бележката няма да го уважи отново." if resolution == "keep" else ""),
    ]
    return page(
        "confirm.html",
        session=session,
        current="review",
        title="Решение за отсъствие",
        consequences=consequences,
        action=f"/console/review/{absence}/resolve",
        fields={"resolution": resolution, "reason": reason, "was": now},
        reason=reason,
        back="/console/review",
        button="Потвърди решението",
        danger=kind == "unexcused" and now != "unexcused",  # a family's benefit at stake
    )


@router.get("/rejections", response_class=HTMLResponse)
async def rejections(session: ConsoleSession, db: Db, after: str | None = None) -> HTMLResponse:
    try:
        listed = await ops_service.rejections(
            db, None, None, None, after, PAGE_SIZE, session.client.region
        )
    except DomainError as exc:
        return refused_page(session, exc)
    return page("rejections.html", session=session, current="rejections", listed=listed)


@router.get("/vendors", response_class=HTMLResponse)
async def vendors(session: ConsoleSession, db: Db) -> HTMLResponse:
    try:  # the whole country's vendors: feed lag and acks of every region
        listed = await vendors_service.vendors_status(db, session.client.region)
    except DomainError as exc:
        return refused_page(session, exc)
    return page("vendors.html", session=session, current="vendors", vendors=listed)


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
        return not_a_number_page(session, 1, MAX_ID)
    year = number(school_year, 2000, 2999) if school_year.strip() else None
    if school_year.strip() and year is None:
        return not_a_number_page(session, 2000, 2999)
    try:
        listed = await parents_service.person_notices(db, person, year)
    except DomainError as exc:
        return refused_page(session, exc)
    ids = [d.institution_id for n in listed.items for d in n.days if d.institution_id is not None]
    names = await ops_service.institution_names(db, ids)
    return page("pupil.html", session=session, current="search", pupil=listed, names=names)


@router.get("/months", response_class=HTMLResponse)
async def months(session: ConsoleSession, db: Db, offset: str = "0") -> HTMLResponse:
    """The reported months, the latest first, a page at a time."""
    start = number(offset, 0, MAX_OFFSET)
    if start is None:
        return not_a_number_page(session, 0, MAX_OFFSET)
    region = session.client.region
    listed = await figures_service.reported_months(db, region, PAGE_SIZE + 1, start)
    return page(
        "months.html",
        session=session,
        current="months",
        months=listed[:PAGE_SIZE],
        more=len(listed) > PAGE_SIZE,
        offset=start,
        size=PAGE_SIZE,
    )


@router.get("/institutions/{institution_id}/months/{month}", response_class=HTMLResponse)
async def corrections(
    institution_id: str, month: str, request: Request, session: ConsoleSession, db: Db
) -> HTMLResponse:
    """A reported month's corrections (as the API's …/corrections), for the operator's region."""
    institution = number(institution_id, 1, MAX_ID)
    if institution is None:
        return not_a_number_page(session, 1, MAX_ID)
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
        return refused_page(session, exc)
    return page("corrections.html", session=session, current="months", found=found)


@router.get("/wave", response_class=HTMLResponse)
async def wave(
    session: ConsoleSession, db: Db, from_date: str = "", to_date: str = "", by: str = "region"
) -> HTMLResponse:
    by = by if by in ("region", "town") else "region"
    start = parse_day(from_date) if from_date else None
    end = parse_day(to_date) if to_date else None
    errors = {
        name: "Въведете дата във вида ДД.ММ.ГГГГ."
        for name, text, day in (("from_date", from_date, start), ("to_date", to_date, end))
        if text and day is None
    }
    figures = None
    if not errors:
        try:
            figures = await wave_service.notes_by_day(db, start, end, by, session.client.region)
        except DomainError as exc:
            if exc.status_code != 400:
                return refused_page(session, exc)
            errors["to_date"] = "Периодът е от 1 до 366 дни, а крайната дата не е преди началната."
    context: dict[str, Any] = {"session": session, "current": "wave", "by": by, "errors": errors}
    if figures is None:
        return page(
            "wave.html", 400, lines={}, days=[], from_date=from_date, to_date=to_date, **context
        )
    lines = chart.series(figures.items, by)
    title = "Ученици с медицинска бележка по дни"
    days = sorted({day for points in lines.values() for day, _ in points})
    return page(
        "wave.html",
        wide=chart.svg(lines, title, chart.WIDE, "chart chart-wide"),
        narrow=chart.svg(lines, title, chart.NARROW, "chart chart-narrow"),
        legend=[(name, chart.swatch(colour)) for name, colour in chart.colours(lines).items()],
        lines=lines,
        days=days,
        from_date=days[0].isoformat() if days else from_date,
        to_date=days[-1].isoformat() if days else to_date,
        **context,
    )
