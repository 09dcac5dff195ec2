"""An operator links a note whose identifier the doctor mistyped: excused at once, both
ways; the link stands against registry changes until an operator undoes it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
import httpx
import pytest

from tests.factories import Api, absence, enrollment, make_egn, note, person

SCHOOL = 100001
TYPO = make_egn(dt.date(2014, 3, 16), 123)  # what the doctor typed: nobody's
PUPIL = make_egn(dt.date(2014, 3, 15), 123)  # person 1
OTHER = make_egn(dt.date(2013, 1, 9), 77)  # person 2


@pytest.fixture
async def pupils(api: Api) -> None:
    await api.put_institution(SCHOOL)
    await api.put_person(1, person(PUPIL, enrollment(SCHOOL)))
    await api.put_person(2, person(OTHER, enrollment(SCHOOL, "6", "Б")))
    await api.post_absence(absence(10, 1, SCHOOL, "2026-11-18"))
    await api.post_absence(absence(20, 2, SCHOOL, "2026-11-18"))
    await api.push(note("25317A000001", TYPO))
    assert (await api.whole_note("25317A000001"))["match"] == "unmatched"


async def match(
    api: Api, body: Any, nrn: str = "25317A000001", role: str = "operator"
) -> httpx.Response:
    return await api.http.post(
        f"/api/v1/ops/notes/{nrn}/match", json=body, headers=await api.as_role(role)
    )


async def test_a_link_excuses_at_once_and_moves_both_ways(
    api: Api, pupils: None, db: asyncpg.Connection
) -> None:
    linked = await match(api, {"personId": 1, "reason": "the GP mistyped the ЕГН"})
    assert linked.status_code == 200, linked.text
    view = linked.json()
    assert (view["match"], view["personId"], view["excusedAbsences"]) == ("matched", 1, 1)
    assert [p["institutionId"] for p in view["placements"]] == [SCHOOL]
    assert (await api.absence_by_id(10))["excusedByNrn"] == "25317A000001"
    assert view["audit"][-1]["actor"] == "test-operator"

    moved = await match(api, {"personId": 2, "reason": "no: it was the brother"})
    assert moved.json()["personId"] == 2
    assert (await api.absence_by_id(10))["kind"] == "unexcused"
    assert (await api.absence_by_id(20))["excusedByNrn"] == "25317A000001"

    undone = await match(api, {"personId": None, "reason": "back to the identifier"})
    assert (undone.json()["match"], undone.json()["personId"]) == ("unmatched", None)
    assert (await api.absence_by_id(20))["kind"] == "unexcused"
    reasons = await db.fetch(
        "SELECT after->>'reason' AS reason FROM audit_log WHERE action LIKE 'note.%matched' "
        "AND actor = 'test-operator' ORDER BY id"
    )
    assert [r["reason"] for r in reasons] == [
        "the GP mistyped the ЕГН",
        "no: it was the brother",
        "back to the identifier",
    ]


async def test_a_link_stands_against_registry_changes(api: Api, pupils: None) -> None:
    await match(api, {"personId": 1, "reason": "mistyped"})
    # Someone with the typed identifier appears in the registry: the link stands.
    await api.put_person(3, person(TYPO, enrollment(SCHOOL, "7", "В")))
    assert (await api.whole_note("25317A000001"))["personId"] == 1
    # Back to matching by identifier: now person 3 holds it.
    undone = await match(api, {"personId": None, "reason": "the registry has them now"})
    assert undone.json()["personId"] == 3


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"personId": 999, "reason": "x"}, 422),  # no such person
        ({"personId": 1}, 422),  # no reason
        ({"personId": 1, "reason": " "}, 422),
        ({"reason": "x"}, 422),  # personId must be given (null to undo)
        ({"personId": 0, "reason": "x"}, 422),
    ],
)
async def test_bad_links_are_refused_and_change_nothing(
    api: Api, pupils: None, body: Any, status: int
) -> None:
    assert (await match(api, body)).status_code == status
    view = await api.whole_note("25317A000001")
    assert (view["match"], view["personId"]) == ("unmatched", None)


async def test_unknown_note_404_and_only_operators(api: Api, pupils: None) -> None:
    assert (await match(api, {"personId": 1, "reason": "x"}, nrn="25317A000999")).status_code == 404
    assert (await match(api, {"personId": 1, "reason": "x"}, role="nzis")).status_code == 403


async def test_the_audit_trail_says_why_each_change_was_made(api: Api, pupils: None) -> None:
    await match(api, {"personId": 1, "reason": "ЕГН сгрешено от лекаря"})
    cancelled = await api.cancel("25317A000001", {"cancelReason": "издадена нова бележка"})
    assert cancelled.status_code == 200, cancelled.text
    audit = (await api.whole_note("25317A000001"))["audit"]
    reasons = {(a["action"], a["reason"]) for a in audit}
    assert ("note.matched", "ЕГН сгрешено от лекаря") in reasons
    assert ("note.cancelled", "издадена нова бележка") in reasons
    assert {a["reason"] for a in audit if a["action"].startswith("absence.")} == {None}
