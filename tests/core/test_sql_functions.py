"""The database's SQL functions and triggers are those of core/sql_functions.py, their one
current source: each definition there is made again in a scratch schema and compared with
the migrated database's (body, arguments, result, volatility), and every trigger as
PostgreSQL prints it back; one that exists on only one side fails too."""

from __future__ import annotations

import asyncpg

from notegateway.core.sql_functions import FUNCTIONS, TRIGGERS

_FUNCTION = """
SELECT p.proname, p.prosrc, pg_get_function_arguments(p.oid) AS arguments,
       pg_get_function_result(p.oid) AS result, p.provolatile, p.prolang
FROM pg_proc AS p JOIN pg_namespace AS s ON s.oid = p.pronamespace
WHERE s.nspname = $1 AND p.prokind = 'f'
  AND NOT EXISTS (SELECT 1 FROM pg_depend AS d  -- a range type's own constructors
                  WHERE d.objid = p.oid AND d.deptype = 'i')
"""


async def _functions(db: asyncpg.Connection, schema: str) -> dict[str, tuple[object, ...]]:
    return {r["proname"]: tuple(r.values())[1:] for r in await db.fetch(_FUNCTION, schema)}


async def test_functions_and_triggers_are_those_of_their_one_source(
    db: asyncpg.Connection,
) -> None:
    live = await _functions(db, "public")
    assert set(live) == set(FUNCTIONS)
    async with db.transaction():
        await db.execute("CREATE SCHEMA drift_check; SET LOCAL search_path = drift_check")
        for create in FUNCTIONS.values():
            await db.execute(create)
        assert await _functions(db, "drift_check") == live
        await db.execute("SET LOCAL search_path = public; DROP SCHEMA drift_check CASCADE")
    printed = {
        r["tgname"]: (r["table"], r["definition"])
        for r in await db.fetch(
            "SELECT tgname, tgrelid::regclass::text AS table, pg_get_triggerdef(oid) AS "
            "definition FROM pg_trigger WHERE NOT tgisinternal"
        )
    }
    assert printed == TRIGGERS


async def test_the_drift_test_sees_a_changed_body(db: asyncpg.Connection) -> None:
    """A function edited in the database alone is a difference the test above reports."""
    before = await _functions(db, "public")
    await db.execute(FUNCTIONS["ngw_publish_changes"].replace("ORDER BY id", "ORDER BY 1"))
    assert await _functions(db, "public") != before
