"""The console's search: a form POST (an identifier stays out of URLs, history and proxy
logs), its criteria kept with the session, and its pages read back from there; filters by
status, match and dates; errors next to their fields with the input kept."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from notegateway.console import sessions
from notegateway.console.render import (
    MAX_OFFSET,
    not_a_number_page,
    number,
    page,
    refused_page,
)
from notegateway.console.router import ConsoleSession, checked
from notegateway.console.sessions import Session
from notegateway.core.deps import Db
from notegateway.core.errors import DomainError, Forbidden
from notegateway.core.scope import refuse_regional
from notegateway.core.timeutil import MAX_YEAR, MIN_YEAR
from notegateway.ops import service as ops_service

router = APIRouter(prefix="/console", include_in_schema=False)
PAGE_SIZE = 50
Field = Annotated[str, Form(max_length=200)]


@dataclass(frozen=True, slots=True)
class Criteria:
    """A search as the form gave it; each empty one is no filter."""

    nrn: str = ""
    examination: str = ""
    identifier: str = ""
    status: str = ""
    match: str = ""
    from_date: str = ""  # ISO
    to_date: str = ""

    def query(self) -> ops_service.NoteQuery:
        return ops_service.NoteQuery(
            match=self.match or None,
            status=self.status or None,
            nrn=self.nrn or None,
            nrn_examination=self.examination or None,
            identifier=self.identifier or None,
            from_date=dt.date.fromisoformat(self.from_date) if self.from_date else None,
            to_date=dt.date.fromisoformat(self.to_date) if self.to_date else None,
        )


def parse_day(text: str) -> dt.date | None:
    """A date as a browser's date field sends it (2026-11-18) or as people type it
    (18.11.2026); None when it is neither."""
    text = text.strip()
    for layout in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            day = dt.datetime.strptime(text, layout).date()
        except ValueError:
            continue
        return day if MIN_YEAR <= day.year <= MAX_YEAR else None  # no date arithmetic overflows
    return None


def judged(session: Session, form: dict[str, str]) -> tuple[Criteria, dict[str, str]]:
    """The criteria and, per field, what is wrong with it (in Bulgarian)."""
    errors: dict[str, str] = {}
    for name in ("nrn", "examination", "identifier"):
        if 0 < len(form[name]) < 4:
            errors[name] = "Въведете поне 4 знака."
    if form["status"] not in ("", "active", "cancelled"):
        errors["status"] = "Изберете от списъка."
    if form["match"] not in ("", "matched", "unmatched"):
        errors["match"] = "Изберете от списъка."
    elif form["match"] == "unmatched":
        try:  # the same refusal the search itself applies (core/scope.py)
            refuse_regional(session.client.region, "unmatched notes")
        except Forbidden:
            errors["match"] = "Бележките без открит ученик не са достъпни за оператор на регион."
    days: dict[str, dt.date | None] = {}
    for name in ("from_date", "to_date"):
        days[name] = parse_day(form[name]) if form[name] else None
        if form[name] and days[name] is None:
            errors[name] = "Въведете дата във вида ДД.ММ.ГГГГ."
    start, end = days["from_date"], days["to_date"]
    if start and end and start > end:
        errors["to_date"] = "Крайната дата е преди началната."
    criteria = Criteria(
        nrn=form["nrn"],
        examination=form["examination"],
        identifier=form["identifier"],
        status=form["status"],
        match=form["match"],
        from_date=start.isoformat() if start else "",
        to_date=end.isoformat() if end else "",
    )
    return criteria, errors


def _stored(session: Session) -> Criteria | None:
    if session.search is None:
        return None
    try:
        return Criteria(**json.loads(session.search))
    except (TypeError, ValueError):
        return None


def _form_page(
    session: Session, shown: Criteria, status: int = 200, **context: Any
) -> HTMLResponse:
    return page("search.html", status, session=session, current="search", wanted=shown, **context)


@router.get("", response_class=HTMLResponse)
async def search_form(session: ConsoleSession) -> HTMLResponse:
    return _form_page(session, Criteria(), found=None)


@router.post("/search")
async def search(
    session: ConsoleSession,
    db: Db,
    csrf: Field = "",
    nrn: Field = "",
    examination: Field = "",
    identifier: Field = "",
    keep_identifier: Field = "",
    status: Field = "",
    match: Field = "",
    from_date: Field = "",
    to_date: Field = "",
) -> Response:
    checked(session, csrf)
    stored = _stored(session)
    if not identifier.strip() and keep_identifier and stored is not None:
        identifier = stored.identifier  # the masked one shown: searched for again
    form = {
        "nrn": nrn.strip()[:12],
        "examination": examination.strip()[:12],
        "identifier": identifier.strip()[:32],
        "status": status,
        "match": match,
        "from_date": from_date,
        "to_date": to_date,
    }
    criteria, errors = judged(session, form)
    if errors:
        shown = Criteria(**{**form, "from_date": from_date, "to_date": to_date})
        return _form_page(session, shown, 400, found=None, errors=errors)
    await sessions.remember_search(db, session, json.dumps(asdict(criteria), ensure_ascii=False))
    return RedirectResponse("/console/search", status_code=303)


@router.get("/search", response_class=HTMLResponse)
async def results(session: ConsoleSession, db: Db, offset: str = "0") -> Response:
    """A page of the last search's results (its criteria are the session's)."""
    criteria = _stored(session)
    if criteria is None:
        return RedirectResponse("/console", status_code=303)
    first = number(offset, 0, MAX_OFFSET)
    if first is None:
        return not_a_number_page(session, 0, MAX_OFFSET)
    try:
        found = await ops_service.search_notes(
            db, criteria.query(), PAGE_SIZE, first, session.client.region
        )
    except DomainError as exc:
        return refused_page(session, exc)
    return _form_page(session, criteria, found=found, offset=first, size=PAGE_SIZE)
