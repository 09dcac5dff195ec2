"""Reissues: a doctor cannot amend a sent note, so they cancel it and issue a new one.

A note replaces another when it arrived within `REISSUE_WINDOW` after the other was
cancelled, for the same person and the same examination (`nrn_examination`). "The same
person" is the same registered person, or, while either is unmatched, the same
identifier. The link is read, never stored: it follows the notes' own rows (a cancel
that arrives late, a note matched late) and no write has to keep it up to date. Both
subqueries start from the note's examination NRN (ix_medical_notices_nrn_examination),
so their cost is that of the handful of notes of one examination, at any registry size.
"""

from __future__ import annotations

REISSUE_WINDOW = "14 days"

_SAME_PERSON = """(
    {other}.person_id = {note}.person_id
    OR ({other}.identifier_kind = {note}.identifier_kind
        AND {other}.identifier = {note}.identifier))"""


def replaces(note: str) -> str:
    """SQL: the NRN of the note that `note` (an alias of medical_notices) replaces, or NULL:
    the one cancelled last before it arrived, within the window."""
    return f"""(
        SELECT old.nrn FROM medical_notices AS old
        WHERE old.nrn_examination = {note}.nrn_examination AND old.id <> {note}.id
          AND old.status = 'cancelled'
          AND {note}.received_at >= old.cancelled_at
          AND {note}.received_at < old.cancelled_at + interval '{REISSUE_WINDOW}'
          AND {_SAME_PERSON.format(other="old", note=note)}
        ORDER BY old.cancelled_at DESC, old.id DESC LIMIT 1)"""


def replaced_by(note: str) -> str:
    """SQL: the NRN of the note that replaces `note`, or NULL: the first to arrive after
    `note` was cancelled, within the window."""
    return f"""(
        SELECT new.nrn FROM medical_notices AS new
        WHERE new.nrn_examination = {note}.nrn_examination AND new.id <> {note}.id
          AND {note}.status = 'cancelled'
          AND new.received_at >= {note}.cancelled_at
          AND new.received_at < {note}.cancelled_at + interval '{REISSUE_WINDOW}'
          AND {_SAME_PERSON.format(other="new", note=note)}
        ORDER BY new.received_at, new.id LIMIT 1)"""
