"""Suggestions for an unmatched note: the registered persons it may belong to, best first,
with identifiers masked; none for another region's operator (403) or a matched note."""

from __future__ import annotations

import datetime as dt

from stdnum.bg import egn

from tests.factories import Api, make_egn, note, person, typo_pair

BORN = dt.date(2014, 3, 15)


def _swappable() -> tuple[str, str]:
    """An ЕГН, and the valid ЕГН with its 7th and 8th digits swapped."""
    for serial in range(100, 1000):
        right = make_egn(BORN, serial)
        swapped = right[:6] + right[7] + right[6] + right[8:]
        if swapped != right and egn.is_valid(swapped):
            return right, swapped
    raise AssertionError("no swappable ЕГН")


RIGHT, SWAPPED = _swappable()  # the pupil's ЕГН as the doctor typed it, and as registered


async def test_suggestions_best_first_with_masked_identifiers(api: Api) -> None:
    registered = {
        1: person(SWAPPED, given="ИВАН", family="ТОДОРОВ"),  # digits swapped
        2: person(make_egn(BORN, 55), given="Иван", family="Тодоров"),  # the same birth date
        3: person(make_egn(BORN, 56), given="ПЕТЪР", family="ТОДОРОВ"),  # other names
        4: person(make_egn(dt.date(2014, 3, 16), 57)),  # another birth date
    }
    for person_id, body in registered.items():
        assert (await api.put_person(person_id, body)).status_code in (200, 201)
    await api.push(note("25317A000031", RIGHT))
    answer = await api.ops("/notes/25317A000031/suggestions")
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    assert [(s["personId"], s["why"]) for s in items] == [(1, "identifierSwap"), (2, "birthDate")]
    assert items[0] == {
        "personId": 1,
        "givenName": "ИВАН",
        "familyName": "ТОДОРОВ",
        "identifier": SWAPPED[:2] + "******" + SWAPPED[-2:],
        "why": "identifierSwap",
    }


async def test_one_digit_away_with_the_same_names_and_none_without_names(api: Api) -> None:
    registered, wrong = typo_pair(dt.date(2013, 5, 2))
    answer = await api.put_person(5, person(registered, given="МАРИЯ", family="ИВАНОВА"))
    assert answer.status_code in (200, 201)
    named = note("25317A000040", wrong)
    named["patient"] |= {"givenName": "Мария", "familyName": "Иванова"}
    unnamed = note("25317A000041", wrong)
    del unnamed["patient"]["givenName"], unnamed["patient"]["familyName"]
    await api.push(named, unnamed, note("25317A000042", wrong))  # the third: ИВАН ТОДОРОВ
    [suggested] = (await api.ops("/notes/25317A000040/suggestions")).json()["items"]
    assert (suggested["personId"], suggested["why"]) == (5, "identifierDigit")
    assert (await api.ops("/notes/25317A000041/suggestions")).json()["items"] == []  # no names
    assert (await api.ops("/notes/25317A000042/suggestions")).json()["items"] == []  # others
    await api.push(note("25317A000043", registered))
    assert (await api.ops("/notes/25317A000043/suggestions")).json()["items"] == []  # matched
    assert (await api.ops("/notes/25317A000099/suggestions")).status_code == 404


async def test_a_regional_operator_gets_no_suggestions(api: Api) -> None:
    await api.push(note("25317A000051", RIGHT))
    token = await api.add_client("ruo-varna", "operator", region="Варна")
    answer = await api.http.get(
        "/api/v1/ops/notes/25317A000051/suggestions", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 403
