"""The operators' search as NEISPUO's admin search does it: parts of NRNs (any case) and
of identifiers; the registry's names beside NZIS's on the whole note."""

from __future__ import annotations

import datetime as dt

from tests.factories import Api, enrollment, make_egn, note, person

SCHOOL = 100001
PUPIL = make_egn(dt.date(2014, 3, 15), 123)
OTHER = make_egn(dt.date(2013, 5, 2), 456)


async def test_search_by_parts_of_nrns_and_identifiers(api: Api) -> None:
    await api.push(
        note("25317A000123", PUPIL, examination="26317A000077"),
        note("25317B000456", OTHER, examination="26317A000088"),
    )

    async def nrns(**query: str) -> list[str]:
        answer = await api.ops("/notes", **query)
        assert answer.status_code == 200, answer.text
        return sorted(n["nrnMedicalNotice"] for n in answer.json()["items"])

    assert await nrns(nrnMedicalNotice="317a0001") == ["25317A000123"]  # any case
    assert await nrns(nrnMedicalNotice="25317") == ["25317A000123", "25317B000456"]
    assert await nrns(nrnExamination="A000088") == ["25317B000456"]
    assert await nrns(identifier=PUPIL[3:9]) == ["25317A000123"]
    assert await nrns(identifier=PUPIL) == ["25317A000123"]
    for short in ({"nrnMedicalNotice": "253"}, {"identifier": "144"}):
        assert (await api.ops("/notes", **short)).status_code == 400


async def test_the_whole_note_names_the_pupil_as_the_registry_does(api: Api) -> None:
    await api.put_institution(SCHOOL)
    await api.put_person(7, person(PUPIL, enrollment(SCHOOL), given="ИВАНКА", family="ДИМОВА"))
    await api.push(note("25317A000123", PUPIL), note("25317A000124", OTHER))
    matched = await api.whole_note("25317A000123")
    assert matched["person"] == {"personId": 7, "givenName": "ИВАНКА", "familyName": "ДИМОВА"}
    assert matched["hisMedicalNotice"]["patient"]["givenName"] == "ИВАН"  # NZIS's, as sent
    assert (await api.whole_note("25317A000124"))["person"] is None
