"""Console sessions over plain HTTP: what the cookie holds, expiry, disabled operators,
forms without their CSRF token."""

from __future__ import annotations

import re

import asyncpg
import httpx

from tests.factories import Api


async def _signed_in(api: Api, token: str) -> httpx.AsyncClient:
    http = api.http
    form = await http.get("/console/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    signed = await http.post("/console/signin", data={"token": token, "csrf": csrf})
    assert signed.status_code == 303, signed.text
    return http


async def test_session_cookie_and_expiry(api: Api, db: asyncpg.Connection) -> None:
    token = await api.token("operator")
    http = await _signed_in(api, token)
    cookie = http.cookies.get("ngw_console")
    assert cookie is not None
    assert token not in cookie
    stored = await db.fetchval("SELECT id_hash FROM console_sessions")
    assert stored != cookie  # only its hash is kept
    assert (await http.get("/console")).status_code == 200
    await db.execute("UPDATE console_sessions SET expires_at = now() - interval '1 second'")
    expired = await http.get("/console")
    assert (expired.status_code, expired.headers["location"]) == (303, "/console/signin")


async def test_a_disabled_operator_is_signed_out(api: Api, db: asyncpg.Connection) -> None:
    http = await _signed_in(api, await api.token("operator"))
    await db.execute("UPDATE clients SET disabled_at = now() WHERE role = 'operator'")
    assert (await http.get("/console")).status_code == 303


async def test_sign_in_needs_its_form_and_an_operator(api: Api) -> None:
    http = api.http
    refused = await http.post("/console/signin", data={"token": await api.token("operator")})
    assert refused.status_code == 403  # no CSRF: not from our form
    form = await http.get("/console/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    nzis = await http.post("/console/signin", data={"token": await api.token("nzis"), "csrf": csrf})
    assert nzis.status_code == 401


async def test_a_form_without_its_csrf_token_changes_nothing(
    api: Api, db: asyncpg.Connection
) -> None:
    http = await _signed_in(api, await api.token("operator"))
    forged = await http.post(
        "/console/notes/25317A000001/match", data={"person_id": "1", "reason": "x", "csrf": "x"}
    )
    assert forged.status_code == 403
    assert await db.fetchval("SELECT count(*) FROM audit_log") == 0
    assert (await http.post("/console/signout", data={})).status_code == 403
    assert (await http.get("/console")).status_code == 200  # still signed in
