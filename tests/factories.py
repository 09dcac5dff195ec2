"""Small factories: clients, valid identifiers, notes and persons in wire form."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncpg
import httpx
from stdnum.bg import egn as egn_module
from stdnum.bg import pnf

from notegateway.clients import service as clients_service
from notegateway.core.db import to_libpq_url


def make_egn(birth: dt.date, serial: int = 123) -> str:
    month = birth.month + (40 if birth.year >= 2000 else (20 if birth.year < 1900 else 0))
    body = f"{birth.year % 100:02d}{month:02d}{birth.day:02d}{serial:03d}"
    return body + egn_module.calc_check_digit(body)


def make_lnch(serial: int) -> str:
    body = f"{serial:09d}"
    return body + pnf.calc_check_digit(body)


def one_digit_away(identifier: str) -> str | None:
    """A valid ЕГН that differs from `identifier` in one digit of the serial: a typo that
    NZIS lets through (the check digit still right), so the note arrives unmatched. The
    check digit catches most typos: only some ЕГН have such a neighbour."""
    for position in (6, 7, 8):
        for digit in "0123456789":
            other = identifier[:position] + digit + identifier[position + 1 :]
            if other != identifier and egn_module.is_valid(other):
                return other
    return None


def typo_pair(birth: dt.date) -> tuple[str, str]:
    """An ЕГН born on `birth` and a valid typo of it one digit away."""
    for serial in range(1000):
        right = make_egn(birth, serial)
        typo = one_digit_away(right)
        if typo is not None:
            return right, typo
    raise AssertionError("no ЕГН with a valid typo")


_egn_serial = iter(range(1, 10**6))


def next_egn() -> str:
    serial = next(_egn_serial)
    return make_egn(dt.date(2012, 1, 1) + dt.timedelta(days=serial // 900), serial % 900)


def note(
    nrn: str,
    identifier: str,
    from_date: str = "2026-11-18",
    to_date: str = "2026-11-20",
    *,
    identifier_type: int = 1,
    authored_on: str = "2026-11-20T10:31:00",
    pmi: str = "2300011922",
    examination: str = "26317A000077",
) -> dict[str, Any]:
    return {
        "nrnMedicalNotice": nrn,
        "nrnExamination": examination,
        "patient": {
            "identifierType": identifier_type,
            "identifier": identifier,
            "givenName": "ИВАН",
            "familyName": "ТОДОРОВ",
        },
        "practitioner": {"pmi": pmi},
        "medicalNotice": {"fromDate": from_date, "toDate": to_date, "authoredOn": authored_on},
    }


def enrollment(
    institution_id: int,
    class_name: str = "5",
    section: str | None = "А",
    from_date: str = "2026-09-15",
    to_date: str | None = None,
) -> dict[str, Any]:
    return {
        "institutionId": institution_id,
        "className": class_name,
        "section": section,
        "fromDate": from_date,
        "toDate": to_date,
    }


def person(
    identifier: str,
    *enrollments: dict[str, Any],
    identifier_type: int = 1,
    given: str = "ИВАН",
    family: str = "ТОДОРОВ",
) -> dict[str, Any]:
    return {
        "identifierType": identifier_type,
        "identifier": identifier,
        "givenName": given,
        "familyName": family,
        "enrollments": list(enrollments),
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Api:
    """The HTTP client of a test, with a token per role made on first use."""

    http: httpx.AsyncClient
    app: Any
    database_url: str
    tokens: dict[str, str] = field(default_factory=dict)

    async def token(self, role: str, name: str | None = None) -> str:
        name = name or f"test-{role}"
        if name not in self.tokens:
            self.tokens[name] = await self.add_client(name, role)
        return self.tokens[name]

    async def add_client(
        self, name: str, role: str, thumbprint: str | None = None, region: str | None = None
    ) -> str:
        conn = await asyncpg.connect(to_libpq_url(self.database_url))
        try:
            async with conn.transaction():
                return await clients_service.add(
                    conn, self.app.state.token_key, name, role, thumbprint, region
                )
        finally:
            await conn.close()

    async def as_role(self, role: str) -> dict[str, str]:
        return bearer(await self.token(role))

    async def push(self, *notes: Any, raw: Any = None) -> httpx.Response:
        body = list(notes) if raw is None else raw
        return await self.http.post(
            "/api/v1/hisMedicalNotices", json=body, headers=await self.as_role("nzis")
        )

    async def cancel(self, nrn: str, body: Any = None) -> httpx.Response:
        return await self.http.post(
            f"/api/v1/hisMedicalNotices/{nrn}/cancel",
            json=body,
            headers=await self.as_role("nzis"),
        )

    async def view(self, nrn: str) -> httpx.Response:
        return await self.http.get(
            f"/api/v1/hisMedicalNotices/{nrn}", headers=await self.as_role("nzis")
        )

    async def whole_note(self, nrn: str) -> dict[str, Any]:
        """The operators' view of a note (with its person and placements)."""
        response = await self.ops(f"/notes/{nrn}")
        assert response.status_code == 200, response.text
        view: dict[str, Any] = response.json()
        return view

    async def put_institution(
        self,
        institution_id: int,
        diary: str = "neispuo",
        name: str = "Училище",
        diary_from: str | None = None,
        region: str | None = None,
        town: str = "София",
    ) -> httpx.Response:
        body: dict[str, Any] = {"name": name, "town": town, "diary": diary}
        if diary_from is not None:
            body["diaryFrom"] = diary_from
        if region is not None:
            body["region"] = region
        return await self.http.put(
            f"/api/v1/registry/institutions/{institution_id}",
            json=body,
            headers=await self.as_role("neispuo"),
        )

    async def put_institution_body(
        self, institution_id: int, extra: dict[str, Any], diary: str = "neispuo"
    ) -> httpx.Response:
        """PUT the institution with these fields besides its name, town and diary."""
        body = {"name": "Училище", "town": "София", "diary": diary} | extra
        return await self.http.put(
            f"/api/v1/registry/institutions/{institution_id}",
            json=body,
            headers=await self.as_role("neispuo"),
        )

    async def put_person(self, person_id: int, body: Any) -> httpx.Response:
        return await self.http.put(
            f"/api/v1/registry/persons/{person_id}",
            json=body,
            headers=await self.as_role("neispuo"),
        )

    async def post_absence(self, body: Any) -> httpx.Response:
        return await self.http.post(
            "/api/v1/diary/absences", json=body, headers=await self.as_role("neispuo")
        )

    async def patch_absence(self, absence_id: int, body: Any) -> httpx.Response:
        return await self.http.patch(
            f"/api/v1/diary/absences/{absence_id}", json=body, headers=await self.as_role("neispuo")
        )

    async def absences(self, **query: Any) -> list[dict[str, Any]]:
        """Every absence the query names, page by page; with neither institutionId nor
        personId, every absence there is (person by person)."""
        if "institutionId" not in query and "personId" not in query:
            conn = await asyncpg.connect(to_libpq_url(self.database_url))
            try:
                persons = [
                    r[0] for r in await conn.fetch("SELECT DISTINCT person_id FROM absences")
                ]
            finally:
                await conn.close()
            every = [a for pid in persons for a in await self.absences(**query, personId=pid)]
            return sorted(every, key=lambda a: (a["date"], a["lesson"] or -1, a["absenceId"]))
        items: list[dict[str, Any]] = []
        page: dict[str, Any] = {"nextCursor": None}
        while True:
            params = query | ({"after": page["nextCursor"]} if page["nextCursor"] else {})
            response = await self.http.get(
                "/api/v1/diary/absences", params=params, headers=await self.as_role("neispuo")
            )
            assert response.status_code == 200, response.text
            page = response.json()
            items += page["items"]
            if page["nextCursor"] is None:
                return items

    async def absence_by_id(self, absence_id: int) -> dict[str, Any]:
        return next(a for a in await self.absences() if a["absenceId"] == absence_id)

    async def ops(self, path: str, **query: Any) -> httpx.Response:
        return await self.http.get(
            f"/api/v1/ops{path}", params=query, headers=await self.as_role("operator")
        )

    async def put_persons(self, items: Any) -> httpx.Response:
        return await self.http.post(
            "/api/v1/registry/persons:batch", json=items, headers=await self.as_role("neispuo")
        )


Polled = TypeVar("Polled")


async def poll_while_pushing(
    poll: Awaitable[Polled], push: Callable[[], Awaitable[httpx.Response]], delay: float
) -> tuple[Polled, float]:
    """Open `poll` (a long poll), and `delay` seconds later make `push` (which must answer
    200): the poll's answer, and how many seconds after the push's answer it came."""

    async def push_later() -> float:
        await asyncio.sleep(delay)
        response = await push()
        assert response.status_code == 200, response.text
        return time.monotonic()

    answer, pushed_at = await asyncio.gather(poll, push_later())
    return answer, time.monotonic() - pushed_at


async def linger(
    db: asyncpg.Connection, table: str, seconds: float, events: str = "INSERT"
) -> None:
    """Test-only trigger: every `events` statement on `table` sleeps `seconds` before going on.

    Used to force the interleavings races need: a transaction that lingers inside its write
    has taken its snapshot but not committed while the other one runs.
    """
    function = f"test_linger_{table}"
    await db.execute(
        f"""
        CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_sleep({seconds}); RETURN NULL; END $$;
        CREATE TRIGGER test_linger AFTER {events} ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION {function}();
        """
    )


async def fail_on(db: asyncpg.Connection, table: str, events: str = "INSERT") -> None:
    """Test-only trigger: every `events` statement on `table` fails, as a crash mid-request."""
    function = f"test_fail_{table}"
    await db.execute(
        f"""
        CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'injected failure'; END $$;
        CREATE TRIGGER test_fail AFTER {events} ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION {function}();
        """
    )


def absence(
    absence_id: int,
    person_id: int,
    institution_id: int,
    date: str,
    lesson: int | None = 1,
    kind: str = "unexcused",
    subject: str | None = "Математика",
) -> dict[str, Any]:
    return {
        "absenceId": absence_id,
        "personId": person_id,
        "institutionId": institution_id,
        "date": date,
        "lesson": lesson,
        "subject": subject,
        "kind": kind,
    }


_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def console_sign_in(http: httpx.AsyncClient, token: str) -> str:
    """Sign `http` in to the console with an operator's token; the session's CSRF token."""
    form = await http.get("/console/signin")
    found = _CSRF.search(form.text)
    assert found is not None, form.text
    signed = await http.post("/console/signin", data={"token": token, "csrf": found.group(1)})
    assert signed.status_code == 303, signed.text
    page = await http.get("/console")
    session = _CSRF.search(page.text)
    assert session is not None, page.text
    return session.group(1)
