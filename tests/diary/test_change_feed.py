"""The diary's change feed: every change the gateway made to an absence, so that a month
already reported can be corrected before a family loses its benefit."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from notegateway.core.config import Settings
from notegateway.diary import service as diary_service
from tests.conftest import plain
from tests.factories import (
    Api,
    absence,
    bearer,
    enrollment,
    make_egn,
    note,
    person,
    poll_while_pushing,
)
from tests.serving import cli_token, served

SCHOOL, VENDOR_SCHOOL = 100001, 300001
PUPIL = make_egn(dt.date(2014, 3, 15), 123)
NOVEMBER = ("2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20")
UNEXCUSED = {"kind": "unexcused", "reason": None, "comment": None, "excusedByNrn": None}


@pytest.fixture
async def reported(api: Api) -> None:
    """A pupil with five unexcused lessons in November, the month already reported."""
    await api.put_institution(SCHOOL)
    await api.put_person(1, person(PUPIL, enrollment(SCHOOL)))
    for i, day in enumerate(NOVEMBER):
        await api.post_absence(absence(10 + i, 1, SCHOOL, day))


async def changes(api: Api, after: str | None = None, **params: Any) -> httpx.Response:
    if after is not None:
        params["after"] = after
    return await api.http.get(
        "/api/v1/diary/changes", params=params, headers=await api.as_role("neispuo")
    )


async def page(api: Api, after: str | None = None, **params: Any) -> dict[str, Any]:
    response = await changes(api, after, **params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def november(api: Api) -> dict[str, Any]:
    response = await api.http.get(
        f"/api/v1/diary/institutions/{SCHOOL}/months/2026-11",
        headers=await api.as_role("neispuo"),
    )
    [pupil] = response.json()["pupils"]
    result: dict[str, Any] = pupil
    return result


async def test_a_late_note_for_a_reported_month_shows_with_before_and_after(
    api: Api, reported: None
) -> None:
    assert (await november(api))["overBenefitLimit"] is True
    start = await page(api)
    assert (start["changes"], start["hasMore"]) == ([], False)
    # Backdated in December for three days of November.
    late = note(
        "25336A000001", PUPIL, "2026-11-18", "2026-11-20", authored_on="2026-12-01T09:00:00"
    )
    assert (await api.push(late)).status_code == 200
    excused = await page(api, start["nextCursor"])
    assert [(c["absenceId"], c["date"], c["action"]) for c in excused["changes"]] == [
        (12, "2026-11-18", "absence.excused"),
        (13, "2026-11-19", "absence.excused"),
        (14, "2026-11-20", "absence.excused"),
    ]
    first = excused["changes"][0]
    assert (first["personId"], first["institutionId"], first["nrnMedicalNotice"]) == (
        1,
        SCHOOL,
        "25336A000001",
    )
    assert first["before"] == UNEXCUSED
    assert first["after"] == {
        "kind": "excused",
        "reason": "medical",
        "comment": "Автоматично уважено с електронна медицинска бележка 25336A000001/01.12.2026 "
        "за периода 18.11.2026 - 20.11.2026. УИН на лекаря - 2300011922.",
        "excusedByNrn": "25336A000001",
    }
    assert dt.datetime.fromisoformat(first["at"]).tzinfo is not None
    # The figures sent on can be corrected: no longer over the limit.
    assert (
        (await november(api))["unexcusedLessons"],
        (await november(api))["overBenefitLimit"],
    ) == (
        2,
        False,
    )
    # Nothing new: the cursor does not move. A person's own change is not the gateway's.
    assert (await page(api, excused["nextCursor"]))["nextCursor"] == excused["nextCursor"]
    assert (await api.patch_absence(10, {"comment": "болен"})).status_code == 200
    assert (await page(api, excused["nextCursor"]))["changes"] == []
    # Cancelled: each absence back to unexcused, before and after the other way round.
    assert (await api.cancel("25336A000001")).status_code == 200
    reverted = (await page(api, excused["nextCursor"]))["changes"]
    assert [(c["absenceId"], c["action"]) for c in reverted] == [
        (12, "absence.reverted"),
        (13, "absence.reverted"),
        (14, "absence.reverted"),
    ]
    assert (reverted[0]["before"], reverted[0]["after"]) == (first["after"], UNEXCUSED)
    assert reverted[0]["nrnMedicalNotice"] == "25336A000001"
    # The whole feed from the start, in order, with cursors that continue it.
    every = await page(api, limit=4)
    assert [c["action"] for c in every["changes"]] == ["absence.excused"] * 3 + ["absence.reverted"]
    assert every["hasMore"] is True
    rest = await page(api, every["changes"][-1]["cursor"])
    assert [c["absenceId"] for c in rest["changes"]] == [13, 14]


async def test_taken_over_and_closed_after_review(api: Api, reported: None) -> None:
    await api.push(note("25336A000001", PUPIL, "2026-11-18", "2026-11-18"))
    await api.push(note("25336A000002", PUPIL, "2026-11-18", "2026-11-19"))
    start = (await page(api))["nextCursor"]
    await api.cancel("25336A000001")  # the second note takes absence 12 over
    [taken] = (await page(api, start))["changes"]
    assert (taken["absenceId"], taken["action"], taken["nrnMedicalNotice"]) == (
        12,
        "absence.reattributed",
        "25336A000002",
    )
    assert (taken["before"]["excusedByNrn"], taken["after"]["excusedByNrn"]) == (
        "25336A000001",
        "25336A000002",
    )
    # A person comments on absence 13, its note is cancelled: listed for review, unchanged.
    await api.patch_absence(13, {"comment": "проверено"})
    after_take = (await page(api, start))["nextCursor"]
    await api.cancel("25336A000002")
    reverted = (await page(api, after_take))["changes"]
    assert [(c["absenceId"], c["action"]) for c in reverted] == [(12, "absence.reverted")]
    resolved = await api.http.post(
        "/api/v1/ops/review/13/resolve",
        json={"resolution": "unexcuse", "reason": "the parent called"},
        headers=await api.as_role("operator"),
    )
    assert resolved.status_code == 200, resolved.text
    [closed] = (await page(api, reverted[-1]["cursor"]))["changes"]
    assert (closed["absenceId"], closed["action"], closed["nrnMedicalNotice"]) == (
        13,
        "absence.review_closed",
        "25336A000002",
    )
    assert closed["before"] == {
        "kind": "excused",
        "reason": "medical",
        "comment": "проверено",
        "excusedByNrn": "25336A000002",
    }
    assert closed["after"] == UNEXCUSED


async def test_days_kept_by_a_vendors_diary_make_no_changes(api: Api) -> None:
    acme = bearer(await api.token("vendor", "acme"))  # the vendor first: the diary names it
    assert (await api.put_institution(SCHOOL)).is_success
    assert (await api.put_institution(VENDOR_SCHOOL, diary="acme")).is_success
    both = person(PUPIL, enrollment(SCHOOL), enrollment(VENDOR_SCHOOL, "1", None))
    assert (await api.put_person(1, both)).is_success
    for absence_id, school in ((10, VENDOR_SCHOOL), (11, SCHOOL)):
        assert (await api.post_absence(absence(absence_id, 1, school, "2026-11-18"))).is_success
    assert (await api.push(note("25336A000001", PUPIL))).status_code == 200
    # The vendor was handed the note; only the absence in NEISPUO's diary changed.
    events = await api.http.get("/api/v1/medicalNotices/events", headers=acme)
    assert [e["type"] for e in events.json()["events"]] == ["note.issued"]
    assert [c["absenceId"] for c in (await page(api))["changes"]] == [11]


async def test_cursor_rules_and_who_may_read(api: Api, reported: None) -> None:
    await api.push(note("25336A000001", PUPIL))
    cursor = (await page(api))["changes"][0]["cursor"]
    assert len(cursor) <= 200
    tampered = cursor[:-1] + ("A" if not cursor.endswith("A") else "B")
    other = await api.token("neispuo", "neispuo-reports")
    foreign = await api.http.get(
        "/api/v1/diary/changes", params={"after": cursor}, headers=bearer(other)
    )
    altered = await changes(api, tampered)
    assert (foreign.status_code, altered.status_code) == (400, 400)
    assert foreign.json()["detail"] == altered.json()["detail"]
    assert (await changes(api, "not a cursor")).status_code == 400
    for role in ("nzis", "vendor", "operator"):
        response = await api.http.get("/api/v1/diary/changes", headers=await api.as_role(role))
        assert response.status_code == 403, role
    for bad in ({"limit": 0}, {"limit": 1001}, {"wait": 31}):
        assert (await changes(api, **bad)).status_code == 400, bad


async def test_retention_purges_and_old_cursors_are_410(
    api: Api, reported: None, db: asyncpg.Connection
) -> None:
    await api.push(note("25336A000001", PUPIL, "2026-11-18", "2026-11-18"))
    start = (await page(api))["nextCursor"]
    await api.push(note("25336A000002", PUPIL, "2026-11-19", "2026-11-19"))
    newest = (await page(api, start))["nextCursor"]
    await db.execute("UPDATE diary_changes SET at = now() - interval '100 days'")
    conn = await asyncpg.connect(plain(api.database_url))
    try:
        async with conn.transaction():
            retention = Settings().event_retention_days
            assert await diary_service.purge_changes(conn, retention) == 2
    finally:
        await conn.close()
    expired = await changes(api, start)
    assert expired.status_code == 410
    assert expired.headers["content-type"] == "application/problem+json"
    assert (await page(api, newest))["changes"] == []  # at the newest purged: nothing lost
    fresh = await page(api)
    assert fresh["changes"] == []
    await api.push(note("25336A000003", PUPIL, "2026-11-20", "2026-11-20"))
    assert [c["absenceId"] for c in (await page(api, fresh["nextCursor"]))["changes"]] == [14]
    # The audit trail keeps what the feed let go.
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'absence.excused'") == 3


async def test_a_long_poll_answers_when_a_change_commits(api: Api, reported: None) -> None:
    cursor = (await page(api))["nextCursor"]

    polled, after_push = await poll_while_pushing(
        page(api, cursor, wait=10), lambda: api.push(note("25336A000001", PUPIL)), 0.5
    )
    assert [c["absenceId"] for c in polled["changes"]] == [12, 13, 14]
    assert after_push < 1.0
    # With nothing new it holds the whole wait, then answers with the same cursor.
    started = time.monotonic()
    idle = await page(api, polled["nextCursor"], wait=1)
    assert (idle["changes"], idle["nextCursor"]) == ([], polled["nextCursor"])
    assert time.monotonic() - started >= 0.9


async def test_a_change_on_one_process_wakes_a_long_poll_on_the_other(
    database_url: str, tmp_path: Path
) -> None:
    nzis, neispuo = await asyncio.gather(
        asyncio.to_thread(cli_token, database_url, "nzis-main", "nzis"),
        asyncio.to_thread(cli_token, database_url, "neispuo-core", "neispuo"),
    )
    core = bearer(neispuo)
    async with (
        served(database_url, tmp_path / "a.log") as intake,
        served(database_url, tmp_path / "b.log") as polling,
    ):
        school = {"name": "СУ", "town": "София", "diary": "neispuo"}
        assert (
            await intake.put(f"/api/v1/registry/institutions/{SCHOOL}", json=school, headers=core)
        ).status_code == 201
        await intake.put(
            "/api/v1/registry/persons/1", json=person(PUPIL, enrollment(SCHOOL)), headers=core
        )
        await intake.post(
            "/api/v1/diary/absences", json=absence(10, 1, SCHOOL, "2026-11-18"), headers=core
        )
        start = (await polling.get("/api/v1/diary/changes", headers=core)).json()

        poll, after_push = await poll_while_pushing(
            polling.get(
                "/api/v1/diary/changes",
                params={"after": start["nextCursor"], "wait": 20},
                headers=core,
            ),
            lambda: intake.post(
                "/api/v1/hisMedicalNotices",
                json=[note("25336A000001", PUPIL)],
                headers=bearer(nzis),
            ),
            0.5,
        )
    assert [c["absenceId"] for c in poll.json()["changes"]] == [10]
    assert after_push < 1.0, f"answered {after_push:.2f} s after the push"


async def test_a_registry_change_alters_the_month_and_the_feed_says_so(
    api: Api, reported: None
) -> None:
    await api.push(note("25336A000001", PUPIL, "2026-11-18", "2026-11-20"))
    assert (await november(api))["unexcusedLessons"] == 2
    start = (await page(api))["nextCursor"]
    # Registered late: the pupil left this school on 18 November for another one.
    await api.put_institution(SCHOOL + 1)
    moved = person(
        PUPIL,
        enrollment(SCHOOL, to_date="2026-11-18"),
        enrollment(SCHOOL + 1, from_date="2026-11-19"),
    )
    assert (await api.put_person(1, moved)).is_success
    reverted = (await page(api, start))["changes"]
    assert [(c["absenceId"], c["action"], c["after"]["kind"]) for c in reverted] == [
        (13, "absence.reverted", "unexcused"),
        (14, "absence.reverted", "unexcused"),
    ]
    assert (
        (await november(api))["unexcusedLessons"],
        (await november(api))["overBenefitLimit"],
    ) == (
        4,
        False,
    )


async def test_metrics_tell_how_far_each_reader_is_behind(api: Api, reported: None) -> None:
    """Per NEISPUO client, as for the vendors' feeds: the changes past the position it was
    last answered up to, their age, and when it last read."""
    late = note(
        "25336A000001", PUPIL, "2026-11-18", "2026-11-20", authored_on="2026-12-01T09:00:00"
    )
    assert (await api.push(late)).status_code == 200
    assert len((await page(api, limit=1))["changes"]) == 1  # read one of the three
    await api.token("neispuo", "never-read")
    text = (await api.http.get("/metrics")).text

    def figure(name: str, reader: str) -> float | None:
        match = re.search(rf'^{name}{{reader="{reader}"}} (\S+)$', text, re.M)
        return float(match.group(1)) if match else None

    assert figure("notegateway_change_feed_lag_events", "test-neispuo") == 2
    assert figure("notegateway_change_feed_lag_events", "never-read") == 3
    lag = figure("notegateway_change_feed_lag_seconds", "test-neispuo")
    assert lag is not None
    assert 0 < lag < 60
    assert figure("notegateway_change_feed_last_read_timestamp_seconds", "test-neispuo")
    assert figure("notegateway_change_feed_last_read_timestamp_seconds", "never-read") is None
    assert "notegateway_database_up 1.0" in text
    assert PUPIL not in text
