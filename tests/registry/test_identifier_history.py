"""Identifier history: a changed identifier is kept as a former one and still matches; a
former identifier passes to the person who claims it as current."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable

import asyncpg
import httpx
import pytest

from tests.factories import Api, absence, enrollment, linger, make_egn, make_lnch, note, person

EGN = make_egn(dt.date(2014, 3, 15), 123)
LNCH = make_lnch(4242)
SCHOOL = 100001


@pytest.fixture
async def school(api: Api) -> None:
    await api.put_institution(SCHOOL)


async def test_lnch_replaced_by_egn_keeps_excusals_and_old_notes_still_match(
    api: Api, school: None, db: asyncpg.Connection
) -> None:
    await api.put_person(1, person(LNCH, enrollment(SCHOOL), identifier_type=2))
    await api.post_absence(absence(1, 1, SCHOOL, "2026-11-18"))
    await api.post_absence(absence(2, 1, SCHOOL, "2026-11-25"))
    await api.push(note("25317A000201", LNCH, identifier_type=2))
    assert (await api.absence_by_id(1))["excusedByNrn"] == "25317A000201"

    response = await api.put_person(1, person(EGN, enrollment(SCHOOL)))
    assert response.status_code == 200
    # Nothing the ЛНЧ note excused is reverted.
    assert (await api.absence_by_id(1))["excusedByNrn"] == "25317A000201"
    assert (
        await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'absence.reverted'") == 0
    )
    # A doctor still writing under the ЛНЧ reaches the same pupil.
    await api.push(note("25317A000202", LNCH, "2026-11-25", "2026-11-25", identifier_type=2))
    assert (await api.absence_by_id(2))["excusedByNrn"] == "25317A000202"
    assert (await api.whole_note("25317A000202"))["personId"] == 1

    body = response.json()
    assert (body["identifierType"], body["identifier"]) == (1, EGN)
    [former] = body["formerIdentifiers"]
    assert (former["identifierType"], former["identifier"]) == (2, LNCH)
    assert dt.datetime.fromisoformat(former["until"]).tzinfo is not None
    shown = await api.http.get("/api/v1/registry/persons/1", headers=await api.as_role("neispuo"))
    assert shown.json()["formerIdentifiers"] == body["formerIdentifiers"]


async def test_former_identifiers_newest_first_and_one_can_come_back(
    api: Api, school: None
) -> None:
    first, second = make_lnch(1), make_lnch(2)
    await api.put_person(1, person(first, identifier_type=2))
    await api.put_person(1, person(second, identifier_type=2))
    body = (await api.put_person(1, person(EGN))).json()
    assert [f["identifier"] for f in body["formerIdentifiers"]] == [second, first]
    # Back to a former identifier: it is current again, and the one it replaced is former.
    body = (await api.put_person(1, person(first, identifier_type=2))).json()
    assert body["identifier"] == first
    assert [f["identifier"] for f in body["formerIdentifiers"]] == [EGN, second]


async def test_mistaken_identifier_passes_to_its_real_holder(
    api: Api, school: None, db: asyncpg.Connection
) -> None:
    other_school = 100002
    await api.put_institution(other_school)
    # Pupil 1 was registered with pupil 2's ЕГН by mistake; the note follows the ЕГН.
    await api.put_person(1, person(EGN, enrollment(SCHOOL)))
    await api.post_absence(absence(1, 1, SCHOOL, "2026-11-18"))
    await api.push(note("25317A000203", EGN))
    assert (await api.absence_by_id(1))["kind"] == "excused"
    # The mistake is corrected: pupil 1 gets their own ЛНЧ; the ЕГН is kept as former...
    await api.put_person(1, person(LNCH, enrollment(SCHOOL), identifier_type=2))
    assert (await api.absence_by_id(1))["kind"] == "excused"
    # ...until its real holder is registered: it passes to them, notes and all.
    await api.put_person(2, person(EGN, enrollment(other_school)))
    await api.post_absence(absence(2, 2, other_school, "2026-11-19"))
    assert (await api.absence_by_id(1))["kind"] == "unexcused"
    assert (await api.absence_by_id(2))["excusedByNrn"] == "25317A000203"
    whole = await api.whole_note("25317A000203")
    assert whole["personId"] == 2
    assert [p["institutionId"] for p in whole["placements"]] == [other_school]
    moved = [e for e in whole["audit"] if e["action"] == "note.matched" and e["before"]]
    assert [(e["before"], e["after"]) for e in moved] == [({"personId": 1}, {"personId": 2})]
    shown = await api.http.get("/api/v1/registry/persons/1", headers=await api.as_role("neispuo"))
    assert shown.json()["formerIdentifiers"] == []
    assert await db.fetchval("SELECT person_id FROM former_identifiers") is None


async def test_current_identifiers_stay_exclusive(api: Api, school: None) -> None:
    await api.put_person(1, person(EGN))
    assert (await api.put_person(2, person(EGN))).status_code == 409
    response = await api.put_persons([{"personId": 2, **person(EGN)}])
    assert response.status_code == 422
    assert response.json()["results"][0]["outcome"] == "conflict"


async def test_batch_judges_items_one_by_one(api: Api, school: None) -> None:
    a, b, c = make_lnch(10), make_lnch(11), make_lnch(12)
    await api.put_persons(
        [
            {"personId": 1, **person(a, identifier_type=2)},
            {"personId": 2, **person(b, identifier_type=2)},
        ]
    )
    response = await api.put_persons(
        [
            {"personId": 1, **person(c, identifier_type=2)},  # a becomes 1's former
            {"personId": 2, **person(a, identifier_type=2)},  # ...so it passes to 2
            {"personId": 1, **person(b, identifier_type=2)},  # b is 2's former now: passes
            {"personId": 3, **person(c, identifier_type=2)},  # c is 1's former: passes to 3
            {"personId": 4, **person(a, identifier_type=2)},  # a is 2's current: conflict
        ]
    )
    assert [r["outcome"] for r in response.json()["results"]] == [
        "updated",
        "updated",
        "updated",
        "created",
        "conflict",
    ]
    headers = await api.as_role("neispuo")
    shown = {
        pid: (await api.http.get(f"/api/v1/registry/persons/{pid}", headers=headers)).json()
        for pid in (1, 2, 3)
    }
    assert {pid: p["identifier"] for pid, p in shown.items()} == {1: b, 2: a, 3: c}
    # a passed from 1 to 2, b from 2 to 1, c from 1 to 3: nobody keeps a former one.
    formers = {pid: p["formerIdentifiers"] for pid, p in shown.items()}
    assert formers == {1: [], 2: [], 3: []}


async def test_registry_write_racing_a_push_under_the_former_identifier(
    api: Api, school: None, db: asyncpg.Connection
) -> None:
    """Pupil 2 claims the identifier that is pupil 1's former one while a note under it
    commits: the note ends on pupil 2 whichever commits first (the identity lock)."""
    await api.token("nzis")
    for i in range(3):
        mistaken, own = make_egn(dt.date(2013, 1, 1 + i), 7), make_lnch(300 + i)
        first, second = 10 + 2 * i, 11 + 2 * i
        await api.put_person(first, person(mistaken, enrollment(SCHOOL)))
        await api.put_person(first, person(own, enrollment(SCHOOL), identifier_type=2))
        if i == 0:
            # The push's insert finds pupil 1 by the former identifier, then lingers; the
            # registry write looks for that identifier's notes before the push commits.
            await linger(db, "medical_notices", 0.4)
            await linger(db, "persons", 0.1, "INSERT OR UPDATE")
        nrn = f"26004A{i:06d}"
        pushed, claimed = await asyncio.gather(
            api.push(note(nrn, mistaken)),
            api.put_person(second, person(mistaken, enrollment(SCHOOL))),
        )
        assert (pushed.status_code, claimed.status_code) == (200, 201)
        assert (await api.whole_note(nrn))["personId"] == second, f"round {i}"


async def later(seconds: float, call: Awaitable[httpx.Response]) -> httpx.Response:
    await asyncio.sleep(seconds)
    return await call


@pytest.mark.parametrize("delay", [0.0, 0.2])
async def test_cancel_under_the_former_identifier_racing_a_note_under_the_new(
    api: Api, school: None, db: asyncpg.Connection, delay: float
) -> None:
    """Two notes of one pupil under two identities: the owner lock serialises them."""
    await api.put_person(1, person(LNCH, enrollment(SCHOOL), identifier_type=2))
    await api.post_absence(absence(1, 1, SCHOOL, "2026-11-18"))
    await api.push(note("25317A000211", LNCH, "2026-11-18", "2026-11-18", identifier_type=2))
    await api.put_person(1, person(EGN, enrollment(SCHOOL)))  # the ЛНЧ becomes former
    await linger(db, "audit_log", 0.4)
    cancelled, pushed = await asyncio.gather(
        api.cancel("25317A000211"),
        later(delay, api.push(note("25317A000212", EGN, "2026-11-18", "2026-11-18"))),
    )
    assert (cancelled.status_code, pushed.status_code) == (200, 200)
    assert (await api.absence_by_id(1))["excusedByNrn"] == "25317A000212"


async def test_two_notes_of_one_pupil_under_two_identities_at_once(
    api: Api, school: None, db: asyncpg.Connection
) -> None:
    await api.put_person(1, person(LNCH, enrollment(SCHOOL), identifier_type=2))
    await api.put_person(1, person(EGN, enrollment(SCHOOL)))
    await api.post_absence(absence(1, 1, SCHOOL, "2026-11-18"))
    await api.token("nzis")
    await linger(db, "audit_log", 0.4)
    await asyncio.gather(
        api.push(note("25317A000213", LNCH, "2026-11-18", "2026-11-18", identifier_type=2)),
        later(0.1, api.push(note("25317A000214", EGN, "2026-11-18", "2026-11-18"))),
    )
    first = await db.fetchval("SELECT nrn FROM medical_notices ORDER BY id LIMIT 1")
    assert (await api.absence_by_id(1))["excusedByNrn"] == first  # received first holds


async def test_claim_of_a_former_identifier_racing_a_note_of_the_pupil_losing_it(
    api: Api, school: None, db: asyncpg.Connection
) -> None:
    await api.put_institution(100002)
    # Pupil 2 was registered under pupil 1's ЛНЧ; it now has its own ЕГН.
    await api.put_person(2, person(LNCH, enrollment(SCHOOL), identifier_type=2))
    await api.post_absence(absence(1, 2, SCHOOL, "2026-11-18"))
    await api.push(note("25317A000215", LNCH, "2026-11-18", "2026-11-18", identifier_type=2))
    await api.put_person(2, person(EGN, enrollment(SCHOOL)))
    await linger(db, "audit_log", 0.4)
    claimed, pushed = await asyncio.gather(
        api.put_person(1, person(LNCH, enrollment(100002), identifier_type=2)),
        later(0.1, api.push(note("25317A000216", EGN, "2026-11-18", "2026-11-18"))),
    )
    assert (claimed.status_code, pushed.status_code) == (201, 200)
    assert (await api.whole_note("25317A000215"))["personId"] == 1
    assert (await api.absence_by_id(1))["excusedByNrn"] == "25317A000216"


async def test_formers_retired_in_one_batch_are_newest_first(api: Api, school: None) -> None:
    names = [make_lnch(900 + i) for i in range(4)]
    await api.put_persons([{"personId": 1, **person(name, identifier_type=2)} for name in names])
    body = (
        await api.http.get("/api/v1/registry/persons/1", headers=await api.as_role("neispuo"))
    ).json()
    assert body["identifier"] == names[3]
    assert [f["identifier"] for f in body["formerIdentifiers"]] == names[2::-1]
