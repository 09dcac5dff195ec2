"""SQL of the feedback to doctors: what became of one doctor's notes (NZIS relays it to
the practitioner's software). Nothing about pupils: counts, and the NRNs of the notes no
pupil was found for."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import asyncpg


@dataclass(frozen=True, slots=True)
class DoctorDigest:
    notes: int
    matched: int
    reached_diary: int  # placed on a day a diary keeps: NEISPUO's or a vendor's
    cancelled: int
    unmatched: tuple[str, ...]  # active notes no pupil was found for: a mistyped identifier?


async def digest(
    db: asyncpg.Connection, pmi: str, from_date: dt.date, to_date: dt.date
) -> DoctorDigest:
    """The notes of `pmi` authored (local date) from `from_date` through `to_date`: one
    statement, by the (pmi, authored_on) index."""
    row = await db.fetchrow(
        """
        WITH its AS (
            SELECT n.id, n.nrn, n.status, n.person_id,
                   EXISTS (SELECT 1 FROM placements AS p WHERE p.notice_id = n.id) AS placed
            FROM medical_notices AS n
            WHERE n.pmi = $1 AND n.authored_on >= $2::date AND n.authored_on < $3::date + 1
        )
        SELECT count(*) AS notes,
               count(*) FILTER (WHERE person_id IS NOT NULL) AS matched,
               count(*) FILTER (WHERE placed) AS reached,
               count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
               coalesce(array_agg(nrn ORDER BY nrn)
                        FILTER (WHERE person_id IS NULL AND status = 'active'), '{}')
                   AS unmatched
        FROM its
        """,
        pmi,
        from_date,
        to_date,
    )
    assert row is not None
    return DoctorDigest(
        row["notes"], row["matched"], row["reached"], row["cancelled"], tuple(row["unmatched"])
    )
