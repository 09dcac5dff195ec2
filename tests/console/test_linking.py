"""Linking a note in the console: a lookup by the full identifier (shown masked), a
confirmation page that states the consequence and changes nothing (not even a metric),
then the link and a message shown once; an error next to its field, the input kept."""

from __future__ import annotations

import datetime as dt

from notegateway.core import metrics
from tests.factories import (
    Api,
    absence,
    console_sign_in,
    enrollment,
    note,
    person,
    typo_pair,
)

SCHOOL = 100001
PUPIL, TYPO = typo_pair(dt.date(2014, 3, 15))


async def _unmatched_note(api: Api) -> str:
    await api.put_institution(SCHOOL)
    await api.put_person(1, person(PUPIL, enrollment(SCHOOL), given="ИВАН", family="ТОДОРОВ"))
    await api.post_absence(absence(10, 1, SCHOOL, "2026-11-18"))
    await api.push(note("25317A000001", TYPO, "2026-11-18", "2026-11-18"))
    return await console_sign_in(api.http, await api.token("operator"))


async def test_lookup_confirm_then_link(api: Api) -> None:
    csrf = await _unmatched_note(api)
    path = "/console/notes/25317A000001"
    found = await api.http.post(f"{path}/lookup", data={"csrf": csrf, "identifier": PUPIL})
    assert "ИВАН ТОДОРОВ</strong> (№ 1, ЕГН / ЛНЧ " + PUPIL[:2] in found.text
    assert PUPIL not in found.text  # masked only

    excused_before = metrics.ABSENCES_EXCUSED._value.get()
    form = {"csrf": csrf, "person_id": "1", "reason": "ЕГН потвърден от родителя"}
    asked = await api.http.post(f"{path}/match", data=form)
    assert asked.status_code == 200
    assert "Ще бъдат уважени 1 отсъствие на ученика." in asked.text
    assert (await api.absence_by_id(10))["kind"] == "unexcused"  # nothing changed yet
    assert (await api.whole_note("25317A000001"))["personId"] is None
    assert metrics.ABSENCES_EXCUSED._value.get() == excused_before  # a rehearsal counts nothing

    moved = await api.http.post(f"{path}/match", data={**form, "confirmed": "yes", "was": "7"})
    assert "Междувременно бележката е променена" in moved.text  # asked again, nothing done
    assert (await api.whole_note("25317A000001"))["personId"] is None
    done = await api.http.post(f"{path}/match", data={**form, "confirmed": "yes", "was": ""})
    assert (done.status_code, done.headers["location"]) == (303, path)
    assert (await api.absence_by_id(10))["excusedByNrn"] == "25317A000001"
    page = await api.http.get(path)
    assert "Бележката е свързана с ИВАН ТОДОРОВ (№ 1). Уважени по нея: 1 отсъствие." in page.text
    again = await api.http.get(path)
    assert "Бележката е свързана с" not in again.text  # the message is shown once


async def test_a_refused_link_shows_the_error_by_its_field_and_keeps_the_input(api: Api) -> None:
    csrf = await _unmatched_note(api)
    path = "/console/notes/25317A000001/match"
    no_reason = await api.http.post(path, data={"csrf": csrf, "person_id": "1"})
    assert no_reason.status_code == 422
    assert 'id="reason-error">Посочете причина' in no_reason.text
    assert 'id="person_id" name="person_id" inputmode="numeric" value="1"' in no_reason.text
    nobody = await api.http.post(
        path, data={"csrf": csrf, "person_id": "999", "reason": "проверка", "confirmed": "yes"}
    )
    assert nobody.status_code == 422
    assert 'id="person_id-error">Няма ученик с този номер в регистъра.' in nobody.text
    assert 'value="проверка"' in nobody.text
    assert (await api.whole_note("25317A000001"))["personId"] is None


async def test_a_review_decision_states_what_the_rules_will_make_of_the_absence(
    api: Api,
) -> None:
    await api.put_institution(SCHOOL)
    await api.put_person(1, person(PUPIL, enrollment(SCHOOL)))
    await api.post_absence(absence(10, 1, SCHOOL, "2026-11-18"))
    await api.push(note("25317A000002", PUPIL, "2026-11-18", "2026-11-18"))
    await api.patch_absence(10, {"kind": "unexcused"})  # a teacher overrides the note
    csrf = await console_sign_in(api.http, await api.token("operator"))
    listed = await api.http.get("/console/review")
    assert "Нека бележката го уважи" in listed.text  # not "make it unexcused": it is
    form = {"csrf": csrf, "resolution": "unexcuse", "reason": "родителят донесе бележката"}
    asked = await api.http.post("/console/review/10/resolve", data=form)
    assert "ще стане уважено." in asked.text
    assert (await api.absence_by_id(10))["kind"] == "unexcused"
    assert 'name="was" value="unexcused"' in asked.text  # what the confirmation was about
    stale = await api.http.post(
        "/console/review/10/resolve", data={**form, "confirmed": "yes", "was": "excused"}
    )
    assert "ще стане уважено." in stale.text  # changed meanwhile: asked again, nothing done
    assert (await api.absence_by_id(10))["kind"] == "unexcused"
    confirmed = {**form, "confirmed": "yes", "was": "unexcused"}
    done = await api.http.post("/console/review/10/resolve", data=confirmed)
    assert done.status_code == 303
    assert (await api.absence_by_id(10))["excusedByNrn"] == "25317A000002"
    assert "е уважено и излезе от списъка" in (await api.http.get("/console/review")).text
