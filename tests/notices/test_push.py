"""POST /api/v1/hisMedicalNotices: wire format, rules, outcomes and status codes."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import asyncpg
import pytest

from notegateway.core.timeutil import today_in_sofia
from tests.factories import Api, make_egn, make_lnch, next_egn, note

EGN = make_egn(dt.date(2014, 3, 15), 123)


async def stored_notes(db: asyncpg.Connection) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT nrn, status, payload::text AS payload FROM medical_notices ORDER BY id"
    )


@pytest.mark.smoke
async def test_created_note_is_stored_normalised(api: Api, db: asyncpg.Connection) -> None:
    response = await api.push(note("25317A000123", EGN))
    assert response.status_code == 200
    assert response.json() == {
        "results": [{"index": 0, "nrnMedicalNotice": "25317A000123", "outcome": "created"}]
    }
    [row] = await stored_notes(db)
    assert json.loads(row["payload"]) == {
        "nrnMedicalNotice": "25317A000123",
        "nrnExamination": "26317A000077",
        "patient": {
            "identifierType": 1,
            "identifier": EGN,
            "givenName": "ИВАН",
            "familyName": "ТОДОРОВ",
        },
        "practitioner": {"pmi": "2300011922"},
        "medicalNotice": {
            "fromDate": "2026-11-18T00:00:00",
            "toDate": "2026-11-20T00:00:00",
            "authoredOn": "2026-11-20T10:31:00",
        },
    }


async def test_wire_variants_case_insensitive_numeric_strings_datetimes_offsets(
    api: Api, db: asyncpg.Connection
) -> None:
    body = {
        "NrnMedicalNotice": "25317A000124",
        "NRNEXAMINATION": "25317A000077",
        "Patient": {"IdentifierType": "2", "identifier": make_lnch(1001), "GivenName": None},
        "practitioner": {"PMI": "2300011922"},
        "medicalnotice": {
            "FromDate": "2026-11-17T22:30:00Z",  # 00:30 on the 18th in Sofia
            "toDate": "2026-11-20T00:00:00",
            "authoredOn": "2026-11-20T08:31:00+00:00",
        },
        "someUnknownField": {"nested": 1},
    }
    response = await api.push(body)
    assert response.status_code == 200, response.text
    [row] = await stored_notes(db)
    payload = json.loads(row["payload"])
    assert payload["patient"] == {
        "identifierType": 2,
        "identifier": make_lnch(1001),
        "givenName": "",
        "familyName": "",
    }
    assert payload["medicalNotice"] == {
        "fromDate": "2026-11-18T00:00:00",
        "toDate": "2026-11-20T00:00:00",
        "authoredOn": "2026-11-20T10:31:00",
    }
    assert "someUnknownField" not in row["payload"]


async def test_keys_differing_only_in_case_are_invalid(api: Api) -> None:
    body = note("25317A000125", EGN)
    body["patient"]["IDENTIFIER"] = EGN
    response = await api.push(body)
    assert response.status_code == 422
    [item] = response.json()["results"]
    assert item["outcome"] == "invalid"
    assert item["errors"][0]["loc"] == ["patient", "IDENTIFIER"]


def _with(base: dict[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(base))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copy


tomorrow = today_in_sofia() + dt.timedelta(days=1)
BASE = note("25317A000126", EGN)


@pytest.mark.parametrize(
    ("path", "value", "loc"),
    [
        (["nrnMedicalNotice"], "25317a000126", ["nrnMedicalNotice"]),
        (["nrnMedicalNotice"], "25317A00012", ["nrnMedicalNotice"]),
        (["nrnExamination"], "25317A0000777", ["nrnExamination"]),
        (["nrnExamination"], None, ["nrnExamination"]),
        (["patient", "identifierType"], 6, ["patient", "identifierType"]),
        (["patient", "identifierType"], "x", ["patient", "identifierType"]),
        (["patient", "identifier"], "1443151239", ["patient", "identifier"]),  # check digit
        (["patient", "identifier"], "1402301236", ["patient", "identifier"]),  # 30 Feb
        (["patient", "identifier"], 1443151238, ["patient", "identifier"]),  # a number
        (["patient", "givenName"], "И" * 256, ["patient", "givenName"]),
        (["patient", "familyName"], "И" * 256, ["patient", "familyName"]),
        (["practitioner", "pmi"], "", ["practitioner", "pmi"]),
        (["practitioner", "pmi"], "1" * 256, ["practitioner", "pmi"]),
        (["medicalNotice", "fromDate"], "2026-11-21", ["medicalNotice", "toDate"]),
        (["medicalNotice", "fromDate"], "2022-08-31", ["medicalNotice", "fromDate"]),
        (["medicalNotice", "fromDate"], "2026-13-01", ["medicalNotice", "fromDate"]),
        (["medicalNotice", "fromDate"], "18.11.2026", ["medicalNotice", "fromDate"]),
        (
            ["medicalNotice", "authoredOn"],
            (tomorrow + dt.timedelta(days=1)).isoformat(),
            ["medicalNotice", "authoredOn"],
        ),
        (["patient", "familyName"], "ТОДОРОВ\u0000", ["patient", "familyName"]),
        (["practitioner", "pmi"], "\u0000", ["practitioner", "pmi"]),
        (["patient", "identifierType"], True, ["patient", "identifierType"]),
        (
            ["medicalNotice", "authoredOn"],
            "9999-12-31T23:00:00-05:00",
            ["medicalNotice", "authoredOn"],
        ),
        (["medicalNotice", "fromDate"], "0001-01-01T00:30:00+05:00", ["medicalNotice", "fromDate"]),
        (["medicalNotice", "fromDate"], "20261118", ["medicalNotice", "fromDate"]),
        (["medicalNotice", "fromDate"], "2026-W47-3", ["medicalNotice", "fromDate"]),
        (["medicalNotice", "fromDate"], "2026-11-18T10", ["medicalNotice", "fromDate"]),
    ],
)
async def test_each_rule_names_the_field(
    api: Api, db: asyncpg.Connection, path: list[str], value: Any, loc: list[Any]
) -> None:
    response = await api.push(_with(BASE, path, value))
    assert response.status_code == 422, response.text
    [item] = response.json()["results"]
    assert item["outcome"] == "invalid"
    assert loc in [e["loc"] for e in item["errors"]], item["errors"]
    assert all(e["msg"] for e in item["errors"])
    assert await stored_notes(db) == []


@pytest.mark.parametrize(
    ("identifier_type", "identifier"),
    [
        (1, make_egn(dt.date(1899, 12, 31), 5)),
        (1, make_egn(dt.date(2001, 2, 28), 7)),
        (2, make_lnch(7)),
        (3, "X"),
        (4, "P" * 255),
        (5, "ABC-123"),
    ],
)
async def test_valid_identifiers_of_every_type(
    api: Api, identifier_type: int, identifier: str
) -> None:
    response = await api.push(
        _with(
            _with(BASE, ["patient", "identifierType"], identifier_type),
            ["patient", "identifier"],
            identifier,
        )
    )
    assert response.status_code == 200, response.text


async def test_period_limits(api: Api) -> None:
    longest = note("25317A000130", EGN, "2025-01-01", "2026-01-01")  # 366 days inclusive
    too_long = note("25317A000131", EGN, "2025-01-01", "2026-01-02")
    earliest = note("25317A000132", EGN, "2022-09-01", "2022-09-01")
    authored_tomorrow = note("25317A000133", EGN, authored_on=tomorrow.isoformat() + "T23:59:59")
    response = await api.push(longest, too_long, earliest, authored_tomorrow)
    outcomes = [r["outcome"] for r in response.json()["results"]]
    assert outcomes == ["created", "invalid", "created", "created"]


async def test_outcome_matrix_and_status(api: Api, db: asyncpg.Connection) -> None:
    first = note("25317A000140", EGN)
    assert (await api.push(first)).status_code == 200
    # A retry of the same note: duplicate, 200, nothing happens twice.
    retry = await api.push(first)
    assert retry.status_code == 200
    assert retry.json()["results"][0]["outcome"] == "duplicate"
    # Same NRN, different content: conflict, the first stays; 409 without invalid items.
    changed = note("25317A000140", EGN, to_date="2026-11-21")
    response = await api.push(changed, note("25317A000141", EGN))
    assert response.status_code == 409
    assert [r["outcome"] for r in response.json()["results"]] == ["conflict", "created"]
    # An invalid item turns the status to 422, the valid ones are kept.
    response = await api.push(note("25317A000142", EGN), {"nrnMedicalNotice": "BAD"}, changed)
    assert response.status_code == 422
    results = response.json()["results"]
    assert [r["outcome"] for r in results] == ["created", "invalid", "conflict"]
    assert results[1]["nrnMedicalNotice"] == "BAD"
    rows = await stored_notes(db)
    assert [r["nrn"] for r in rows] == ["25317A000140", "25317A000141", "25317A000142"]
    assert json.loads(rows[0]["payload"])["medicalNotice"]["toDate"] == "2026-11-20T00:00:00"


async def test_same_nrn_twice_in_one_batch(api: Api, db: asyncpg.Connection) -> None:
    one = note("25317A000150", EGN)
    other = note("25317A000150", EGN, to_date="2026-11-19")
    response = await api.push(one, one, other)
    assert response.status_code == 409
    assert [r["outcome"] for r in response.json()["results"]] == [
        "created",
        "duplicate",
        "conflict",
    ]
    assert len(await stored_notes(db)) == 1


async def test_duplicate_judged_on_the_normalised_note(api: Api) -> None:
    assert (await api.push(note("25317A000160", EGN))).status_code == 200
    same_differently_written = _with(
        _with(note("25317A000160", EGN), ["medicalNotice", "fromDate"], "2026-11-18T00:00:00"),
        ["ignoredExtra"],
        42,
    )
    response = await api.push(same_differently_written)
    assert response.json()["results"][0]["outcome"] == "duplicate"


@pytest.mark.parametrize(
    "body", [{}, [], "text", 5, [None] * 1001, {"nrnMedicalNotice": "25317A000170"}]
)
async def test_body_not_an_array_of_1_to_1000_is_422_problem(
    api: Api, db: asyncpg.Connection, body: Any
) -> None:
    response = await api.push(raw=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 422
    assert await stored_notes(db) == []


async def test_batch_of_1000_with_one_bad_note_keeps_the_rest(
    api: Api, db: asyncpg.Connection
) -> None:
    notes = [note(f"26001A{i:06d}", next_egn()) for i in range(999)]
    notes.insert(500, note("26001A999999", "0000000000"))
    response = await api.push(*notes)
    assert response.status_code == 422
    results = response.json()["results"]
    assert [r["index"] for r in results] == list(range(1000))
    assert results[500]["outcome"] == "invalid"
    assert sum(r["outcome"] == "created" for r in results) == 999
    assert await db.fetchval("SELECT count(*) FROM medical_notices") == 999


async def test_non_object_items_are_invalid(api: Api) -> None:
    response = await api.push(raw=[note("25317A000180", EGN), 17, None, ["x"]])
    assert response.status_code == 422
    results = response.json()["results"]
    assert [r["outcome"] for r in results] == ["created", "invalid", "invalid", "invalid"]
    assert [r["nrnMedicalNotice"] for r in results] == ["25317A000180", None, None, None]


@pytest.mark.pgbouncer
async def test_fifty_identical_pushes_at_once_store_one_note(
    api: Api, db: asyncpg.Connection
) -> None:
    await api.token("nzis")
    same = note("25317A000190", EGN)
    responses = await asyncio.gather(*(api.push(same) for _ in range(50)))
    assert [r.status_code for r in responses] == [200] * 50
    outcomes = sorted(r.json()["results"][0]["outcome"] for r in responses)
    assert outcomes == ["created"] + ["duplicate"] * 49
    assert await db.fetchval("SELECT count(*) FROM medical_notices") == 1


@pytest.mark.pgbouncer
async def test_overlapping_batches_at_once_never_deadlock_or_double_store(
    api: Api, db: asyncpg.Connection
) -> None:
    await api.token("nzis")
    notes = [note(f"26002A{i:06d}", next_egn()) for i in range(40)]
    batches = [notes[i:] + notes[:i] for i in range(0, 40, 4)]  # same notes, different orders
    responses = await asyncio.gather(*(api.push(*batch) for batch in batches))
    assert {r.status_code for r in responses} == {200}
    created = sum(r["outcome"] == "created" for resp in responses for r in resp.json()["results"])
    assert created == 40
    assert await db.fetchval("SELECT count(*) FROM medical_notices") == 40


async def test_bad_items_never_fail_the_batch(api: Api, db: asyncpg.Connection) -> None:
    bad = [
        _with(BASE, ["extra"], "DEEP"),  # replaced by 600 nested arrays below
        _with(BASE, ["patient", "givenName"], "\u0000"),
        _with(BASE, ["medicalNotice", "authoredOn"], "9999-12-31T23:59:59-12:00"),
    ]
    body = json.dumps([note("25317A000199", EGN), *bad]).replace('"DEEP"', "[" * 600 + "]" * 600)
    headers = await api.as_role("nzis")
    response = await api.http.post(
        "/api/v1/hisMedicalNotices", content=body.encode(), headers=headers
    )
    assert response.status_code == 422
    assert [r["outcome"] for r in response.json()["results"]] == ["created"] + ["invalid"] * 3
    assert await db.fetchval("SELECT count(*) FROM medical_notices") == 1


@pytest.mark.parametrize("body", [b"[NaN]", b"[Infinity]", b"[" * 100000 + b"]" * 100000])
async def test_non_json_constants_and_absurd_nesting_are_400(api: Api, body: bytes) -> None:
    headers = await api.as_role("nzis")
    response = await api.http.post("/api/v1/hisMedicalNotices", content=body, headers=headers)
    assert response.status_code == 400


async def test_whole_body_problem_names_the_error(api: Api) -> None:
    problem = (await api.push(raw={})).json()
    assert problem["errors"][0]["loc"] == []


async def test_lone_surrogates_are_invalid_and_never_fail_the_batch(
    api: Api, db: asyncpg.Connection
) -> None:
    headers = await api.as_role("nzis")
    good = json.dumps(note("25317A000198", EGN))
    bad_identifier = json.dumps(_with(BASE, ["patient", "identifierType"], 4)).replace(
        EGN, "AB\\ud800"
    )
    bad_nrn = '{"nrnMedicalNotice": "X\\ud800"}'
    bad_key = '{"a\\ud800": 1, "A\\ud800": 2}'
    body = f"[{good}, {bad_identifier}, {bad_nrn}, {bad_key}]"
    response = await api.http.post(
        "/api/v1/hisMedicalNotices", content=body.encode(), headers=headers
    )
    assert response.status_code == 422
    assert [r["outcome"] for r in response.json()["results"]] == ["created"] + ["invalid"] * 3
    assert await db.fetchval("SELECT count(*) FROM medical_notices") == 1
