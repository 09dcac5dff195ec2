"""A failure in the middle of a request leaves nothing half-applied."""

from __future__ import annotations

import datetime as dt

import asyncpg

from tests.factories import Api, enrollment, fail_on, make_egn, note, person

EGN = make_egn(dt.date(2014, 3, 15), 123)


async def test_failure_while_placing_keeps_no_note(api: Api, db: asyncpg.Connection) -> None:
    await api.put_institution(100001)
    await api.put_person(1, person(EGN, enrollment(100001)))
    await fail_on(db, "placements")
    response = await api.push(note("25317A000700", EGN))
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "injected" not in response.text
    assert await db.fetchval("SELECT count(*) FROM medical_notices") == 0
    await db.execute("DROP TRIGGER test_fail ON placements")
    # The retry then goes through as new.
    retry = await api.push(note("25317A000700", EGN))
    assert retry.json()["results"][0]["outcome"] == "created"


async def test_failure_in_registry_write_keeps_person_and_matches_unchanged(
    api: Api, db: asyncpg.Connection
) -> None:
    await api.put_institution(100001)
    await api.push(note("25317A000701", EGN))
    await fail_on(db, "placements")
    response = await api.put_person(1, person(EGN, enrollment(100001)))
    assert response.status_code == 500
    assert await db.fetchval("SELECT count(*) FROM persons") == 0
    assert await db.fetchval("SELECT count(*) FROM enrollments") == 0
    assert (await api.view("25317A000701")).json()["match"] == "unmatched"


async def test_failure_while_cancelling_keeps_no_cancellation(
    api: Api, db: asyncpg.Connection
) -> None:
    await api.push(note("25317A000702", EGN))
    await fail_on(db, "medical_notices", "UPDATE")
    assert (await api.cancel("25317A000702")).status_code == 500
    assert await db.fetchval("SELECT count(*) FROM notice_cancellations") == 0
    assert (await api.view("25317A000702")).json()["status"] == "active"
