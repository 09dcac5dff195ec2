"""Behind PgBouncer in transaction mode (run so by .ci/run, NOTEGATEWAY_TEST_VIA_PGBOUNCER=1,
with the smoke tests and the concurrent-push tests)."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess

import pytest
from sqlalchemy.engine import make_url

from tests.factories import Api, enrollment, make_egn, note, person

pytestmark = pytest.mark.pgbouncer
EGN = make_egn(dt.date(2014, 3, 15), 321)


def _transactions_through(pgbouncer_url: str, database: str) -> int:
    """PgBouncer's own count of the transactions it carried to `database`."""
    url = make_url(pgbouncer_url)
    out = subprocess.run(
        [
            "psql",
            "-h",
            str(url.host),
            "-p",
            str(url.port),
            "-U",
            str(url.username),
            "-At",
            "-F",
            "\t",
            "-c",
            "SHOW STATS",
            "pgbouncer",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    for line in out.splitlines():
        name, total_xact_count, *_ = line.split("\t")  # the columns of SHOW STATS
        if name == database:
            return int(total_xact_count)
    return 0


async def test_pushes_and_reads_go_through_pgbouncer(
    api: Api, pgbouncer_url: str | None, database_url: str
) -> None:
    if pgbouncer_url is None:
        pytest.skip("run through PgBouncer by .ci/run (NOTEGATEWAY_TEST_VIA_PGBOUNCER=1)")
    await api.put_institution(100001)
    await api.put_person(1, person(EGN, enrollment(100001)))
    await api.token("nzis")
    pushed = await asyncio.gather(*(api.push(note(f"25317A{i:06d}", EGN)) for i in range(20)))
    assert {r.status_code for r in pushed} == {200}
    assert (await api.whole_note("25317A000000"))["match"] == "matched"
    database = make_url(database_url).database or ""
    assert _transactions_through(pgbouncer_url, database) >= 20
