"""What every HTTP answer gets, whatever the route, in one pure-ASGI layer: beyond
NOTEGATEWAY_MAX_REQUESTS in progress in this process (not counting /health and /metrics,
which stay answerable) a 503 with Retry-After (uvicorn's own cap, on connections, answers
a bare 503 without one), oversized headers refused (431) before anything else runs (the
HTTP server cuts them earlier still: core/http_protocol.py), personal data kept out of
caches (`Cache-Control: no-store`), the headers a public web service sends on every page
(a Content-Security-Policy that allows only the gateway's own files and no framing,
`nosniff`, no referrer), the access log and request metrics (core/logging.py), and the
last word on unexpected errors."""

from __future__ import annotations

import logging
import time
import traceback

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from notegateway.core.errors import problem
from notegateway.core.logging import access

log = logging.getLogger("notegateway.core.errors")  # where unexpected errors were logged

MAX_HEADER_BYTES = 64 * 1024
# Pages load only the gateway's own scripts, styles and images (the console has no
# script; /docs runs Swagger UI from /docs/static), forms post only to the gateway, and
# no other site may frame a page.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
_SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]
_SECURITY_NAMES = frozenset(name for name, _ in _SECURITY_HEADERS)
# Everything under /api and the console may carry personal data.
_NO_STORE_PREFIXES = ("/api/", "/console")


class EdgeMiddleware:
    """Every HTTP request passes here once, on the way in and out (one pure-ASGI layer, where
    there were three: the guard, the access log and the last word on errors).

    In order: the cap on requests in progress (503), oversized headers (431), then the
    request; on the way out every answer gets the security headers (and `no-store` where
    personal data may be), is counted and logged (method, route template, status, time:
    never the path or the query), and an unexpected error becomes a bare 500 problem with
    a log line of its type and frames only (Starlette's own handler would log the
    exception's message, which may quote data)."""

    def __init__(self, app: ASGIApp, max_requests: int) -> None:
        self.app = app
        self.max_requests = max_requests
        self.in_progress = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        private = scope["path"].startswith(_NO_STORE_PREFIXES)  # capped: not /health, /metrics
        if private and self.in_progress >= self.max_requests:
            await _overloaded(scope, receive, send)
            return
        self.in_progress += private
        try:
            if (
                sum(len(name) + len(value) + 4 for name, value in scope["headers"])
                > MAX_HEADER_BYTES
            ):
                await _headers_too_large(scope, receive, send)
                return
            await self._answered(scope, receive, send, private)
        finally:
            self.in_progress -= private

    async def _answered(self, scope: Scope, receive: Receive, send: Send, private: bool) -> None:
        started = time.perf_counter()
        status = 0  # no answer begun yet

        async def answering(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                replaced = _SECURITY_NAMES | ({b"cache-control"} if private else set())
                message["headers"] = [
                    *(h for h in message.get("headers", []) if h[0].lower() not in replaced),
                    *_SECURITY_HEADERS,
                    *([(b"cache-control", b"no-store")] if private else []),
                ]
            await send(message)

        try:
            await self.app(scope, receive, answering)
        except ClientDisconnect:
            # The client left while its body was being read: nobody to answer, nothing
            # applied (the request's transaction had not begun, or was rolled back).
            log.info("the client went away before its request was read")
        except Exception as exc:
            log.error(
                "unhandled %s\n%s",
                type(exc).__name__,
                "".join(traceback.format_tb(exc.__traceback__)),
            )
            if not status:
                response = problem(
                    500, "internal-error", "Internal error", "the request could not be completed"
                )
                await response(scope, receive, answering)
        finally:
            access(scope, status or 500, time.perf_counter() - started)


async def _overloaded(scope: Scope, receive: Receive, send: Send) -> None:
    response = problem(
        503,
        "overloaded",
        "Service unavailable",
        "the server has too many requests in progress; try again shortly",
        retry_after=1,
    )
    await response(scope, receive, send)


async def _headers_too_large(scope: Scope, receive: Receive, send: Send) -> None:
    response = problem(
        431,
        "headers-too-large",
        "Request header fields too large",
        f"the request headers exceed {MAX_HEADER_BYTES} bytes",
    )
    await response(scope, receive, send)
