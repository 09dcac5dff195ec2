"""The one statement that applies the excusal rules (diary/excusal.py), set-based, to
every absence in scope: which note holds each, excusing, taking over and reverting, the
review list, the audit log, and the change feed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from notegateway.core.db import MANY_ITEMS
from notegateway.diary import changes_repository
from notegateway.diary.excusal import MEDICAL_REASON, Action, Kind, Why

# The oldest active note of absence `h` covering its institution-day (rules 2 and 3):
# from the person's few active notes, oldest first, each note's placements read by the
# note (OFFSET 0 and the LATERAL LIMIT keep it that way round). Written as EXISTS, the
# planner made it a semi-join that read, for every absence, every placement of the school
# up to that day and only then compared notes: 53 rows an absence after three 1000-note
# batches, more with every note the school gets.
_COVERING = """
        SELECT n.id
        FROM (SELECT id FROM medical_notices
              WHERE person_id = {h}.person_id AND status = 'active'
              ORDER BY id OFFSET 0) AS n
        CROSS JOIN LATERAL (SELECT 1 FROM placements AS p
                            WHERE p.notice_id = n.id AND p.institution_id = {h}.institution_id
                              AND {h}.date BETWEEN p.from_date AND p.to_date
                            LIMIT 1) AS placed
        LIMIT 1"""


def _still_covers(absence: str, note: str) -> str:
    """SQL: note `note` is active, of the absence's person, and placed on its day there."""
    return f"""({note}.status = 'active' AND {note}.person_id = {absence}.person_id AND EXISTS (
               SELECT 1 FROM placements AS p
               WHERE p.notice_id = {note}.id AND p.institution_id = {absence}.institution_id
                 AND {absence}.date BETWEEN p.from_date AND p.to_date))"""


# How the statement reads absences by the ids of its scope. A request of a few notes or
# persons runs the connection's generic plan, made once for any data: there each absence
# is read by itself by id (a LATERAL subquery with OFFSET 0, which the planner keeps as
# written), so the plan is driven from the request's own rows whatever the statistics
# say. Written as joins, a generic plan made on an unanalysed registry guessed thousands
# of rows in scope and hashed all of `absences` three times: 46 ms and 43,000 buffers a
# push on 20k pupils, now 0.6 ms and 129 (`python -m benchmarks.explain
# --no-statistics`). A batch is planned for its own arrays (core/db.py:plan_for), and
# joins let that plan hash thousands of rows at once: 1000-note batches ran at less than
# half the rate with the per-row reads.
_DRIVEN = {
    "absences_of_scope": "scope CROSS JOIN LATERAL "
    "(SELECT * FROM absences AS a WHERE a.id = scope.id OFFSET 0) AS a",
    "in_hand_absences": f"""neispuo_days AS k CROSS JOIN LATERAL (
        SELECT * FROM absences AS a
        WHERE a.id = k.id
          -- Rule 1: not set by a person; unexcused, or excused by a note (never `late`
          -- or `dplr`).
          AND NOT a.set_by_person
          AND (a.kind = '{Kind.UNEXCUSED}' OR a.excused_by_notice_id IS NOT NULL)
        FOR UPDATE
    ) AS a""",
    # the ids unnested from an array of a length the planner cannot guess: each absence
    # found by its key, never by reading the table
    "decided_absences": "unnest(ARRAY(SELECT id FROM decided)) AS x(id) "
    "JOIN decided AS d ON d.id = x.id",
    # each absence's day's period by itself (the periods tile the calendar)
    "diary_of_day": """CROSS JOIN LATERAL (
        SELECT d.diary_client_id FROM institution_diaries AS d
        WHERE d.institution_id = a.institution_id AND a.date BETWEEN d.from_date AND d.to_date
        LIMIT 1
    ) AS d""",
    # notes by id, one at a time
    "holder_comment": "(SELECT n.excusal_comment FROM medical_notices AS n WHERE n.id = d.holder)",
    "before_nrn": "(SELECT n.nrn FROM medical_notices AS n WHERE n.id = c.before_holder)",
    "after_nrn": "(SELECT n.nrn FROM medical_notices AS n WHERE n.id = c.after_holder)",
    "audit_notes": "",
}
_JOINED = {
    "absences_of_scope": "absences AS a JOIN scope USING (id)",
    "in_hand_absences": f"""absences AS a JOIN neispuo_days AS k USING (id)
    WHERE NOT a.set_by_person
      AND (a.kind = '{Kind.UNEXCUSED}' OR a.excused_by_notice_id IS NOT NULL)
    FOR UPDATE OF a""",
    "decided_absences": "decided AS d "
    "LEFT JOIN medical_notices AS holder_note ON holder_note.id = d.holder",
    "diary_of_day": """JOIN institution_diaries AS d
      ON d.institution_id = a.institution_id AND a.date BETWEEN d.from_date AND d.to_date""",
    "holder_comment": "holder_note.excusal_comment",
    "before_nrn": "before_note.nrn",
    "after_nrn": "after_note.nrn",
    "audit_notes": """LEFT JOIN medical_notices AS before_note ON before_note.id = c.before_holder
     LEFT JOIN medical_notices AS after_note ON after_note.id = c.after_holder""",
}

# Rule 1 (in the gateway's hands), rule 2 (covers), rule 3 (received first holds), rule 4
# (excuse, take over, revert), rule 5 (review), rule 6 (locked days), rule 7 (override),
# rule 8 (audit): one statement.
_RECONCILE_TEMPLATE = f"""
WITH scope AS (
    SELECT a.id
    FROM unnest($1::bigint[], $2::date[], $3::date[]) AS s(person_id, from_date, to_date)
    JOIN absences AS a
      ON a.person_id = s.person_id AND a.date BETWEEN s.from_date AND s.to_date
    UNION
    SELECT a.id FROM absences AS a WHERE a.excused_by_notice_id = ANY($4::bigint[])
    UNION
    -- listed for review under these notes (an override of a note now cancelled)
    SELECT r.absence_id FROM review_items AS r WHERE r.notice_id = ANY($4::bigint[])
),
neispuo_days AS MATERIALIZED (
    -- Rule 1: the absences in scope on days NEISPUO's own diary keeps, and whether that
    -- day is locked (rule 6), asked here as the diary periods are.
    SELECT a.id, a.person_id, a.institution_id, a.date, a.kind, a.reason, a.comment,
           a.excused_by_notice_id, a.set_by_person,
           coalesce(a.date <= i.locked_through, false) AS locked
    FROM {{absences_of_scope}}
    {{diary_of_day}}
    JOIN institutions AS i ON i.id = a.institution_id
    WHERE d.diary_client_id IS NULL
),
in_hand AS MATERIALIZED (
    SELECT a.id, a.person_id, a.institution_id, a.date, a.kind, a.reason, a.comment,
           a.excused_by_notice_id, k.locked
    FROM {{in_hand_absences}}
),
decided AS MATERIALIZED (
    SELECT h.*, covering.id AS holder
    FROM in_hand AS h
    LEFT JOIN LATERAL ({_COVERING.format(h="h")}) AS covering ON true
),
changed AS (
    UPDATE absences AS a
       SET kind = CASE WHEN d.holder IS NULL THEN '{Kind.UNEXCUSED}' ELSE '{Kind.EXCUSED}' END,
           reason = CASE WHEN d.holder IS NULL THEN NULL ELSE '{MEDICAL_REASON}' END,
           comment = {{holder_comment}},
           excused_by_notice_id = d.holder,
           updated_at = now()
      FROM {{decided_absences}}
     WHERE a.id = d.id AND d.holder IS DISTINCT FROM d.excused_by_notice_id
       -- Rule 6: on a locked day nothing excused turns back to unexcused.
       AND NOT (d.locked AND d.holder IS NULL)
    RETURNING a.id, d.kind AS before_kind, d.reason AS before_reason,
              d.comment AS before_comment, d.excused_by_notice_id AS before_holder,
              a.kind, a.reason, a.comment, d.holder AS after_holder
),
overridden AS (
    -- Rule 7: a person's unexcused absence that an active note covers.
    SELECT k.id, covering.id AS notice_id
    FROM neispuo_days AS k
    CROSS JOIN LATERAL ({_COVERING.format(h="k")}) AS covering
    WHERE k.set_by_person AND k.kind = '{Kind.UNEXCUSED}'
),
to_review AS (
    -- Rule 5: a person's absence whose note stopped covering it.
    SELECT a.id AS absence_id, a.excused_by_notice_id AS notice_id,
           CASE WHEN n.status = 'cancelled' THEN '{Why.NOTE_CANCELLED}'
                ELSE '{Why.NOTE_MOVED}' END AS why
    FROM {{absences_of_scope}}
    JOIN medical_notices AS n ON n.id = a.excused_by_notice_id
    WHERE a.set_by_person AND NOT {_still_covers("a", "n")}
    UNION ALL
    -- Rule 6: kept excused on a locked day, though its note no longer covers it.
    SELECT d.id, d.excused_by_notice_id, '{Why.LOCKED}'
    FROM decided AS d
    WHERE d.locked AND d.holder IS NULL AND d.excused_by_notice_id IS NOT NULL
    UNION ALL
    SELECT o.id, o.notice_id, '{Why.UNEXCUSED_UNDER_NOTE}' FROM overridden AS o
),
review AS (
    INSERT INTO review_items (absence_id, notice_id, why)
    SELECT absence_id, notice_id, why FROM to_review
    ORDER BY absence_id, notice_id  -- listed in absence order, whatever the plan
    ON CONFLICT (absence_id, notice_id) DO NOTHING
    RETURNING absence_id, notice_id, why
),
resolved AS (
    -- Off the list when the reason is gone: the note covers the absence again (rule 5),
    -- a note holds it again (rule 6), the person's override is over (rule 7).
    DELETE FROM review_items AS r
     USING absences AS a, medical_notices AS n
     WHERE a.id = r.absence_id AND n.id = r.notice_id
       AND a.id IN (SELECT id FROM scope)
       AND NOT EXISTS (SELECT 1 FROM to_review AS t
                       WHERE t.absence_id = r.absence_id AND t.notice_id = r.notice_id)
       AND CASE r.why
               WHEN '{Why.UNEXCUSED_UNDER_NOTE}' THEN true
               WHEN '{Why.LOCKED}' THEN EXISTS (
                   SELECT 1 FROM decided AS d WHERE d.id = a.id AND d.holder IS NOT NULL)
               ELSE {_still_covers("a", "n")}
           END
    RETURNING r.absence_id, r.notice_id, r.why, r.closed_at
),
audited AS (
    INSERT INTO audit_log (actor, action, notice_id, absence_id, before, after)
    -- in absence order: the change feed lists a request's changes that way
    (SELECT $5,
           CASE WHEN c.before_holder IS NULL THEN '{Action.EXCUSED}'
                WHEN c.after_holder IS NULL THEN '{Action.REVERTED}'
                ELSE '{Action.REATTRIBUTED}' END,
           coalesce(c.after_holder, c.before_holder), c.id,
           jsonb_build_object('kind', c.before_kind, 'reason', c.before_reason,
                              'comment', c.before_comment, 'excusedByNrn', {{before_nrn}}),
           jsonb_build_object('kind', c.kind, 'reason', c.reason,
                              'comment', c.comment, 'excusedByNrn', {{after_nrn}})
     FROM changed AS c {{audit_notes}}
     ORDER BY c.id)
    UNION ALL
    (SELECT $5, '{Action.REVIEW}', r.notice_id, r.absence_id, NULL,
            jsonb_build_object('why', r.why)
     FROM review AS r ORDER BY r.absence_id, r.notice_id)
    UNION ALL
    (SELECT $5, '{Action.REVIEW_RESOLVED}', r.notice_id, r.absence_id,
            jsonb_build_object('why', r.why), NULL
     FROM resolved AS r WHERE r.closed_at IS NULL ORDER BY r.absence_id, r.notice_id)
    RETURNING id, action
),
published AS (
    -- The change feed, in the same round trip: the writer's own changes to absences
    -- ($6, audited before this statement) and the rules', in audit order.
    INSERT INTO diary_changes (audit_id)
    SELECT id FROM (
        SELECT unnest($6::bigint[]) AS id
        UNION ALL
        SELECT id FROM audited
        WHERE action <> '{Action.REVIEW}' AND action <> '{Action.REVIEW_RESOLVED}'
    ) AS p
    ORDER BY id
)
SELECT count(*) FILTER (WHERE before_holder IS NULL) AS excused,
       count(*) FILTER (WHERE before_holder IS NOT NULL AND after_holder IS NOT NULL)
           AS reattributed,
       count(*) FILTER (WHERE after_holder IS NULL) AS reverted,
       (SELECT count(*) FROM review) AS review
FROM changed
"""
_RECONCILE_FEW = _RECONCILE_TEMPLATE.format(**_DRIVEN)
_RECONCILE_MANY = _RECONCILE_TEMPLATE.format(**_JOINED)


@dataclass(frozen=True, slots=True)
class Reconciled:
    excused: int = 0
    reattributed: int = 0
    reverted: int = 0
    review: int = 0


async def reconcile_absences(
    db: asyncpg.Connection,
    actor: str,
    person_periods: Sequence[tuple[int, dt.date, dt.date]] = (),
    held_by_notices: Sequence[int] = (),
    published: Sequence[int] = (),
) -> Reconciled:
    """Apply the rules to the absences of these persons on these days, and those these notes
    hold; then number in the change feed the audit entries `published` (the writer's own
    changes to absences) and those of the changes the rules made, in audit order.

    The caller holds the identity locks of the persons involved (core/locks.py).
    """
    if not person_periods and not held_by_notices:
        if published:
            await changes_repository.publish(db, published)
        return Reconciled()
    few = len(person_periods) + len(held_by_notices) <= MANY_ITEMS
    row = await db.fetchrow(
        _RECONCILE_FEW if few else _RECONCILE_MANY,
        [p[0] for p in person_periods],
        [p[1] for p in person_periods],
        [p[2] for p in person_periods],
        list(held_by_notices),
        actor,
        list(published),
    )
    assert row is not None
    return Reconciled(row["excused"], row["reattributed"], row["reverted"], row["review"])
