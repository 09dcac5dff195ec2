"""The excusal statement finds the note covering an absence from the person's own notes,
reading each note's placements by the note (diary/reconcile_repository.py: `_COVERING`),
never every placement of the school up to that day: the plans the server runs use the
placements' note index and not their school index, for a push of a few notes (generic
plan) and for a batch (custom plan)."""

from __future__ import annotations

import datetime as dt

import asyncpg
import pytest

from notegateway.diary import reconcile_repository

NOTES = 3000
SCHOOLS = 50
BY_SCHOOL = "ix_placements_institution_id_from_date"
BY_NOTE = "ix_placements_notice_id_institution_id"


async def _pupils(db: asyncpg.Connection, first: int, last: int) -> None:
    """Pupils `first`..`last`, spread over the schools, each with a note placed at the
    school and an unexcused absence on a day the note covers."""
    await db.execute(
        f"""
        INSERT INTO persons (id, identifier_type, identifier_kind, identifier, given_name,
                             family_name)
        SELECT g, 1, 1, lpad(g::text, 10, '0'), 'ИВАН', 'ТОДОРОВ'
        FROM generate_series({first}, {last}) AS g;
        INSERT INTO enrollments (person_id, institution_id, class_name, section, from_date)
        SELECT g, 1 + g % {SCHOOLS}, '5', 'А', DATE '2026-09-15'
        FROM generate_series({first}, {last}) AS g;
        INSERT INTO medical_notices (id, nrn, nrn_examination, identifier_type,
                                     identifier_kind, identifier, pmi, from_date, to_date,
                                     authored_on, payload, excusal_comment, status, person_id)
        SELECT g, 'N' || g, 'E' || g, 1, 1, lpad(g::text, 10, '0'), '2300011922',
               DATE '2026-10-01' + g % 40, DATE '2026-10-03' + g % 40,
               '2026-10-01', '{{}}', 'comment', 'active', g
        FROM generate_series({first}, {last}) AS g;
        INSERT INTO placements (notice_id, institution_id, class_name, section, from_date,
                                to_date)
        SELECT g, 1 + g % {SCHOOLS}, '5', 'А', DATE '2026-10-01' + g % 40,
               DATE '2026-10-03' + g % 40
        FROM generate_series({first}, {last}) AS g;
        INSERT INTO absences (id, person_id, institution_id, date, lesson, subject, kind,
                              set_by_person, posted)
        SELECT g, g, 1 + g % {SCHOOLS}, DATE '2026-10-01' + g % 40, 1, 'Математика',
               'unexcused', false, '{{}}'
        FROM generate_series({first}, {last}) AS g;
        """
    )


@pytest.fixture
async def schools(db: asyncpg.Connection) -> None:
    """SCHOOLS schools with NOTES pupils in all, analysed when they held a tenth of them
    (statistics lag behind growth: autovacuum's mark, or the gateway's, is a tenth)."""
    await db.execute("SET session_replication_role = replica")  # consistent by construction
    await db.execute(
        f"""
        INSERT INTO institutions (id, name, town)
        SELECT g, 'School ' || g, 'Town' FROM generate_series(1, {SCHOOLS}) AS g;
        INSERT INTO institution_diaries (institution_id, from_date, to_date)
        SELECT id, '-infinity', 'infinity' FROM institutions;
        """
    )
    await _pupils(db, 1, NOTES // 10)
    await db.execute("ANALYZE")
    await _pupils(db, NOTES // 10 + 1, NOTES)
    await db.execute("SET session_replication_role = DEFAULT")


def _arguments(persons: int) -> list[object]:
    day = dt.date(2026, 10, 20)
    return [list(range(1, persons + 1)), [day] * persons, [day] * persons, [], "test", []]


async def _plan(db: asyncpg.Connection, statement: str, arguments: list[object]) -> str:
    rows = await db.fetch(f"EXPLAIN (COSTS OFF) {statement}", *arguments)
    return "\n".join(row[0] for row in rows)


async def test_a_push_of_a_few_notes_reads_placements_by_note(
    db: asyncpg.Connection, schools: None
) -> None:
    await db.execute("SET plan_cache_mode = force_generic_plan")  # as the server (core/db.py)
    plan = await _plan(db, reconcile_repository._RECONCILE_FEW, _arguments(1))
    assert BY_SCHOOL not in plan
    assert BY_NOTE in plan


async def test_a_batch_reads_placements_by_note(db: asyncpg.Connection, schools: None) -> None:
    await db.execute("SET plan_cache_mode = force_custom_plan")  # as a batch (core/db.py)
    plan = await _plan(db, reconcile_repository._RECONCILE_MANY, _arguments(1000))
    assert BY_SCHOOL not in plan
    assert BY_NOTE in plan
