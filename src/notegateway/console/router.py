"""HTTP of the console: /console, server-rendered, every form carrying its CSRF token."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from notegateway.clients import service as clients_service
from notegateway.clients.auth import peer_is_trusted_proxy
from notegateway.clients.schemas import Role
from notegateway.console import sessions
from notegateway.console.sessions import Session
from notegateway.core.deps import Db
from notegateway.core.errors import NotFound, Unauthorized
from notegateway.core.identifiers import mask
from notegateway.core.timeutil import SOFIA
from notegateway.ops import service as ops_service

router = APIRouter(prefix="/console", include_in_schema=False)
_templates = Environment(
    loader=PackageLoader("notegateway.console"), autoescape=select_autoescape(default=True)
)
_templates.filters["mask"] = lambda value: mask(str(value)) if value else value


# Times as Sofia's clocks show them.
def _when(value: dt.datetime | str) -> str:
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(SOFIA).strftime("%d.%m.%Y %H:%M")


_templates.filters["when"] = _when
_templates.filters["day"] = lambda value: dt.date.fromisoformat(str(value)[:10]).strftime(
    "%d.%m.%Y"
)


def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(_templates.get_template(name).render(**context), status_code=status)


class SignInNeeded(Exception):
    """No live session: to the sign-in page."""


async def _session(request: Request, db: Db) -> Session:
    found = await sessions.find(db, request.cookies.get(sessions.COOKIE))
    if found is None:
        raise SignInNeeded
    return found


ConsoleSession = Annotated[Session, Depends(_session)]


def checked(session: Session, csrf: str | None) -> None:
    if not sessions.csrf_ok(session.csrf, csrf):
        raise CsrfRefused


def _signin_page(request: Request, status: int = 200, error: str | None = None) -> HTMLResponse:
    token = sessions.signin_token(request.app.state.form_key)
    response = page("signin.html", status, csrf=token, error=error)
    response.set_cookie(
        sessions.SIGNIN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/console",
    )
    return response


def _secure(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "").strip().lower() == "https"
    trusted = forwarded and peer_is_trusted_proxy(request, request.app.state.settings)
    return sessions.cookie_secure(request.url.scheme, request.url.hostname or "", trusted)


@router.get("/signin", response_class=HTMLResponse)
async def signin_form(request: Request) -> HTMLResponse:
    return _signin_page(request)


@router.post("/signin", response_class=HTMLResponse)
async def signin(
    request: Request,
    db: Db,
    token: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    cookie = request.cookies.get(sessions.SIGNIN_COOKIE)
    if not sessions.signin_token_ok(request.app.state.form_key, cookie, csrf or None):
        return page("error.html", 403, message="Формулярът е изтекъл. Опитайте отново.")
    try:
        client = await clients_service.authenticate(
            db, request.app.state.token_key, token.strip() or None, None
        )
    except Unauthorized:
        client = None
    if client is None or client.role is not Role.OPERATOR:
        return _signin_page(request, 401, "Невалиден ключ на оператор.")
    session_id, _csrf = await sessions.start(db, client)
    signed_in = RedirectResponse("/console", status_code=303)
    signed_in.set_cookie(
        sessions.COOKIE,
        session_id,
        max_age=int(sessions.expires_in().total_seconds()),
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/console",
    )
    signed_in.delete_cookie(sessions.SIGNIN_COOKIE, path="/console")
    return signed_in


@router.post("/signout")
async def signout(
    request: Request,
    session: ConsoleSession,
    db: Db,
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    checked(session, csrf)
    await sessions.end(db, request.cookies.get(sessions.COOKIE, ""))
    response = RedirectResponse("/console/signin", status_code=303)
    response.delete_cookie(sessions.COOKIE, path="/console")
    return response


@router.get("", response_class=HTMLResponse)
async def search_form(session: ConsoleSession) -> HTMLResponse:
    return page("search.html", session=session, wanted={}, found=None)


@router.post("/search", response_class=HTMLResponse)
async def search(
    session: ConsoleSession,
    db: Db,
    csrf: Annotated[str, Form(max_length=200)] = "",
    nrn: Annotated[str, Form(max_length=200)] = "",
    examination: Annotated[str, Form(max_length=200)] = "",
    identifier: Annotated[str, Form(max_length=200)] = "",
) -> HTMLResponse:
    """A form POST: an identifier searched for stays out of URLs, browser history and
    proxy logs, and the page shows it masked only."""
    checked(session, csrf)
    wanted = {
        "nrn": nrn.strip()[:12],
        "examination": examination.strip()[:12],
        "identifier": identifier.strip()[:32],
    }
    if any(0 < len(value) < 4 for value in wanted.values()):
        error = "Въведете поне 4 знака от номера или идентификатора."
        return page("search.html", 400, session=session, wanted=wanted, found=None, error=error)
    found = await _notes(db, session, **wanted) if any(wanted.values()) else None
    return page("search.html", session=session, wanted=wanted, found=found)


async def _notes(
    db: asyncpg.Connection, session: Session, nrn: str, examination: str, identifier: str
) -> dict[str, Any]:
    return await ops_service.search_notes(
        db,
        match=None,
        status=None,
        nrn=nrn or None,
        nrn_examination=examination or None,
        identifier=identifier or None,
        from_date=None,
        to_date=None,
        limit=50,
        offset=0,
        region=session.client.region,
    )


@router.get("/notes/{nrn}", response_class=HTMLResponse)
async def note(nrn: str, session: ConsoleSession, db: Db) -> HTMLResponse:
    try:
        view = await ops_service.note_with_audit(db, nrn[:12], session.client.region)
    except NotFound:
        return page("error.html", 404, session=session, message=f"Няма бележка {nrn[:12]}.")
    names = await ops_service.institution_names(
        db, [p["institutionId"] for p in view["placements"]]
    )
    return page("note.html", session=session, note=view, names=names)


class CsrfRefused(Exception):
    """A form without its session's CSRF token."""


def install(app: Any) -> None:
    """The console's routes, its static files and its two answers that are not pages."""
    from fastapi.staticfiles import StaticFiles

    async def to_signin(request: Request, exc: Exception) -> Response:
        return RedirectResponse("/console/signin", status_code=303)

    async def refused(request: Request, exc: Exception) -> Response:
        return page("error.html", 403, message="Заявката е отказана: липсва защитата на формуляра.")

    app.add_exception_handler(SignInNeeded, to_signin)
    app.add_exception_handler(CsrfRefused, refused)
    app.mount(
        "/console/static",
        StaticFiles(packages=[("notegateway.console", "static")]),
        name="console-static",
    )
    from notegateway.console.pages import router as pages_router

    app.include_router(router)
    app.include_router(pages_router)
