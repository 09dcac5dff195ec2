"""Races that happen in real schools, with the interleaving forced.

Every audit-log insert lingers (a test-only statement trigger), and every write path
inserts audit entries in the statement that applies the rules. So two transactions
started together both take their snapshots while the other is still uncommitted: the
interleaving in which, without the identity lock both take, each would miss the other.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import asyncpg
import pytest

from tests.conftest import TWO_PROCESSES
from tests.factories import Api, absence, enrollment, linger, make_egn, make_lnch, note, person

# Every race and ordering here is run in one process and across two.
pytestmark = pytest.mark.parametrize("api", ["one process", TWO_PROCESSES], indirect=True)

EGN = make_egn(dt.date(2014, 3, 15), 123)
SCHOOL = 100001


@pytest.fixture
async def pupil(api: Api) -> None:
    await api.put_institution(SCHOOL)
    await api.put_person(1, person(EGN, enrollment(SCHOOL)))
    await api.token("nzis")
    await api.token("neispuo")


async def _note_and_absence_race(api: Api, db: asyncpg.Connection, first: int) -> None:
    """Three rounds of a note (under EGN) and an absence it covers, committed together."""
    await linger(db, "audit_log", 0.25)
    for i in range(3):
        nrn, absence_id = f"25317A{first + i:06d}", first + i
        pushed, recorded = await asyncio.gather(
            api.push(note(nrn, EGN, "2026-11-18", "2026-11-18")),
            api.post_absence(absence(absence_id, 1, SCHOOL, "2026-11-18", lesson=i + 1)),
        )
        assert (pushed.status_code, recorded.status_code) == (200, 201)
        stored = await api.absence_by_id(absence_id)
        assert stored["kind"] == "excused", f"round {i}: absence left unexcused"


async def test_note_and_absence_committed_concurrently(
    api: Api, pupil: None, db: asyncpg.Connection
) -> None:
    await _note_and_absence_race(api, db, 800)


async def test_note_under_a_former_identifier_and_absence_committed_concurrently(
    api: Api, pupil: None, db: asyncpg.Connection
) -> None:
    """The absence path locks every identity of the pupil, former ones too: a note under
    the ЕГН the pupil had before is a note of theirs."""
    await api.put_person(1, person(make_lnch(5151), enrollment(SCHOOL), identifier_type=2))
    await _note_and_absence_race(api, db, 850)


async def test_cancellation_racing_a_new_overlapping_note(
    api: Api, pupil: None, db: asyncpg.Connection
) -> None:
    await api.post_absence(absence(900, 1, SCHOOL, "2026-11-19"))
    await api.push(note("25317A000900", EGN))
    assert (await api.absence_by_id(900))["excusedByNrn"] == "25317A000900"
    await linger(db, "audit_log", 0.25)
    cancelled, pushed = await asyncio.gather(
        api.cancel("25317A000900"),
        api.push(note("25317A000901", EGN, "2026-11-19", "2026-11-21")),
    )
    assert (cancelled.status_code, pushed.status_code) == (200, 200)
    held = await api.absence_by_id(900)
    assert (held["kind"], held["excusedByNrn"]) == ("excused", "25317A000901")
    assert held["comment"].startswith(
        "Автоматично уважено с електронна медицинска бележка 25317A000901/"
    )


async def test_patch_racing_a_cancellation(api: Api, pupil: None, db: asyncpg.Connection) -> None:
    await api.post_absence(absence(950, 1, SCHOOL, "2026-11-19"))
    await api.push(note("25317A000950", EGN))
    await linger(db, "audit_log", 0.25)
    patched, cancelled = await asyncio.gather(
        api.patch_absence(950, {"comment": "видяно"}), api.cancel("25317A000950")
    )
    assert (patched.status_code, cancelled.status_code) == (200, 200)
    final = await api.absence_by_id(950)
    review = (await api.ops("/review")).json()["items"]
    # Whichever committed first, the person's word is never overwritten by the gateway:
    if final["kind"] == "excused":
        assert final["setByPerson"]
        assert [r["absenceId"] for r in review] == [950]
    else:
        # the cancellation came first; the person then changed an already reverted absence
        assert final["setByPerson"]
        assert final["comment"] == "видяно"
        assert review == []


async def test_cancel_racing_the_first_push_and_an_absence(
    api: Api, pupil: None, db: asyncpg.Connection
) -> None:
    """The cancel must hold the pupil's identity lock even when its note was still arriving
    as the cancel began; else an absence recorded meanwhile is excused by a cancelled note."""
    await linger(db, "audit_log", 0.25)

    async def later(seconds: float, call):  # type: ignore[no-untyped-def]
        await asyncio.sleep(seconds)
        return await call

    pushed, cancelled, recorded = await asyncio.gather(
        api.push(note("25317A000960", EGN)),
        later(0.05, api.cancel("25317A000960")),  # waits for the push's NRN lock
        later(0.6, api.post_absence(absence(960, 1, SCHOOL, "2026-11-19"))),
    )
    assert (pushed.status_code, cancelled.status_code, recorded.status_code) == (200, 200, 201)
    assert (await api.view("25317A000960")).json()["status"] == "cancelled"
    assert (await api.absence_by_id(960))["kind"] == "unexcused"


async def test_same_absence_id_for_two_persons_at_once(
    api: Api, pupil: None, db: asyncpg.Connection
) -> None:
    await api.put_person(2, person(make_egn(dt.date(2013, 1, 1), 5), enrollment(SCHOOL)))
    await linger(db, "audit_log", 0.25)
    first, second = await asyncio.gather(
        api.post_absence(absence(970, 1, SCHOOL, "2026-11-19")),
        api.post_absence(absence(970, 2, SCHOOL, "2026-11-19")),
    )
    assert sorted([first.status_code, second.status_code]) == [201, 409]


async def test_absence_recorded_during_a_switch_to_neispuo(
    api: Api, pupil: None, db: asyncpg.Connection
) -> None:
    await api.token("vendor", "acme")
    await api.put_institution(SCHOOL, diary="acme", diary_from="2026-11-01")
    await api.push(note("25317A000980", EGN))
    await linger(db, "audit_log", 0.5)

    async def later(seconds: float, call):  # type: ignore[no-untyped-def]
        await asyncio.sleep(seconds)
        return await call

    recorded, switched = await asyncio.gather(
        api.post_absence(absence(980, 1, SCHOOL, "2026-11-19")),
        later(0.2, api.put_institution(SCHOOL, diary="neispuo", diary_from="2026-11-01")),
    )
    assert (recorded.status_code, switched.status_code) == (201, 200)
    assert (await api.absence_by_id(980))["excusedByNrn"] == "25317A000980"
