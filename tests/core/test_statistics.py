"""Statistics follow the tables' growth (core/statistics.py), and with them the generic
plans connections keep: a plan made from the statistics of an empty table reads the whole
table for a lookup by key until the table is analysed again."""

from __future__ import annotations

import asyncpg

from notegateway.core.config import Settings
from notegateway.core.db import create_engine, transaction
from notegateway.core.locks import STATISTICS_LOCK
from notegateway.core.statistics import analyse_stale
from tests.conftest import plain


async def _analysed(database_url: str) -> list[str]:
    """`analyse_stale` as the server runs it: in a transaction begun by core/db.py."""
    engine = create_engine(database_url, Settings(pool_size=1))
    try:
        async with transaction(engine) as db:
            return await analyse_stale(db)
    finally:
        await engine.dispose()


LOOKUP = "SELECT actor FROM audit_log WHERE id = $1"


async def _plan(conn: asyncpg.Connection) -> str:
    rows = await conn.fetch("EXPLAIN EXECUTE lookup(1)")
    return "\n".join(row[0] for row in rows)


async def _write(db: asyncpg.Connection, rows: int) -> None:
    """Rows written and their counts sent to the statistics at once (not up to 10 s later)."""
    async with db.transaction():
        await db.execute(
            "INSERT INTO audit_log (actor, action) SELECT 'test', 'test' FROM generate_series(1, $1)",
            rows,
        )
        await db.execute("SELECT pg_stat_force_next_flush()")
    await db.execute("SELECT 1")  # the flush happens at this statement's end at the latest


async def test_stale_tables_are_analysed_and_cached_plans_follow(
    db: asyncpg.Connection, database_url: str
) -> None:
    await db.execute("ANALYZE audit_log")  # the statistics of an empty table
    server = await asyncpg.connect(plain(database_url))
    try:
        await server.execute("SET plan_cache_mode = force_generic_plan")
        await server.execute(f"PREPARE lookup(bigint) AS {LOOKUP}")
        assert "Seq Scan on audit_log" in await _plan(server)

        await _write(db, 20_000)
        # Made while the table was empty, the plan still reads it all.
        assert "Seq Scan on audit_log" in await _plan(server)
        assert await _analysed(database_url) == ["public.audit_log"]
        assert "Index Scan using pk_audit_log" in await _plan(server)
        # Nothing changed since: nothing to analyse.
        await db.execute("SELECT pg_stat_force_next_flush()")
        assert await _analysed(database_url) == []
        # Below the mark (50 rows and a tenth of the table), left alone.
        await _write(db, 100)
        assert await _analysed(database_url) == []
    finally:
        await server.close()


async def test_one_process_at_a_time(db: asyncpg.Connection, database_url: str) -> None:
    await _write(db, 200)
    other = await asyncpg.connect(plain(database_url))
    try:
        async with other.transaction():  # another process is at it
            await other.execute(
                "SELECT pg_advisory_xact_lock($1)",
                STATISTICS_LOCK,
            )
            assert await _analysed(database_url) == []
        assert await _analysed(database_url) == ["public.audit_log"]
    finally:
        await other.close()
