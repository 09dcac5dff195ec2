"""A TCP forwarder on loopback between the gateway and PostgreSQL, that a test can cut
(every connection dropped, new ones refused, or accepted and never answered) and restore:
a database restart, failover or network loss, made on demand. PostgreSQL is reached over
TCP or, as the embedded one listens, on its Unix socket (`for_database_url`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from sqlalchemy.engine import make_url

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class TcpProxy:
    def __init__(self, connect: Callable[[], Awaitable[Streams]]) -> None:
        self._connect = connect
        self.port = 0
        self.black_hole = False
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        if self.black_hole:  # accept, say nothing: a network that swallows packets
            with contextlib.suppress(Exception):
                await reader.read()
            return
        try:
            up_reader, up_writer = await self._connect()
        except OSError:
            writer.close()
            return
        self._writers.add(up_writer)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(Exception):
                dst.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))

    async def cut(self, black_hole: bool = False) -> None:
        """Drop every connection; refuse new ones (or, as a black hole, never answer them)."""
        self.black_hole = black_hole
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        if not black_hole and self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def restore(self) -> None:
        self.black_hole = False
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        if self._server is None:
            await self.start()

    async def close(self) -> None:
        await self.cut()


def for_database_url(url: str) -> TcpProxy:
    """A proxy to the server of `url`: its TCP host and port, or its Unix socket (a
    `?host=/directory` URL, as the embedded PostgreSQL gives)."""
    parsed = make_url(url)
    socket_dir = parsed.query.get("host")
    port = parsed.port or 5432
    if isinstance(socket_dir, str) and socket_dir.startswith("/"):
        path = f"{socket_dir}/.s.PGSQL.{port}"
        return TcpProxy(lambda: asyncio.open_unix_connection(path))
    host = parsed.host or "127.0.0.1"
    return TcpProxy(lambda: asyncio.open_connection(host, port))


def through(url: str, proxy: TcpProxy) -> str:
    """`url` reaching its server through `proxy` (over TCP, whatever `url` used)."""
    parsed = make_url(url)
    parsed = parsed.set(host="127.0.0.1", port=proxy.port, query={})
    return parsed.render_as_string(hide_password=False)
