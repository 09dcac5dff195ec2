"""Statistics that follow the tables as they grow, so that the connections' cached plans
follow too.

Every hot statement runs a generic plan cached per connection (core/db.py:
`plan_cache_mode`), made with the table sizes the statistics give at that moment; ANALYZE
replaces a table's statistics and makes every connection plan again. Statistics taken of
an empty table (a new deployment, a restored database, a server whose autovacuum is off
or behind) let a plan made while `medical_notices` held one page read the whole table for
each note it looks up by id, however large the table grows. Measured on 20k pupils, 32
pushes in flight, with the statistics of an empty notes table: the excusal statement
touched 1,028 buffers a push and ran 3.5 ms; after ANALYZE, 175 and 0.8 ms
(pg_stat_statements, 2026-12-06). A plan made from a large table's statistics reads
it by index, so only growth needs this.

PostgreSQL's autovacuum analyses a table once 50 rows plus a tenth of it have changed
since the last time. The gateway does the same, for the tables past that mark, every
`EVERY_S` seconds, in one process at a time (a try-lock held by this transaction only,
which takes nothing else): where autovacuum runs, it finds little to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from notegateway.core.db import transaction
from notegateway.core.locks import STATISTICS_LOCK

log = logging.getLogger(__name__)
EVERY_S = 2.0

# The gateway's tables whose rows changed past autovacuum's default mark for ANALYZE.
_STALE = """
SELECT format('%I.%I', s.schemaname, s.relname)
FROM pg_stat_user_tables AS s JOIN pg_class AS c ON c.oid = s.relid
WHERE s.schemaname = current_schema()
  AND s.n_mod_since_analyze > 50 + 0.1 * greatest(c.reltuples, 0)
ORDER BY 1
"""


async def analyse_stale(db: asyncpg.Connection) -> list[str]:
    """ANALYZE the tables past the mark, unless another process is at it; their names."""
    if not await db.fetchval("SELECT pg_try_advisory_xact_lock($1)", STATISTICS_LOCK):
        return []
    names: list[str] = [row[0] for row in await db.fetch(_STALE)]
    for name in names:
        await db.execute(f"ANALYZE {name}")
    return names


async def keep_current(engine: AsyncEngine, stopping: asyncio.Event) -> None:
    """`analyse_stale` every EVERY_S seconds until `stopping` is set (a task of the
    server's; it ends between two rounds, never in the middle of a transaction)."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), EVERY_S)
        if stopping.is_set():
            return
        try:
            async with transaction(engine) as db:
                analysed = await analyse_stale(db)
            if analysed:
                log.info("statistics renewed for %d table(s)", len(analysed))
        except Exception as exc:  # try again later; never take the server down
            log.warning("renewing statistics failed: %s", type(exc).__name__)
