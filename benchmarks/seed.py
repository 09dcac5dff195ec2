"""Seeding a registry fast, straight into the tables (seeding is not what is measured):
persons by COPY, their enrollments and absences by INSERT ... SELECT on the server."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import asyncpg
from tests.factories import make_egn

from benchmarks.common import BENCH_SECRET

# The days the benchmark's notes cover (18-20 Nov 2026): each note excuses 3 absences.
NOTE_DAYS = (dt.date(2026, 11, 18), dt.date(2026, 11, 20))
PUPILS_PER_SCHOOL = 400
BIG_SCHOOL_PUPILS = 1_500  # school 1 is this big: the monthly figures are timed on it


@dataclass(frozen=True)
class Seeded:
    identifiers: list[str]
    nzis_token: str
    neispuo_token: str


async def _drop_secondary_indexes(conn: asyncpg.Connection, tables: list[str]) -> list[str]:
    """Drop the tables' indexes and exclusion constraints but their primary keys; returns
    the statements that make them again."""
    rows = await conn.fetch(
        """
        SELECT format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.conrelid::regclass, c.conname,
                      pg_get_constraintdef(c.oid)) AS make,
               format('ALTER TABLE %s DROP CONSTRAINT %I', c.conrelid::regclass, c.conname)
                 AS drop
        FROM pg_constraint AS c
        WHERE c.conrelid = ANY($1::regclass[]) AND c.contype = 'x'
        UNION ALL
        SELECT pg_get_indexdef(i.indexrelid), format('DROP INDEX %s', i.indexrelid::regclass)
        FROM pg_index AS i
        WHERE i.indrelid = ANY($1::regclass[]) AND NOT i.indisprimary
          AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conindid = i.indexrelid)
        """,
        tables,
    )
    for row in rows:
        await conn.execute(row["drop"])
    return [row["make"] for row in rows]


def identifiers(count: int) -> list[str]:
    """`count` distinct, valid EGNs (5000 birth dates, up to 1000 serials each)."""
    base = dt.date(2008, 1, 1)
    return [make_egn(base + dt.timedelta(days=i % 5000), i // 5000) for i in range(count)]


async def seed(
    url: str, pupils: int, absence_days: tuple[dt.date, dt.date]
) -> tuple[list[str], str]:
    """`pupils` pupils, 400 to a school, each with one unexcused absence on every day of
    `absence_days`; an NZIS client. Returns the identifiers and its token."""
    from notegateway.clients import service

    started = time.monotonic()
    schools = max(pupils // PUPILS_PER_SCHOOL, 1)
    idents = identifiers(pupils)
    conn = await asyncpg.connect(url)
    try:
        # The rows below are consistent by construction: their foreign keys (triggers) are
        # not checked one by one, which is most of the time of a large seeding.
        await conn.execute("SET session_replication_role = replica")
        await conn.execute(
            "INSERT INTO institutions (id, name, town) SELECT g, 'School ' || g, 'Town' "
            "FROM generate_series(1, $1) AS g",
            schools,
        )
        await conn.execute(
            "INSERT INTO institution_diaries (institution_id, from_date, to_date) "
            "SELECT id, '-infinity', 'infinity' FROM institutions"
        )
        await conn.copy_records_to_table(
            "persons",
            records=[(i + 1, 1, 1, ident, "ИВАН", "ТОДОРОВ") for i, ident in enumerate(idents)],
            columns=[
                "id",
                "identifier_type",
                "identifier_kind",
                "identifier",
                "given_name",
                "family_name",
            ],
        )
        secondary = await _drop_secondary_indexes(conn, ["enrollments", "absences"])
        await conn.execute(
            "INSERT INTO enrollments (person_id, institution_id, class_name, section, from_date) "
            "SELECT id, CASE WHEN id <= $2 OR $1 = 1 THEN 1 ELSE 2 + id % ($1 - 1) END, '5', "
            "'А', DATE '2026-09-15' FROM persons",
            schools,
            min(BIG_SCHOOL_PUPILS, pupils),
        )
        await conn.execute(
            "INSERT INTO absences (id, person_id, institution_id, date, lesson, subject, kind, "
            "set_by_person, posted) "
            "SELECT row_number() OVER (), e.person_id, e.institution_id, d::date, 1, "
            "'Математика', 'unexcused', false, '{}' "
            "FROM enrollments AS e CROSS JOIN generate_series($1::date, $2::date, '1 day') AS d",
            *absence_days,
        )
        for statement in secondary:  # built once over all the rows: much faster
            await conn.execute(statement)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS bare_notes "
            "(id bigserial PRIMARY KEY, nrn text UNIQUE, payload jsonb)"
        )
        async with conn.transaction():
            key = (await service.load_keys(conn, BENCH_SECRET)).tokens
            token = await service.add(conn, key, "bench-nzis", "nzis", None)
            neispuo = await service.add(conn, key, "bench-neispuo", "neispuo", None)
        await conn.execute("VACUUM ANALYZE")
        absences = await conn.fetchval("SELECT count(*) FROM absences")
    finally:
        await conn.close()
    print(
        f"  seeded {pupils:,} pupils in {schools:,} schools, {absences:,} absences "
        f"in {time.monotonic() - started:.0f} s"
    )
    return Seeded(idents, token, neispuo)
