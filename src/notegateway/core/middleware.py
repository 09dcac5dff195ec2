"""What every HTTP answer gets, whatever the route: beyond NOTEGATEWAY_MAX_REQUESTS in
progress in this process (not counting /health and /metrics, which stay answerable) a
503 with Retry-After (uvicorn's own cap, on connections,
answers a bare 503 without one), oversized headers refused (431) before anything else
runs, and personal data kept out of caches (`Cache-Control: no-store`)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from notegateway.core.errors import problem

MAX_HEADER_BYTES = 64 * 1024
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
        if not scope["path"].startswith(_NO_STORE_PREFIXES):
            await self.app(scope, receive, send)
            return

        async def no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *(h for h in message.get("headers", []) if h[0].lower() != b"cache-control"),
                    (b"cache-control", b"no-store"),
                ]
            await send(message)

        await self.app(scope, receive, no_store)
