"""What families, teachers and doctors read (issue 18), each goal under 200 ms:

    python -m benchmarks.families [--server-url postgresql://...]

On a fresh database of 20k pupils (benchmarks/seed.py; school 1 has 1,500 of them, each
with an unexcused lesson on 18-20 November), served by the gateway with one worker:
- the parent's list of a pupil with 40 notes in the school year (pushed through the API);
- the corrections of school 1's November after it was reported and 500 of its pupils then
  got a late note (500 notes in one push), before and after the tables are analyzed (the
  generic plans the connections keep are made from the statistics: until autovacuum's
  next analyze they are those of a database without notes);
- a doctor's digest over 92 days when the gateway holds the national volume of 5,000
  notes a day for those 92 days (460,000 notes of 2,000 doctors, inserted directly).
Each is asked 20 times; median and max milliseconds are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import time

import asyncpg
import httpx
from tests.factories import note

from benchmarks.common import choose_server, fresh_database, serving
from benchmarks.seed import BIG_SCHOOL_PUPILS, NOTE_DAYS, seed

PUPILS = 20_000
PARENT_NOTES = 40
LATE_NOTES = 500
NOTES_A_DAY, DAYS, DOCTORS = 5_000, 92, 2_000
DIGEST_END = dt.date(2026, 11, 30)


async def _timed(http: httpx.AsyncClient, url: str, token: str, **params: str) -> list[float]:
    times = []
    for _ in range(20):
        sent = time.monotonic()
        answer = await http.get(url, params=params, headers={"Authorization": f"Bearer {token}"})
        times.append((time.monotonic() - sent) * 1000)
        assert answer.status_code == 200, answer.text
    return times


async def _analyze(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def _national_notes(url: str) -> None:
    """460,000 notes of 2,000 doctors over the 92 days up to DIGEST_END, straight in."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            """
            INSERT INTO medical_notices (nrn, nrn_examination, identifier_type, identifier_kind,
                identifier, pmi, from_date, to_date, authored_on, payload, excusal_comment,
                status)
            SELECT 'N' || lpad(g::text, 11, '0'), 'E' || lpad(g::text, 11, '0'), 1, 1,
                   lpad((g % 900000)::text, 10, '0'), 'D' || lpad((g % $4::int)::text, 9, '0'),
                   d, d, d + time '10:00', '{}', '', 'active'
            FROM generate_series(1, $1::int * $2::int) AS g,
                 LATERAL (SELECT $3::date - (g % $2::int)) AS day(d)
            """,
            NOTES_A_DAY,
            DAYS,
            DIGEST_END,
            DOCTORS,
        )
        await conn.execute("ANALYZE medical_notices")
    finally:
        await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server-url", default=os.environ.get("NOTEGATEWAY_TEST_DATABASE_URL"))
    args = parser.parse_args()
    server = await choose_server(args.server_url)
    async with fresh_database(server, "families") as url:
        seeded = await seed(url, PUPILS, NOTE_DAYS)
        async with (
            serving(url, 1) as (gateway, _bare),
            httpx.AsyncClient(base_url=gateway, timeout=120) as http,
        ):
            nzis = {"Authorization": f"Bearer {seeded.nzis_token}"}
            neispuo = {"Authorization": f"Bearer {seeded.neispuo_token}"}
            pupil = seeded.identifiers[0]
            start = dt.date(2026, 9, 15)
            notes = [
                note(
                    f"F{i:011d}",
                    pupil,
                    (start + dt.timedelta(days=5 * i)).isoformat(),
                    (start + dt.timedelta(days=5 * i + 2)).isoformat(),
                )
                for i in range(PARENT_NOTES)
            ]
            assert (
                await http.post("/api/v1/hisMedicalNotices", json=notes, headers=nzis)
            ).status_code == 200
            parent = await _timed(
                http,
                "/api/v1/diary/persons/1/medicalNotices",
                seeded.neispuo_token,
                schoolYear="2026",
            )
            month = "/api/v1/diary/institutions/1/months/2026-11"
            assert (await http.put(f"{month}/report", json={}, headers=neispuo)).status_code in (
                200,
                201,
            )
            late = [
                note(f"L{i:011d}", seeded.identifiers[i], "2026-11-18", "2026-11-20")
                for i in range(1, LATE_NOTES + 1)
            ]
            assert (
                await http.post("/api/v1/hisMedicalNotices", json=late, headers=nzis)
            ).status_code == 200
            stale = await _timed(http, f"{month}/corrections", seeded.neispuo_token)
            await _analyze(url)  # as autovacuum would after 500 new notes
            corrections = await _timed(http, f"{month}/corrections", seeded.neispuo_token)
            await _national_notes(url)
            digest = await _timed(
                http,
                "/api/v1/hisMedicalNotices",
                seeded.nzis_token,
                pmi="D000000007",
                fromDate=(DIGEST_END - dt.timedelta(days=DAYS - 1)).isoformat(),
                toDate=DIGEST_END.isoformat(),
            )
    for label, times in (
        (f"parent's list, a pupil with {PARENT_NOTES} notes in the school year", parent),
        (
            f"corrections of a {BIG_SCHOOL_PUPILS:,}-pupil school after {LATE_NOTES} late "
            "notes, before the tables are analyzed again",
            stale,
        ),
        ("the same once analyzed (autovacuum's analyze, or any ANALYZE)", corrections),
        (f"a doctor's digest over {DAYS} days among {NOTES_A_DAY * DAYS:,} notes", digest),
    ):
        print(
            f"{label}: median {statistics.median(times):.0f} ms, max {max(times):.0f} ms (goal < 200 ms)"
        )


if __name__ == "__main__":
    asyncio.run(main())
