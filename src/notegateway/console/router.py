"""HTTP of the console: /console, server-rendered, every form carrying its CSRF token."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from notegateway.clients import service as clients_service
from notegateway.clients.auth import peer_is_trusted_proxy
from notegateway.clients.schemas import Role
from notegateway.console import sessions
from notegateway.console.render import error_page, page, refused_page
from notegateway.console.sessions import Session
from notegateway.core.deps import Db
from notegateway.core.errors import DomainError, Unauthorized

router = APIRouter(prefix="/console", include_in_schema=False)


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
        return error_page(None, 403, "Формулярът е изтекъл. Опитайте отново.")
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


class CsrfRefused(Exception):
    """A form without its session's CSRF token."""


def install(app: Any) -> None:
    """The console's routes, its static files, and its answers that are not pages: to the
    sign-in page without a session; an HTML error page (never JSON) for a refused form, an
    unknown address or a request FastAPI itself refuses under /console."""
    from fastapi.exceptions import RequestValidationError
    from fastapi.staticfiles import StaticFiles
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from notegateway.console.notes import router as notes_router
    from notegateway.console.pages import router as pages_router
    from notegateway.console.search import router as search_router

    async def to_signin(request: Request, exc: Exception) -> Response:
        return RedirectResponse("/console/signin", status_code=303)

    async def refused(request: Request, exc: Exception) -> Response:
        return error_page(None, 403, "Заявката е отказана: липсва защитата на формуляра.")

    def as_page(original: Any, status: int | None, message: str) -> Any:
        async def handler(request: Request, exc: Exception) -> Response:
            if not request.url.path.startswith("/console"):
                return await original(request, exc) if original else Response(status_code=500)
            code: int = status if status is not None else int(getattr(exc, "status_code", 400))
            return error_page(None, code, _HTTP_MESSAGES.get(code, message))

        return handler

    domain_original = app.exception_handlers.get(DomainError)

    async def domain_page(request: Request, exc: Exception) -> Response:
        if not request.url.path.startswith("/console") or not isinstance(exc, DomainError):
            original: Response = await domain_original(request, exc)
            return original
        answer = refused_page(None, exc)
        if exc.retry_after is not None:  # 429, 503: when to try again
            answer.headers["Retry-After"] = str(exc.retry_after)
        return answer

    app.add_exception_handler(DomainError, domain_page)
    app.add_exception_handler(SignInNeeded, to_signin)
    app.add_exception_handler(CsrfRefused, refused)
    handlers = app.exception_handlers
    app.add_exception_handler(
        RequestValidationError,
        as_page(handlers.get(RequestValidationError), 400, "Данните във формуляра са невалидни."),
    )
    app.add_exception_handler(
        StarletteHTTPException,
        as_page(handlers.get(StarletteHTTPException), None, "Няма такава страница."),
    )
    app.mount(
        "/console/static",
        StaticFiles(packages=[("notegateway.console", "static")]),
        name="console-static",
    )
    app.include_router(router)
    app.include_router(search_router)
    app.include_router(notes_router)
    app.include_router(pages_router)


_HTTP_MESSAGES = {
    404: "Няма такава страница.",
    405: "Тази страница не приема такава заявка.",
    413: "Формулярът е твърде голям.",
}
