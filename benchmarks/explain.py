"""EXPLAIN (ANALYZE, BUFFERS) of every statement a push runs, as the server runs them:

    python -m benchmarks.explain [--notes 1] [--rounds 3] [--full] [--custom]
                                 [--pupils 20000 1000000]

The connection plans as the server's do (core/db.py: `plan_cache_mode =
force_generic_plan`), so these are the generic plans a prepared statement really runs;
`--custom` explains custom plans instead. Each statement is explained inside a savepoint
that is rolled back, then run for real, so the next one sees what it did. Prints planning
and execution time and the shared buffers (hit + read) per statement and round, then per
registry size the buffers of the last round's push: a hot statement driven from the
push's own rows touches about as many at 1M pupils as at 20k (the check at the end).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
from typing import Any

import asyncpg
from tests.factories import note

from benchmarks.common import choose_server, fresh_database
from benchmarks.seed import NOTE_DAYS, seed
from notegateway import settle
from notegateway.core.sql_functions import INSERT_NOTES
from notegateway.core.timeutil import today_in_sofia
from notegateway.notices import service
from notegateway.notices.validation import judge_notes

_EXPLAINABLE = ("SELECT", "WITH", "INSERT", "UPDATE", "DELETE")


def _buffers(plan: str) -> int:
    """Shared buffers the statement touched (hit + read), from the plan's top node."""
    for line in plan.splitlines():
        found = re.search(r"Buffers: shared (.*)", line)
        if found:
            return sum(int(n) for n in re.findall(r"(?:hit|read)=(\d+)", found.group(1)))
    return 0


class Explaining:
    """An asyncpg connection that explains each statement before running it."""

    def __init__(self, conn: asyncpg.Connection, full: bool) -> None:
        self._conn = conn
        self._full = full
        self.report: list[tuple[str, float, float, int]] = []
        self._prepared: dict[str, str] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    async def _explain(self, sql: str, args: tuple[Any, ...]) -> None:
        if not sql.lstrip().upper().startswith(_EXPLAINABLE):
            return
        if "ngw_insert_notes(" in sql:  # a function's plan hides its statement's: that one
            sql, args = INSERT_NOTES, args[:12]
        # A prepared statement, as asyncpg's are, so that plan_cache_mode decides between
        # its generic plan and a custom one (an EXPLAIN of the bare text is always custom).
        name = self._prepared.get(sql)
        if name is None:
            name = f"ngw_explain_{len(self._prepared)}"
            await self._conn.execute(f"PREPARE {name} AS {sql}")
            self._prepared[sql] = name
        types = await self._conn.fetchval(
            "SELECT parameter_types::text[] FROM pg_prepared_statements WHERE name = $1", name
        )
        # EXECUTE takes no bind parameters: each argument as a literal of its type.
        literals = [
            f"{await self._conn.fetchval(f'SELECT quote_nullable($1::{kind}::text)', arg)}::{kind}"
            for kind, arg in zip(types, args, strict=True)
        ]
        call = f"EXECUTE {name}" + (f"({', '.join(literals)})" if literals else "")
        savepoint = self._conn.transaction()
        await savepoint.start()
        try:
            plan = "\n".join(
                r[0] for r in await self._conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {call}")
            )
        finally:
            await savepoint.rollback()
        planning = re.search(r"Planning Time: ([\d.]+)", plan)
        execution = re.search(r"Execution Time: ([\d.]+)", plan)
        first_line = " ".join(sql.split())[:60]
        self.report.append(
            (
                first_line,
                float(planning.group(1)) if planning else 0.0,
                float(execution.group(1)) if execution else 0.0,
                _buffers(plan),
            )
        )
        if self._full:
            print(f"-- {first_line}\n{plan}\n")

    async def fetch(self, sql: str, *args: Any, **kw: Any) -> Any:
        await self._explain(sql, args)
        return await self._conn.fetch(sql, *args, **kw)

    async def fetchrow(self, sql: str, *args: Any, **kw: Any) -> Any:
        await self._explain(sql, args)
        return await self._conn.fetchrow(sql, *args, **kw)

    async def fetchval(self, sql: str, *args: Any, **kw: Any) -> Any:
        await self._explain(sql, args)
        return await self._conn.fetchval(sql, *args, **kw)

    async def execute(self, sql: str, *args: Any, **kw: Any) -> Any:
        await self._explain(sql, args)
        return await self._conn.execute(sql, *args, **kw)


async def _explain_push(url: str, pupils: int, args: argparse.Namespace) -> int:
    """The pushes of `args.rounds` rounds on `pupils` seeded pupils; the last one's buffers."""
    idents = (await seed(url, pupils, NOTE_DAYS)).identifiers
    conn = await asyncpg.connect(url)
    total = 0
    try:
        if args.no_statistics:  # as if never analyzed: the planner's default guesses
            await conn.execute(
                "DELETE FROM pg_statistic WHERE starelid IN (SELECT oid FROM pg_class "
                "WHERE relnamespace = 'public'::regnamespace)"
            )
        if not args.custom:
            await conn.execute("SET plan_cache_mode = force_generic_plan")
        db = Explaining(conn, args.full)
        for round_no in range(args.rounds):
            db.report = []
            notes = [
                note(f"X{round_no:03d}{i:08d}", idents[(round_no * 7919 + i * 13) % pupils])
                for i in range(args.notes)
            ]
            async with conn.transaction():
                judged = judge_notes(notes, [], today_in_sofia())
                await service.push_notes(db, judged, "explain")  # type: ignore[arg-type]
            for statement, planning, execution, buffers in db.report:
                print(
                    f"{pupils:>9,} round {round_no}  plan {planning:7.2f} ms  "
                    f"run {execution:7.2f} ms  buffers {buffers:6d}  {statement}"
                )
            total = sum(r[3] for r in db.report)
    finally:
        await conn.close()
    return total


BUFFER_GROWTH_BOUND = 2.0  # a push on 1M pupils touches at most this many times 20k's


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--notes", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--custom", action="store_true", help="custom plans, not generic")
    parser.add_argument("--pupils", type=int, nargs="+", default=[20_000])
    parser.add_argument(
        "--no-statistics", action="store_true", help="drop the tables' statistics first"
    )
    parser.add_argument("--server-url", default=os.environ.get("NOTEGATEWAY_TEST_DATABASE_URL"))
    args = parser.parse_args()
    settle.install()
    server = await choose_server(args.server_url)
    touched = {}
    for pupils in args.pupils:
        async with fresh_database(server, f"explain{pupils}") as url:
            touched[pupils] = await _explain_push(url, pupils, args)
    plans = "custom" if args.custom else "generic"
    for pupils, buffers in touched.items():
        print(f"{plans} plans, {pupils:,} pupils: a push of {args.notes} touched {buffers} buffers")
    if len(touched) > 1:
        smallest, largest = touched[min(touched)], touched[max(touched)]
        ratio = largest / max(smallest, 1)
        verdict = "ok" if ratio <= BUFFER_GROWTH_BOUND else "OVER"
        print(
            f"buffers {max(touched):,} / {min(touched):,} pupils: {ratio:.2f}x "
            f"(bound {BUFFER_GROWTH_BOUND}x): {verdict}"
        )


if __name__ == "__main__":
    asyncio.run(main())
