"""Every console page in Bulgarian: the glossary knows every code the gateway can show,
and no page's text (nor its placeholders, labels and titles) has a Latin word outside
NRNs, masked identifiers and the names of the gateway's clients."""

from __future__ import annotations

import datetime as dt
import re
import typing
from html.parser import HTMLParser

import httpx

from notegateway.console import glossary
from notegateway.diary.excusal import Action, Why
from notegateway.diary.schemas import AbsenceKind, DayOutcome
from notegateway.ops import suggestions
from notegateway.ops.schemas import Delivery, Rejection
from tests.factories import (
    Api,
    absence,
    console_sign_in,
    enrollment,
    make_egn,
    note,
    person,
    typo_pair,
)

SCHOOL, VENDOR_SCHOOL = 100001, 300001
PUPIL, TYPO = typo_pair(dt.date(2014, 3, 15))  # the pupil's ЕГН and a doctor's typo of it


def test_the_glossary_knows_every_code_the_console_can_show() -> None:
    assert {a.value for a in Action} <= glossary.ACTIONS.keys()
    assert {w.value for w in Why} <= glossary.REVIEW_WHY.keys()
    assert {w.value for w in suggestions.Why} <= glossary.SUGGESTION_WHY.keys()
    assert set(typing.get_args(DayOutcome)) <= glossary.DAY_OUTCOMES.keys()
    assert set(typing.get_args(AbsenceKind)) <= glossary.KINDS.keys()
    ack = typing.get_args(Delivery.model_fields["ack"].annotation)[0]
    assert set(typing.get_args(ack)) <= glossary.ACK_OUTCOMES.keys()
    outcome = Rejection.model_fields["outcome"].annotation
    assert set(typing.get_args(outcome)) <= glossary.REJECTION_OUTCOMES.keys()
    assert glossary.message("Field required") == "липсва"
    assert glossary.message("something new") == "невалидна стойност"
    assert glossary.error(418, "I'm a teapot") == "Действието не може да бъде извършено."


class _Text(HTMLParser):
    """What a person reads on a page: text, and the placeholders, labels and titles."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in ("placeholder", "aria-label", "title") and value:
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


_TOKEN = re.compile(r"[0-9A-Za-z*_-]+(?:\.[0-9A-Za-z*_-]+)*")  # note.received is one
_NRN = re.compile(r"[0-9A-Z]{12}")
_MASKED = re.compile(r"[0-9]{2}\*+[0-9]{2}")


def latin_words(html: str, allowed: set[str]) -> set[str]:
    reader = _Text()
    reader.feed(html)
    words = set()
    for token in _TOKEN.findall(" ".join(reader.parts)):
        if not re.search(r"[A-Za-z]", token) or token in allowed:
            continue
        if _NRN.fullmatch(token) or _MASKED.fullmatch(token):
            continue
        words.add(token)
    return words


CLIENTS = {"test-operator", "test-nzis", "test-neispuo", "acme", "ruo-varna"}


async def _scene(api: Api) -> None:
    """A note of each kind: unmatched, matched, cancelled with an absence left for review,
    at a vendor's school with an ack; a rejected push; a reported month."""
    await api.put_institution(SCHOOL, name="СУ „Христо Ботев“", town="Варна", region="Варна")
    acme = await api.token("vendor", "acme")
    await api.put_institution(VENDOR_SCHOOL, diary="acme", name="ОУ „Васил Левски“", region="София")
    await api.put_person(1, person(PUPIL, enrollment(SCHOOL), given="ИВАН", family="ТОДОРОВ"))
    await api.put_person(2, person(make_egn(dt.date(2013, 5, 2), 7), enrollment(VENDOR_SCHOOL)))
    for absence_id, day in ((10, "2026-11-18"), (11, "2026-11-19")):
        await api.post_absence(absence(absence_id, 1, SCHOOL, day))
    await api.push(note("25317A000001", TYPO, "2026-11-18", "2026-11-18"))
    await api.push(note("25317A000002", PUPIL, "2026-11-19", "2026-11-19"))
    await api.patch_absence(11, {"comment": "видяно"})
    await api.cancel("25317A000002", {"cancelReason": "грешен период"})
    await api.push(note("25317A000003", make_egn(dt.date(2013, 5, 2), 7)))
    vendor = {"Authorization": f"Bearer {acme}"}
    events = (await api.http.get("/api/v1/medicalNotices/events", headers=vendor)).json()
    cursor = events["events"][0]["cursor"]
    ack = {"outcome": "pendingTeacher", "comment": "чака класния"}
    await api.http.post(f"/api/v1/medicalNotices/events/{cursor}/ack", json=ack, headers=vendor)
    await api.push({"nrnMedicalNotice": "12345", "patient": {"identifier": "1"}, "extra": 1})
    month = f"/api/v1/diary/institutions/{SCHOOL}/months/2026-11/report"
    await api.http.put(month, json={}, headers=await api.as_role("neispuo"))


async def _pages(http: httpx.AsyncClient, csrf: str, national: bool) -> dict[str, httpx.Response]:
    got = {}
    for path in (
        "/console",
        "/console/notes/25317A000001",
        "/console/notes/25317A000002",
        "/console/notes/25317A000003",
        "/console/notes/ZZZZZZZZZZZZ",
        "/console/unmatched",
        "/console/review",
        "/console/rejections",
        "/console/vendors",
        "/console/months",
        f"/console/institutions/{SCHOOL}/months/2026-11",
        "/console/pupils/1",
        "/console/wave?from_date=2026-11-15&to_date=2026-11-22",
        "/console/wave?from_date=15.13.2026",
        "/console/no-such-page",
        "/console/unmatched?offset=abc",
    ):
        got[path] = await http.get(path)
    posts = {
        "search": ("/console/search", {"nrn": "25317", "status": "active"}),
        "short search": ("/console/search", {"nrn": "253"}),
        "match, no reason": ("/console/notes/25317A000001/match", {"person_id": "1"}),
        "match, confirm": (
            "/console/notes/25317A000001/match",
            {"person_id": "1", "reason": "грешно ЕГН"},
        ),
        "lookup": ("/console/notes/25317A000001/lookup", {"identifier": PUPIL}),
        "lookup, nobody": ("/console/notes/25317A000001/lookup", {"identifier": "0000000000"}),
        "resolve, confirm": ("/console/review/11/resolve", {"resolution": "keep", "reason": "да"}),
        "resolve, no reason": ("/console/review/11/resolve", {"resolution": "keep"}),
        "redeliver, no reason": ("/console/notes/25317A000003/redeliver", {"vendor": "acme"}),
    }
    for name, (path, form) in posts.items():
        got[name] = await http.post(path, data={**form, "csrf": csrf})
    got["search results"] = await http.get("/console/search")
    if national:
        assert "Възможни ученици" in got["/console/notes/25317A000001"].text
        assert "Ще бъдат уважени 1 отсъствие" in got["match, confirm"].text
        assert "ще остане уважено" in got["resolve, confirm"].text
    return got


async def test_no_console_page_shows_a_latin_word(api: Api) -> None:
    await _scene(api)
    regional = await api.add_client("ruo-varna", "operator", region="Варна")
    for token, national in ((await api.token("operator"), True), (regional, False)):
        http = httpx.AsyncClient(transport=api.http._transport, base_url=api.http.base_url)
        async with http:
            csrf = await console_sign_in(http, token)
            for name, answer in (await _pages(http, csrf, national)).items():
                assert answer.status_code < 500, (name, answer.text)
                if answer.status_code in (302, 303):
                    continue
                assert "text/html" in answer.headers["content-type"], name
                assert latin_words(answer.text, CLIENTS) == set(), (name, national)
