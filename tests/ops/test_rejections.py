"""Rejected pushes kept for the helpdesk: masked, newest first, paged, purged."""

from __future__ import annotations

import datetime as dt
import json

import asyncpg

from notegateway.notices import service as notices_service
from tests.factories import Api, make_egn, note

EGN = make_egn(dt.date(2014, 3, 15), 123)
OTHER = make_egn(dt.date(2013, 5, 2), 456)


async def test_invalid_and_conflicting_items_are_kept_masked(
    api: Api, db: asyncpg.Connection
) -> None:
    await api.push(note("25317A000001", EGN))
    stray = note("25317A000003", EGN) | {"nrnExamination": f"pupil {OTHER}"}  # ЕГН astray
    pushed = await api.push(
        note("25317A000001", EGN, "2026-11-19", "2026-11-19"),  # conflict
        note("25317A000002", EGN),  # created
        note("BAD", EGN),  # invalid
        stray,  # invalid: no examination NRN
    )
    assert [r["outcome"] for r in pushed.json()["results"]] == [
        "conflict",
        "created",
        "invalid",
        "invalid",
    ]
    listed = await api.ops("/rejections")
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert [(i["index"], i["outcome"]) for i in items] == [
        (3, "invalid"),
        (2, "invalid"),
        (0, "conflict"),
    ]
    assert {i["client"] for i in items} == {"test-nzis"}
    assert items[2]["nrnMedicalNotice"] == "25317A000001"
    assert items[1]["errors"][0]["loc"] == ["nrnMedicalNotice"]
    patient = items[2]["item"]["patient"]
    assert patient["identifier"] == EGN[:2] + "******" + EGN[-2:]
    assert "givenName" not in patient
    assert "familyName" not in patient
    assert items[0]["item"]["nrnExamination"] == f"pupil {OTHER[:2]}******{OTHER[-2:]}"
    # Nowhere in what is kept: not the identifiers, not the names.
    stored = json.dumps([dict(r) for r in await db.fetch("SELECT * FROM rejections")], default=str)
    for secret in (EGN, OTHER, "ИВАН", "ТОДОРОВ"):
        assert secret not in stored


async def test_filtered_by_nrn_and_day_and_paged(api: Api) -> None:
    for i in range(3):
        await api.push(note(f"25317A00001{i}", "not-an-egn"))
    only = (await api.ops("/rejections", nrnMedicalNotice="25317A000011")).json()["items"]
    assert [i["nrnMedicalNotice"] for i in only] == ["25317A000011"]
    first = (await api.ops("/rejections", limit=2)).json()
    assert [i["nrnMedicalNotice"] for i in first["items"]] == ["25317A000012", "25317A000011"]
    rest = (await api.ops("/rejections", limit=2, after=first["nextCursor"])).json()
    assert [i["nrnMedicalNotice"] for i in rest["items"]] == ["25317A000010"]
    assert rest["nextCursor"] is None
    today = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=2))).date()
    tomorrow = (today + dt.timedelta(days=2)).isoformat()
    assert (await api.ops("/rejections", fromDate=tomorrow)).json()["items"] == []
    assert (await api.ops("/rejections", after="!")).status_code == 400


async def test_lone_surrogates_and_nul_are_kept_escaped(api: Api) -> None:
    pushed = await api.http.post(
        "/api/v1/hisMedicalNotices",
        content=b'[{"nrnMedicalNotice": "25317A000020", "nrnExamination": "\\ud800 and \\u0000"}]',
        headers={**await api.as_role("nzis"), "content-type": "application/json"},
    )
    assert pushed.status_code == 422
    [kept] = (await api.ops("/rejections")).json()["items"]
    assert kept["item"]["nrnExamination"] == "\\ud800 and \\u0000"


async def test_only_operators_see_them_and_old_ones_are_purged(
    api: Api, db: asyncpg.Connection
) -> None:
    await api.push(note("25317A000030", "not-an-egn"))
    refused = await api.http.get("/api/v1/ops/rejections", headers=await api.as_role("nzis"))
    assert refused.status_code == 403
    await db.execute("UPDATE rejections SET at = now() - interval '31 days'")
    await api.push(note("25317A000031", "not-an-egn"))
    assert await notices_service.purge_rejections(db, 30) == 1
    kept = (await api.ops("/rejections")).json()["items"]
    assert [i["nrnMedicalNotice"] for i in kept] == ["25317A000031"]


async def test_absurd_nesting_is_kept_cut(api: Api) -> None:
    body = '[{"nrnMedicalNotice": "25317A000040", "x": ' + "[" * 600 + "]" * 600 + "}]"
    pushed = await api.http.post(
        "/api/v1/hisMedicalNotices",
        content=body.encode(),
        headers={**await api.as_role("nzis"), "content-type": "application/json"},
    )
    assert pushed.status_code == 422
    [kept] = (await api.ops("/rejections")).json()["items"]
    # Of an unknown field only its path is kept, however deep it goes.
    assert kept["item"] == {"nrnMedicalNotice": "25317A000040", "otherFields": [["x"]]}
