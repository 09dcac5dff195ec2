"""Reissues: a doctor cannot amend a sent note, so they cancel it and issue a new one.

A note B replaces a note A when
- both are of the same examination (`nrn_examination`) and of the same person: the same
  registered person while both are matched; while either is unmatched, the examination
  alone says it (an examination is one patient's in NZIS; this is how a note whose ЕГН
  was mistyped, and so unmatched, links to the note that corrects it);
- A is cancelled, and B is the first note of them to arrive after A (ids follow arrival)
  within `REISSUE_WINDOW` of A's cancellation (when NZIS sent it: a cancellation that
  came before its note counts from then). A third note replaces nothing of A's, so A's
  `replacedBy` and B's `replaces` always agree, and no two notes replace each other.
The link is read, never stored: it follows the notes' own rows (a late cancel, a late
match) and no write has to keep it up to date.

Cost, on a feed page of 1000 events: `replaced_by` runs only for a cancelled note, and
`replaces` looks only at the cancelled notes of the examination (the partial index
ix_medical_notices_cancelled_examination), so a page whose notes were not reissued pays
two index probes an event, however many notes share an examination NRN.

`visible` narrows the other note to those its reader may know of (a vendor: notes it was
issued; a regional operator: notes placed in its region); it is SQL on the alias `other`.
"""

from __future__ import annotations

REISSUE_WINDOW = "14 days"


def _same_person(a: str, b: str) -> str:
    return f"""({a}.nrn_examination = {b}.nrn_examination
        AND ({a}.person_id IS NULL OR {b}.person_id IS NULL OR {a}.person_id = {b}.person_id))"""


def _cancelled_at(alias: str) -> str:
    """When NZIS cancelled the note `alias`: its cancellation's arrival, or (a note that
    arrived already cancelled) its own."""
    return f"""coalesce((SELECT c.received_at FROM notice_cancellations AS c
                         WHERE c.nrn = {alias}.nrn), {alias}.cancelled_at)"""


def _in_window(new: str, old: str) -> str:
    """SQL: `new` arrived in the window after `old`'s cancellation (cancelled_at ≤
    received_at < cancelled_at + window), the cancellation looked up once."""
    return f"""(tstzrange({new}.received_at - interval '{REISSUE_WINDOW}', {new}.received_at,
                   '(]') @> {_cancelled_at(old)})"""


def _of_examination(note: str, ids: str, cancelled: bool = False) -> str:
    """SQL: the notes of `note`'s examination whose id is `ids` (e.g. "> n.id"), in id
    order. OFFSET 0 keeps the planner from reaching them through another index (the
    window's received_at): the examination's index, and only its rows, at any size."""
    only = "status = 'cancelled' AND " if cancelled else ""
    return f"""(SELECT * FROM medical_notices
        WHERE {only}nrn_examination = {note}.nrn_examination AND id {ids}
        ORDER BY id OFFSET 0)"""


def replaced_by(note: str, visible: str = "true") -> str:
    """SQL: the NRN of the note that replaces `note` (an alias of medical_notices), or NULL:
    the first note of its examination and person to arrive after it, in the window."""
    return f"""CASE WHEN {note}.status = 'cancelled' THEN (
        SELECT CASE WHEN {visible} THEN other.nrn END
        FROM {_of_examination(note, f"> {note}.id")} AS other
        WHERE {_same_person("other", note)} AND {_in_window("other", note)}
        ORDER BY other.id LIMIT 1) END"""


def replaces(note: str, visible: str = "true") -> str:
    """SQL: the NRN of the note that `note` replaces, or NULL: the latest cancelled note of
    its examination and person whose first successor in the window it is."""
    # The gate is one probe of the partial index: most notes' examinations have no
    # cancelled note, and the search below is not run for them.
    return f"""CASE WHEN EXISTS (
        SELECT 1 FROM medical_notices AS gate
        WHERE gate.status = 'cancelled' AND gate.nrn_examination = {note}.nrn_examination
          AND gate.id < {note}.id) THEN (
        SELECT CASE WHEN {visible} THEN other.nrn END
        FROM {_of_examination(note, f"< {note}.id", cancelled=True)} AS other
        WHERE {_same_person(note, "other")} AND {_in_window(note, "other")}
          AND NOT EXISTS (
              SELECT 1 FROM {_of_examination("other", f"BETWEEN other.id + 1 AND {note}.id - 1")}
                  AS earlier
              WHERE {_same_person("earlier", "other")} AND {_in_window("earlier", "other")})
        ORDER BY other.id DESC LIMIT 1) END"""
