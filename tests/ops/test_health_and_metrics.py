"""/health/live, /health/ready and /metrics."""

from __future__ import annotations

import datetime as dt
import re

import asyncpg
import pytest

from tests.factories import Api, make_egn, note


def sample(text: str, name: str, labels: str = "") -> float:
    match = re.search(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


@pytest.mark.smoke
async def test_live_and_ready(api: Api) -> None:
    assert (await api.http.get("/health/live")).status_code == 200
    ready = await api.http.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


async def test_not_ready_when_schema_is_behind(api: Api, db: asyncpg.Connection) -> None:
    await db.execute("UPDATE alembic_version SET version_num = 'older'")
    response = await api.http.get("/health/ready")
    assert response.status_code == 503
    await db.execute("DROP TABLE alembic_version")
    assert (await api.http.get("/health/ready")).status_code == 503


async def test_metrics_count_notes_by_outcome_and_latency(api: Api) -> None:
    before = (await api.http.get("/metrics")).text
    egn = make_egn(dt.date(2014, 3, 15))
    await api.push(note("25317A000600", egn), note("25317A000600", egn), {"x": 1})
    response = await api.http.get("/metrics")
    assert response.status_code == 200
    after = response.text
    for outcome, delta in (("created", 1), ("duplicate", 1), ("invalid", 1)):
        label = f'{{outcome="{outcome}"}}'
        assert (
            sample(after, "notegateway_notes_received_total", label)
            - sample(before, "notegateway_notes_received_total", label)
            == delta
        )
    assert re.search(
        r'^notegateway_http_request_duration_seconds_count\{method="POST",'
        r'route="/api/v1/hisMedicalNotices",status="422"\} [1-9]',
        after,
        re.M,
    )
    assert egn not in after


async def test_metrics_count_the_notes_waiting_for_their_pupil(
    api: Api, db: asyncpg.Connection
) -> None:
    """Unmatched notes piling up is worth an alert: how many wait, and the oldest's age."""
    stranger = make_egn(dt.date(2015, 5, 5))
    await api.push(note("25317A000601", stranger), note("25317A000602", stranger))
    await db.execute(
        "UPDATE medical_notices SET received_at = now() - interval '2 days' WHERE nrn = $1",
        "25317A000601",
    )
    text = (await api.http.get("/metrics")).text
    assert sample(text, "notegateway_notes_unmatched") == 2
    assert (
        2 * 86400 - 60 < sample(text, "notegateway_notes_unmatched_oldest_seconds") < 2 * 86400 + 60
    )
    assert stranger not in text
