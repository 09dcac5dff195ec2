"""NEISPUO-compatible pull (/next, /acknowledge) and the vendor's view of a note."""

from __future__ import annotations

import datetime as dt

import asyncpg
import pytest

from notegateway.clients import service as clients_service
from notegateway.core.timeutil import SOFIA
from tests.factories import Api, make_egn, note
from tests.vendors.conftest import MOVER, PUPIL, Vendor


@pytest.mark.smoke
async def test_next_serves_notes_of_its_schools_in_id_order(
    api: Api, acme: Vendor, beta: Vendor, schools: None
) -> None:
    outsider = make_egn(dt.date(2012, 2, 2), 9)
    await api.push(
        note("25317A000001", PUPIL), note("25317A000002", outsider), note("25317A000003", MOVER)
    )
    response = await acme.get("/next/100")
    assert response.status_code == 200
    body = response.json()
    assert [n["medicalNoticeId"] for n in body["medicalNotices"]] == [1, 3]
    assert [n["personId"] for n in body["medicalNotices"]] == [1, 2]
    assert (
        body["medicalNotices"][0]["hisMedicalNotice"]["medicalNotice"]["fromDate"]
        == "2026-11-18T00:00:00"
    )
    assert body["hasMore"] is False
    assert dt.datetime.fromisoformat(body["lastHisSyncTime"]).tzinfo is None  # NEISPUO's local form
    assert len(body["lastHisSyncTime"]) == 19
    assert [
        n["medicalNoticeId"] for n in (await beta.get("/next/100")).json()["medicalNotices"]
    ] == [3]


async def test_next_bounds_and_has_more(api: Api, acme: Vendor, schools: None) -> None:
    assert (await acme.get("/next/99")).status_code == 400
    assert (await acme.get("/next/10001")).status_code == 400
    await api.push(
        *(note(f"25317A{i:06d}", PUPIL, authored_on="2026-11-20T10:31:00") for i in range(101))
    )
    page = (await acme.get("/next/100")).json()
    assert len(page["medicalNotices"]) == 100
    assert page["hasMore"] is True


async def test_acknowledge_hides_notes_and_ignores_others(
    api: Api, acme: Vendor, beta: Vendor, schools: None
) -> None:
    await api.push(note("25317A000001", PUPIL), note("25317A000003", MOVER))
    empty = await acme.post("/acknowledge", [])
    assert empty.status_code == 400
    assert (await acme.post("/acknowledge", {"ids": [1]})).status_code == 400
    # beta acknowledges acme's note 1 (not given to it) and its own note 2.
    response = await beta.post("/acknowledge", [1, 2, 999])
    assert response.status_code == 200
    assert response.content == b""
    assert (await beta.get("/next/100")).json()["medicalNotices"] == []
    assert [
        n["medicalNoticeId"] for n in (await acme.get("/next/100")).json()["medicalNotices"]
    ] == [1, 2]
    await acme.post("/acknowledge", [1])
    assert [
        n["medicalNoticeId"] for n in (await acme.get("/next/100")).json()["medicalNotices"]
    ] == [2]


async def test_cancelled_note_is_no_longer_served(api: Api, acme: Vendor, schools: None) -> None:
    await api.push(note("25317A000001", PUPIL))
    await api.cancel("25317A000001")
    assert (await acme.get("/next/100")).json()["medicalNotices"] == []


async def test_vendor_view_clipped_and_scoped(
    api: Api, acme: Vendor, beta: Vendor, schools: None
) -> None:
    await api.push(note("25317A000003", MOVER, "2026-11-16", "2026-11-24"))
    acme_view = (await acme.get("/25317A000003")).json()
    assert acme_view["placements"] == [
        {
            "institutionId": 300001,
            "className": "7",
            "section": "А",
            "fromDate": "2026-11-16",
            "toDate": "2026-11-18",
        }
    ]
    beta_view = (await beta.get("/25317A000003")).json()
    assert [(p["institutionId"], p["fromDate"]) for p in beta_view["placements"]] == [
        (300002, "2026-11-19")
    ]
    await api.push(note("25317A000001", PUPIL))
    assert (await beta.get("/25317A000001")).status_code == 404  # acme's pupil only
    assert (await beta.get("/25317A999999")).status_code == 404
    await api.cancel("25317A000001")
    assert (await acme.get("/25317A000001")).json()["status"] == "cancelled"


async def test_other_roles_cannot_use_vendor_endpoints(api: Api, schools: None) -> None:
    for role in ("nzis", "neispuo", "operator"):
        response = await api.http.get(
            "/api/v1/medicalNotices/next/100", headers=await api.as_role(role)
        )
        assert response.status_code == 403


async def test_last_sync_time_moves_on_every_push_or_cancel_call(
    api: Api, acme: Vendor, schools: None, db: asyncpg.Connection
) -> None:
    async def sync_time() -> dt.datetime | None:
        value: dt.datetime | None = await db.fetchval("SELECT max(called_at) FROM nzis_sync")
        return value

    assert (await acme.get("/next/100")).json()["lastHisSyncTime"] is None
    calls = [
        lambda: api.push(raw=[]),  # 422 for the whole body
        lambda: api.push(raw={"not": "an array"}),
        lambda: api.push({"nrnMedicalNotice": "bad"}),  # 422, an invalid item
        lambda: api.cancel("25317A000999", {"cancelReason": 5}),  # 422
        lambda: api.cancel("25317A000999"),  # 202
        lambda: api.push(note("25317A000001", PUPIL)),  # 200
    ]
    seen: list[dt.datetime] = []
    for call in calls:
        response = await call()
        assert response.status_code in (200, 202, 422), response.text
        now = await sync_time()
        assert now is not None, response.status_code
        assert not seen or now > seen[-1], response.status_code
        seen.append(now)
    # What the vendor is shown: that time, in NEISPUO's local form.
    shown = (await acme.get("/next/100")).json()["lastHisSyncTime"]
    assert shown == seen[-1].astimezone(SOFIA).strftime("%Y-%m-%dT%H:%M:%S")
    # A call by someone who is not NZIS moves nothing.
    refused = await api.http.post(
        "/api/v1/hisMedicalNotices", json=[], headers=await api.as_role("operator")
    )
    assert refused.status_code == 403
    assert await sync_time() == seen[-1]


async def test_credentials_that_admit_no_nzis_client_record_no_call(
    api: Api, db: asyncpg.Connection
) -> None:
    """The call is recorded in the credentials' own statement, only when they admit NZIS."""
    url = "/api/v1/hisMedicalNotices"
    refused = [
        await api.http.post(url, json=[], headers={"Authorization": "Bearer not-a-token"}),
        await api.http.post(url, json=[], headers=await api.as_role("vendor")),
    ]
    # A read by NZIS records nothing either.
    read = await api.http.get(f"{url}/25317A000001", headers=await api.as_role("nzis"))
    await clients_service.disable(db, "test-nzis")
    refused.append(await api.push(note("25317A000001", PUPIL)))
    assert [r.status_code for r in refused] == [401, 403, 401]
    assert read.status_code == 404
    assert await db.fetchval("SELECT count(*) FROM nzis_sync") == 0
