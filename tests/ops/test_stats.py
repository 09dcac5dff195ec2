"""The illness wave: pupils a note covers per day and region (or town), small counts hidden."""

from __future__ import annotations

import datetime as dt

from tests.factories import Api, enrollment, make_egn, note, person

VARNA, RUSE = 100001, 100002


async def _pupils(api: Api) -> list[str]:
    await api.put_institution(VARNA, region="Варна")
    await api.put_institution(RUSE, region="Русе")
    egns = [make_egn(dt.date(2014, 1, 1) + dt.timedelta(days=i), 100 + i) for i in range(8)]
    for i, egn in enumerate(egns):
        await api.put_person(i + 1, person(egn, enrollment(VARNA if i < 6 else RUSE)))
    return egns


async def test_pupils_per_day_and_region_with_small_counts_suppressed(api: Api) -> None:
    egns = await _pupils(api)
    # Varna: 5 pupils on 18-20 Nov (one of them with two notes), a 6th on the 19th only;
    # a cancelled note and an unmatched one count for nobody. Ruse: 2 pupils.
    await api.push(*(note(f"25317A0000{i:02d}", egns[i]) for i in range(5)))
    await api.push(note("25317A000050", egns[0], "2026-11-19", "2026-11-19"))
    await api.push(note("25317A000051", egns[5], "2026-11-19", "2026-11-19"))
    await api.push(note("25317A000052", egns[5], "2026-11-20", "2026-11-20"))
    await api.cancel("25317A000052")
    await api.push(note("25317A000053", make_egn(dt.date(2012, 2, 2), 5)))
    await api.push(note("25317A000060", egns[6]), note("25317A000061", egns[7]))
    response = await api.ops("/stats/notes", fromDate="2026-11-18", toDate="2026-11-21")
    assert response.status_code == 200, response.text
    figures = {
        (i["region"], i["date"]): (i["pupils"], i["suppressed"]) for i in response.json()["items"]
    }
    assert figures == {
        ("Варна", "2026-11-18"): (5, False),
        ("Варна", "2026-11-19"): (6, False),
        ("Варна", "2026-11-20"): (5, False),
        ("Варна", "2026-11-21"): (None, True),  # 0
        ("Русе", "2026-11-18"): (None, True),  # 2
        ("Русе", "2026-11-19"): (None, True),
        ("Русе", "2026-11-20"): (None, True),
        ("Русе", "2026-11-21"): (None, True),
    }
    by_town = (
        await api.ops("/stats/notes", fromDate="2026-11-19", toDate="2026-11-19", by="town")
    ).json()
    assert by_town["items"] == [
        {"date": "2026-11-19", "town": "София", "pupils": 8, "suppressed": False}
    ]


async def test_period_bounds_and_roles(api: Api) -> None:
    assert (
        await api.ops("/stats/notes", fromDate="2026-11-20", toDate="2026-11-19")
    ).status_code == 400
    assert (
        await api.ops("/stats/notes", fromDate="2025-01-01", toDate="2026-11-19")
    ).status_code == 400
    assert (await api.ops("/stats/notes", by="school")).status_code == 400
    assert (await api.ops("/stats/notes")).status_code == 200  # the last 30 days
    refused = await api.http.get("/api/v1/ops/stats/notes", headers=await api.as_role("neispuo"))
    assert refused.status_code == 403
