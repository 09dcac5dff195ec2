"""All SQL of the NZIS side: storing notes set-based, cancellations, the note's view."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from notegateway.core.db import row_as
from notegateway.core.locks import LockPlan
from notegateway.core.note_wire import HisMedicalNoticeOut, note_of
from notegateway.core.placement_sql import by_diary, placement_runs, placements_array
from notegateway.diary.repository import held_absences_sql
from notegateway.notices.validation import ValidNote


@dataclass(frozen=True, slots=True)
class StoredNote:
    nrn: str
    notice_id: int | None  # set when this call created it
    person_id: int | None
    cancelled: bool
    from_date: dt.date | None
    to_date: dt.date | None
    for_vendors: bool  # placed at least one day kept in a vendor's diary
    stored_payload: HisMedicalNoticeOut | None  # the note kept before, when not created


async def insert_notes(
    db: asyncpg.Connection, notes: Sequence[ValidNote], actor: str, locks: LockPlan
) -> list[StoredNote]:
    """Take the push's locks, then insert its notes (distinct NRNs) at once, matched and
    placed; existing NRNs are left alone. One round trip: `ngw_insert_notes`
    (core/sql_functions.py, where its statement is)."""
    rows = await db.fetch(
        "SELECT * FROM ngw_insert_notes($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
        "$13, $14, $15, $16)",
        [n.nrn for n in notes],
        [n.nrn_examination for n in notes],
        [n.identifier_type for n in notes],
        [n.identifier_kind for n in notes],
        [n.identifier for n in notes],
        [n.pmi for n in notes],
        [n.from_date for n in notes],
        [n.to_date for n in notes],
        [n.authored_on for n in notes],
        [n.payload.model_dump_json(by_alias=True) for n in notes],
        [n.excusal_comment for n in notes],
        actor,
        locks.ids,
        locks.shared,
        locks.owner_kinds,
        locks.owner_identifiers,
    )
    return [
        StoredNote(
            nrn=row["nrn"],
            notice_id=row["notice_id"],
            person_id=row["person_id"],
            cancelled=row["status"] == "cancelled",
            from_date=row["from_date"],
            to_date=row["to_date"],
            for_vendors=bool(row["for_vendors"]),
            stored_payload=note_of(row["stored_payload"]) if row["stored_payload"] else None,
        )
        for row in rows
    ]


async def insert_cancellation(db: asyncpg.Connection, nrn: str, reason: str | None) -> bool:
    """Record the first cancellation of `nrn`; False when one exists already."""
    row = await db.fetchrow(
        """
        INSERT INTO notice_cancellations (nrn, cancel_reason, status_code, response)
        VALUES ($1, $2, 0, '{}') ON CONFLICT (nrn) DO NOTHING RETURNING nrn
        """,
        nrn,
        reason,
    )
    return row is not None


@dataclass(frozen=True, slots=True)
class CancelAnswer:
    """The answer to a cancellation, kept so that every repeat gets the first one."""

    status_code: int  # 200: applied; 202: kept for a note not received yet
    nrn: str
    reverted: int
    reattributed: int


async def first_cancellation_answer(db: asyncpg.Connection, nrn: str) -> CancelAnswer:
    row = await db.fetchrow(
        """
        SELECT status_code, (response->>'revertedAbsences')::int AS reverted,
               (response->>'reattributedAbsences')::int AS reattributed
        FROM notice_cancellations WHERE nrn = $1
        """,
        nrn,
    )
    assert row is not None
    return CancelAnswer(row["status_code"], nrn, row["reverted"], row["reattributed"])


async def store_cancellation_answer(db: asyncpg.Connection, answer: CancelAnswer) -> None:
    """Keep the first answer (stored as the contract's answer body, as before)."""
    await db.execute(
        """
        UPDATE notice_cancellations
        SET status_code = $2,
            response = jsonb_build_object('nrnMedicalNotice', $1::text, 'status', 'cancelled',
                                          'revertedAbsences', $3::int,
                                          'reattributedAbsences', $4::int)
        WHERE nrn = $1
        """,
        answer.nrn,
        answer.status_code,
        answer.reverted,
        answer.reattributed,
    )


async def mark_cancelled(
    db: asyncpg.Connection, nrn: str, reason: str | None, actor: str
) -> int | None:
    """Cancel the active note `nrn` (audited); its id, or None when no such note has arrived."""
    value: int | None = await db.fetchval(
        """
        WITH cancelled AS (
            UPDATE medical_notices
            SET status = 'cancelled', cancelled_at = now(), processed_at = now()
            WHERE nrn = $1 AND status = 'active'
            RETURNING id
        ),
        audited AS (
            INSERT INTO audit_log (actor, action, notice_id, before, after)
            SELECT $3, 'note.cancelled', id, jsonb_build_object('status', 'active'),
                   jsonb_build_object('status', 'cancelled', 'cancelReason', $2::text)
            FROM cancelled
        )
        SELECT id FROM cancelled
        """,
        nrn,
        reason,
        actor,
    )
    return value


async def audit_early_cancellation(
    db: asyncpg.Connection, nrn: str, reason: str | None, actor: str
) -> None:
    """A cancellation kept for a note not received yet (no note id to name)."""
    await db.execute(
        """
        INSERT INTO audit_log (actor, action, after)
        VALUES ($1, 'note.cancelled_before_arrival',
                jsonb_build_object('nrnMedicalNotice', $2::text, 'cancelReason', $3::text))
        """,
        actor,
        nrn,
        reason,
    )


async def person_of_note(db: asyncpg.Connection, nrn: str) -> int | None:
    value: int | None = await db.fetchval(
        "SELECT person_id FROM medical_notices WHERE nrn = $1", nrn
    )
    return value


async def note_identity(db: asyncpg.Connection, nrn: str) -> tuple[int, str] | None:
    """A note's identity (kind, identifier): it never changes once the note is kept."""
    row = await db.fetchrow(
        "SELECT identifier_kind, identifier FROM medical_notices WHERE nrn = $1", nrn
    )
    return (row["identifier_kind"], row["identifier"]) if row else None


_LINK = f"""
WITH note AS (
    SELECT id, person_id AS was, identifier_kind, identifier FROM medical_notices
    WHERE nrn = $1 FOR UPDATE
),
target AS (
    -- The operator's person, or (null) whoever holds the note's identifier, if anyone.
    SELECT note.id,
           coalesce($2::bigint, (SELECT coalesce(p.id, f.person_id)
               FROM (SELECT 1) AS one
               LEFT JOIN persons AS p
                      ON p.identifier_kind = note.identifier_kind
                     AND p.identifier = note.identifier
               LEFT JOIN former_identifiers AS f
                      ON f.identifier_kind = note.identifier_kind
                     AND f.identifier = note.identifier)) AS now
    FROM note
),
moved AS (
    UPDATE medical_notices AS n
       SET person_id = t.now, matched_manually = $2::bigint IS NOT NULL,
           matched_at = CASE WHEN t.now IS NULL THEN NULL ELSE now() END, processed_at = now()
      FROM target AS t
     WHERE n.id = t.id
    RETURNING n.id, t.now, n.from_date, n.to_date, n.status
),
cleared AS (
    DELETE FROM placements WHERE notice_id IN (SELECT id FROM moved)
),
placed AS (
    INSERT INTO placements (notice_id, institution_id, class_name, section, from_date, to_date)
    {
    placement_runs(
        "(SELECT id AS notice_id, now AS person_id, from_date, to_date "
        "FROM moved WHERE now IS NOT NULL)"
    )
}
),
audited AS (
    INSERT INTO audit_log (actor, action, notice_id, before, after)
    SELECT $3, CASE WHEN m.now IS NULL THEN 'note.unmatched' ELSE 'note.matched' END, m.id,
           jsonb_build_object('personId', note.was),
           jsonb_build_object('personId', m.now, 'byOperator', $2::bigint IS NOT NULL,
                              'reason', $4::text)
    FROM moved AS m JOIN note ON note.id = m.id
)
SELECT m.id, note.was, m.now, m.from_date, m.to_date, m.status
FROM moved AS m JOIN note ON note.id = m.id
"""


@dataclass(frozen=True, slots=True)
class Linked:
    notice_id: int
    was: int | None
    now: int | None
    from_date: dt.date
    to_date: dt.date
    cancelled: bool


async def link(
    db: asyncpg.Connection, nrn: str, person_id: int | None, reason: str, actor: str
) -> Linked | None:
    """Link the note to `person_id` by hand (None: back to its identifier's holder), placed
    anew, audited; None when there is no such note."""
    row = await db.fetchrow(_LINK, nrn, person_id, actor, reason)
    if row is None:
        return None
    return Linked(
        row["id"],
        row["was"],
        row["now"],
        row["from_date"],
        row["to_date"],
        row["status"] == "cancelled",
    )


@dataclass(frozen=True, slots=True)
class Rejection:
    """A pushed item judged invalid or conflict (or a body refused whole: no index),
    already cut to what the helpdesk may see (notices/rejections.py)."""

    index: int | None
    nrn: str | None
    outcome: str
    errors: Any
    item: Any


async def insert_rejections(
    db: asyncpg.Connection, client: str, rejections: Sequence[Rejection]
) -> None:
    await db.execute(
        """
        INSERT INTO rejections (client, item_index, nrn, outcome, errors, item)
        SELECT $1, i, n, o, e::jsonb, it::jsonb
        FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::text[]) AS t(i, n, o, e, it)
        """,
        client,
        [r.index for r in rejections],
        [r.nrn for r in rejections],
        [r.outcome for r in rejections],
        [json.dumps(r.errors, ensure_ascii=False) for r in rejections],
        [json.dumps(r.item, ensure_ascii=False) for r in rejections],
    )


async def purge_rejections(db: asyncpg.Connection, older_than: dt.datetime) -> int:
    status: str = await db.execute("DELETE FROM rejections WHERE at < $1", older_than)
    return int(status.split()[-1])


@dataclass(frozen=True, slots=True)
class NoteRow:
    """A note with its placements, the absences it holds, and where it was delivered."""

    notice_id: int
    nrn: str
    received_at: dt.datetime
    processed_at: dt.datetime
    status: str
    person_id: int | None
    payload: str  # the normalised note, JSON
    placements: str  # JSON array (core/placement_sql.py)
    excused: int
    neispuo_diary: bool  # it covers a day NEISPUO's diary keeps
    vendors: int  # how many vendors' days it covers


async def notice_view_row(db: asyncpg.Connection, nrn: str) -> NoteRow | None:
    """A note with its placements, the absences it holds, and where it was delivered:
    whether it covers a day NEISPUO's diary keeps, and how many vendors' days."""
    row = await db.fetchrow(
        f"""
        WITH note AS (SELECT * FROM medical_notices WHERE nrn = $1),
        its_placements AS (
            SELECT p.* FROM placements AS p JOIN note ON note.id = p.notice_id
        ),
        kept AS (SELECT cut.diary_client_id FROM ({by_diary("its_placements")}) AS cut)
        SELECT n.id AS notice_id, n.nrn, n.received_at, n.processed_at, n.status, n.person_id,
               n.payload::text AS payload,
               coalesce((SELECT {placements_array("p")} FROM placements AS p
                         WHERE p.notice_id = n.id), '[]')::text AS placements,
               {held_absences_sql("n")} AS excused,
               EXISTS (SELECT 1 FROM kept WHERE diary_client_id IS NULL) AS neispuo_diary,
               (SELECT count(DISTINCT diary_client_id) FROM kept) AS vendors
        FROM note AS n
        """,
        nrn,
    )
    return row_as(NoteRow, row)


@dataclass(frozen=True, slots=True)
class Waiting:
    """The active notes still waiting for their pupil: how many, and since when."""

    count: int
    oldest: dt.datetime | None


async def unmatched_waiting(db: asyncpg.Connection) -> Waiting:
    row = await db.fetchrow(
        "SELECT count(*) AS count, min(received_at) AS oldest FROM medical_notices "
        "WHERE person_id IS NULL AND status = 'active'"
    )
    assert row is not None
    return Waiting(row["count"], row["oldest"])
