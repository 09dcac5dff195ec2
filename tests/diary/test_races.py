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

from tests.factories import Api, absence, enrollment, linger, make_egn, note, person

EGN = make_egn(dt.date(2014, 3, 15), 123)
SCHOOL = 100001


@pytest.fixture
async def pupil(api: Api) -> None:
    await api.put_institution(SCHOOL)
    await api.put_person(1, person(EGN, enrollment(SCHOOL)))
    await api.token("nzis")
    await api.token("neispuo")


async def test_note_and_absence_committed_concurrently(
    api: Api, pupil: None, db: asyncpg.Connection
) -> None:
    await linger(db, "audit_log", 0.25)
    for i in range(3):
        nrn, absence_id = f"25317A{800 + i:06d}", 800 + i
        pushed, recorded = await asyncio.gather(
            api.push(note(nrn, EGN, "2026-11-18", "2026-11-18")),
            api.post_absence(absence(absence_id, 1, SCHOOL, "2026-11-18", lesson=i + 1)),
        )
        assert (pushed.status_code, recorded.status_code) == (200, 201)
        stored = await api.absence_by_id(absence_id)
        assert stored["kind"] == "excused", f"round {i}: absence left unexcused"


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
