"""Two vendors with a school each, a NEISPUO school, and pupils."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from tests.factories import Api, enrollment, make_egn, person

ACME_SCHOOL, BETA_SCHOOL, NEISPUO_SCHOOL = 300001, 300002, 100001
PUPIL = make_egn(dt.date(2014, 3, 15), 123)  # person 1, at ACME_SCHOOL
MOVER = make_egn(dt.date(2013, 6, 2), 456)  # person 2, ACME until 18 Nov, then BETA


class Vendor:
    def __init__(self, api: Api, name: str) -> None:
        self.api, self.name = api, name

    async def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.api.token('vendor', self.name)}"}

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.api.http.get(
            f"/api/v1/medicalNotices{path}", params=params, headers=await self.headers()
        )

    async def post(self, path: str, body: Any) -> httpx.Response:
        return await self.api.http.post(
            f"/api/v1/medicalNotices{path}", json=body, headers=await self.headers()
        )

    async def feed(self, after: str | None = None, **params: Any) -> dict[str, Any]:
        if after is not None:
            params["after"] = after
        response = await self.get("/events", **params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def all_events(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        page = await self.feed(limit=1000)
        events += page["events"]
        while page["hasMore"]:
            page = await self.feed(page["nextCursor"], limit=1000)
            events += page["events"]
        return events


@pytest.fixture
async def acme(api: Api) -> Vendor:
    return Vendor(api, "acme")


@pytest.fixture
async def beta(api: Api) -> Vendor:
    return Vendor(api, "beta")


@pytest.fixture
async def schools(api: Api, acme: Vendor, beta: Vendor) -> None:
    await acme.headers()
    await beta.headers()
    await api.put_institution(ACME_SCHOOL, diary="acme")
    await api.put_institution(BETA_SCHOOL, diary="beta")
    await api.put_institution(NEISPUO_SCHOOL)
    await api.put_person(1, person(PUPIL, enrollment(ACME_SCHOOL, "9", "В")))
    await api.put_person(
        2,
        person(
            MOVER,
            enrollment(ACME_SCHOOL, "7", "А", "2026-09-15", "2026-11-18"),
            enrollment(BETA_SCHOOL, "7", "Б", "2026-11-19", None),
        ),
    )
