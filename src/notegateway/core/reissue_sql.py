"""Reissues: a doctor cannot amend a sent note, so they cancel it and issue a new one.

A note B replaces a note A when
- both are of the same examination (`nrn_examination`) and of the same person: the same
  registered person while both are matched; while either is unmatched, the examination
  alone says it (an examination is one patient's in NZIS; this is how a note whose ЕГН
  was mistyped, and so unmatched, links to the note that corrects it);
- A is cancelled, B arrived after A (a larger id: ids follow arrival) and within
  `REISSUE_WINDOW` of A's cancellation (when NZIS sent it: a cancellation that came
  before its note counts from then);
- B is the first such note: a third one replaces nothing of A's (A's `replacedBy` and
  B's `replaces` always agree, and no two notes replace each other).
The link is read, never stored: it follows the notes' own rows (a late cancel, a late
match) and no write has to keep it up to date. Each subquery starts from the note's
examination NRN (ix_medical_notices_nrn_examination): a handful of rows at any size.

`visible` narrows the other note to those its reader may know of (a vendor: notes it was
issued; a regional operator: notes placed in its region); it is SQL on the alias `other`.
"""

from __future__ import annotations

REISSUE_WINDOW = "14 days"


def _same_person(a: str, b: str) -> str:
    return f"""(({a}.person_id IS NULL OR {b}.person_id IS NULL
                OR {a}.person_id = {b}.person_id)
               AND {a}.nrn_examination = {b}.nrn_examination)"""


def _cancelled_at(alias: str) -> str:
    """When NZIS cancelled the note `alias`: its cancellation's arrival, or (a note that
    arrived already cancelled) its own."""
    return f"""coalesce((SELECT c.received_at FROM notice_cancellations AS c
                         WHERE c.nrn = {alias}.nrn), {alias}.cancelled_at)"""


def _follows(new: str, old: str) -> str:
    """SQL: `new` is the first note after `old` that replaces it (`old` cancelled)."""
    return f"""({old}.status = 'cancelled' AND {new}.id > {old}.id
        AND {_same_person(new, old)}
        AND {new}.received_at >= {_cancelled_at(old)}
        AND {new}.received_at < {_cancelled_at(old)} + interval '{REISSUE_WINDOW}'
        AND NOT EXISTS (
            SELECT 1 FROM medical_notices AS earlier
            WHERE earlier.nrn_examination = {old}.nrn_examination
              AND earlier.id > {old}.id AND earlier.id < {new}.id
              AND {_same_person("earlier", old)}
              AND earlier.received_at >= {_cancelled_at(old)}))"""


def replaces(note: str, visible: str = "true") -> str:
    """SQL: the NRN of the note that `note` (an alias of medical_notices) replaces, or NULL."""
    return f"""(
        SELECT other.nrn FROM medical_notices AS other
        WHERE other.nrn_examination = {note}.nrn_examination AND other.id < {note}.id
          AND {_follows(note, "other")} AND {visible}
        ORDER BY other.id DESC LIMIT 1)"""


def replaced_by(note: str, visible: str = "true") -> str:
    """SQL: the NRN of the note that replaces `note`, or NULL."""
    return f"""(
        SELECT other.nrn FROM medical_notices AS other
        WHERE other.nrn_examination = {note}.nrn_examination AND other.id > {note}.id
          AND {_follows("other", note)} AND {visible}
        ORDER BY other.id LIMIT 1)"""
