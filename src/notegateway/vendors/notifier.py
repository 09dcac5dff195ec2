"""Waking long polls when a vendor's events commit, in every server process.

A trigger on vendor_events sends `NOTIFY notegateway_feed, '<vendor id>'`; PostgreSQL
delivers it at commit to every listening connection. Each process keeps one listening
connection and wakes the requests waiting for that vendor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

CHANNEL = "notegateway_feed"
log = logging.getLogger(__name__)


class FeedNotifier:
    def __init__(self) -> None:
        self._waiters: dict[int, asyncio.Event] = {}
        self._connection: asyncpg.Connection | None = None

    async def start(self, dsn: str) -> None:
        self._connection = await asyncpg.connect(dsn)
        await self._connection.add_listener(CHANNEL, self._on_notify)

    async def stop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
            self._connection = None

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        with contextlib.suppress(ValueError):
            self.wake(int(payload))

    def wake(self, vendor_id: int) -> None:
        waiter = self._waiters.pop(vendor_id, None)
        if waiter is not None:
            waiter.set()

    def waiter(self, vendor_id: int) -> asyncio.Event:
        """Take this before looking for events, then wait on it: no wake-up is lost between."""
        return self._waiters.setdefault(vendor_id, asyncio.Event())


async def wait_for(waiter: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(waiter.wait(), seconds)
