"""Diary periods: each institution-day has the diary of the period holding that date."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Awaitable
from typing import Any

import asyncpg
import httpx
import pytest

from notegateway.core.timeutil import today_in_sofia
from tests.factories import Api, absence, enrollment, linger, make_egn, note, person
from tests.vendors.conftest import Vendor

EGN = make_egn(dt.date(2014, 3, 15), 123)
SCHOOL = 100001
JUNE_NOTE = ("25317A000301", "2026-06-10", "2026-06-12")


@pytest.fixture
async def acme(api: Api) -> Vendor:
    vendor = Vendor(api, "acme")
    await vendor.headers()
    return vendor


async def institution(api: Api) -> dict[str, Any]:
    response = await api.http.get(
        f"/api/v1/registry/institutions/{SCHOOL}", headers=await api.as_role("neispuo")
    )
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def enrol(api: Api) -> None:
    await api.put_person(1, person(EGN, enrollment(SCHOOL, from_date="2025-09-15")))


async def test_periods_are_started_shown_and_refused_before_the_latest(
    api: Api, acme: Vendor, db: asyncpg.Connection
) -> None:
    created = await api.put_institution(SCHOOL, region="София-град", diary_from="2026-09-01")
    assert created.status_code == 201
    body = created.json()
    # The first diary holds every day (a diaryFrom on creation starts nothing).
    assert (body["region"], body["diary"]) == ("София-град", "neispuo")
    assert body["diaries"] == [{"diary": "neispuo", "fromDate": None, "toDate": None}]
    switched = await api.put_institution(SCHOOL, diary="acme", diary_from="2026-09-01")
    assert switched.status_code == 200
    assert switched.json()["diaries"] == [
        {"diary": "neispuo", "fromDate": None, "toDate": "2026-08-31"},
        {"diary": "acme", "fromDate": "2026-09-01", "toDate": None},
    ]
    assert switched.json()["diary"] == "acme"
    # Naming the latest period's diary changes no period.
    again = await api.put_institution(SCHOOL, diary="acme", diary_from="2026-10-01")
    assert again.json()["diaries"] == switched.json()["diaries"]
    # Before the latest period's start: 422, nothing changes.
    refused = await api.put_institution(SCHOOL, diary="neispuo", diary_from="2026-08-31")
    assert refused.status_code == 422
    assert ["diaryFrom"] in [e["loc"] for e in refused.json()["errors"]]
    assert (await institution(api))["diaries"] == switched.json()["diaries"]
    # A future date is allowed; today's diary stays until then.
    future = (today_in_sofia() + dt.timedelta(days=30)).isoformat()
    later = await api.put_institution(SCHOOL, diary="neispuo", diary_from=future)
    assert later.status_code == 200
    assert later.json()["diary"] == "acme"
    assert [p["fromDate"] for p in later.json()["diaries"]] == [None, "2026-09-01", future]
    audited = await db.fetch(
        "SELECT before, after FROM audit_log WHERE action = 'institution.diary_changed' ORDER BY id"
    )
    assert len(audited) == 3  # created, to acme, to neispuo later


async def test_without_diary_from_the_change_starts_today(api: Api, acme: Vendor) -> None:
    await api.put_institution(SCHOOL)
    body = (await api.put_institution(SCHOOL, diary="acme")).json()
    assert body["diaries"][-1] == {
        "diary": "acme",
        "fromDate": today_in_sofia().isoformat(),
        "toDate": None,
    }


async def test_june_note_after_a_september_switch_excuses_in_neispuos_diary(
    api: Api, acme: Vendor
) -> None:
    await api.put_institution(SCHOOL)
    await enrol(api)
    await api.post_absence(absence(1, 1, SCHOOL, "2026-06-11"))
    await api.put_institution(SCHOOL, diary="acme", diary_from="2026-09-01")
    nrn, start, end = JUNE_NOTE
    await api.push(note(nrn, EGN, start, end, authored_on="2026-11-25T09:00:00"))
    assert (await api.absence_by_id(1))["excusedByNrn"] == nrn
    # The vendor that keeps the diary since September is told nothing of June.
    assert (await acme.feed())["events"] == []
    assert (await acme.get("/next/100")).json()["medicalNotices"] == []
    assert (await acme.get(f"/{nrn}")).status_code == 404
    assert (await api.view(nrn)).json()["delivered"] == {"neispuoDiary": True, "vendors": 0}


async def test_june_note_goes_to_the_vendor_that_kept_june(api: Api, acme: Vendor) -> None:
    await api.put_institution(SCHOOL, diary="acme")
    await enrol(api)
    await api.put_institution(SCHOOL, diary="neispuo", diary_from="2026-09-01")
    await api.post_absence(absence(1, 1, SCHOOL, "2026-06-11"))
    nrn, start, end = JUNE_NOTE
    await api.push(note(nrn, EGN, start, end, authored_on="2026-11-25T09:00:00"))
    assert (await api.absence_by_id(1))["kind"] == "unexcused"
    [event] = (await acme.feed())["events"]
    assert event["type"] == "note.issued"
    assert [(p["fromDate"], p["toDate"]) for p in event["placements"]] == [(start, end)]
    assert (await api.view(nrn)).json()["delivered"] == {"neispuoDiary": False, "vendors": 1}


async def test_a_note_across_the_switch_is_cut_at_its_date(api: Api, acme: Vendor) -> None:
    await api.put_institution(SCHOOL)
    await enrol(api)
    await api.put_institution(SCHOOL, diary="acme", diary_from="2026-11-19")
    await api.post_absence(absence(1, 1, SCHOOL, "2026-11-18"))
    await api.post_absence(absence(2, 1, SCHOOL, "2026-11-19"))
    await api.push(note("25317A000302", EGN, "2026-11-17", "2026-11-20"))
    kinds = {a["absenceId"]: a["kind"] for a in await api.absences()}
    assert kinds == {1: "excused", 2: "unexcused"}  # the 19th is acme's to excuse
    [event] = (await acme.feed())["events"]
    assert [(p["fromDate"], p["toDate"]) for p in event["placements"]] == [
        ("2026-11-19", "2026-11-20")
    ]
    # NEISPUO's class view shows the days its diary keeps.
    listed = await api.http.get(
        f"/api/v1/diary/institutions/{SCHOOL}/medicalNotices", headers=await api.as_role("neispuo")
    )
    [item] = listed.json()["items"]
    assert [(p["fromDate"], p["toDate"]) for p in item["placements"]] == [
        ("2026-11-17", "2026-11-18")
    ]
    assert item["excusedAbsences"] == 1


async def later(seconds: float, call: Awaitable[httpx.Response]) -> httpx.Response:
    await asyncio.sleep(seconds)
    return await call


@pytest.mark.parametrize(("first", "then"), [("neispuo", "acme"), ("acme", "neispuo")])
async def test_a_push_during_a_switch_is_handled_by_the_diary_that_keeps_its_days(
    api: Api, acme: Vendor, db: asyncpg.Connection, first: str, then: str
) -> None:
    await api.put_institution(SCHOOL, diary=first)
    await enrol(api)
    await api.token("nzis")
    await linger(db, "placements", 0.5)  # the push lingers inside its insert
    pushed, switched = await asyncio.gather(
        api.push(note("25317A000303", EGN, "2026-11-18", "2026-11-20")),
        later(0.2, api.put_institution(SCHOOL, diary=then, diary_from="2026-11-01")),
    )
    assert (pushed.status_code, switched.status_code) == (200, 200)
    # Whichever committed first, what the vendor is taken to know is what its diary keeps
    # now, so that later changes reach it (or not) as they should.
    told = await db.fetchrow("SELECT state, placements::text FROM vendor_note_state")
    view = await acme.get("/25317A000303")
    if view.status_code == 200:
        assert told is not None
        assert told["state"] == "issued"
        assert json.loads(told["placements"]) == view.json()["placements"]
    else:
        assert view.status_code == 404
        assert told is None or told["state"] == "gone"
