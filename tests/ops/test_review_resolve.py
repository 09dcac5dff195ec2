"""An operator closes an absence's review: keep it as the person set it, or unexcuse it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
import pytest

from tests.factories import Api, absence, enrollment, make_egn, note, person

EGN = make_egn(dt.date(2014, 3, 15), 123)
SCHOOL = 100001


@pytest.fixture
async def listed(api: Api) -> None:
    """Absence 70: excused by note …123, then commented by a person; the note is cancelled
    while note …126 covers the day too: the absence stays and is listed for review."""
    await api.put_institution(SCHOOL)
    await api.put_person(1, person(EGN, enrollment(SCHOOL)))
    await api.post_absence(absence(70, 1, SCHOOL, "2026-11-18"))
    await api.push(note("25317A000123", EGN))
    await api.patch_absence(70, {"comment": "проверено от класния"})
    await api.push(note("25317A000126", EGN, "2026-11-18", "2026-11-18"))
    await api.cancel("25317A000123")
    assert [r["absenceId"] for r in (await api.ops("/review")).json()["items"]] == [70]


async def resolve(api: Api, absence_id: int, body: Any) -> Any:
    return await api.http.post(
        f"/api/v1/ops/review/{absence_id}/resolve",
        json=body,
        headers=await api.as_role("operator"),
    )


async def test_keep_leaves_it_as_set_and_off_the_list_for_good(
    api: Api, listed: None, db: asyncpg.Connection
) -> None:
    kept = await resolve(api, 70, {"resolution": "keep", "reason": "the parent called"})
    assert kept.status_code == 200, kept.text
    body = kept.json()
    assert (body["kind"], body["comment"], body["setByPerson"]) == (
        "excused",
        "проверено от класния",
        True,
    )
    assert body["excusedByNrn"] is None
    assert (await api.ops("/review")).json()["items"] == []
    # A later registry write, which decides every day of the pupil again, does not list
    # it again.
    await api.put_person(1, person(EGN, enrollment(SCHOOL, "5", "Б")))
    assert (await api.ops("/review")).json()["items"] == []
    entry = await db.fetchrow(
        "SELECT actor, after FROM audit_log WHERE action = 'absence.review_closed'"
    )
    assert entry["actor"] == "test-operator"
    assert '"operatorReason": "the parent called"' in entry["after"]


async def test_unexcuse_hands_it_back_and_a_covering_note_takes_it(api: Api, listed: None) -> None:
    done = await resolve(api, 70, {"resolution": "unexcuse", "reason": "not ill that day"})
    assert done.status_code == 200, done.text
    # Note …126 covers the day: the rules excuse it with that note at once.
    assert (done.json()["kind"], done.json()["excusedByNrn"]) == ("excused", "25317A000126")
    assert done.json()["setByPerson"] is False
    assert (await api.ops("/review")).json()["items"] == []


async def test_unexcuse_without_a_covering_note_leaves_it_unexcused(api: Api, listed: None) -> None:
    await api.cancel("25317A000126")
    done = await resolve(api, 70, {"resolution": "unexcuse", "reason": "no note"})
    assert (done.json()["kind"], done.json()["excusedByNrn"]) == ("unexcused", None)


@pytest.mark.parametrize(
    "body",
    [
        {"resolution": "keep"},
        {"resolution": "keep", "reason": "  "},
        {"resolution": "delete", "reason": "x"},
        [],
    ],
)
async def test_a_bad_resolution_is_422_and_changes_nothing(
    api: Api, listed: None, body: Any
) -> None:
    refused = await resolve(api, 70, body)
    assert refused.status_code == 422
    assert [r["absenceId"] for r in (await api.ops("/review")).json()["items"]] == [70]


async def test_not_listed_or_unknown_is_404_and_only_operators_may(api: Api, listed: None) -> None:
    await api.post_absence(absence(71, 1, SCHOOL, "2026-11-19"))
    assert (await resolve(api, 71, {"resolution": "keep", "reason": "x"})).status_code == 404
    assert (await resolve(api, 999, {"resolution": "keep", "reason": "x"})).status_code == 404
    refused = await api.http.post(
        "/api/v1/ops/review/70/resolve",
        json={"resolution": "keep", "reason": "x"},
        headers=await api.as_role("neispuo"),
    )
    assert refused.status_code == 403
