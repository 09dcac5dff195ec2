"""Known NZIS callers (clients/auth.py: KnownCallers): a push by a client whose credentials
were checked in full lately has them checked again, and its call recorded, in the round
trip that begins its own transaction; a client disabled or a token rotated is refused at
once all the same."""

from __future__ import annotations

import datetime as dt

import asyncpg

from notegateway.clients import service as clients_service
from tests.factories import Api, bearer, fail_on, make_egn, note

NOTES = "/api/v1/hisMedicalNotices"
PUPIL = make_egn(dt.date(2014, 3, 3), 1)


async def _stored(db: asyncpg.Connection, nrn: str) -> bool:
    return bool(await db.fetchval("SELECT count(*) FROM medical_notices WHERE nrn = $1", nrn))


async def test_a_known_caller_disabled_is_refused_at_once(api: Api, db: asyncpg.Connection) -> None:
    assert (await api.push(note("25317A000001", PUPIL))).status_code == 200  # checked in full
    assert (await api.push(note("25317A000002", PUPIL))).status_code == 200  # known
    called = await db.fetchval("SELECT max(called_at) FROM nzis_sync")
    await clients_service.disable(db, "test-nzis")
    refused = await api.push(note("25317A000003", PUPIL))
    assert refused.status_code == 401, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert not await _stored(db, "25317A000003")
    assert await db.fetchval("SELECT max(called_at) FROM nzis_sync") == called
    # Forgotten: the next push is checked in full, and refused as a disabled client.
    again = await api.push(note("25317A000003", PUPIL))
    assert again.status_code == 401
    assert "disabled" in again.json()["detail"]


async def test_a_rotated_token_is_refused_at_once(api: Api, db: asyncpg.Connection) -> None:
    old = await api.as_role("nzis")
    assert (await api.push(note("25317A000001", PUPIL))).status_code == 200
    assert (await api.push(note("25317A000002", PUPIL))).status_code == 200
    new = await clients_service.rotate(db, api.app.state.token_key, "test-nzis")
    refused = await api.http.post(NOTES, json=[note("25317A000003", PUPIL)], headers=old)
    assert refused.status_code == 401, refused.text
    assert not await _stored(db, "25317A000003")
    taken = await api.http.post(NOTES, json=[note("25317A000003", PUPIL)], headers=bearer(new))
    assert taken.status_code == 200, taken.text
    assert await _stored(db, "25317A000003")


async def test_a_known_callers_call_is_recorded_in_its_push_transaction(
    api: Api, db: asyncpg.Connection
) -> None:
    """The first push's credentials are checked, and its call recorded, in a statement of
    their own; the next push's in its own transaction, with its note (one round trip and
    one pooled connection fewer)."""
    await db.execute(
        """
        CREATE TABLE test_writes (what text, xact xid8);
        CREATE FUNCTION test_write() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN INSERT INTO test_writes VALUES (TG_TABLE_NAME, pg_current_xact_id()); RETURN NULL;
        END $$;
        CREATE TRIGGER test_call AFTER INSERT OR UPDATE ON nzis_sync
            FOR EACH ROW EXECUTE FUNCTION test_write();
        CREATE TRIGGER test_note AFTER INSERT ON medical_notices
            FOR EACH ROW EXECUTE FUNCTION test_write();
        """
    )
    for nrn in ("25317A000001", "25317A000002"):
        assert (await api.push(note(nrn, PUPIL))).status_code == 200
    writes = [(r["what"], r["xact"]) for r in await db.fetch("SELECT * FROM test_writes")]
    assert [what for what, _ in writes] == [
        "nzis_sync",
        "medical_notices",
        "nzis_sync",
        "medical_notices",
    ]
    first_call, first_note, second_call, second_note = (xact for _, xact in writes)
    assert first_call != first_note
    assert second_call == second_note


async def test_a_known_callers_failed_push_is_still_recorded(
    api: Api, db: asyncpg.Connection
) -> None:
    """lastHisSyncTime moves whatever the answer: a known caller's push whose transaction
    fails (500, rolled back with the record in it) has its call recorded on its own."""
    assert (await api.push(note("25317A000001", PUPIL))).status_code == 200
    called = await db.fetchval("SELECT max(called_at) FROM nzis_sync")
    await fail_on(db, "medical_notices")
    failed = await api.push(note("25317A000002", PUPIL))
    assert failed.status_code == 500
    assert not await _stored(db, "25317A000002")
    assert await db.fetchval("SELECT max(called_at) FROM nzis_sync") > called
