"""What every HTTP answer gets, whatever the route: oversized headers refused (431) before
anything else runs, and personal data kept out of caches (`Cache-Control: no-store`)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from notegateway.core.errors import problem

MAX_HEADER_BYTES = 64 * 1024
# Everything under /api and the console may carry personal data.
_NO_STORE_PREFIXES = ("/api/", "/console")


class GuardMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
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
