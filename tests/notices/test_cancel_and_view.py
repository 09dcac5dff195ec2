"""Cancellation (also before the note arrives) and the gateway's view of a note."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import asyncpg
import pytest

from tests.factories import Api, enrollment, linger, make_egn, note, person

EGN = make_egn(dt.date(2014, 3, 15), 123)
NRN = "25317A000200"


@pytest.mark.smoke
async def test_cancel_received_note(api: Api, db: asyncpg.Connection) -> None:
    await api.push(note(NRN, EGN))
    response = await api.cancel(NRN, {"cancelReason": "грешно издадена"})
    assert response.status_code == 200
    assert response.json() == {
        "nrnMedicalNotice": NRN,
        "status": "cancelled",
        "revertedAbsences": 0,
        "reattributedAbsences": 0,
    }
    assert (await api.view(NRN)).json()["status"] == "cancelled"
    assert await db.fetchval("SELECT cancel_reason FROM notice_cancellations") == "грешно издадена"


async def test_cancel_before_note_is_kept_and_applied_on_arrival(api: Api) -> None:
    early = await api.cancel(NRN)  # no body at all
    assert early.status_code == 202
    assert early.json()["status"] == "cancelled"
    response = await api.push(note(NRN, EGN))
    assert response.status_code == 200
    assert response.json()["results"][0]["outcome"] == "created"
    view = (await api.view(NRN)).json()
    assert view["status"] == "cancelled"
    # A repeat gets the first answer, also after the note has arrived.
    repeat = await api.cancel(NRN, {"cancelReason": "again"})
    assert repeat.status_code == 202
    assert repeat.json() == early.json()
    # A retried note is a duplicate and stays cancelled.
    assert (await api.push(note(NRN, EGN))).json()["results"][0]["outcome"] == "duplicate"
    assert (await api.view(NRN)).json()["status"] == "cancelled"


async def test_repeated_cancel_returns_first_answer(api: Api) -> None:
    await api.push(note(NRN, EGN))
    first = await api.cancel(NRN)
    second = await api.cancel(NRN, {"CANCELREASON": "x"})
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json() == second.json()


async def test_cancel_and_note_racing_always_end_cancelled(
    api: Api, db: asyncpg.Connection
) -> None:
    await api.token("nzis")
    # The note's insert lingers: without the NRN lock, the cancellation would look for the
    # note before it commits, and the note for the cancellation before that commits.
    await linger(db, "medical_notices", 0.3)
    await linger(db, "notice_cancellations", 0.05)
    for i in range(4):
        nrn = f"25317A{300 + i:06d}"
        cancel, push = await asyncio.gather(api.cancel(nrn), api.push(note(nrn, EGN)))
        assert cancel.status_code in (200, 202)
        assert push.status_code == 200
        assert (await api.view(nrn)).json()["status"] == "cancelled", nrn


@pytest.mark.parametrize("nrn", ["25317a000200", "SHORT", "25317A0002000"])
async def test_bad_nrn_in_path_is_400(api: Api, nrn: str) -> None:
    response = await api.cancel(nrn)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert (await api.view(nrn)).status_code == 400


async def test_cancel_body_rules(api: Api, db: asyncpg.Connection) -> None:
    assert (await api.cancel(NRN, {"cancelReason": 5})).status_code == 422
    assert (await api.cancel(NRN, ["x"])).status_code == 422
    headers = await api.as_role("nzis")
    malformed = await api.http.post(
        f"/api/v1/hisMedicalNotices/{NRN}/cancel", content=b"{", headers=headers
    )
    assert malformed.status_code == 400
    assert await db.fetchval("SELECT count(*) FROM notice_cancellations") == 0


async def test_view_unknown_is_404(api: Api) -> None:
    response = await api.view(NRN)
    assert response.status_code == 404
    assert response.json()["status"] == 404


async def test_view_shape(api: Api) -> None:
    await api.put_institution(100001)
    await api.put_person(1, person(EGN, enrollment(100001, "5", "А")))
    await api.push(note(NRN, EGN))
    view = (await api.view(NRN)).json()
    assert set(view) == {
        "medicalNoticeId",
        "nrnMedicalNotice",
        "receivedAt",
        "processedAt",
        "status",
        "match",
        "excusedAbsences",
        "delivered",
        "vendorAcks",
        "hisMedicalNotice",
    }
    assert view["match"] == "matched"
    assert view["status"] == "active"
    assert view["delivered"] == {"neispuoDiary": True, "vendors": 0}
    # Nothing of where the pupil studies, anywhere in it.
    assert "100001" not in json.dumps(view)
    assert dt.datetime.fromisoformat(view["receivedAt"]).tzinfo is not None
    assert view["hisMedicalNotice"]["medicalNotice"]["authoredOn"] == "2026-11-20T10:31:00"
