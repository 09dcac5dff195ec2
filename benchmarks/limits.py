"""What holding a client's requests in progress in the database would cost the push path
(issue 16: the limit is the service's; a lease per request only if it costs <= 5%):

    python -m benchmarks.limits [--seconds 8] [--server-url postgresql://...]

On 20k pupils (benchmarks/seed.py), the gateway with 2 worker processes takes single-note
pushes from wrk at 16, 32 and 64 connections, first with each process admitting its
equal share of the client's requests (the default), then with a database lease per
request (NOTEGATEWAY_REQUEST_LEASES=true). A warm-up run comes first and the modes take
turns, ROUNDS times, so that neither gains from running second; the better round of each
is printed, with p50/p99 and the cost of the leases.
"""

from __future__ import annotations

import argparse
import asyncio
import os

from benchmarks.common import choose_server, fresh_database, serving
from benchmarks.load import Load, wrk_single
from benchmarks.seed import NOTE_DAYS, seed

PUPILS = 20_000
IN_FLIGHT = (16, 32, 64)
MODES = {"equal share per process": "false", "a lease per request": "true"}
ROUNDS = 2


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--server-url", default=os.environ.get("NOTEGATEWAY_TEST_DATABASE_URL"))
    args = parser.parse_args()
    server = await choose_server(args.server_url)
    results: dict[tuple[str, int], Load] = {}
    run = 0
    async with fresh_database(server, "limits") as url:
        seeded = await seed(url, PUPILS, NOTE_DAYS)

        async def load(gateway: str, connections: int, seconds: float) -> Load:
            nonlocal run
            run += 1
            return await asyncio.to_thread(
                wrk_single,
                f"{gateway}/api/v1/hisMedicalNotices",
                seeded.nzis_token,
                seeded.identifiers,
                seconds,
                run,
                connections,
            )

        for turn in range(ROUNDS):
            for mode, leases in MODES.items():
                settings = {
                    "NOTEGATEWAY_REQUEST_LEASES": leases,
                    "NOTEGATEWAY_CLIENT_CONCURRENCY": "128",  # measured, never refused
                }
                async with serving(url, 2, settings) as (gateway, _bare):
                    if turn == 0 and not results:
                        await load(gateway, 32, args.seconds)  # warm-up, not counted
                    for connections in IN_FLIGHT:
                        measured = await load(gateway, connections, args.seconds)
                        best = results.get((mode, connections))
                        if best is None or measured.per_second > best.per_second:
                            results[mode, connections] = measured
    print(f"\n{PUPILS:,} pupils, single-note pushes, 2 workers, {args.seconds:.0f} s each")
    print(f"{'in flight':>9}  {'mode':26} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}")
    share, lease = MODES
    for connections in IN_FLIGHT:
        for mode in MODES:
            load = results[mode, connections]
            print(
                f"{connections:>9}  {mode:26} {load.per_second:8.0f} {load.p50_ms or 0:7.1f} "
                f"{load.p99_ms or 0:7.1f} {load.errors:>6}"
            )
        cost = 1 - results[lease, connections].per_second / results[share, connections].per_second
        print(f"{'':>9}  leases cost {cost:+.1%} of the throughput")


if __name__ == "__main__":
    asyncio.run(main())
