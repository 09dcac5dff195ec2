"""Long console lists are paged: every reported month can be reached."""

from __future__ import annotations

from tests.factories import Api, console_sign_in


async def test_reported_months_page_through_all_of_them(api: Api) -> None:
    core = await api.as_role("neispuo")
    for school in range(100001, 100052):  # 51 reported months
        await api.put_institution(school, name=f"Училище {school}")
        reported = await api.http.put(
            f"/api/v1/diary/institutions/{school}/months/2026-11/report", json={}, headers=core
        )
        assert reported.status_code == 201, reported.text
    await console_sign_in(api.http, await api.token("operator"))
    first = await api.http.get("/console/months")
    assert first.text.count("Виж поправките") == 50
    assert 'href="/console/months?offset=50">Следващи 50' in first.text
    rest = await api.http.get("/console/months", params={"offset": "50"})
    assert rest.text.count("Виж поправките") == 1
    assert "Следващи" not in rest.text
    assert "← Предишни 50" in rest.text
    shown = {row for page in (first.text, rest.text) for row in page.split("<tr><td")[1:]}
    assert len(shown) == 51
    assert (await api.http.get("/console/months", params={"offset": "x"})).status_code == 400
