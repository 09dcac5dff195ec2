"""An operator limited to a region (РУО) sees its region's notes, review items and
figures only: 404 for other notes, 403 for rejections, unmatched notes and the rest."""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx
import pytest

from tests.factories import Api, absence, bearer, enrollment, make_egn, note, person
from tests.serving import run_cli

VARNA, RUSE = 100001, 100002
IN_VARNA = make_egn(dt.date(2014, 3, 15), 123)
IN_RUSE = make_egn(dt.date(2013, 5, 2), 456)


@pytest.fixture
async def varna(api: Api) -> dict[str, str]:
    """Two schools in two regions, a note in each, an unmatched note; a Varna operator."""
    await api.put_institution(VARNA, region="Варна")
    await api.put_institution(RUSE, region="Русе")
    await api.put_person(1, person(IN_VARNA, enrollment(VARNA)))
    await api.put_person(2, person(IN_RUSE, enrollment(RUSE)))
    await api.push(
        note("25317A000001", IN_VARNA),
        note("25317A000002", IN_RUSE),
        note("25317A000003", make_egn(dt.date(2012, 1, 1), 9)),  # unmatched
    )
    return bearer(await api.add_client("ruo-varna", "operator", region="Варна"))


async def get(api: Api, path: str, headers: dict[str, str], **params: str) -> httpx.Response:
    return await api.http.get(f"/api/v1/ops{path}", params=params, headers=headers)


async def test_notes_of_its_region_only(api: Api, varna: dict[str, str]) -> None:
    listed = (await get(api, "/notes", varna)).json()
    assert [n["nrnMedicalNotice"] for n in listed["items"]] == ["25317A000001"]
    assert listed["total"] == 1
    assert (await get(api, "/notes/25317A000001", varna)).status_code == 200
    assert (await get(api, "/notes/25317A000002", varna)).status_code == 404
    assert (await get(api, "/notes/25317A000003", varna)).status_code == 404
    # The whole country's operator sees all three.
    assert (await api.ops("/notes")).json()["total"] == 3


async def test_no_rejections_no_unmatched_no_links_no_other_apis(
    api: Api, varna: dict[str, str]
) -> None:
    assert (await get(api, "/rejections", varna)).status_code == 403
    assert (await get(api, "/notes", varna, match="unmatched")).status_code == 403
    linked = await api.http.post(
        "/api/v1/ops/notes/25317A000001/match",
        json={"personId": 2, "reason": "x"},
        headers=varna,
    )
    assert linked.status_code == 403
    for path in ("/api/v1/hisMedicalNotices/25317A000001", "/api/v1/registry/persons/2"):
        assert (await api.http.get(path, headers=varna)).status_code == 403, path


async def test_review_redelivery_and_figures_of_its_region(api: Api, varna: dict[str, str]) -> None:
    for absence_id, pupil, school in ((10, 1, VARNA), (20, 2, RUSE)):
        await api.post_absence(absence(absence_id, pupil, school, "2026-11-18"))
        await api.patch_absence(absence_id, {"comment": "видяно"})
    await api.push(note("25317A000004", IN_VARNA), note("25317A000005", IN_RUSE))
    await api.cancel("25317A000001")
    await api.cancel("25317A000002")
    await api.cancel("25317A000004")
    await api.cancel("25317A000005")
    all_review = [r["absenceId"] for r in (await api.ops("/review")).json()["items"]]
    assert sorted(set(all_review)) == [10, 20]
    mine = [r["absenceId"] for r in (await get(api, "/review", varna)).json()["items"]]
    assert set(mine) == {10}
    other = await api.http.post(
        "/api/v1/ops/review/20/resolve", json={"resolution": "keep", "reason": "x"}, headers=varna
    )
    assert other.status_code == 404
    own = await api.http.post(
        "/api/v1/ops/review/10/resolve", json={"resolution": "keep", "reason": "x"}, headers=varna
    )
    assert own.status_code == 200
    redelivered = await api.http.post(
        "/api/v1/ops/notes/25317A000002/redeliver",
        json={"vendor": "acme", "reason": "x"},
        headers=varna,
    )
    assert redelivered.status_code == 404
    figures = (
        await get(api, "/stats/notes", varna, fromDate="2026-11-18", toDate="2026-11-18")
    ).json()
    assert {i["region"] for i in figures["items"]} == {"Варна"}


async def test_monthly_figures_of_its_regions_institutions_only(
    api: Api, varna: dict[str, str]
) -> None:
    def month(school: int) -> str:
        return f"/api/v1/diary/institutions/{school}/months/2026-11"

    own = await api.http.get(month(VARNA), headers=varna)
    assert own.status_code == 200, own.text
    assert [p["personId"] for p in own.json()["pupils"]] == [1]
    # Another region's school, and one that does not exist, answer alike.
    elsewhere = await api.http.get(month(RUSE), headers=varna)
    missing = await api.http.get(month(999999), headers=varna)
    assert (elsewhere.status_code, missing.status_code) == (404, 404)
    assert elsewhere.json()["detail"] == f"no institution {RUSE}"
    # A country-wide operator sees both; the rest of the diary stays closed to the region.
    for school in (VARNA, RUSE):
        assert (await api.http.get(month(school), headers=await api.as_role("operator"))).is_success
    listed = await api.http.get("/api/v1/diary/absences", params={"personId": 1}, headers=varna)
    assert listed.status_code == 403


async def test_region_from_the_command_line_and_for_operators_only(database_url: str) -> None:
    added = await asyncio.to_thread(
        run_cli,
        database_url,
        "clients",
        "add",
        "ruo-ruse",
        "--role",
        "operator",
        "--region",
        "Русе",
    )
    assert added.returncode == 0, added.stderr
    listed = await asyncio.to_thread(run_cli, database_url, "clients", "list")
    assert "region=Русе" in listed.stdout
    refused = await asyncio.to_thread(
        run_cli, database_url, "clients", "add", "odd", "--role", "vendor", "--region", "Русе"
    )
    assert refused.returncode == 1
    assert "operator" in refused.stderr
