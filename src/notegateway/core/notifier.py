"""Waking long polls when a feed's rows commit, in every server process.

Triggers send `NOTIFY notegateway_feed, '<client id>'`: on vendor_events the vendor's id,
on diary_changes the id of every NEISPUO client, on clients the id of a client disabled
or rotated (so its polls end at once); PostgreSQL delivers it at commit to every
listening connection. Each process keeps one listening connection, wakes the requests
waiting for that client, and reconnects when the connection is lost (waking everyone
then: notifications may have been missed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

CHANNEL = "notegateway_feed"
log = logging.getLogger(__name__)


# While the listener is healthy a waiting long poll looks again this rarely (NOTIFY wakes
# it); while it is away, every second.
HEALTHY_RECHECK_S = 15.0
LOST_RECHECK_S = 1.0


class FeedNotifier:
    def __init__(self) -> None:
        self._waiters: dict[int, asyncio.Event] = {}  # by client id
        self.draining = False  # shutting down: long polls answer at once
        self._connection: asyncpg.Connection | None = None
        self._dsn = ""
        self._stopping = False
        self._reconnecting: asyncio.Task[None] | None = None

    async def start(self, dsn: str) -> None:
        self._dsn = dsn
        await self._connect()

    async def _connect(self) -> None:
        connection = await asyncpg.connect(self._dsn)
        await connection.add_listener(CHANNEL, self._on_notify)
        connection.add_termination_listener(self._on_lost)
        self._connection = connection

    def _on_lost(self, _connection: object) -> None:
        if self._stopping or self._reconnecting is not None:
            return
        log.warning("the feed listener lost its connection; reconnecting")
        self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        delay = 0.2
        try:
            while not self._stopping:
                try:
                    await self._connect()
                except (OSError, asyncpg.PostgresError) as exc:
                    log.warning("feed listener reconnect failed: %s", type(exc).__name__)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 10.0)
                    continue
                log.info("the feed listener is listening again")
                for client_id in list(self._waiters):
                    self.wake(client_id)
                return
        finally:
            self._reconnecting = None

    @property
    def recheck_seconds(self) -> float:
        return HEALTHY_RECHECK_S if self.listening else LOST_RECHECK_S

    def drain(self) -> None:
        """The server is stopping: every open long poll answers now with what it has."""
        self.draining = True
        for client_id in list(self._waiters):
            self.wake(client_id)

    @property
    def listening(self) -> bool:
        return self._connection is not None and not self._connection.is_closed()

    def listener_pid(self) -> int | None:
        return self._connection.get_server_pid() if self.listening else None  # type: ignore[union-attr]

    async def stop(self) -> None:
        self._stopping = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
            self._connection = None

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        with contextlib.suppress(ValueError):
            self.wake(int(str(payload)))

    def wake(self, client_id: int) -> None:
        waiter = self._waiters.pop(client_id, None)
        if waiter is not None:
            waiter.set()

    def waiter(self, client_id: int) -> asyncio.Event:
        """Take this before looking at a feed, then wait on it: no wake-up is lost between."""
        return self._waiters.setdefault(client_id, asyncio.Event())


async def wait_for(waiter: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(waiter.wait(), seconds)
