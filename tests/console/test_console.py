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
        placed = page.get_by_role("cell", name=f"СУ „Христо Ботев“ ({SCHOOL})")
        await expect(placed).to_be_visible()  # the school by its name, as people know it
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


async def _sign_in(page: Page, base: str, token: str) -> None:
    await page.goto(f"{base}/console/signin")
    await page.get_by_label("Ключ на оператор").fill(token)
    await page.get_by_role("button", name="Вход").click()
    await expect(page).to_have_url(f"{base}/console")


TYPO = make_egn(dt.date(2014, 3, 16), 123)  # the ЕГН the doctor typed: nobody's


async def test_link_a_note_resolve_a_review_and_every_page(
    database_url: str, tmp_path: Path, browser: Browser
) -> None:
    operator, nzis, neispuo, _acme = await asyncio.gather(
        asyncio.to_thread(cli_token, database_url, "helpdesk-maria", "operator"),
        asyncio.to_thread(cli_token, database_url, "nzis-main", "nzis"),
        asyncio.to_thread(cli_token, database_url, "neispuo-core", "neispuo"),
        asyncio.to_thread(cli_token, database_url, "acme", "vendor"),
    )
    async with served(database_url, tmp_path / "serve.log") as http:
        base = str(http.base_url).rstrip("/")
        core, health = bearer(neispuo), bearer(nzis)
        await http.put(
            f"/api/v1/registry/institutions/{SCHOOL}",
            json={"name": "СУ", "town": "Варна", "region": "Варна", "diary": "neispuo"},
            headers=core,
        )
        await http.put(
            "/api/v1/registry/persons/1", json=person(PUPIL, enrollment(SCHOOL)), headers=core
        )
        for absence_id, day in ((10, "2026-11-18"), (11, "2026-11-19")):
            await http.post(
                "/api/v1/diary/absences", json=absence(absence_id, 1, SCHOOL, day), headers=core
            )
        # A note under a mistyped ЕГН (unmatched); a note that excuses absence 11, which a
        # teacher then comments on, and which is cancelled: 11 is left for review.
        await http.post(
            "/api/v1/hisMedicalNotices",
            json=[note("25317A000001", TYPO, "2026-11-18", "2026-11-18")],
            headers=health,
        )
        await http.post(
            "/api/v1/hisMedicalNotices",
            json=[note("25317A000002", PUPIL, "2026-11-19", "2026-11-19")],
            headers=health,
        )
        await http.patch("/api/v1/diary/absences/11", json={"comment": "видяно"}, headers=core)
        await http.post("/api/v1/hisMedicalNotices/25317A000002/cancel", headers=health)
        await http.post("/api/v1/hisMedicalNotices", json=[note("BAD", PUPIL)], headers=health)

        page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
        await _sign_in(page, base, operator)

        await page.get_by_role("link", name="Неоткрити").click()
        await _shot(page, tmp_path, "4-unmatched")
        await page.get_by_role("link", name="25317A000001").click()
        await page.get_by_label("Номер на ученика в НЕИСПУО").fill("1")
        await page.locator("#match_reason").fill("личният лекар сбърка ЕГН")
        await page.get_by_role("button", name="Свържи").click()
        await expect(page.get_by_text("открит (№ 1)")).to_be_visible()
        await _shot(page, tmp_path, "5-linked")
        absences = (
            await http.get("/api/v1/diary/absences", params={"personId": 1}, headers=core)
        ).json()
        held = {a["absenceId"]: a for a in absences["items"]}
        assert (held[10]["kind"], held[10]["excusedByNrn"]) == ("excused", "25317A000001")

        await page.get_by_role("link", name="За преглед").click()
        await expect(page.get_by_role("heading", name="Отсъствие 11")).to_be_visible()
        await _shot(page, tmp_path, "6-review")
        await page.get_by_label("Причина").fill("учителят потвърди")
        await page.get_by_role("button", name="Направи неуважено").click()
        await expect(page.get_by_text("Няма отсъствия за преглед.")).to_be_visible()
        absences = (
            await http.get("/api/v1/diary/absences", params={"personId": 1}, headers=core)
        ).json()
        assert {a["absenceId"]: a["kind"] for a in absences["items"]}[11] == "unexcused"

        for link, name in (
            ("Отхвърлени", "7-rejections"),
            ("Дневници", "8-vendors"),
            ("Графика", "9-wave"),
        ):
            await page.get_by_role("link", name=link).click()
            await _shot(page, tmp_path, name)
        await page.get_by_label("От").fill("2026-11-15")
        await page.get_by_label("До").fill("2026-11-22")
        await page.get_by_role("button", name="Покажи").click()
        await expect(page.locator("svg.chart")).to_be_visible()
        await expect(page.get_by_role("row", name="Варна")).to_be_visible()
        await _shot(page, tmp_path, "10-wave-period")
        assert PUPIL not in await page.content()
