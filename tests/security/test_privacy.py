"""Security regressions, privacy: what the gateway must never keep or show. One test per
finding of the privacy and security review (issue 16), named after it."""

from __future__ import annotations

import datetime as dt
import json
import logging

import asyncpg
import pytest

from notegateway.clients import service as clients_service
from tests.conftest import plain
from tests.factories import (
    Api,
    absence,
    bearer,
    console_sign_in,
    enrollment,
    make_egn,
    note,
    person,
)
from tests.tcp_proxy import for_database_url, through

EGN = make_egn(dt.date(2014, 3, 15), 123)
MEDICAL = ("F32.2 Тежък депресивен епизод", "суицидни мисли", "J06.9", "грип")


async def test_outage_proxy_reaches_the_embedded_database_socket(database_url: str) -> None:
    """`make test` on the embedded PostgreSQL (a Unix socket) runs the outage tests too."""
    proxy = for_database_url(database_url)
    await proxy.start()
    try:
        connection = await asyncpg.connect(plain(through(database_url, proxy)))
        assert await connection.fetchval("SELECT 1") == 1
        await connection.close()
    finally:
        await proxy.close()


async def test_rejection_log_keeps_no_medical_content_names_or_unmasked_identifiers(
    api: Api, db: asyncpg.Connection
) -> None:
    spaced = "7501 01 1234"
    invalid = [
        note("25317A000001", "not-an-egn")
        | {"diagnosis": MEDICAL[0], "fullName": "ИВАН ПЕТРОВ ТОДОРОВ", "phone": "0888123456"},
        note("25317A000002", EGN)
        | {"complaints": MEDICAL[1], "firstName": "МАРИЯ", "surname": "ГЕОРГИЕВА"}
        | {"nrnExamination": "BAD"},
        note("25317A000003", EGN)
        | {"patient": {"identifierType": 4, "identifier": ["AB1234567"], "egn": spaced}},
    ]
    pushed = await api.push(*invalid)
    assert [r["outcome"] for r in pushed.json()["results"]] == ["invalid"] * 3
    listed = await api.ops("/rejections")
    assert listed.status_code == 200
    shown = listed.text
    stored = json.dumps([dict(r) for r in await db.fetch("SELECT * FROM rejections")], default=str)
    for secret in (
        *MEDICAL[:2],
        "ИВАН",
        "МАРИЯ",
        "ГЕОРГИЕВА",
        "0888123456",
        "AB1234567",
        spaced,
        EGN,
    ):
        assert secret not in shown, secret
        assert secret not in stored, secret
    items = {i["nrnMedicalNotice"]: i for i in listed.json()["items"]}
    second = items["25317A000002"]["item"]
    assert second["patient"]["identifier"] == f"{EGN[:2]}******{EGN[-2:]}"
    assert second["medicalNotice"]["fromDate"] == "2026-11-18"
    assert second["practitioner"]["pmi"] == "2300011922"  # the doctor, for the helpdesk to call
    assert ["patient", "identifier"] in items["25317A000003"]["item"]["otherFields"]
    assert ["patient", "egn"] in items["25317A000003"]["item"]["otherFields"]
    assert ["fullName"] in items["25317A000001"]["item"]["otherFields"]


async def test_a_note_with_medical_fields_is_not_lost_and_keeps_none_of_them(
    api: Api, db: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    await api.put_institution(100001)
    await api.put_person(1, person(EGN, enrollment(100001)))
    await api.post_absence(absence(10, 1, 100001, "2026-11-18"))
    carrying = note("25317A000010", EGN) | {"Diagnosis": MEDICAL[2]}
    carrying["medicalNotice"] = carrying["medicalNotice"] | {"reason": MEDICAL[3]}
    carrying["extra"] = {"deep": [{"MKB10": "J06"}]}
    with caplog.at_level(logging.DEBUG):
        pushed = await api.push(carrying)
    assert pushed.status_code == 200, pushed.text
    [result] = pushed.json()["results"]
    assert result["outcome"] == "created"
    assert sorted(w["loc"] for w in result["warnings"]) == sorted(
        [["Diagnosis"], ["medicalNotice", "reason"], ["extra", "deep", 0, "MKB10"]]
    )
    assert {w["msg"] for w in result["warnings"]} == {"medical content dropped"}
    assert (await api.absence_by_id(10))["kind"] == "excused"  # the family's excusal stands
    everything = json.dumps(
        [
            [dict(r) for r in await db.fetch(f"SELECT * FROM {table}")]
            for table in ("medical_notices", "audit_log", "rejections", "absences")
        ],
        default=str,
    )
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for value in (*MEDICAL[2:], "J06"):
        assert value not in everything
        assert value not in logged
        assert value not in pushed.text
    # A retry carrying the same medical content is still a duplicate.
    assert (await api.push(carrying)).json()["results"][0]["outcome"] == "duplicate"


async def test_rotating_a_token_ends_its_console_sessions(api: Api) -> None:
    await console_sign_in(api.http, await api.token("operator"))
    http = api.http
    assert (await http.get("/console")).status_code == 200
    connection = await asyncpg.connect(plain(api.database_url))
    try:
        async with connection.transaction():
            await clients_service.rotate(connection, api.app.state.token_key, "test-operator")
    finally:
        await connection.close()
    ended = await http.get("/console")
    assert (ended.status_code, ended.headers["location"]) == (303, "/console/signin")


SOFIA_SCHOOL, PLOVDIV_SCHOOL = 100011, 100012


async def test_a_regional_operator_sees_nothing_of_another_region_inside_a_shared_note(
    api: Api,
) -> None:
    await api.put_institution(SOFIA_SCHOOL, region="София", name="СУ София")
    await api.put_institution(PLOVDIV_SCHOOL, region="Пловдив", name="СУ Пловдив")
    await api.put_person(
        1,
        person(
            EGN,
            enrollment(SOFIA_SCHOOL, "5", "А", "2026-09-15", "2026-11-18"),
            enrollment(PLOVDIV_SCHOOL, "5", "Б", "2026-11-19", None),
        ),
    )
    await api.post_absence(absence(10, 1, SOFIA_SCHOOL, "2026-11-18"))
    await api.post_absence(absence(20, 1, PLOVDIV_SCHOOL, "2026-11-19"))
    await api.push(note("25317A000020", EGN, "2026-11-18", "2026-11-19"))
    plovdiv_token = await api.add_client("ruo-plovdiv", "operator", region="Пловдив")
    plovdiv = bearer(plovdiv_token)
    whole = await api.http.get("/api/v1/ops/notes/25317A000020", headers=plovdiv)
    assert whole.status_code == 200, whole.text
    view = whole.json()
    assert [p["institutionId"] for p in view["placements"]] == [PLOVDIV_SCHOOL]
    assert {e["absenceId"] for e in view["audit"]} - {None} == {20}
    assert view["excusedAbsences"] == 1
    assert str(SOFIA_SCHOOL) not in whole.text
    national = (await api.ops("/notes/25317A000020")).json()
    assert len(national["placements"]) == 2
    assert national["excusedAbsences"] == 2
    # The console's vendors page lists every region's vendors: not for a regional operator.
    await console_sign_in(api.http, plovdiv_token)
    http = api.http
    assert (await http.get("/console/vendors")).status_code == 403
    assert "/console/vendors" not in (await http.get("/console")).text


async def test_a_suppressed_town_cannot_be_recovered_by_subtraction(api: Api) -> None:
    towns = {"Банкя": 1, "София": 6}
    pupil = 0
    for number, (town, pupils) in enumerate(towns.items()):
        school = 100100 + number
        await api.put_institution(school, region="София-град", town=town)
        for _ in range(pupils):
            pupil += 1
            identifier = make_egn(dt.date(2014, 1, 1), pupil)
            await api.put_person(pupil, person(identifier, enrollment(school)))
            await api.push(note(f"25317A{pupil:06d}", identifier, "2026-11-18", "2026-11-18"))
    day = {"fromDate": "2026-11-18", "toDate": "2026-11-18"}
    regions = (await api.ops("/stats/notes", by="region", **day)).json()["items"]
    assert [(i["region"], i["pupils"]) for i in regions] == [("София-град", 7)]
    by_town = (await api.ops("/stats/notes", by="town", **day)).json()["items"]
    shown = {i["town"]: i["pupils"] for i in by_town}
    # Were София shown (6), 7 - 6 would give the one pupil in Банкя.
    assert shown == {"Банкя": None, "София": None}
