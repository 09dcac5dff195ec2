"""Typed domain errors and the one place that turns every error into problem+json."""

from __future__ import annotations

import logging
from typing import Any, TypedDict

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class ErrorItem(TypedDict):
    """One error of a field: where (camelCase path) and what."""

    loc: list[str | int]
    msg: str


class DomainError(Exception):
    """An error the client caused or must know about; never a stack trace on the wire."""

    status_code = 400
    slug = "bad-request"
    title = "Bad request"
    retry_after: int | None = None  # seconds, sent as Retry-After

    def __init__(self, detail: str, errors: list[ErrorItem] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


class BadRequest(DomainError):
    pass


class Unauthorized(DomainError):
    status_code = 401
    slug = "unauthorized"
    title = "Unauthorized"


class Forbidden(DomainError):
    status_code = 403
    slug = "forbidden"
    title = "Forbidden"


class NotFound(DomainError):
    status_code = 404
    slug = "not-found"
    title = "Not found"


class Conflict(DomainError):
    status_code = 409
    slug = "conflict"
    title = "Conflict"


class PayloadTooLarge(DomainError):
    status_code = 413
    slug = "payload-too-large"
    title = "Payload too large"


class Unprocessable(DomainError):
    status_code = 422
    slug = "validation-error"
    title = "Invalid input"


class RequestTimeout(DomainError):
    status_code = 408
    slug = "request-timeout"
    title = "Request timeout"


class TooManyRequests(DomainError):
    status_code = 429
    slug = "too-many-requests"
    title = "Too many requests"
    retry_after = 1


class ServiceUnavailable(DomainError):
    """The database is unreachable, lost the connection, or did not answer in time."""

    status_code = 503
    slug = "unavailable"
    title = "Service unavailable"
    retry_after = 2


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str,
    errors: list[ErrorItem] | None = None,
    retry_after: int | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"/problems/{slug}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


_HTTP_SLUGS = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    413: ("payload-too-large", "Payload too large"),
}


def problem_of(exc: DomainError) -> JSONResponse:
    """The problem+json answer of a domain error."""
    return problem(exc.status_code, exc.slug, exc.title, exc.detail, exc.errors, exc.retry_after)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        if isinstance(exc, ServiceUnavailable):
            # One line, no trace: an outage would otherwise flood the log.
            cause = exc.__cause__
            log.warning("database unavailable: %s", type(cause).__name__ if cause else exc.detail)
        return problem_of(exc)

    @app.exception_handler(RequestValidationError)
    async def _params(_: Request, exc: RequestValidationError) -> JSONResponse:
        # Bodies are parsed by our own readers, so these are path and query parameters.
        errors: list[ErrorItem] = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        return problem(400, "bad-request", "Bad request", "invalid path or query parameter", errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug, title = _HTTP_SLUGS.get(exc.status_code, ("error", "Error"))
        response = problem(exc.status_code, slug, title, str(exc.detail))
        response.headers.update(exc.headers or {})  # e.g. Allow, on a 405
        return response


async def reject_nul_in_query(request: Request) -> None:
    """PostgreSQL cannot hold NUL: a query parameter with one is invalid (400), not a 500."""
    for name, value in request.query_params.multi_items():
        if "\x00" in value:
            raise BadRequest(
                "invalid query parameter", [{"loc": ["query", name], "msg": "contains NUL"}]
            )
