"""What every HTTP answer gets, whatever the route: beyond NOTEGATEWAY_MAX_REQUESTS in
progress in this process (not counting /health and /metrics, which stay answerable) a
503 with Retry-After (uvicorn's own cap, on connections,
answers a bare 503 without one), oversized headers refused (431) before anything else
runs (the HTTP server cuts them earlier still: core/http_protocol.py), personal data kept
out of caches (`Cache-Control: no-store`), and the headers a public web service sends on
every page: a Content-Security-Policy that allows only the gateway's own files and no
framing, `nosniff`, and no referrer."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from notegateway.core.errors import problem

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


class GuardMiddleware:
    def __init__(self, app: ASGIApp, max_requests: int) -> None:
        self.app = app
        self.max_requests = max_requests
        self.in_progress = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        capped = scope["path"].startswith(_NO_STORE_PREFIXES)  # not /health, /metrics
        if not capped:
            await self._guarded(scope, receive, send)
            return
        if self.in_progress >= self.max_requests:
            response = problem(
                503,
                "overloaded",
                "Service unavailable",
                "the server has too many requests in progress; try again shortly",
                retry_after=1,
            )
            await response(scope, receive, send)
            return
        self.in_progress += 1
        try:
            await self._guarded(scope, receive, send)
        finally:
            self.in_progress -= 1

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        size = sum(len(name) + len(value) + 4 for name, value in scope["headers"])
        if size > MAX_HEADER_BYTES:
            response = problem(
                431,
                "headers-too-large",
                "Request header fields too large",
                f"the request headers exceed {MAX_HEADER_BYTES} bytes",
            )
            await response(scope, receive, send)
            return
        private = scope["path"].startswith(_NO_STORE_PREFIXES)

        async def headed(message: Message) -> None:
            if message["type"] == "http.response.start":
                replaced = _SECURITY_NAMES | ({b"cache-control"} if private else set())
                message["headers"] = [
                    *(h for h in message.get("headers", []) if h[0].lower() not in replaced),
                    *_SECURITY_HEADERS,
                    *([(b"cache-control", b"no-store")] if private else []),
                ]
            await send(message)

        await self.app(scope, receive, headed)
