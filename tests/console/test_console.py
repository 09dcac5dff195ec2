"""The console in a real browser: Playwright driving Debian's chromium against a served
gateway. Screenshots of each page land in the test's temporary folder."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.factories import absence, bearer, enrollment, make_egn, note, person
from tests.serving import cli_token, served

PUPIL = make_egn(dt.date(2014, 3, 15), 123)
SCHOOL = 100001


def chromium() -> str:
    """Debian's chromium (.ci/run and the Makefile install it): never a downloaded one."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("chromium is not installed (apt-get install chromium)")
    return found


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium(), args=["--no-sandbox"]
        )
        yield launched
        await launched.close()


async def _shot(page: Page, folder: Path, name: str) -> None:
    await page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


async def test_sign_in_find_a_note_and_sign_out(
    database_url: str, tmp_path: Path, browser: Browser
) -> None:
    operator, nzis, neispuo = await asyncio.gather(
        asyncio.to_thread(cli_token, database_url, "helpdesk-maria", "operator"),
        asyncio.to_thread(cli_token, database_url, "nzis-main", "nzis"),
        asyncio.to_thread(cli_token, database_url, "neispuo-core", "neispuo"),
    )
    async with served(database_url, tmp_path / "serve.log") as http:
        base = str(http.base_url).rstrip("/")
        await http.put(
            f"/api/v1/registry/institutions/{SCHOOL}",
            json={"name": "СУ „Христо Ботев“", "town": "Варна", "diary": "neispuo"},
            headers=bearer(neispuo),
        )
        await http.put(
            "/api/v1/registry/persons/1",
            json=person(PUPIL, enrollment(SCHOOL)),
            headers=bearer(neispuo),
        )
        await http.post(
            "/api/v1/diary/absences",
            json=absence(10, 1, SCHOOL, "2026-11-18"),
            headers=bearer(neispuo),
        )
        pushed = await http.post(
            "/api/v1/hisMedicalNotices", json=[note("25317A000001", PUPIL)], headers=bearer(nzis)
        )
        assert pushed.status_code == 200

        page = await (await browser.new_context(viewport={"width": 390, "height": 844})).new_page()
        await page.goto(f"{base}/console")
        await expect(page).to_have_url(f"{base}/console/signin")
        await expect(page.get_by_role("heading", name="Вход за оператори")).to_be_visible()
        await _shot(page, tmp_path, "1-signin")

        await page.get_by_label("Ключ на оператор").fill("ngw_not-a-token")
        await page.get_by_role("button", name="Вход").click()
        await expect(page.get_by_role("alert")).to_have_text("Невалиден ключ на оператор.")

        await page.get_by_label("Ключ на оператор").fill(operator)
        await page.get_by_role("button", name="Вход").click()
        await expect(page).to_have_url(f"{base}/console")
        await expect(page.get_by_text("helpdesk-maria")).to_be_visible()
        cookies = await page.context.cookies()
        session_cookie = next(c for c in cookies if c["name"] == "ngw_console")
        assert session_cookie["httpOnly"]
        assert session_cookie["sameSite"] == "Strict"
        assert operator not in session_cookie["value"]

        await page.get_by_label("НРН на бележката").fill("25317A000001")
        await page.get_by_role("button", name="Търси").click()
        await _shot(page, tmp_path, "2-search")
        await page.get_by_role("link", name="25317A000001").click()
        await expect(page.get_by_role("heading", name="Бележка 25317A000001")).to_be_visible()
        await expect(page.get_by_text(PUPIL)).to_have_count(0)  # the identifier is masked
        await expect(page.get_by_text(PUPIL[:2] + "******" + PUPIL[-2:])).to_be_visible()
        await _shot(page, tmp_path, "3-note")

        # A form posted without its CSRF token is refused, and changes nothing.
        forged = await page.context.request.post(f"{base}/console/signout", form={})
        assert forged.status == 403
        await page.goto(f"{base}/console")
        await expect(page).to_have_url(f"{base}/console")

        await page.get_by_role("button", name="Изход").click()
        await expect(page).to_have_url(f"{base}/console/signin")
        await page.goto(f"{base}/console")
        await expect(page).to_have_url(f"{base}/console/signin")  # the session is over
