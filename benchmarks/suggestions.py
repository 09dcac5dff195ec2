"""Suggestions for unmatched notes on a 1M-pupil registry (issue 19):

    python -m benchmarks.suggestions [--server-url postgresql://...] [--pupils N]

Seeds N pupils (default 1,000,000; benchmarks/seed.py: every one named ИВАН ТОДОРОВ, 200
to a birth date, the worst case for the birth-date rule), pushes 50 notes whose ЕГН is one
digit away from a registered pupil's (valid, unregistered, so unmatched), and asks each
note's suggestions 4 times through the gateway (one worker, its prepared statements run
their generic plans). Prints median, p95 and max milliseconds, and the generic plan of the
one statement that finds the candidates.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import time
from typing import Any

import asyncpg
import httpx
from stdnum.bg import egn
from tests.factories import note

from benchmarks.common import choose_server, fresh_database, serving
from benchmarks.seed import seed
from notegateway.ops import suggestions, suggestions_repository

NOTES = 50
ASKS = 4


def _unregistered_neighbour(identifier: str, registered: set[str]) -> str | None:
    """A valid, unregistered ЕГН one digit or swap away in the serial (the birth date kept,
    so both rules find candidates)."""
    for variant in suggestions.identifier_variants(identifier):
        same_birth = variant[:6] == identifier[:6]
        if same_birth and variant not in registered and egn.is_valid(variant):
            return variant
    return None


def _lines(node: dict[str, Any], depth: int = 0) -> list[str]:
    """A JSON plan node as indented text lines: node type, index, rows, actual time."""
    what = node["Node Type"] + (f" on {node['Index Name']}" if "Index Name" in node else "")
    cond = node.get("Index Cond", "")
    cond = cond if len(cond) < 120 else cond[:117] + "..."
    line = (
        f"{'  ' * depth}{what}  rows={node.get('Actual Rows')}  ms={node.get('Actual Total Time')}"
    )
    found = [line + (f"  [{cond}]" if cond else "")]
    for child in node.get("Plans", []):
        found += _lines(child, depth + 1)
    return found


async def _generic_plan(url: str, identifier: str) -> str:
    variants = list(suggestions.identifier_variants(identifier))
    prefix = identifier[:6]
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        statement = await conn.prepare(suggestions_repository.CANDIDATES_SQL)
        upper = f"{int(prefix) + 1:06d}"
        plan = await statement.explain(1, variants, prefix, upper, analyze=True)
    finally:
        await conn.close()
    top = plan[0]
    return "\n".join([*_lines(top["Plan"]), f"execution {top['Execution Time']} ms"])


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server-url", default=os.environ.get("NOTEGATEWAY_TEST_DATABASE_URL"))
    parser.add_argument("--pupils", type=int, default=1_000_000)
    args = parser.parse_args()
    server = await choose_server(args.server_url)
    async with fresh_database(server, "suggestions") as url:
        day = dt.date(2026, 11, 18)
        seeded = await seed(url, args.pupils, (day, day))
        registered = set(seeded.identifiers)
        typos = []
        for identifier in seeded.identifiers[:: max(len(seeded.identifiers) // NOTES, 1)]:
            neighbour = _unregistered_neighbour(identifier, registered)
            if neighbour is not None:
                typos.append(neighbour)
        typos = typos[:NOTES]
        async with (
            serving(url, 1) as (gateway, _bare),
            httpx.AsyncClient(base_url=gateway, timeout=60) as http,
        ):
            nzis = {"Authorization": f"Bearer {seeded.nzis_token}"}
            pushed = [note(f"S{i:011d}", typo) for i, typo in enumerate(typos)]
            answer = await http.post("/api/v1/hisMedicalNotices", json=pushed, headers=nzis)
            assert answer.status_code == 200, answer.text
            conn = await asyncpg.connect(url)
            try:
                from benchmarks.common import BENCH_SECRET
                from notegateway.clients import service as clients

                async with conn.transaction():
                    key = (await clients.load_keys(conn, BENCH_SECRET)).tokens
                    token = await clients.add(conn, key, "bench-operator", "operator", None)
            finally:
                await conn.close()
            operator = {"Authorization": f"Bearer {token}"}
            times, found = [], 0
            for _ in range(ASKS):
                for i in range(len(typos)):
                    sent = time.monotonic()
                    answer = await http.get(
                        f"/api/v1/ops/notes/S{i:011d}/suggestions", headers=operator
                    )
                    times.append((time.monotonic() - sent) * 1000)
                    assert answer.status_code == 200, answer.text
                    found += bool(answer.json()["items"])
        plan = await _generic_plan(url, typos[0])
    times.sort()
    print(
        f"suggestions, {args.pupils:,} pupils, {len(times)} asks: median "
        f"{statistics.median(times):.1f} ms, p95 {times[int(len(times) * 0.95)]:.1f} ms, "
        f"max {times[-1]:.1f} ms; {found} of {len(times)} answers suggested someone"
    )
    print("generic plan of the candidates statement:")
    print(plan)


if __name__ == "__main__":
    asyncio.run(main())
