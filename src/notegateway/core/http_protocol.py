"""The HTTP server's own limits on request heads (uvicorn 0.55 with httptools has none):

- a head (request line and headers) over MAX_HEAD_BYTES is answered 431 and the
  connection closed as soon as that many bytes have arrived, never buffered whole (an
  8 MiB header is cut after 64 KiB and one read);
- a head not complete within HEAD_TIMEOUT_S of the connection's start (or of the first
  byte of the next request on a kept-alive connection) closes the connection, however
  slowly it trickles in: slowloris holds no connection slot for long.

Idle kept-alive connections are uvicorn's (timeout_keep_alive); slow bodies are the
app's (NOTEGATEWAY_BODY_TIMEOUT_S, 408). The app's own 431 check (core/middleware.py)
stays, for heads that arrive whole in one read.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from notegateway.core.middleware import MAX_HEADER_BYTES

MAX_HEAD_BYTES = MAX_HEADER_BYTES
HEAD_TIMEOUT_S = 10.0

_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\ncontent-length: 33\r\n"
    b"connection: close\r\n\r\nrequest header fields too large\r\n"
)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # the next bytes belong to a request head
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(HEAD_TIMEOUT_S, self._head_timeout)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timeout(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()  # also a connection that never sends a byte

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        if self._in_head:
            self._arm_head_timer()  # the first byte of a kept-alive connection's next request
            self._head_bytes += len(data)
        super().data_received(data)
        # Still inside the head after the parser took the bytes: every byte was head.
        if self._in_head and self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
            self._cancel_head_timer()
            self.transport.write(_TOO_LARGE)
            self.transport.close()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._cancel_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_head = True  # its timer starts with the next request's first byte
        self._head_bytes = 0
        super().on_message_complete()
