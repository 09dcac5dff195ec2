"""EXPLAIN (ANALYZE, BUFFERS) of every statement a push runs, on 20k seeded pupils:

    python -m benchmarks.explain [--notes 1] [--rounds 3] [--full]

Each statement is explained inside a savepoint that is rolled back, then run for real, so
the next one sees what it did. Prints planning and execution time per statement and
round (the first round plans and compiles cold); `--full` prints the plans.
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
from notegateway.core.timeutil import today_in_sofia
from notegateway.notices import service
from notegateway.notices.validation import judge_notes

_EXPLAINABLE = ("SELECT", "WITH", "INSERT", "UPDATE", "DELETE")


class Explaining:
    """An asyncpg connection that explains each statement before running it."""

    def __init__(self, conn: asyncpg.Connection, full: bool) -> None:
        self._conn = conn
        self._full = full
        self.report: list[tuple[str, float, float]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    async def _explain(self, sql: str, args: tuple[Any, ...]) -> None:
        if not sql.lstrip().upper().startswith(_EXPLAINABLE):
            return
        savepoint = self._conn.transaction()
        await savepoint.start()
        try:
            plan = "\n".join(
                r[0] for r in await self._conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *args)
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


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--notes", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--server-url", default=os.environ.get("NOTEGATEWAY_TEST_DATABASE_URL"))
    args = parser.parse_args()
    settle.install()
    server = await choose_server(args.server_url)
    async with fresh_database(server, "explain") as url:
        idents = (await seed(url, 20_000, NOTE_DAYS)).identifiers
        conn = await asyncpg.connect(url)
        try:
            for round_no in range(args.rounds):
                db = Explaining(conn, args.full)
                notes = [
                    note(f"X{round_no:03d}{i:08d}", idents[(round_no * 7919 + i * 13) % 20_000])
                    for i in range(args.notes)
                ]
                async with conn.transaction():
                    judged = judge_notes(notes, [], today_in_sofia())
                    await service.push_notes(db, judged, "explain")  # type: ignore[arg-type]
                for statement, planning, execution in db.report:
                    print(
                        f"round {round_no}  plan {planning:8.2f} ms  run {execution:8.2f} ms  "
                        f"{statement}"
                    )
        finally:
            await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
