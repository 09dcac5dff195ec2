"""SQL of the review list's resolution (rule 5 of diary/excusal.py, closed by a person)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import asyncpg

from notegateway.diary.excusal import Action, Kind

_RESOLVE = f"""
WITH kept AS (
    -- keep: closed, not deleted, so that the rules do not list it again for the same note
    UPDATE review_items SET closed_at = now()
    WHERE absence_id = $1 AND closed_at IS NULL AND $2 = 'keep'
    RETURNING notice_id, why
),
dropped AS (
    DELETE FROM review_items WHERE absence_id = $1 AND $2 = 'unexcuse'
    RETURNING notice_id, why, closed_at
),
listed AS (
    SELECT notice_id, why FROM kept
    UNION ALL
    SELECT notice_id, why FROM dropped WHERE closed_at IS NULL
),
before AS (
    SELECT a.* FROM absences AS a WHERE a.id = $1 AND EXISTS (SELECT 1 FROM listed) FOR UPDATE
),
changed AS (
    UPDATE absences AS a
       -- keep: as the person set it, no longer tied to the note that stopped covering it;
       -- unexcuse: unexcused, and in the gateway's hands again (a covering note may take it).
       SET kind = CASE WHEN $2 = 'unexcuse' THEN '{Kind.UNEXCUSED}' ELSE a.kind END,
           reason = CASE WHEN $2 = 'unexcuse' THEN NULL ELSE a.reason END,
           comment = CASE WHEN $2 = 'unexcuse' THEN NULL ELSE a.comment END,
           set_by_person = CASE WHEN $2 = 'unexcuse' THEN false ELSE a.set_by_person END,
           excused_by_notice_id = NULL,
           updated_at = now()
      FROM before AS b
     WHERE a.id = b.id
    RETURNING a.id, a.person_id, a.date, a.kind, a.reason, a.comment, a.set_by_person
),
audited AS (
    INSERT INTO audit_log (actor, action, notice_id, absence_id, before, after)
    -- under the note that listed it: an overridden absence no longer names its note
    SELECT $3, '{Action.REVIEW_CLOSED}',
           coalesce(b.excused_by_notice_id, (SELECT min(notice_id) FROM listed)), c.id,
           jsonb_build_object('kind', b.kind, 'reason', b.reason, 'comment', b.comment,
                              'excusedByNrn', n.nrn, 'setByPerson', b.set_by_person,
                              'why', (SELECT min(why) FROM listed)),
           jsonb_build_object('kind', c.kind, 'reason', c.reason, 'comment', c.comment,
                              'excusedByNrn', NULL, 'setByPerson', c.set_by_person,
                              'resolution', $2::text, 'operatorReason', $4::text)
    FROM changed AS c JOIN before AS b ON b.id = c.id
    LEFT JOIN medical_notices AS n ON n.id = b.excused_by_notice_id
    RETURNING id
)
SELECT c.person_id, c.date, (SELECT id FROM audited) AS audit_id FROM changed AS c
"""


@dataclass(frozen=True, slots=True)
class Closed:
    person_id: int
    date: dt.date
    audit_id: int  # the audited change, for the change feed


async def resolve(
    db: asyncpg.Connection, absence_id: int, resolution: str, reason: str, actor: str
) -> Closed | None:
    """Close the absence's review, or None when it was not listed."""
    row = await db.fetchrow(_RESOLVE, absence_id, resolution, actor, reason)
    return Closed(row["person_id"], row["date"], row["audit_id"]) if row else None
