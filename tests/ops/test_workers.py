"""`notegateway serve --workers 2`: two processes on one port, their metrics added up."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from pathlib import Path

import httpx

from tests.factories import bearer, make_egn, note
from tests.serving import cli_token, served_process

EGN = make_egn(dt.date(2014, 3, 15), 77)  # nobody's: the notes are kept unmatched, enough here


def _children(pid: int) -> list[int]:
    """The worker processes of the supervisor `pid` (multiprocessing's helper excluded)."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        if re.search(rf"^PPid:\s+{pid}$", text, re.M) and "resource_tracker" not in (
            status.parent / "cmdline"
        ).read_bytes().decode(errors="replace"):
            found.append(int(status.parent.name))
    return found


async def test_two_workers_take_requests_and_report_one_sum(
    database_url: str, tmp_path: Path
) -> None:
    token = await asyncio.to_thread(cli_token, database_url, "nzis-main", "nzis")
    metrics_dir = tmp_path / "metrics"
    env = {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    async with served_process(database_url, tmp_path / "serve.log", 2, env) as (http, server):
        assert len(_children(server.pid)) == 2
        # A new connection per request: the workers share the listening socket.
        base = str(http.base_url)
        for round_no in range(10):
            async with httpx.AsyncClient(base_url=base) as fresh:
                pushed = await asyncio.gather(
                    *(
                        fresh.post(
                            "/api/v1/hisMedicalNotices",
                            json=[note(f"25317A{round_no:03d}{i:03d}", EGN)],
                            headers=bearer(token),
                        )
                        for i in range(4)
                    )
                )
            assert {r.status_code for r in pushed} == {200}
        writers = {p.name.split("_")[-1] for p in metrics_dir.glob("counter_*.db")}
        assert len(writers) == 2, "both workers took pushes"
        for _ in range(4):  # whichever worker answers, it reports every worker's count
            async with httpx.AsyncClient(base_url=base) as fresh:
                scraped = (await fresh.get("/metrics")).text
            assert 'notegateway_notes_received_total{outcome="created"} 40.0' in scraped
