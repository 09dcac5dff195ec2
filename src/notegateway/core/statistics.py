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

What plans need is a table's size, so the gateway analyses the tables whose number of
rows moved from what the statistics say by more than autovacuum's own mark (50 rows plus
a tenth), every `EVERY_S` seconds, in one process at a time (a try-lock held by this
transaction only, which takes nothing else). A table updated in place (`nzis_sync`, the
absences) keeps its size and is left to autovacuum. `SKIP_LOCKED`: a table autovacuum is
working on is skipped, not waited for (the wait would cancel autovacuum after
deadlock_timeout); each table in a savepoint of its own, so that one that fails undoes
only itself.
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

# The gateway's tables whose size moved past autovacuum's default mark for ANALYZE.
_STALE = """
SELECT format('%I.%I', s.schemaname, s.relname)
FROM pg_stat_user_tables AS s JOIN pg_class AS c ON c.oid = s.relid
WHERE s.schemaname = current_schema()
  AND s.n_mod_since_analyze > 0
  AND abs(s.n_live_tup - greatest(c.reltuples, 0)) > 50 + 0.1 * greatest(c.reltuples, 0)
ORDER BY 1
"""


async def analyse_stale(db: asyncpg.Connection) -> list[str]:
    """ANALYZE the tables past the mark, unless another process is at it; their names."""
    if not await db.fetchval("SELECT pg_try_advisory_xact_lock($1)", STATISTICS_LOCK):
        return []
    analysed: list[str] = []
    for name in [row[0] for row in await db.fetch(_STALE)]:
        # A savepoint in SQL: the transaction was begun in SQL (core/db.py), and asyncpg's
        # own transaction() refuses to nest in one.
        await db.execute("SAVEPOINT ngw_analyse")
        try:
            await db.execute(f"ANALYZE (SKIP_LOCKED) {name}")
        except asyncpg.PostgresError as exc:
            await db.execute("ROLLBACK TO SAVEPOINT ngw_analyse")
            log.warning("ANALYZE failed: %s", type(exc).__name__)
            continue
        finally:
            await db.execute("RELEASE SAVEPOINT ngw_analyse")
        analysed.append(name)
    return analysed


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
