"""SQL of what became of notes with the vendors, for operators: when each was first
served a note, its acknowledgements, its acks on the feed. (Written by the vendors' own
reads; read only by the operators' views.)"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from notegateway.core.db import rows_as
from notegateway.core.placement_sql import by_diary


async def record_served(db: asyncpg.Connection, vendor_id: int, notice_ids: Sequence[int]) -> None:
    """The vendor was served these notes (by `next` or its feed); the first time is kept."""
    if notice_ids:
        await db.execute(
            "INSERT INTO vendor_deliveries (vendor_id, notice_id) "
            "SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING",
            vendor_id,
            sorted(set(notice_ids)),
        )


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """What became of a note with one vendor whose days it covers (or that was served it)."""

    vendor: str
    institutions: list[int]  # the vendor's institutions whose days the note covers
    first_served_at: dt.datetime | None
    acknowledged_at: dt.datetime | None  # NEISPUO's /acknowledge
    ack: str | None  # its last ack on the feed


async def deliveries_of_note(db: asyncpg.Connection, notice_id: int) -> list[DeliveryRow]:
    """Per vendor that the note reached or was meant for: first served, acknowledged
    (NEISPUO's /acknowledge), and its last ack on the feed."""
    rows = await db.fetch(
        f"""
        WITH its_placements AS (SELECT p.* FROM placements AS p WHERE p.notice_id = $1),
        kept AS (
            SELECT cut.diary_client_id AS vendor_id, cut.institution_id
            FROM ({by_diary("its_placements")}) AS cut
            WHERE cut.diary_client_id IS NOT NULL
        ),
        meant AS (
            SELECT vendor_id FROM kept
            UNION SELECT vendor_id FROM vendor_deliveries WHERE notice_id = $1
            UNION SELECT vendor_id FROM vendor_reads WHERE notice_id = $1
            UNION SELECT vendor_id FROM vendor_acks WHERE notice_id = $1
        )
        SELECT c.name AS vendor,
               ARRAY(SELECT DISTINCT k.institution_id FROM kept AS k
                     WHERE k.vendor_id = m.vendor_id ORDER BY 1) AS institutions,
               d.first_served_at, r.acknowledged_at, a.outcome AS ack
        FROM meant AS m
        JOIN clients AS c ON c.id = m.vendor_id
        LEFT JOIN vendor_deliveries AS d ON d.vendor_id = m.vendor_id AND d.notice_id = $1
        LEFT JOIN vendor_reads AS r ON r.vendor_id = m.vendor_id AND r.notice_id = $1
        LEFT JOIN vendor_acks AS a ON a.vendor_id = m.vendor_id AND a.notice_id = $1
        ORDER BY c.name
        """,
        notice_id,
    )
    return rows_as(DeliveryRow, rows)


async def ack_counts(db: asyncpg.Connection) -> dict[str, dict[str, int]]:
    """Per vendor and outcome, how many notes its diary acknowledged on the feed."""
    rows = await db.fetch(
        "SELECT c.name, a.outcome, count(*) AS notes FROM vendor_acks AS a "
        "JOIN clients AS c ON c.id = a.vendor_id GROUP BY c.name, a.outcome"
    )
    counts: dict[str, dict[str, int]] = {}
    for vendor, outcome, notes in (tuple(r.values()) for r in rows):
        counts.setdefault(vendor, {})[outcome] = notes
    return counts


@dataclass(frozen=True, slots=True)
class AckRow:
    """What a vendor's diary last said it did with the note (its ack on the feed)."""

    vendor: str
    outcome: str
    excused_absences: int
    comment: str | None
    at: dt.datetime


async def acks_of_note(db: asyncpg.Connection, notice_id: int) -> list[AckRow]:
    rows = await db.fetch(
        """
        SELECT c.name AS vendor, a.outcome, a.excused_absences, a.comment, a.at
        FROM vendor_acks AS a JOIN clients AS c ON c.id = a.vendor_id
        WHERE a.notice_id = $1
        ORDER BY a.at, a.vendor_id  -- not by name: NZIS sees the acks without their vendor
        """,
        notice_id,
    )
    return rows_as(AckRow, rows)
