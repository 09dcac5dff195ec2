"""SQL for operators' views."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import asyncpg

from notegateway.core import reissue_sql
from notegateway.core.db import rows_as
from notegateway.core.placement_sql import by_diary
from notegateway.core.scope import institution_in_region, note_in_region
from notegateway.diary.repository import held_absences_sql


async def schema_revision(db: asyncpg.Connection) -> str | None:
    value: str | None = await db.fetchval("SELECT version_num FROM alembic_version")
    return value


# The operators' filters ($1 match, $2 status, $3 NRN, $4 examination NRN, $5 identifier,
# $6..$7 a period the note overlaps, $8 the operator's region, $9..$10 the school year's
# days, which the note overlaps too). As in NEISPUO's admin search, the NRNs and the
# identifier match as substrings, the NRNs whatever their case.
_NOTES_FILTER = f"""WHERE ($1::text IS NULL OR (n.person_id IS NOT NULL) = ($1 = 'matched'))
          AND ($2::text IS NULL OR n.status = $2)
          AND ($3::text IS NULL OR strpos(n.nrn, upper($3)) > 0)
          AND ($4::text IS NULL OR strpos(n.nrn_examination, upper($4)) > 0)
          AND ($5::text IS NULL OR strpos(n.identifier, $5) > 0)
          AND n.to_date >= coalesce($6::date, '-infinity')
          AND n.from_date <= coalesce($7::date, 'infinity')
          AND n.to_date >= coalesce($9::date, '-infinity')
          AND n.from_date <= coalesce($10::date, 'infinity')
          AND {note_in_region("n", "$8")}"""


@dataclass(frozen=True, slots=True)
class FoundNote:
    """A note as the search lists it."""

    notice_id: int
    nrn: str
    nrn_examination: str
    received_at: dt.datetime
    processed_at: dt.datetime
    status: str
    person_id: int | None
    from_date: dt.date
    to_date: dt.date
    payload: str  # the normalised note, JSON
    excused: int
    total: int  # how many the filters find in all


async def search_notes(
    db: asyncpg.Connection,
    match: str | None,
    status: str | None,
    nrn: str | None,
    nrn_examination: str | None,
    identifier: str | None,
    from_date: dt.date | None,
    to_date: dt.date | None,
    limit: int,
    offset: int,
    region: str | None,
    school_year: tuple[dt.date, dt.date] | None = None,
    oldest_first: bool = False,
) -> tuple[list[FoundNote], int]:
    """Notes newest first (or oldest) by the operators' filters, and how many in all."""
    year_from, year_to = school_year or (None, None)
    filters = (
        match,
        status,
        nrn,
        nrn_examination,
        identifier,
        from_date,
        to_date,
        region,
        year_from,
        year_to,
    )
    rows = await db.fetch(
        f"""
        SELECT n.id AS notice_id, n.nrn, n.nrn_examination, n.received_at, n.processed_at,
               n.status, n.person_id, n.from_date, n.to_date, n.payload::text AS payload,
               {held_absences_sql("n")} AS excused,
               count(*) OVER () AS total
        FROM medical_notices AS n
        {_NOTES_FILTER}
        ORDER BY n.id {"ASC" if oldest_first else "DESC"}
        LIMIT $11 OFFSET $12
        """,
        *filters,
        limit,
        offset,
    )
    if rows:
        return rows_as(FoundNote, rows), rows[0]["total"]
    total: int = await db.fetchval(
        f"""
        SELECT count(*) FROM medical_notices AS n
        {_NOTES_FILTER}
        """,
        *filters,
    )
    return [], total


@dataclass(frozen=True, slots=True)
class AuditRow:
    at: dt.datetime
    actor: str
    action: str
    absence_id: int | None
    before: str | None  # JSON
    after: str | None  # JSON
    reason: str | None  # the operator's, or NZIS's cancelReason
    date: dt.date | None  # the absence's day and lesson (the console shows them)
    lesson: int | None


async def audit_of_note(
    db: asyncpg.Connection, notice_id: int, nrn: str, region: str | None
) -> list[AuditRow]:
    """The note's audit entries, also where another note took over what it held; for an
    operator limited to a region, none about an absence in another region's institution."""
    rows = await db.fetch(
        f"""
        SELECT l.at, l.actor, l.action, l.absence_id, l.before::text AS before,
               l.after::text AS after,
               CASE l.action
                   WHEN 'note.cancelled' THEN
                       (SELECT c.cancel_reason FROM notice_cancellations AS c WHERE c.nrn = $2)
                   WHEN 'note.cancelled_before_arrival' THEN l.after->>'cancelReason'
                   WHEN 'absence.review_closed' THEN l.after->>'operatorReason'
                   WHEN 'note.matched' THEN l.after->>'reason'
                   WHEN 'note.unmatched' THEN l.after->>'reason'
                   WHEN 'note.redelivered' THEN l.after->>'reason'
               END AS reason,
               a.date, a.lesson
        FROM audit_log AS l
        LEFT JOIN absences AS a ON a.id = l.absence_id
        WHERE (l.notice_id = $1 OR l.before->>'excusedByNrn' = $2
               OR (l.action = 'note.cancelled_before_arrival'
                   AND l.after->>'nrnMedicalNotice' = $2))
          AND (l.absence_id IS NULL OR {institution_in_region("a.institution_id", "$3")})
        ORDER BY l.id
        """,
        notice_id,
        nrn,
        region,
    )
    return rows_as(AuditRow, rows)


@dataclass(frozen=True, slots=True)
class RegionPart:
    """What of one note concerns a region: its institutions there, the vendors whose
    diaries keep its days there, and the absences it holds excused there."""

    institutions: frozenset[int]
    vendors: frozenset[str]
    neispuo_diary: bool
    excused: int


async def region_part_of_note(db: asyncpg.Connection, notice_id: int, region: str) -> RegionPart:
    row = await db.fetchrow(
        f"""
        WITH its AS (
            SELECT p.* FROM placements AS p
            WHERE p.notice_id = $1 AND {institution_in_region("p.institution_id", "$2")}
        )
        SELECT
            ARRAY(SELECT DISTINCT institution_id FROM its) AS institutions,
            ARRAY(SELECT DISTINCT c.name FROM ({by_diary("its")}) AS cut
                  JOIN clients AS c ON c.id = cut.diary_client_id) AS vendors,
            EXISTS (SELECT 1 FROM ({by_diary("its")}) AS cut
                    WHERE cut.diary_client_id IS NULL) AS neispuo_diary,
            (SELECT count(*) FROM absences AS a
             JOIN medical_notices AS n ON n.id = a.excused_by_notice_id
             WHERE a.excused_by_notice_id = $1 AND a.kind = 'excused' AND n.status = 'active'
               AND EXISTS (SELECT 1 FROM its AS p
                           WHERE p.institution_id = a.institution_id
                             AND a.date BETWEEN p.from_date AND p.to_date)) AS excused
        """,
        notice_id,
        region,
    )
    assert row is not None
    return RegionPart(
        frozenset(row["institutions"]),
        frozenset(row["vendors"]),
        row["neispuo_diary"],
        row["excused"],
    )


@dataclass(frozen=True, slots=True)
class ReviewRow:
    """An open review item, with its absence as it is now."""

    item_id: int
    absence_id: int
    why: str
    listed_at: dt.datetime
    notice_id: int
    nrn: str
    person_id: int
    institution_id: int
    date: dt.date
    lesson: int | None
    kind: str
    comment: str | None


async def review_items(
    db: asyncpg.Connection,
    after_id: int,
    limit: int,
    region: str | None,
    absence_id: int | None = None,
) -> list[ReviewRow]:
    """Open review items in list order; `absence_id`: that absence's only."""
    rows = await db.fetch(
        f"""
        SELECT r.id AS item_id, r.absence_id, r.why, r.created_at AS listed_at,
               n.id AS notice_id, n.nrn,
               a.person_id, a.institution_id, a.date, a.lesson, a.kind, a.comment
        FROM review_items AS r
        JOIN medical_notices AS n ON n.id = r.notice_id
        JOIN absences AS a ON a.id = r.absence_id
        WHERE r.id > $1 AND r.closed_at IS NULL
          AND ($4::bigint IS NULL OR r.absence_id = $4)
          AND {institution_in_region("a.institution_id", "$3")}
        ORDER BY r.id
        LIMIT $2
        """,
        after_id,
        limit,
        region,
        absence_id,
    )
    return rows_as(ReviewRow, rows)


@dataclass(frozen=True, slots=True)
class RejectionRow:
    row_id: int
    at: dt.datetime
    client: str
    index: int | None  # the item's place in its push; None: the push refused whole
    nrn: str | None  # masked as kept
    outcome: str
    errors: str  # JSON, paths and rules only (notices/rejections.py)
    item: str | None  # JSON, the allow-listed projection


async def rejections(
    db: asyncpg.Connection,
    nrn: str | None,
    from_date: dt.date | None,
    to_date: dt.date | None,
    before_id: int | None,
    limit: int,
) -> list[RejectionRow]:
    """Rejected items newest first (by id), on Sofia's calendar days `from_date..to_date`."""
    rows = await db.fetch(
        """
        SELECT id AS row_id, at, client, item_index AS index, nrn, outcome,
               errors::text AS errors, item::text AS item
        FROM rejections
        WHERE ($1::text IS NULL OR nrn = $1)
          AND at >= coalesce($2::date, '-infinity')::timestamp AT TIME ZONE 'Europe/Sofia'
          AND at < coalesce($3::date + 1, 'infinity')::timestamp AT TIME ZONE 'Europe/Sofia'
          AND ($4::bigint IS NULL OR id < $4)
        ORDER BY id DESC
        LIMIT $5
        """,
        nrn,
        from_date,
        to_date,
        before_id,
        limit,
    )
    return rows_as(RejectionRow, rows)


@dataclass(frozen=True, slots=True)
class NoteLinks:
    """What a note is linked to: its person as the registry names them (beside NZIS's
    names on the note), and the notes it replaces or that replace it (core/reissue_sql)."""

    person: RegistryName | None
    replaces: str | None
    replaced_by: str | None


@dataclass(frozen=True, slots=True)
class RegistryName:
    person_id: int
    given_name: str
    family_name: str


async def note_links(db: asyncpg.Connection, notice_id: int, region: str | None) -> NoteLinks:
    """`region`: a reissue's other note is named only when it is placed there too."""
    in_region = note_in_region("other", "$2")
    row = await db.fetchrow(
        f"""
        SELECT p.id, p.given_name, p.family_name,
               {reissue_sql.replaces("n", in_region)} AS replaces,
               {reissue_sql.replaced_by("n", in_region)} AS replaced_by
        FROM medical_notices AS n LEFT JOIN persons AS p ON p.id = n.person_id
        WHERE n.id = $1
        """,
        notice_id,
        region,
    )
    if row is None:
        return NoteLinks(None, None, None)
    person_id, given_name, family_name, replaces, replaced_by = row.values()
    person = RegistryName(person_id, given_name, family_name) if person_id is not None else None
    return NoteLinks(person, replaces, replaced_by)


async def notice_id_of(db: asyncpg.Connection, nrn: str, region: str | None) -> int | None:
    """The note's id, when it exists and the operator's region shows it."""
    value: int | None = await db.fetchval(
        f"SELECT n.id FROM medical_notices AS n WHERE n.nrn = $1 AND {note_in_region('n', '$2')}",
        nrn,
        region,
    )
    return value


async def absence_in_region(db: asyncpg.Connection, absence_id: int, region: str | None) -> bool:
    value: bool = await db.fetchval(
        f"SELECT EXISTS (SELECT 1 FROM absences AS a WHERE a.id = $1 "
        f"AND {institution_in_region('a.institution_id', '$2')})",
        absence_id,
        region,
    )
    return value


async def audit_note_action(
    db: asyncpg.Connection, notice_id: int, action: str, after: dict[str, Any], actor: str
) -> None:
    """An operator's action on a note, with what it named and why."""
    await db.execute(
        "INSERT INTO audit_log (actor, action, notice_id, after) VALUES ($1, $2, $3, $4::jsonb)",
        actor,
        action,
        notice_id,
        json.dumps(after, ensure_ascii=False),
    )


async def institution_names(db: asyncpg.Connection, ids: list[int]) -> dict[int, str]:
    """The names of these institutions, for people reading the console."""
    rows = await db.fetch(
        "SELECT id, name FROM institutions WHERE id = ANY($1::bigint[])", sorted(set(ids))
    )
    return {id_: name for id_, name in (tuple(r.values()) for r in rows)}


async def absence_kind(db: asyncpg.Connection, absence_id: int) -> str | None:
    kind: str | None = await db.fetchval("SELECT kind FROM absences WHERE id = $1", absence_id)
    return kind
