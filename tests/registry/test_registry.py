"""Registry: institutions, persons with dated enrollments, the batch, matching and placement."""

from __future__ import annotations

import asyncio
import datetime as dt

import asyncpg
import pytest

from tests.factories import Api, enrollment, linger, make_egn, make_lnch, next_egn, note, person

EGN = make_egn(dt.date(2014, 3, 15), 123)


async def test_institution_created_then_replaced(api: Api) -> None:
    created = await api.put_institution(100001, name="СУ 1")
    assert created.status_code == 201
    assert created.json() == {
        "institutionId": 100001,
        "name": "СУ 1",
        "town": "София",
        "region": None,
        "lockedThrough": None,
        "diary": "neispuo",
        "diaries": [{"diary": "neispuo", "fromDate": None, "toDate": None}],
    }
    replaced = await api.put_institution(100001, name="СУ 2")
    assert replaced.status_code == 200
    assert replaced.json()["name"] == "СУ 2"


async def test_institution_diary_must_name_a_vendor_client(api: Api) -> None:
    assert (await api.put_institution(1, diary="acme")).status_code == 422
    await api.token("nzis", "not-a-vendor")
    assert (await api.put_institution(1, diary="not-a-vendor")).status_code == 422
    await api.token("vendor", "acme")
    response = await api.put_institution(1, diary="acme")
    assert response.status_code == 201
    assert response.json()["diary"] == "acme"


async def test_institution_body_errors(api: Api) -> None:
    headers = await api.as_role("neispuo")
    bad = await api.http.put("/api/v1/registry/institutions/5", json={"name": ""}, headers=headers)
    assert bad.status_code == 422
    locs = [e["loc"] for e in bad.json()["errors"]]
    assert ["name"] in locs
    assert ["diary"] in locs
    assert (
        await api.http.put("/api/v1/registry/institutions/x", json={}, headers=headers)
    ).status_code == 400


@pytest.mark.smoke
async def test_person_created_then_replaced(api: Api, db: asyncpg.Connection) -> None:
    await api.put_institution(100001)
    await api.put_institution(100002)
    created = await api.put_person(1, person(EGN, enrollment(100001)))
    assert created.status_code == 201
    assert created.json()["enrollments"] == [
        {
            "institutionId": 100001,
            "className": "5",
            "section": "А",
            "fromDate": "2026-09-15",
            "toDate": None,
        }
    ]
    replaced = await api.put_person(1, person(EGN, enrollment(100002, "6", "Б")))
    assert replaced.status_code == 200
    assert [e["institutionId"] for e in replaced.json()["enrollments"]] == [100002]
    assert await db.fetchval("SELECT count(*) FROM enrollments") == 1


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        (person("1443151239"), ["identifier"]),
        (person("123", identifier_type=2), ["identifier"]),
        (person("", identifier_type=4), ["identifier"]),
        ({**person(EGN), "identifierType": 9}, ["identifierType"]),
        ({k: v for k, v in person(EGN).items() if k != "enrollments"}, ["enrollments"]),
        (
            person(EGN, enrollment(100001, from_date="2026-09-15", to_date="2026-09-01")),
            ["enrollments", 0, "toDate"],
        ),
        (
            person(
                EGN,
                enrollment(100001, to_date="2026-12-31"),
                enrollment(100001, from_date="2026-12-31"),
            ),
            ["enrollments", 1, "fromDate"],
        ),
        (
            person(EGN, enrollment(100001, from_date="2027-01-01"), enrollment(100001)),
            ["enrollments", 0, "fromDate"],
        ),
        (person(EGN, enrollment(999)), ["enrollments", 0, "institutionId"]),
        (person(EGN, enrollment(10**20)), ["enrollments", 0, "institutionId"]),
        ({**person(EGN), "givenName": "\u0000"}, ["givenName"]),
        ({**person(EGN), "identifierType": False}, ["identifierType"]),
    ],
)
async def test_person_rules(api: Api, db: asyncpg.Connection, body: dict, loc: list) -> None:
    await api.put_institution(100001)
    response = await api.put_person(1, body)
    assert response.status_code == 422, response.text
    assert loc in [e["loc"] for e in response.json()["errors"]]
    assert await db.fetchval("SELECT count(*) FROM persons") == 0


async def test_identifier_held_by_another_person_is_409(api: Api) -> None:
    assert (await api.put_person(1, person(EGN))).status_code == 201
    response = await api.put_person(2, person(EGN))
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"


async def test_batch_outcomes(api: Api, db: asyncpg.Connection) -> None:
    await api.put_institution(100001)
    a, b = next_egn(), next_egn()
    first = await api.put_persons([{"personId": 1, **person(a, enrollment(100001))}])
    assert first.status_code == 200
    assert first.json()["results"] == [{"index": 0, "personId": 1, "outcome": "created"}]
    response = await api.put_persons(
        [
            {"personId": 1, **person(a, enrollment(100001))},  # unchanged
            {"personId": 2, **person(b)},  # created
            {"personId": 1, **person(a, enrollment(100001, "6"))},  # updated
            {"personId": 3, **person(b)},  # conflict: b is person 2's
            {"personId": 4, **person("bad")},  # invalid
            {"personId": 5, **person(next_egn(), enrollment(42))},  # invalid: unknown institution
        ]
    )
    assert response.status_code == 422
    results = response.json()["results"]
    assert [r["outcome"] for r in results] == [
        "unchanged",
        "created",
        "updated",
        "conflict",
        "invalid",
        "invalid",
    ]
    assert [r["personId"] for r in results] == [1, 2, 1, 3, 4, 5]
    assert results[3]["errors"][0]["loc"] == ["identifier"]
    assert sorted(await db.fetchval("SELECT array_agg(id) FROM persons")) == [1, 2]


@pytest.mark.parametrize("body", [[], {}, [None] * 1001])
async def test_batch_body_must_be_array_of_1_to_1000(api: Api, body: object) -> None:
    response = await api.put_persons(body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_unmatched_note_matches_when_person_registered(api: Api) -> None:
    await api.put_institution(100001)
    await api.push(note("25317A000400", EGN))
    assert (await api.view("25317A000400")).json()["match"] == "unmatched"
    await api.put_person(7, person(EGN, enrollment(100001)))
    view = await api.whole_note("25317A000400")
    assert view["match"] == "matched"
    assert view["placements"][0]["institutionId"] == 100001


async def test_identifier_change_keeps_the_old_notes_and_matches_the_new(api: Api) -> None:
    await api.put_institution(100001)
    other = make_lnch(55)
    await api.put_person(7, person(EGN, enrollment(100001)))
    await api.push(note("25317A000401", EGN), note("25317A000402", other, identifier_type=2))
    await api.put_person(7, person(other, enrollment(100001), identifier_type=2))
    old, new = await api.whole_note("25317A000401"), await api.whole_note("25317A000402")
    assert (old["match"], old["personId"], len(old["placements"])) == ("matched", 7, 1)
    assert (new["match"], new["personId"], len(new["placements"])) == ("matched", 7, 1)


async def test_other_identifier_types_match_as_one_kind(api: Api) -> None:
    await api.put_institution(100001)
    await api.put_person(8, person("AB123456", enrollment(100001), identifier_type=4))
    await api.push(note("25317A000403", "AB123456", identifier_type=3))
    assert (await api.view("25317A000403")).json()["match"] == "matched"
    # ЕГН and ЛНЧ are kinds of their own: the same digits as an ЛНЧ do not match an ЕГН.
    lnch = make_lnch(99)
    await api.put_person(9, person(lnch, identifier_type=2))
    await api.push(note("25317A000404", lnch, identifier_type=1 if False else 2))
    assert (await api.view("25317A000404")).json()["match"] == "matched"


async def test_transfer_inside_period_gives_two_placements(api: Api) -> None:
    await api.put_institution(100001)
    await api.put_institution(100002)
    await api.put_person(
        1,
        person(
            EGN,
            enrollment(100001, "6", "Б", "2026-09-15", "2026-11-18"),
            enrollment(100002, "6", "А", "2026-11-19", None),
        ),
    )
    await api.push(note("25317A000405", EGN, "2026-11-16", "2026-11-24"))
    assert (await api.whole_note("25317A000405"))["placements"] == [
        {
            "institutionId": 100001,
            "className": "6",
            "section": "Б",
            "fromDate": "2026-11-16",
            "toDate": "2026-11-18",
        },
        {
            "institutionId": 100002,
            "className": "6",
            "section": "А",
            "fromDate": "2026-11-19",
            "toDate": "2026-11-24",
        },
    ]


async def test_placements_skip_days_without_enrollment_and_merge_adjacent_runs(api: Api) -> None:
    await api.put_institution(100001)
    await api.put_person(
        1,
        person(
            EGN,
            enrollment(100001, "5", "А", "2026-09-15", "2026-11-17"),
            enrollment(100001, "5", "А", "2026-11-18", "2026-11-19"),  # same class, adjacent
            enrollment(100001, "5", None, "2026-11-22", None),  # a gap, then no section
        ),
    )
    await api.push(note("25317A000406", EGN, "2026-11-16", "2026-11-23"))
    assert (await api.whole_note("25317A000406"))["placements"] == [
        {
            "institutionId": 100001,
            "className": "5",
            "section": "А",
            "fromDate": "2026-11-16",
            "toDate": "2026-11-19",
        },
        {
            "institutionId": 100001,
            "className": "5",
            "section": None,
            "fromDate": "2026-11-22",
            "toDate": "2026-11-23",
        },
    ]


async def test_enrollment_change_replaces_placements(api: Api) -> None:
    await api.put_institution(100001)
    await api.put_institution(100002)
    await api.put_person(1, person(EGN, enrollment(100001)))
    await api.push(note("25317A000407", EGN))
    await api.put_person(1, person(EGN, enrollment(100002, "7", "В")))
    [placement] = (await api.whole_note("25317A000407"))["placements"]
    assert (placement["institutionId"], placement["className"]) == (100002, "7")


async def test_note_and_registry_write_committing_at_once_never_leave_note_unmatched(
    api: Api, db: asyncpg.Connection
) -> None:
    await api.put_institution(100001)
    await api.token("nzis")
    # The note lingers longer: its insert looks for the person before the person commits, and
    # the registry looks for waiting notes before the note commits. Only the identity lock both
    # paths take makes the second wait for the first.
    await linger(db, "medical_notices", 0.3)
    await linger(db, "persons", 0.05, "INSERT OR UPDATE")
    for i in range(5):
        identifier = next_egn()
        nrn = f"26003A{i:06d}"
        pushed, registered = await asyncio.gather(
            api.push(note(nrn, identifier)),
            api.put_person(1000 + i, person(identifier, enrollment(100001))),
        )
        assert (pushed.status_code, registered.status_code) == (200, 201)
        view = await api.whole_note(nrn)
        assert view["match"] == "matched", f"round {i}: note left unmatched"
        assert len(view["placements"]) == 1


async def test_concurrent_batches_over_the_same_persons_do_not_deadlock(
    api: Api, db: asyncpg.Connection
) -> None:
    await api.put_institution(100001)
    await api.token("neispuo")
    items = [
        {
            "personId": i,
            **person(make_egn(dt.date(2015, 1, 1) + dt.timedelta(days=i), i), enrollment(100001)),
        }
        for i in range(1, 31)
    ]
    responses = await asyncio.gather(
        *(api.put_persons(items[i:] + items[:i]) for i in range(0, 30, 5))
    )
    assert {r.status_code for r in responses} == {200}
    assert await db.fetchval("SELECT count(*) FROM persons") == 30


@pytest.mark.parametrize("person_id", [10**20, 2**63 - 1, 0, -5, "x"])
async def test_batch_person_ids_out_of_range_are_invalid(api: Api, person_id: object) -> None:
    response = await api.put_persons([{"personId": person_id, **person(EGN)}])
    assert response.status_code == 422
    assert response.json()["results"][0]["outcome"] == "invalid"


async def test_open_ended_and_extreme_dates(api: Api) -> None:
    await api.put_institution(100001)
    body = person(EGN, enrollment(100001, to_date="9999-12-31"))
    assert (await api.put_person(1, body)).json()["enrollments"][0]["toDate"] is None
    assert (await api.put_person(1, body)).status_code == 200  # and again, unchanged
    far = await api.put_person(1, person(EGN, enrollment(100001, from_date="0001-01-01")))
    assert far.status_code == 422


@pytest.mark.parametrize("person_id", ["²", "9" * 5000])
async def test_odd_person_id_strings_are_invalid(api: Api, person_id: str) -> None:
    response = await api.put_persons([{"personId": person_id, **person("bad")}])
    assert response.status_code == 422
    assert response.json()["results"][0]["personId"] is None
