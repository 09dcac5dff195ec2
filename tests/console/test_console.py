"""The console in a real browser: Playwright driving Debian's chromium against a served
gateway. Screenshots of each page land in the test's temporary folder."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.console.test_bulgarian import latin_words
from tests.factories import absence, bearer, enrollment, make_egn, note, person, typo_pair
from tests.serving import cli_token, run_cli, served

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


TYPO_PUPIL, TYPO = typo_pair(dt.date(2014, 3, 15))  # person 1's ЕГН, and a doctor's typo
OTHER = make_egn(dt.date(2013, 5, 2), 7)  # person 2, at the vendor's school
VENDOR_SCHOOL = 300001
CLIENT_NAMES = {"helpdesk-maria", "nzis-main", "neispuo-core", "acme", "ruo-varna"}


async def _scene(
    http: httpx.AsyncClient, core: dict[str, str], health: dict[str, str], acme: str
) -> None:
    """Person 1 at a Varna school (NEISPUO's diary) with absences on 18 and 19 Nov, person 2
    at a Sofia school whose diary is acme's. A note under a mistyped ЕГН (unmatched); a
    note that excused absence 11, which a teacher then commented on, cancelled (11 is left
    for review); a note of person 2 cancelled and reissued, read by acme; a refused push."""
    schools = (
        (
            SCHOOL,
            {"name": "СУ „Христо Ботев“", "town": "Варна", "region": "Варна", "diary": "neispuo"},
        ),
        (
            VENDOR_SCHOOL,
            {"name": "ОУ „Васил Левски“", "town": "София", "region": "София", "diary": "acme"},
        ),
    )
    for school, body in schools:
        await http.put(f"/api/v1/registry/institutions/{school}", json=body, headers=core)
    await http.put(
        "/api/v1/registry/persons/1", json=person(TYPO_PUPIL, enrollment(SCHOOL)), headers=core
    )
    await http.put(
        "/api/v1/registry/persons/2",
        json=person(OTHER, enrollment(VENDOR_SCHOOL), given="МАРИЯ", family="ПЕТРОВА"),
        headers=core,
    )
    for absence_id, day in ((10, "2026-11-18"), (11, "2026-11-19")):
        await http.post(
            "/api/v1/diary/absences", json=absence(absence_id, 1, SCHOOL, day), headers=core
        )
    notes = [
        note("25317A000001", TYPO, "2026-11-18", "2026-11-18"),
        note("25317A000002", TYPO_PUPIL, "2026-11-19", "2026-11-19"),
        note("25317A000003", OTHER, examination="26317B000001"),
    ]
    assert (
        await http.post("/api/v1/hisMedicalNotices", json=notes, headers=health)
    ).status_code == 200
    await http.patch("/api/v1/diary/absences/11", json={"comment": "видяно"}, headers=core)
    for nrn, reason in (("25317A000002", "грешен период"), ("25317A000003", "нова бележка")):
        await http.post(
            f"/api/v1/hisMedicalNotices/{nrn}/cancel", json={"cancelReason": reason}, headers=health
        )
    reissued = [note("25317A000004", OTHER, "2026-11-18", "2026-11-23", examination="26317B000001")]
    await http.post("/api/v1/hisMedicalNotices", json=reissued, headers=health)
    await http.get("/api/v1/medicalNotices/events", headers=bearer(acme))
    await http.post("/api/v1/hisMedicalNotices", json=[note("12345", TYPO_PUPIL)], headers=health)


class Walk:
    """A browser page at one width: each step is screenshotted and its text checked for
    Latin words (tests/console/test_bulgarian.py)."""

    def __init__(self, page: Page, folder: Path, width: int) -> None:
        self.page, self.folder, self.width, self.step = page, folder, width, 0

    async def shot(self, name: str) -> None:
        self.step += 1
        await self.page.screenshot(
            path=str(self.folder / f"{self.width}-{self.step:02d}-{name}.png"), full_page=True
        )
        words = latin_words(await self.page.content(), CLIENT_NAMES)
        assert words == set(), (name, words)
        assert TYPO_PUPIL not in await self.page.content()  # identifiers shown masked only


@pytest.mark.parametrize("width", [1280, 390])
async def test_a_helpdesk_day_at_desktop_and_phone_width(
    database_url: str, tmp_path: Path, browser: Browser, width: int
) -> None:
    operator, nzis, neispuo, acme = await asyncio.gather(
        asyncio.to_thread(cli_token, database_url, "helpdesk-maria", "operator"),
        asyncio.to_thread(cli_token, database_url, "nzis-main", "nzis"),
        asyncio.to_thread(cli_token, database_url, "neispuo-core", "neispuo"),
        asyncio.to_thread(cli_token, database_url, "acme", "vendor"),
    )
    regional = await asyncio.to_thread(
        run_cli,
        database_url,
        "clients",
        "add",
        "ruo-varna",
        "--role",
        "operator",
        "--region",
        "Варна",
    )
    folder = Path(os.environ.get("NOTEGATEWAY_SCREENSHOTS", tmp_path))
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    async with served(database_url, tmp_path / "serve.log") as http:
        base = str(http.base_url).rstrip("/")
        core = bearer(neispuo)
        await _scene(http, core, bearer(nzis), acme)

        async def kinds() -> dict[int, str]:
            found = await http.get("/api/v1/diary/absences", params={"personId": 1}, headers=core)
            return {a["absenceId"]: a["kind"] for a in found.json()["items"]}

        context = await browser.new_context(
            viewport={"width": width, "height": 900}, locale="bg-BG"
        )
        walk = Walk(await context.new_page(), folder, width)
        page = walk.page
        await _sign_in(page, base, operator)
        await walk.shot("search")

        # Find a note by part of its NRN, in lower case; open it.
        await page.get_by_label("НРН на бележката").fill("17a00000")
        await page.get_by_role("button", name="Търси").click()
        await expect(page.get_by_role("heading", name="Намерени: 4")).to_be_visible()
        await walk.shot("results")
        await page.get_by_text("Филтри: състояние, ученик, дати").click()
        await page.get_by_label("Състояние").select_option(label="анулирана")
        await page.get_by_role("button", name="Търси").click()
        await expect(page.get_by_role("heading", name="Намерени: 2")).to_be_visible()
        await walk.shot("filtered")
        await page.get_by_label("Състояние").select_option(label="всички")
        await page.get_by_role("button", name="Търси").click()
        await page.get_by_role("link", name="25317A000001").click()

        # An unmatched note offers its suggested pupil; choosing them asks to confirm first.
        await expect(page.get_by_role("heading", name="Възможни ученици")).to_be_visible()
        await walk.shot("unmatched-note")
        await page.get_by_role("button", name="Избери този ученик").click()
        await expect(page.get_by_text("Ще бъдат уважени 1 отсъствие на ученика.")).to_be_visible()
        await walk.shot("confirm-link")
        assert (await kinds())[10] == "unexcused"  # nothing changed before the confirmation
        await page.get_by_role("button", name="Потвърди свързването").click()
        await expect(page.get_by_role("status")).to_contain_text(
            "Бележката е свързана с ИВАН ТОДОРОВ (№ 1)"
        )
        await expect(page.get_by_role("cell", name="ЕГН сгрешено в бележката")).to_be_visible()
        await walk.shot("linked")
        assert (await kinds())[10] == "excused"

        # The review list: why, then a decision confirmed, and a message that says it.
        await page.get_by_role("link", name="За преглед").click()
        await expect(
            page.get_by_text("бележката е анулирана, а отсъствието е било променено")
        ).to_be_visible()
        await walk.shot("review")
        await page.get_by_role("button", name="Направи неуважено").click()
        await expect(page.get_by_text("Посочете причина")).to_be_visible()  # next to its field
        await page.get_by_label("Причина за решението").fill("учителят потвърди")
        await page.get_by_role("button", name="Направи неуважено").click()
        await expect(page.get_by_role("heading", name="Решение за отсъствие")).to_be_visible()
        await walk.shot("confirm-review")
        await page.get_by_role("button", name="Потвърди решението").click()
        await expect(page.get_by_role("status")).to_contain_text("Прегледано")
        await expect(page.get_by_text("Няма отсъствия за преглед.")).to_be_visible()
        await walk.shot("reviewed")
        assert (await kinds())[11] == "unexcused"

        # The cancelled note says why it was cancelled and what became of absence 11.
        await page.goto(f"{base}/console/notes/25317A000002")
        await expect(page.get_by_text("причина от НЗИС: «грешен период»")).to_be_visible()
        await expect(page.get_by_role("cell", name="учителят потвърди")).to_be_visible()
        await walk.shot("cancelled-note")

        # A reissued note, and handing it to its vendor again.
        await page.goto(f"{base}/console/notes/25317A000004")
        await expect(page.get_by_role("link", name="25317A000003")).to_be_visible()
        await page.get_by_role("button", name="Изпрати отново").click()
        await expect(page.locator("#redeliver_reason-error")).to_be_visible()
        await page.locator("#redeliver_reason").fill("дневникът загуби бележката")
        await page.get_by_role("button", name="Изпрати отново").click()
        await expect(page.get_by_role("status")).to_contain_text("acme")
        await walk.shot("redelivered")

        for link, name in (
            ("Без открит ученик", "unmatched"),
            ("Отхвърлени", "rejections"),
            ("Дневници", "vendors"),
            ("Отчетени месеци", "months"),
            ("Графика", "wave"),
        ):
            await page.get_by_role("link", name=link).click()
            await expect(page.get_by_role("link", name=link)).to_have_attribute(
                "aria-current", "page"
            )
            await walk.shot(name)
            if name == "vendors":  # acme read its feed in the scene: when, not "never"
                row = page.locator("tr", has_text="acme")
                await expect(row).not_to_contain_text("никога")
        await page.get_by_label("От").fill("15.11.2026")
        await page.get_by_label("До").fill("22.11.2026")
        await page.get_by_role("button", name="Покажи").click()
        await expect(page.get_by_role("row", name="Варна")).to_be_visible()
        await walk.shot("wave-period")
        width_of_page = await page.evaluate("document.documentElement.scrollWidth")
        assert width_of_page <= width  # the wide table scrolls in its own box
        await page.goto(f"{base}/console/no-such-page")
        await expect(page.get_by_text("Няма такава страница.")).to_be_visible()
        await context.close()

        # A regional operator's day: its menu, its notes, its review list; nothing else.
        assert regional.returncode == 0, regional.stderr
        context = await browser.new_context(
            viewport={"width": width, "height": 900}, locale="bg-BG"
        )
        walk = Walk(await context.new_page(), folder, width)
        walk.step = 20
        page = walk.page
        await _sign_in(page, base, regional.stdout.strip().splitlines()[-1])
        menu = page.get_by_role("navigation", name="Основна навигация")
        await expect(menu.get_by_role("link")).to_have_text(
            ["Търсене", "За преглед", "Отчетени месеци", "Графика"]
        )
        await page.get_by_label("НРН на бележката").fill("25317A")
        await page.get_by_role("button", name="Търси").click()
        await expect(page.get_by_role("heading", name="Намерени: 2")).to_be_visible()  # Varna's
        await walk.shot("regional-results")
        await page.get_by_role("link", name="25317A000001").click()
        await expect(page.get_by_role("heading", name="История")).to_be_visible()
        await expect(page.get_by_role("button", name="Продължи")).to_have_count(0)  # no links
        await walk.shot("regional-note")
        await page.goto(f"{base}/console/notes/25317A000004")  # Sofia's: as if it did not exist
        await expect(page.get_by_text("Няма бележка 25317A000004.")).to_be_visible()
        await context.close()
