"""How much one client may ask of the service at once: requests in progress, and (for a
vendor) open long polls. Beyond either: 429 with Retry-After. These are limits of the
service, not of a process: they hold whatever the number of worker processes and of
servers sharing the database.

- **Long polls** are held in the database, as leases (`client_leases`): a poll takes one
  in a short transaction of its own before it waits, and gives it back when it answers.
  `ngw_take_lease` (source below) takes the client's lease lock (core/locks.py), drops
  the client's expired leases, counts the live ones and adds one if under the limit, in
  one round trip. A process that dies leaves its leases to expire: a lease lives as long
  as the poll may wait, plus LEASE_MARGIN_S.
- **Requests in progress** are an equal share per process: each live process (listed in
  `server_processes`, refreshed every HEARTBEAT_S) admits `limit // processes` (at least 1)
  of a client's requests. A lease per request would cost every push two more round trips
  and a lock per client taken by every request (the measurement is in the README); a
  long poll is rare and waits seconds, so its two round trips cost nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from notegateway.core.db import idempotent, transaction
from notegateway.core.errors import TooManyRequests

log = logging.getLogger(__name__)

LEASE_MARGIN_S = 15.0  # a lease outlives its poll's longest wait by this
REQUEST_LEASE_S = 90.0  # a request's lease: its longest life (a 30 s long poll) and more
HEARTBEAT_S = 10.0  # each process says it is alive this often
ALIVE_S = 3 * HEARTBEAT_S  # a process not heard from for this long is gone


class ClientLimits:
    def __init__(self, requests: int, long_polls: int, request_leases: bool = False) -> None:
        self.max_requests = requests
        self.max_long_polls = long_polls
        self.request_leases = request_leases  # NOTEGATEWAY_REQUEST_LEASES
        self.processes = 1  # live processes sharing the database (ProcessRegistry)
        self._requests: Counter[int] = Counter()

    @property
    def request_share(self) -> int:
        """This process's share of a client's requests in progress."""
        return max(self.max_requests // max(self.processes, 1), 1)

    @asynccontextmanager
    async def request(self, engine: AsyncEngine, client_id: int) -> AsyncIterator[None]:
        """Hold one of the client's requests in progress: this process's share of them, or
        (NOTEGATEWAY_REQUEST_LEASES) a lease in the database, exact but two more round
        trips and the client's lease lock on every request."""
        refusal = f"at most {self.max_requests} requests in progress per client"
        if self.request_leases:
            async with _lease(
                engine, client_id, "request", self.max_requests, REQUEST_LEASE_S, refusal
            ):
                yield
            return
        if self._requests[client_id] >= self.request_share:
            raise TooManyRequests(f"{refusal}; try again shortly")
        self._requests[client_id] += 1
        try:
            yield
        finally:
            self._requests[client_id] -= 1
            if not self._requests[client_id]:
                del self._requests[client_id]

    def long_poll(
        self, engine: AsyncEngine, client_id: int, seconds: float
    ) -> contextlib.AbstractAsyncContextManager[None]:
        """Hold one of the client's long-poll leases while waiting up to `seconds`."""
        refusal = f"at most {self.max_long_polls} open long polls per client"
        return _lease(
            engine, client_id, "poll", self.max_long_polls, seconds + LEASE_MARGIN_S, refusal
        )


@asynccontextmanager
async def _lease(
    engine: AsyncEngine, client_id: int, kind: str, most: int, seconds: float, refusal: str
) -> AsyncIterator[None]:
    """One of `most` leases of this kind for the client, in the database, for the block."""
    holder = uuid.uuid4()

    async def take(db: asyncpg.Connection) -> bool:
        taken: bool = await db.fetchval(
            "SELECT ngw_take_lease($1, $2, $3, $4, $5)", client_id, kind, most, holder, seconds
        )
        return taken

    if not await idempotent(engine, take):
        raise TooManyRequests(f"{refusal}; try again shortly")
    try:
        yield
    finally:
        await asyncio.shield(_give_back(engine, holder))


async def _give_back(engine: AsyncEngine, holder: uuid.UUID) -> None:
    try:
        async with transaction(engine) as db:
            await db.execute("DELETE FROM client_leases WHERE holder = $1", holder)
    except Exception as exc:  # the database away: the lease expires by itself
        log.warning("a long-poll lease could not be given back: %s", type(exc).__name__)


class ProcessRegistry:
    """This process in `server_processes`: a heartbeat every HEARTBEAT_S, and the count of
    live processes handed to the limits (their share of each client's requests)."""

    def __init__(self, engine: AsyncEngine, limits: ClientLimits) -> None:
        self._engine = engine
        self._limits = limits
        self._id = uuid.uuid4()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._beat()
        self._task = asyncio.create_task(self._beating())

    async def _beat(self) -> None:
        async with transaction(self._engine) as db:
            live: int = await db.fetchval(
                """
                WITH me AS (
                    INSERT INTO server_processes (id, seen_at) VALUES ($1, now())
                    ON CONFLICT (id) DO UPDATE SET seen_at = now()
                ),
                gone AS (
                    DELETE FROM server_processes
                    WHERE seen_at < now() - $2 * interval '1 second'
                )
                SELECT count(*) + 1 FROM server_processes
                WHERE id <> $1 AND seen_at >= now() - $2 * interval '1 second'
                """,
                self._id,
                ALIVE_S,
            )
        self._limits.processes = live

    async def _beating(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                await self._beat()
            except Exception as exc:  # keep the last count; try again later
                log.warning("process heartbeat failed: %s", type(exc).__name__)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        with contextlib.suppress(Exception):
            async with transaction(self._engine) as db:
                await db.execute("DELETE FROM server_processes WHERE id = $1", self._id)
