"""Two server processes on one database: a push on one wakes a long poll on the other."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.factories import bearer, enrollment, note, person, poll_while_pushing
from tests.serving import cli_token, served
from tests.vendors.conftest import ACME_SCHOOL, PUPIL


async def test_push_on_one_process_wakes_a_long_poll_on_the_other(
    database_url: str, tmp_path: Path
) -> None:
    nzis, neispuo, acme = await asyncio.gather(
        asyncio.to_thread(cli_token, database_url, "nzis-main", "nzis"),
        asyncio.to_thread(cli_token, database_url, "neispuo-core", "neispuo"),
        asyncio.to_thread(cli_token, database_url, "acme", "vendor"),
    )
    async with (
        served(database_url, tmp_path / "a.log") as intake,
        served(database_url, tmp_path / "b.log") as polling,
    ):
        put = await intake.put(
            f"/api/v1/registry/institutions/{ACME_SCHOOL}",
            json={"name": "ПГ", "town": "Варна", "diary": "acme"},
            headers=bearer(neispuo),
        )
        assert put.status_code == 201
        await intake.put(
            "/api/v1/registry/persons/1",
            json=person(PUPIL, enrollment(ACME_SCHOOL)),
            headers=bearer(neispuo),
        )
        start = (await polling.get("/api/v1/medicalNotices/events", headers=bearer(acme))).json()

        poll, after_push = await poll_while_pushing(
            polling.get(
                "/api/v1/medicalNotices/events",
                params={"after": start["nextCursor"], "wait": 20},
                headers=bearer(acme),
            ),
            lambda: intake.post(
                "/api/v1/hisMedicalNotices",
                json=[note("25317A000001", PUPIL)],
                headers=bearer(nzis),
            ),
            0.5,
        )
    page = poll.json()
    assert [e["type"] for e in page["events"]] == ["note.issued"]
    assert after_push < 1.0, f"answered {after_push:.2f} s after the push"
