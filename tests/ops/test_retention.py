"""Retention (ops/retention.py): whole school years past NOTEGATEWAY_RETENTION_SCHOOL_YEARS
are purged, one transaction each; nothing of a purged year remains, nothing of a kept year
is touched, and the audit says what went (counts, no content)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import asyncpg
import pytest

from notegateway.core.timeutil import today_in_sofia
from notegateway.ops import retention
from tests.factories import Api, absence, enrollment, fail_on, make_egn, make_lnch, note, person
from tests.serving import run_cli
from tests.vendors.conftest import Vendor

SCHOOL, VENDOR_SCHOOL = 100001, 300001
PUPIL = make_egn(dt.date(2014, 3, 15), 123)  # person 1, at SCHOOL
OTHER = make_egn(dt.date(2013, 6, 2), 456)  # person 2, at the vendor's school
FIRST_LNCH, SECOND_LNCH = make_lnch(11), make_lnch(12)  # person 3's earlier identifiers
# On 1 October 2027, keeping one school year: 2025/26 (1 Sep 2025 – 31 Aug 2026) goes,
# 2026/27 stays (it is the one kept after 2027/28's start).
TODAY, KEEP = dt.date(2027, 10, 1), 1
OLD_NRNS = ["25317A000001", "25317A000002", "25317A000003"]
KEPT = ["26317A000004", "26317A000005"]


@pytest.fixture
async def two_years(api: Api) -> None:
    """Notes, absences, a cancellation, a vendor's feed, former identifiers and month
    reports in school year 2025/26 (old) and 2026/27 (kept)."""
    acme = Vendor(api, "acme")
    await acme.headers()
    await api.put_institution(SCHOOL)
    await api.put_institution(VENDOR_SCHOOL, diary="acme")
    await api.put_person(1, person(PUPIL, enrollment(SCHOOL, from_date="2025-09-15")))
    await api.put_person(2, person(OTHER, enrollment(VENDOR_SCHOOL, from_date="2025-09-15")))
    for days in (
        (1, "2025-11-18"),  # old
        (2, "2026-08-31"),  # old: the last day of 2025/26, excused by a kept note
        (3, "2026-09-01"),  # kept: the first day of 2026/27
        (4, "2026-11-18"),  # kept
        (5, "2025-12-01"),  # old, excused by a note then cancelled
        (6, "2025-10-01"),  # old, deleted by the diary: only its audit entries remain
    ):
        assert (await api.post_absence(absence(days[0], 1, SCHOOL, days[1]))).status_code == 201
    pushed = await api.push(
        note("25317A000001", PUPIL, "2025-11-17", "2025-11-19", authored_on="2025-11-20T09:00:00"),
        note("25317A000002", PUPIL, "2025-12-01", "2025-12-02", authored_on="2025-12-03T09:00:00"),
        note("25317A000003", OTHER, "2025-11-20", "2025-11-21", authored_on="2025-11-22T09:00:00"),
        note("26317A000004", PUPIL, "2026-08-31", "2026-09-01", authored_on="2026-09-01T09:00:00"),
        note("26317A000005", PUPIL, "2026-11-18", "2026-11-18", authored_on="2026-11-18T09:00:00"),
    )
    assert [r["outcome"] for r in pushed.json()["results"]] == ["created"] * 5, pushed.text
    assert (await api.cancel("25317A000002", {"reason": "грешка"})).status_code == 200
    deleted = await api.http.delete(
        "/api/v1/diary/absences/6", headers=await api.as_role("neispuo")
    )
    assert deleted.status_code == 204
    assert (await acme.feed())["events"]  # the vendor was served its old note
    # Person 3 gave up two identifiers: one in 2025/26 (old), one now (kept).
    await api.put_person(3, person(FIRST_LNCH, enrollment(SCHOOL), identifier_type=2))
    await api.put_person(3, person(SECOND_LNCH, enrollment(SCHOOL), identifier_type=2))
    await api.put_person(3, person(make_egn(dt.date(2015, 1, 9), 789), enrollment(SCHOOL)))
    core = await api.as_role("neispuo")
    for month in ("2025-11", "2026-11"):
        reported = await api.http.put(
            f"/api/v1/diary/institutions/{SCHOOL}/months/{month}/report", json={}, headers=core
        )
        assert reported.status_code == 201, reported.text


async def backdate_first_former_identifier(db: asyncpg.Connection) -> None:
    await db.execute(
        "UPDATE former_identifiers SET until = '2026-06-30 12:00+03' WHERE identifier = $1",
        FIRST_LNCH,
    )


async def kept_rows(db: asyncpg.Connection) -> dict[str, list[Any]]:
    """Every row of the kept year, whole, to compare before and after."""
    notes = [
        r["id"] for r in await db.fetch("SELECT id FROM medical_notices WHERE nrn = ANY($1)", KEPT)
    ]
    queries: dict[str, tuple[str, tuple[Any, ...]]] = {
        "notes": ("SELECT to_jsonb(n) FROM medical_notices AS n WHERE id = ANY($1)", (notes,)),
        "placements": (
            "SELECT to_jsonb(p) FROM placements AS p WHERE notice_id = ANY($1)",
            (notes,),
        ),
        "absences": ("SELECT to_jsonb(a) FROM absences AS a WHERE id IN (3, 4)", ()),
        "audit": (
            "SELECT to_jsonb(l) FROM audit_log AS l "
            "WHERE (notice_id = ANY($1) OR absence_id IN (3, 4))"
            " AND coalesce(absence_id, 0) NOT IN (1, 2, 5, 6)",  # a kept note's, of an old day: gone
            (notes,),
        ),
        "former": (
            "SELECT to_jsonb(f) FROM former_identifiers AS f WHERE identifier <> $1",
            (FIRST_LNCH,),
        ),
        "reports": (
            "SELECT to_jsonb(r) FROM month_reports AS r WHERE month >= '2026-09-01'",
            (),
        ),
        "persons": ("SELECT to_jsonb(p) FROM persons AS p", ()),
        "enrollments": ("SELECT to_jsonb(e) FROM enrollments AS e", ()),
    }
    return {
        name: sorted(r[0] for r in await db.fetch(query, *args))
        for name, (query, args) in queries.items()
    }


async def old_rows(db: asyncpg.Connection) -> dict[str, int]:
    """How many rows of the old year each table still holds."""
    old = "(SELECT id FROM medical_notices WHERE nrn = ANY($1))"
    counts = {}
    for name, query in {
        "notes": "SELECT count(*) FROM medical_notices WHERE nrn = ANY($1)",
        "absences": "SELECT count(*) FROM absences WHERE id IN (1, 2, 5) AND $1::text[] IS NOT NULL",
        "audit": f"SELECT count(*) FROM audit_log WHERE notice_id IN {old} OR absence_id IN (1, 2, 5, 6)",
        "cancellations": "SELECT count(*) FROM notice_cancellations WHERE nrn = ANY($1)",
        "vendor_events": f"SELECT count(*) FROM vendor_events WHERE notice_id IN {old}",
        "vendor_note_state": f"SELECT count(*) FROM vendor_note_state WHERE notice_id IN {old}",
        "vendor_deliveries": f"SELECT count(*) FROM vendor_deliveries WHERE notice_id IN {old}",
        "month_reports": "SELECT count(*) FROM month_reports WHERE month < '2026-09-01' "
        "AND $1::text[] IS NOT NULL",
        "former": "SELECT count(*) FROM former_identifiers WHERE until < '2026-09-01' "
        "AND $1::text[] IS NOT NULL",
    }.items():
        counts[name] = await db.fetchval(query, OLD_NRNS)
    return counts


async def test_a_purged_year_leaves_nothing_and_a_kept_year_is_untouched(
    api: Api, two_years: None, db: asyncpg.Connection
) -> None:
    await backdate_first_former_identifier(db)
    before = await old_rows(db)
    assert all(before.values()), before  # the fixture made rows of every kind
    kept = await kept_rows(db)

    [purged] = await retention.purge(api.app.state.engine, TODAY, KEEP, only_when_due=False)

    assert purged.school_year == 2025
    assert await old_rows(db) == dict.fromkeys(before, 0)
    assert await kept_rows(db) == kept
    assert purged.removed["notes"] == 3
    assert purged.removed["absences"] == 3
    assert purged.removed["formerIdentifiers"] == 1
    assert purged.removed["monthReports"] == 1
    assert purged.removed["auditEntries"] >= before["audit"]
    # Said in the audit, and marked: counts only, no identifier, name or NRN.
    entry = await db.fetchrow(
        "SELECT actor, notice_id, absence_id, after FROM audit_log "
        "WHERE action = 'retention.purged' AND after->>'schoolYear' = '2025'"
    )
    assert (entry["actor"], entry["notice_id"], entry["absence_id"]) == ("retention", None, None)
    said = json.loads(entry["after"])
    assert said == {"schoolYear": 2025, **purged.removed}
    assert all(isinstance(v, int) for v in said.values())
    marked = await db.fetchval("SELECT removed FROM retention_purges WHERE school_year = 2025")
    assert json.loads(marked) == said
    # Through the API: the old note is gone, the kept ones are there.
    assert (await api.view("25317A000001")).status_code == 404
    assert (await api.view("26317A000004")).status_code == 200
    assert [a["absenceId"] for a in await api.absences(institutionId=SCHOOL)] == [3, 4]

    # The hourly job sees the year purged and looks no further; a second purge of
    # everything finds nothing more (and says nothing), and the first purge's entry stays.
    assert await retention.purge(api.app.state.engine, TODAY, KEEP, only_when_due=True) == []
    [again] = await retention.purge(api.app.state.engine, TODAY, KEEP, only_when_due=False)
    assert set(again.removed.values()) == {0}
    assert (
        await db.fetchval(
            "SELECT count(*) FROM audit_log "
            "WHERE action = 'retention.purged' AND after->>'schoolYear' = '2025'"
        )
        == 1
    )


async def test_a_purge_that_fails_midway_removes_nothing(
    api: Api, two_years: None, db: asyncpg.Connection
) -> None:
    before = await old_rows(db)
    kept = await kept_rows(db)
    await fail_on(db, "month_reports", "DELETE")
    with pytest.raises(asyncpg.RaiseError, match="injected failure"):
        await retention.purge(api.app.state.engine, TODAY, KEEP, only_when_due=False)
    assert await old_rows(db) == before
    assert await kept_rows(db) == kept
    assert await db.fetchval("SELECT count(*) FROM retention_purges WHERE school_year = 2025") == 0


async def test_the_audit_log_refuses_deletes_outside_the_purge(
    api: Api, two_years: None, db: asyncpg.Connection
) -> None:
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await db.execute("DELETE FROM audit_log")
    async with db.transaction():  # the flag is the purge's, for its own transaction only
        await db.execute("SELECT set_config('notegateway.retention_purge', 'on', true)")
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await db.execute("DELETE FROM audit_log")


async def test_the_command_purges_nothing_within_retention(
    api: Api, two_years: None, database_url: str, db: asyncpg.Connection
) -> None:
    """`notegateway purge` today, with the default five school years kept: 2025/26 and
    2026/27 stay whole; the command prints the years it looked at, with counts."""
    before, kept = await old_rows(db), await kept_rows(db)
    done = await asyncio.to_thread(run_cli, database_url, "purge")
    assert done.returncode == 0, done.stderr
    newest = retention.newest_purgeable(today_in_sofia(), 5)
    assert f"school year {newest}/{newest + 1}: notes 0, placements 0" in done.stdout
    assert (await old_rows(db), await kept_rows(db)) == (before, kept)
