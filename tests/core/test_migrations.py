"""Migrations carry existing data over: a database holding data at the previous head."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from alembic import command

from notegateway.app import create_app
from notegateway.core.config import Settings
from notegateway.core.migrate import alembic_config, head_revision
from tests.conftest import TEST_SECRET_KEY, plain, with_database
from tests.factories import Api, absence, make_egn

EGN = make_egn(dt.date(2014, 3, 15), 123)
NEISPUO_SCHOOL, ACME_SCHOOL = 100001, 300001


@pytest.fixture
async def old_database(server_url: str) -> AsyncIterator[str]:
    """A database at revision 0003 (the head before the registry history)."""
    name = f"ngw_old_{os.getpid()}"
    admin = await asyncpg.connect(plain(with_database(server_url, "postgres")))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = with_database(server_url, name)
        await asyncio.to_thread(command.upgrade, alembic_config(url), "0003")
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _fill_at_0003(conn: asyncpg.Connection) -> None:
    """What the 0003 schema held: a vendor school, a NEISPUO school, a pupil in the NEISPUO
    school with a note that excused an absence."""
    vendor_id = await conn.fetchval(
        "INSERT INTO clients (name, role) VALUES ('acme', 'vendor') RETURNING id"
    )
    await conn.execute(
        "INSERT INTO institutions (id, name, town, diary_client_id) VALUES "
        "($1, 'СУ', 'София', NULL), ($2, 'ОУ', 'Пловдив', $3)",
        NEISPUO_SCHOOL,
        ACME_SCHOOL,
        vendor_id,
    )
    await conn.execute(
        "INSERT INTO persons (id, identifier_type, identifier_kind, identifier, given_name, "
        "family_name) VALUES (1, 1, 1, $1, 'ИВАН', 'ТОДОРОВ')",
        EGN,
    )
    await conn.execute(
        "INSERT INTO enrollments (person_id, institution_id, class_name, section, from_date) "
        "VALUES (1, $1, '5', 'А', '2026-09-15')",
        NEISPUO_SCHOOL,
    )
    payload = {"nrnMedicalNotice": "25317A000123", "medicalNotice": {}}
    notice_id = await conn.fetchval(
        """
        INSERT INTO medical_notices (nrn, nrn_examination, identifier_type, identifier_kind,
            identifier, pmi, from_date, to_date, authored_on, payload, excusal_comment, status,
            person_id, received_at)
        VALUES ('25317A000123', '25317A000077', 1, 1, $1, '2300011922', '2026-11-18',
                '2026-11-20', '2026-11-20 10:31', $2::jsonb, 'уважено', 'active', 1,
                '2026-11-20 10:40+02')
        RETURNING id
        """,
        EGN,
        json.dumps(payload),
    )
    await conn.execute(
        "INSERT INTO placements (notice_id, institution_id, class_name, section, from_date, "
        "to_date) VALUES ($1, $2, '5', 'А', '2026-11-18', '2026-11-20')",
        notice_id,
        NEISPUO_SCHOOL,
    )
    await conn.execute(
        "INSERT INTO absences (id, person_id, institution_id, date, lesson, kind, reason, comment, "
        "excused_by_notice_id, set_by_person, posted) VALUES "
        "(1, 1, $1, '2026-11-18', 1, 'excused', 'medical', 'уважено', $2, false, '{}')",
        NEISPUO_SCHOOL,
        notice_id,
    )
    await conn.execute(
        "INSERT INTO review_items (absence_id, notice_id, why) "
        "VALUES (1, $1, 'the note was cancelled')",
        notice_id,
    )


async def test_upgrade_from_0003_keeps_everything(old_database: str) -> None:
    conn = await asyncpg.connect(plain(old_database))
    try:
        await _fill_at_0003(conn)
        await asyncio.to_thread(command.upgrade, alembic_config(old_database), "head")
        assert await conn.fetchval("SELECT version_num FROM alembic_version") == head_revision()
        periods = await conn.fetch(
            "SELECT institution_id, from_date, to_date, c.name AS diary "
            "FROM institution_diaries AS d LEFT JOIN clients AS c ON c.id = d.diary_client_id "
            "ORDER BY institution_id"
        )
        assert [
            (p["institution_id"], p["from_date"], p["to_date"], p["diary"]) for p in periods
        ] == [
            (NEISPUO_SCHOOL, dt.date.min, dt.date.max, None),
            (ACME_SCHOOL, dt.date.min, dt.date.max, "acme"),
        ]
        called = await conn.fetchval("SELECT max(called_at) FROM nzis_sync")
        assert called == dt.datetime(2026, 11, 20, 8, 40, tzinfo=dt.UTC)
        # 0009: absences keep their kinds, institutions start unlocked, review reasons
        # become codes.
        assert await conn.fetchval("SELECT kind FROM absences WHERE id = 1") == "excused"
        assert await conn.fetchval("SELECT count(locked_through) FROM institutions") == 0
        assert await conn.fetchval("SELECT why FROM review_items") == "noteCancelled"
    finally:
        await conn.close()

    # The migrated data works through the API as if it had been written there.
    app = create_app(Settings(secret_key=TEST_SECRET_KEY), database_url=old_database)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            api = Api(http, app, old_database)
            shown = (
                await api.http.get(
                    f"/api/v1/registry/institutions/{ACME_SCHOOL}",
                    headers=await api.as_role("neispuo"),
                )
            ).json()
            assert (shown["diary"], shown["diaries"]) == (
                "acme",
                [{"diary": "acme", "fromDate": None, "toDate": None}],
            )
            assert (await api.absence_by_id(1))["excusedByNrn"] == "25317A000123"
            recorded = await api.post_absence(absence(2, 1, NEISPUO_SCHOOL, "2026-11-19"))
            assert recorded.json()["excusedByNrn"] == "25317A000123"
            person = await api.http.get(
                "/api/v1/registry/persons/1", headers=await api.as_role("neispuo")
            )
            assert (person.json()["identifier"], person.json()["formerIdentifiers"]) == (EGN, [])
