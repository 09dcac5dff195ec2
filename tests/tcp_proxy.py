"""A TCP forwarder on loopback between the gateway and PostgreSQL, that a test can cut
(every connection dropped, new ones refused, or accepted and never answered) and restore:
a database restart, failover or network loss, made on demand."""

from __future__ import annotations

import asyncio
import contextlib


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
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
            up_reader, up_writer = await asyncio.open_connection(*self.target)
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
