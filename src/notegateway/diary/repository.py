"""All SQL of the diary: absences, and applying the excusal rules (diary/excusal.py) set-based."""

from __future__ import annotations

import datetime as dt
import enum
import json
from dataclasses import dataclass

import asyncpg

from notegateway.core.db import row_as, rows_as
from notegateway.core.placement_sql import by_diary, placements_array
from notegateway.core.scope import institution_in_region
from notegateway.core.timeutil import today_in_sofia
from notegateway.diary.excusal import Action, Kind

_ABSENCE_COLUMNS = """
a.id AS absence_id, a.person_id, a.institution_id, a.date, a.lesson, a.subject, a.kind,
a.reason, a.comment, n.nrn AS excused_by_nrn, a.set_by_person
"""


@dataclass(frozen=True, slots=True)
class NewAbsence:
    """An absence as a diary posts it (kept as posted, so that a repeat can be compared)."""

    absence_id: int
    person_id: int
    institution_id: int
    date: dt.date
    lesson: int | None
    subject: str | None
    kind: str

    def posted(self) -> dict[str, object]:
        """The stored `posted` form (as the API's field names, for the audit log)."""
        return {
            "personId": self.person_id,
            "institutionId": self.institution_id,
            "date": self.date.isoformat(),
            "lesson": self.lesson,
            "subject": self.subject,
            "kind": self.kind,
        }


@dataclass(frozen=True, slots=True)
class Absence(NewAbsence):
    """An absence as the diary keeps it now."""

    reason: str | None
    comment: str | None
    excused_by_nrn: str | None  # the note that holds it excused
    set_by_person: bool  # a person changed it: no note touches it again


class Posted(enum.Enum):
    NEW = "new"  # recorded now
    SAME = "same"  # recorded before with the same fields
    OTHER = "other"  # recorded before with other fields


async def get_absence(db: asyncpg.Connection, absence_id: int) -> Absence | None:
    row = await db.fetchrow(
        f"""
        SELECT {_ABSENCE_COLUMNS} FROM absences AS a
        LEFT JOIN medical_notices AS n ON n.id = a.excused_by_notice_id
        WHERE a.id = $1
        """,
        absence_id,
    )
    return row_as(Absence, row)


async def insert_absence(
    db: asyncpg.Connection, absence: NewAbsence, set_by_person: bool, actor: str
) -> Posted:
    """Insert a new absence (audited); when its id exists, whether it was posted the same."""
    posted = absence.posted()
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
        absence.absence_id,
        json.dumps(posted, ensure_ascii=False),
        set_by_person,
        actor,
    )
    assert row is not None
    if row["inserted"]:
        return Posted.NEW
    # A new statement: it sees the row a concurrent insert committed while we waited.
    text = await db.fetchval("SELECT posted::text FROM absences WHERE id = $1", absence.absence_id)
    return Posted.SAME if json.loads(text) == posted else Posted.OTHER


async def delete_absence(
    db: asyncpg.Connection, absence_id: int, person_id: int, actor: str
) -> int | None:
    """Delete the absence (of `person_id`) and its review items, audited with what it was;
    the audit entry's id, or None when there was none to delete."""
    audit_id: int | None = await db.fetchval(
        f"""
        WITH before AS (
            SELECT a.* FROM absences AS a WHERE a.id = $1 AND a.person_id = $2 FOR UPDATE
        ),
        unlisted AS (
            DELETE FROM review_items WHERE absence_id IN (SELECT id FROM before)
        ),
        gone AS (
            DELETE FROM absences AS a USING before AS b WHERE a.id = b.id RETURNING a.id
        ),
        audited AS (
            INSERT INTO audit_log (actor, action, notice_id, absence_id, before, after)
            SELECT $3, '{Action.DELETED}', b.excused_by_notice_id, b.id,
                   jsonb_build_object('kind', b.kind, 'reason', b.reason, 'comment', b.comment,
                                      'excusedByNrn', n.nrn, 'setByPerson', b.set_by_person,
                                      'personId', b.person_id,
                                      'institutionId', b.institution_id,
                                      'date', b.date, 'lesson', b.lesson),
                   NULL
            FROM before AS b JOIN gone USING (id)
            LEFT JOIN medical_notices AS n ON n.id = b.excused_by_notice_id
            RETURNING id
        )
        SELECT id FROM audited
        """,
        absence_id,
        person_id,
        actor,
    )
    return audit_id


async def was_deleted(db: asyncpg.Connection, absence_id: int) -> bool:
    """Whether the absence was recorded once and then deleted."""
    value: bool = await db.fetchval(
        "SELECT EXISTS (SELECT 1 FROM audit_log WHERE absence_id = $1 AND action = $2)",
        absence_id,
        Action.DELETED.value,
    )
    return value


async def person_of_absence(db: asyncpg.Connection, absence_id: int) -> int | None:
    value: int | None = await db.fetchval(
        "SELECT person_id FROM absences WHERE id = $1", absence_id
    )
    return value


async def set_by_person(
    db: asyncpg.Connection,
    absence_id: int,
    kind: str | None,
    comment: tuple[str | None] | None,
    actor: str,
) -> bool:
    """A person's change: the kind (None: unchanged) and/or the comment (None: unchanged,
    else the one-tuple of the new comment); from now on no note touches the absence."""
    row = await db.fetchrow(
        f"""
        WITH before AS (
            SELECT a.* FROM absences AS a WHERE a.id = $1 FOR UPDATE
        ),
        changed AS (
            UPDATE absences AS a
               SET kind = coalesce($2::text, a.kind),
                   reason = CASE WHEN $2::text <> a.kind THEN NULL ELSE a.reason END,
                   -- A person who un-excuses an absence takes it from its note entirely.
                   comment = CASE WHEN $4::boolean THEN $5::text
                                  WHEN $2::text = 'unexcused'
                                       AND a.excused_by_notice_id IS NOT NULL THEN NULL
                                  ELSE a.comment END,
                   excused_by_notice_id = CASE WHEN $2::text = 'unexcused' THEN NULL
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
        kind,
        actor,
        comment is not None,
        comment[0] if comment is not None else None,
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
) -> list[Absence]:
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
    return rows_as(Absence, rows)


@dataclass(frozen=True, slots=True)
class ClassNote:
    """A note in the class view, with the pupil's registry names."""

    notice_id: int
    person_id: int
    status: str
    payload: str  # the normalised note, JSON
    from_date: dt.date
    to_date: dt.date
    given_name: str
    family_name: str
    transferred: bool  # no enrollment there that lasts until today (NEISPUO's ОТПИСАН)
    excused: int
    placements: str  # JSON array (core/placement_sql.py)


async def institution_notices(
    db: asyncpg.Connection,
    institution_id: int,
    class_name: str | None,
    section: str | None,
    person_id: int | None,
    from_date: dt.date | None,
    to_date: dt.date | None,
    school_year: tuple[dt.date, dt.date] | None,
) -> list[ClassNote]:
    """The class view: notes placed in this institution (and class and section) on days
    NEISPUO's diary keeps, with those placements; of a school year's days when given;
    newest `authoredOn` first. With each, the pupil's registry names and whether the
    pupil left (no enrollment there, in that class and section when given, that lasts
    until `$9`, today: NEISPUO's "ОТПИСАН")."""
    rows = await db.fetch(
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
              AND n.to_date >= coalesce($7::date, '-infinity')
              AND n.from_date <= coalesce($8::date, 'infinity')
        )
        SELECT n.id AS notice_id, n.person_id, n.status, n.payload::text AS payload,
               n.from_date, n.to_date, pe.given_name, pe.family_name,
               NOT EXISTS (
                   SELECT 1 FROM enrollments AS e
                   WHERE e.person_id = n.person_id AND e.institution_id = $1
                     AND ($2::text IS NULL OR e.class_name = $2)
                     AND ($3::text IS NULL OR e.section = $3)
                     AND coalesce(e.to_date, 'infinity') >= $9) AS transferred,
               {held_absences_sql("n", "$1")} AS excused,
               (SELECT {placements_array("k")} FROM kept AS k WHERE k.notice_id = n.id)::text
                   AS placements
        FROM medical_notices AS n JOIN listed USING (id)
        JOIN persons AS pe ON pe.id = n.person_id
        ORDER BY n.authored_on DESC, n.id DESC
        """,
        institution_id,
        class_name,
        section,
        person_id,
        from_date,
        to_date,
        *(school_year or (None, None)),
        today_in_sofia(),
    )
    return rows_as(ClassNote, rows)


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


async def person_exists(db: asyncpg.Connection, person_id: int) -> bool:
    value: bool = await db.fetchval(
        "SELECT EXISTS (SELECT 1 FROM persons WHERE id = $1)", person_id
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
