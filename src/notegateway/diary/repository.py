"""All SQL of the diary: absences, and applying the excusal rules (diary/excusal.py) set-based."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from notegateway.core.placement_sql import by_diary, placements_array
from notegateway.core.scope import institution_in_region
from notegateway.diary.excusal import MEDICAL_REASON, Action, Kind

# Rule 1 (in the gateway's hands), rule 2 (covers), rule 3 (received first holds),
# rule 4 (excuse, take over, revert), rule 5 (review), rule 7 (audit): one statement.
_RECONCILE = f"""
WITH scope AS (
    SELECT a.id
    FROM unnest($1::bigint[], $2::date[], $3::date[]) AS s(person_id, from_date, to_date)
    JOIN absences AS a
      ON a.person_id = s.person_id AND a.date BETWEEN s.from_date AND s.to_date
    UNION
    SELECT a.id FROM absences AS a WHERE a.excused_by_notice_id = ANY($4::bigint[])
),
in_hand AS MATERIALIZED (
    SELECT a.id, a.person_id, a.institution_id, a.date, a.kind, a.reason, a.comment,
           a.excused_by_notice_id
    FROM absences AS a
    JOIN scope USING (id)
    -- Rule 1: the diary that keeps this institution-day is NEISPUO's own.
    JOIN institution_diaries AS d
      ON d.institution_id = a.institution_id AND a.date BETWEEN d.from_date AND d.to_date
    WHERE d.diary_client_id IS NULL
      AND NOT a.set_by_person
      AND (a.kind = '{Kind.UNEXCUSED}' OR a.excused_by_notice_id IS NOT NULL)
    FOR UPDATE OF a
),
decided AS MATERIALIZED (
    SELECT h.*, covering.id AS holder
    FROM in_hand AS h
    LEFT JOIN LATERAL (
        -- From the person's few active notes, oldest first (OFFSET 0 keeps it that way
        -- round: the planner would otherwise start from every placement of the school).
        SELECT n.id
        FROM (SELECT id FROM medical_notices
              WHERE person_id = h.person_id AND status = 'active'
              ORDER BY id OFFSET 0) AS n
        WHERE EXISTS (SELECT 1 FROM placements AS p
                      WHERE p.notice_id = n.id AND p.institution_id = h.institution_id
                        AND h.date BETWEEN p.from_date AND p.to_date)
        LIMIT 1
    ) AS covering ON true
),
changed AS (
    UPDATE absences AS a
       SET kind = CASE WHEN d.holder IS NULL THEN '{Kind.UNEXCUSED}' ELSE '{Kind.EXCUSED}' END,
           reason = CASE WHEN d.holder IS NULL THEN NULL ELSE '{MEDICAL_REASON}' END,
           comment = holder_note.excusal_comment,
           excused_by_notice_id = d.holder,
           updated_at = now()
      FROM decided AS d
      LEFT JOIN medical_notices AS holder_note ON holder_note.id = d.holder
     WHERE a.id = d.id AND d.holder IS DISTINCT FROM d.excused_by_notice_id
    RETURNING a.id, d.kind AS before_kind, d.reason AS before_reason,
              d.comment AS before_comment, d.excused_by_notice_id AS before_holder,
              a.kind, a.reason, a.comment, d.holder AS after_holder
),
review AS (
    INSERT INTO review_items (absence_id, notice_id, why)
    SELECT a.id, a.excused_by_notice_id,
           CASE WHEN n.status = 'cancelled' THEN 'the note was cancelled'
                ELSE 'the note no longer covers this day in this institution' END
    FROM absences AS a
    JOIN scope USING (id)
    JOIN medical_notices AS n ON n.id = a.excused_by_notice_id
    WHERE a.set_by_person
      AND NOT (n.status = 'active' AND n.person_id = a.person_id AND EXISTS (
               SELECT 1 FROM placements AS p
               WHERE p.notice_id = n.id AND p.institution_id = a.institution_id
                 AND a.date BETWEEN p.from_date AND p.to_date))
    ON CONFLICT (absence_id, notice_id) DO NOTHING
    RETURNING absence_id, notice_id, why
),
resolved AS (
    -- A listed absence whose note covers it again is no longer left for review.
    DELETE FROM review_items AS r
     USING absences AS a, medical_notices AS n
     WHERE a.id = r.absence_id AND n.id = r.notice_id
       AND a.id IN (SELECT id FROM scope)
       AND n.status = 'active' AND n.person_id = a.person_id AND EXISTS (
           SELECT 1 FROM placements AS p
           WHERE p.notice_id = n.id AND p.institution_id = a.institution_id
             AND a.date BETWEEN p.from_date AND p.to_date)
    RETURNING r.absence_id, r.notice_id, r.why
),
audited AS (
    INSERT INTO audit_log (actor, action, notice_id, absence_id, before, after)
    SELECT $5,
           CASE WHEN c.before_holder IS NULL THEN '{Action.EXCUSED}'
                WHEN c.after_holder IS NULL THEN '{Action.REVERTED}'
                ELSE '{Action.REATTRIBUTED}' END,
           coalesce(c.after_holder, c.before_holder), c.id,
           jsonb_build_object('kind', c.before_kind, 'reason', c.before_reason,
                              'comment', c.before_comment, 'excusedByNrn', before_note.nrn),
           jsonb_build_object('kind', c.kind, 'reason', c.reason,
                              'comment', c.comment, 'excusedByNrn', after_note.nrn)
    FROM changed AS c
    LEFT JOIN medical_notices AS before_note ON before_note.id = c.before_holder
    LEFT JOIN medical_notices AS after_note ON after_note.id = c.after_holder
    UNION ALL
    SELECT $5, '{Action.REVIEW}', r.notice_id, r.absence_id, NULL, jsonb_build_object('why', r.why)
    FROM review AS r
    UNION ALL
    SELECT $5, '{Action.REVIEW_RESOLVED}', r.notice_id, r.absence_id,
           jsonb_build_object('why', r.why), NULL
    FROM resolved AS r
    RETURNING id, action
)
SELECT count(*) FILTER (WHERE before_holder IS NULL) AS excused,
       count(*) FILTER (WHERE before_holder IS NOT NULL AND after_holder IS NOT NULL)
           AS reattributed,
       count(*) FILTER (WHERE after_holder IS NULL) AS reverted,
       (SELECT count(*) FROM review) AS review,
       -- the changes to absences, for the change feed (diary/settle.py)
       (SELECT coalesce(array_agg(id ORDER BY id), '{{}}') FROM audited
        WHERE action <> '{Action.REVIEW}' AND action <> '{Action.REVIEW_RESOLVED}') AS changes
FROM changed
"""


@dataclass(frozen=True, slots=True)
class Reconciled:
    excused: int = 0
    reattributed: int = 0
    reverted: int = 0
    review: int = 0
    changes: tuple[int, ...] = ()  # the audit entries of the absences changed


async def reconcile_absences(
    db: asyncpg.Connection,
    actor: str,
    person_periods: Sequence[tuple[int, dt.date, dt.date]] = (),
    held_by_notices: Sequence[int] = (),
) -> Reconciled:
    """Apply the rules to the absences of these persons on these days, and those these notes hold.

    The caller holds the identity locks of the persons involved (core/locks.py).
    """
    if not person_periods and not held_by_notices:
        return Reconciled()
    row = await db.fetchrow(
        _RECONCILE,
        [p[0] for p in person_periods],
        [p[1] for p in person_periods],
        [p[2] for p in person_periods],
        list(held_by_notices),
        actor,
    )
    assert row is not None
    return Reconciled(
        row["excused"], row["reattributed"], row["reverted"], row["review"], tuple(row["changes"])
    )


_ABSENCE_COLUMNS = """
a.id AS "absenceId", a.person_id AS "personId", a.institution_id AS "institutionId",
to_char(a.date, 'YYYY-MM-DD') AS "date", a.lesson, a.subject, a.kind, a.reason, a.comment,
n.nrn AS "excusedByNrn", a.set_by_person AS "setByPerson"
"""


def _absence(row: asyncpg.Record) -> dict[str, Any]:
    return dict(row)


async def get_absence(db: asyncpg.Connection, absence_id: int) -> dict[str, Any] | None:
    row = await db.fetchrow(
        f"""
        SELECT {_ABSENCE_COLUMNS} FROM absences AS a
        LEFT JOIN medical_notices AS n ON n.id = a.excused_by_notice_id
        WHERE a.id = $1
        """,
        absence_id,
    )
    return _absence(row) if row else None


async def insert_absence(
    db: asyncpg.Connection, absence_id: int, posted: dict[str, Any], set_by_person: bool, actor: str
) -> dict[str, Any] | None:
    """Insert a new absence (audited); None and the first posted fields when the id exists.

    Returns the posted fields kept for the id when it existed already, else None.
    """
    row = await db.fetchrow(
        f"""
        WITH ins AS (
            INSERT INTO absences (id, person_id, institution_id, date, lesson, subject, kind,
                                  set_by_person, posted)
            VALUES ($1, ($2::jsonb->>'personId')::bigint, ($2::jsonb->>'institutionId')::bigint,
                    ($2::jsonb->>'date')::date, ($2::jsonb->>'lesson')::smallint,
                    $2::jsonb->>'subject', $2::jsonb->>'kind', $3, $2::jsonb)
            ON CONFLICT (id) DO NOTHING
            RETURNING id, posted
        ),
        audited AS (
            INSERT INTO audit_log (actor, action, absence_id, after)
            SELECT $4, '{Action.RECORDED}', id, posted FROM ins
        )
        SELECT count(*) AS inserted FROM ins
        """,
        absence_id,
        json.dumps(posted, ensure_ascii=False),
        set_by_person,
        actor,
    )
    assert row is not None
    if row["inserted"]:
        return None
    # A new statement: it sees the row a concurrent insert committed while we waited.
    text = await db.fetchval("SELECT posted::text FROM absences WHERE id = $1", absence_id)
    existing: dict[str, Any] = json.loads(text)
    return existing


async def person_of_absence(db: asyncpg.Connection, absence_id: int) -> int | None:
    value: int | None = await db.fetchval(
        "SELECT person_id FROM absences WHERE id = $1", absence_id
    )
    return value


async def set_by_person(
    db: asyncpg.Connection, absence_id: int, changes: dict[str, Any], actor: str
) -> bool:
    """A person's change (kind and/or comment); from now on no note touches the absence."""
    row = await db.fetchrow(
        f"""
        WITH before AS (
            SELECT a.* FROM absences AS a WHERE a.id = $1 FOR UPDATE
        ),
        changed AS (
            UPDATE absences AS a
               SET kind = CASE WHEN $2::jsonb ? 'kind' THEN $2::jsonb->>'kind' ELSE a.kind END,
                   reason = CASE WHEN $2::jsonb ? 'kind' AND $2::jsonb->>'kind' <> a.kind
                                 THEN NULL ELSE a.reason END,
                   -- A person who un-excuses an absence takes it from its note entirely.
                   comment = CASE WHEN $2::jsonb ? 'comment' THEN $2::jsonb->>'comment'
                                  WHEN $2::jsonb->>'kind' = 'unexcused'
                                       AND a.excused_by_notice_id IS NOT NULL THEN NULL
                                  ELSE a.comment END,
                   excused_by_notice_id = CASE WHEN $2::jsonb->>'kind' = 'unexcused' THEN NULL
                                               ELSE a.excused_by_notice_id END,
                   set_by_person = true,
                   updated_at = now()
              FROM before AS b
             WHERE a.id = b.id
            RETURNING a.id, a.kind, a.reason, a.comment, a.excused_by_notice_id
        ),
        audited AS (
            INSERT INTO audit_log (actor, action, notice_id, absence_id, before, after)
            SELECT $3, '{Action.CHANGED_BY_PERSON}', c.excused_by_notice_id, c.id,
                   jsonb_build_object('kind', b.kind, 'reason', b.reason, 'comment', b.comment,
                                      'setByPerson', b.set_by_person),
                   jsonb_build_object('kind', c.kind, 'reason', c.reason, 'comment', c.comment,
                                      'setByPerson', true)
            FROM changed AS c JOIN before AS b ON b.id = c.id
        )
        SELECT count(*) AS changed FROM changed
        """,
        absence_id,
        json.dumps(changes, ensure_ascii=False),
        actor,
    )
    return bool(row and row["changed"])


async def list_absences(
    db: asyncpg.Connection,
    institution_id: int | None,
    person_id: int | None,
    from_date: dt.date | None,
    to_date: dt.date | None,
    after: tuple[dt.date, int, int] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Absences in (date, lesson, id) order, preschool days (no lesson) first, after the
    key `after`; at most `limit`."""
    rows = await db.fetch(
        f"""
        SELECT {_ABSENCE_COLUMNS} FROM absences AS a
        LEFT JOIN medical_notices AS n ON n.id = a.excused_by_notice_id
        WHERE ($1::bigint IS NULL OR a.institution_id = $1)
          AND ($2::bigint IS NULL OR a.person_id = $2)
          AND a.date >= coalesce($3::date, '-infinity') AND a.date <= coalesce($4::date, 'infinity')
          AND ($5::date IS NULL OR (a.date, coalesce(a.lesson, -1), a.id) > ($5, $6, $7))
        ORDER BY a.date, coalesce(a.lesson, -1), a.id
        LIMIT $8
        """,
        institution_id,
        person_id,
        from_date,
        to_date,
        *(after or (None, None, None)),
        limit,
    )
    return [_absence(r) for r in rows]


async def institution_notices(
    db: asyncpg.Connection,
    institution_id: int,
    class_name: str | None,
    section: str | None,
    person_id: int | None,
    from_date: dt.date | None,
    to_date: dt.date | None,
) -> list[asyncpg.Record]:
    """The class view: notes placed in this institution (and class and section) on days
    NEISPUO's diary keeps, with those placements."""
    rows: list[asyncpg.Record] = await db.fetch(
        f"""
        WITH kept AS (
            SELECT * FROM ({by_diary("(SELECT * FROM placements WHERE institution_id = $1)")})
                AS cut
            WHERE cut.diary_client_id IS NULL
        ),
        listed AS (
            SELECT n.id FROM medical_notices AS n
            WHERE EXISTS (SELECT 1 FROM kept AS k
                          WHERE k.notice_id = n.id
                            AND ($2::text IS NULL OR k.class_name = $2)
                            AND ($3::text IS NULL OR k.section = $3))
              AND ($4::bigint IS NULL OR n.person_id = $4)
              AND n.to_date >= coalesce($5::date, '-infinity')
              AND n.from_date <= coalesce($6::date, 'infinity')
        )
        SELECT n.id, n.person_id, n.status, n.payload::text AS payload,
               {held_absences_sql("n", "$1")} AS excused,
               (SELECT {placements_array("k")} FROM kept AS k WHERE k.notice_id = n.id)::text
                   AS placements
        FROM medical_notices AS n JOIN listed USING (id)
        ORDER BY n.from_date DESC, n.id DESC
        """,
        institution_id,
        class_name,
        section,
        person_id,
        from_date,
        to_date,
    )
    return rows


async def institution_exists(
    db: asyncpg.Connection, institution_id: int, region: str | None = None
) -> bool:
    """Whether the institution exists (and is in `region`, when given: core/scope.py)."""
    value: bool = await db.fetchval(
        f"SELECT EXISTS (SELECT 1 FROM institutions WHERE id = $1) "
        f"AND {institution_in_region('$1', '$2')}",
        institution_id,
        region,
    )
    return value


async def hold_institution(db: asyncpg.Connection, institution_id: int) -> bool:
    """Keep the institution's diary periods as they are until this transaction ends (a
    diary switch updates the row first, so it waits); False when there is none."""
    value = await db.fetchval("SELECT id FROM institutions WHERE id = $1 FOR SHARE", institution_id)
    return value is not None


def held_absences_sql(notice: str, institution: str | None = None) -> str:
    """SQL: how many absences the note `notice` (an alias) holds excused now (rule 4):
    still linked, still excused, and the note active and covering that day there (once
    each, however many of its placements cover the day: a class and a group)."""
    in_institution = f"AND a.institution_id = {institution}" if institution else ""
    return f"""(SELECT count(*)
        FROM absences AS a
        WHERE a.excused_by_notice_id = {notice}.id AND a.kind = '{Kind.EXCUSED}'
          AND {notice}.status = 'active' {in_institution}
          AND EXISTS (SELECT 1 FROM placements AS p
                      WHERE p.notice_id = a.excused_by_notice_id
                        AND p.institution_id = a.institution_id
                        AND a.date BETWEEN p.from_date AND p.to_date))"""
