"""The excusal rules of the contract ("Matching and excusal"), in one place.

Read this module against the contract; `diary/reconcile_repository.py` applies exactly
these rules, set-based, to every absence in scope, in one statement.

1. Who may be excused. An absence is in the gateway's hands when
   - the diary that keeps its institution-day is NEISPUO's own: each institution's days
     are kept by one diary per period (`institution_diaries`: the first diary holds every
     day up to the next change, a change holds from its `diaryFrom`), and the absence's
     date picks the period. On days a vendor's diary keeps, the gateway changes no
     absence; when a diary changes, excusals already made stay as they are;
   - no person has set it: absences posted as `excused` by the diary, or changed with
     PATCH, are left alone (`setByPerson`);
   - it is `unexcused` (lesson absences and preschool days, `lesson: null`, alike), or a
     note excused it. Late arrivals (`late`) are never touched, nor are absences from
     personal development support activities (`dplr`: NEISPUO's ДПЛР class book, kept
     "for information only"; its medical-note job never excuses them).

2. Which note covers it. A note covers an absence when the note is active (not
   cancelled), is matched to the absence's person (by the person's current identifier or
   a former one), and placed that person in the absence's institution on the absence's
   date. Placements are per day, in every enrollment valid that day: a pupil in a school
   and a centre, or a class and a group, or two schools during a move, has each day
   placed in each of them.

3. Who holds it. Of the notes that cover an absence, the one received first holds it
   (the smallest medicalNoticeId: ids are given in arrival order, in input order within
   a batch), at all times.

4. What holding means. A held absence is `excused`, reason `medical`, `excusedByNrn` the
   holder, and carries the holder's comment (`excusal_comment` below). An absence in the
   gateway's hands that no note covers any more (the note was cancelled, or a registry
   change moved the day elsewhere) returns to `unexcused`, reason and comment cleared;
   if another note covers it, that note takes it over with its own comment.

5. Hands off after a person. An absence a person changed after a note excused it stays
   as it is when that note stops covering it, and is listed for review (`/api/v1/ops/review`)
   until the note covers it again, or an operator closes it: `keep` leaves it as the
   person set it, no longer tied to that note; `unexcuse` makes it unexcused and puts it
   in the gateway's hands again, so a note that covers it excuses it at once.

6. Locked days. An institution's diary may be closed through a day (`lockedThrough`: a
   signed class book, a month reported to social assistance). On a locked day a note
   still excuses and may take over (NEISPUO's own job excuses in closed books), but
   nothing excused turns back to unexcused: where rule 4 would revert an absence, it
   stays excused as it is, tied to its note, and is listed for review (`locked`) until
   a note holds it again or an operator closes it (`unexcuse` is the operator's
   decision, and reverts it even on a locked day).

7. A person's override. A person turning back to `unexcused` an absence that an active
   note covers (PATCH) decides for the diary's owner, and it stands; but it is listed
   for review (`unexcusedUnderNote`, with the covering note) while it lasts, so that no
   override of a doctor's note goes unseen before the month is reported.

8. When. These rules are applied in the same transaction as whatever changes their
   inputs: a note arriving or cancelled, an absence recorded, changed or deleted, a
   registry write, a diary change; once per request, by its last step
   (`notegateway/settle.py`).

9. Every change to an absence is written to the append-only audit log, with the state
   before and after; a deleted absence's history stays there.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum


class Kind(StrEnum):
    UNEXCUSED = "unexcused"
    EXCUSED = "excused"
    LATE = "late"
    DPLR = "dplr"  # personal development support: for information only (rule 1)


class Why(StrEnum):
    """Why an absence is listed for review (the console says it in Bulgarian)."""

    NOTE_CANCELLED = "noteCancelled"  # rule 5: a person's absence, its note cancelled
    NOTE_MOVED = "noteMoved"  # rule 5: its note no longer covers that day there
    LOCKED = "locked"  # rule 6: kept excused on a locked day
    UNEXCUSED_UNDER_NOTE = "unexcusedUnderNote"  # rule 7: a person's override


MEDICAL_REASON = "medical"
NEISPUO_DIARY = "neispuo"


class Action(StrEnum):
    """Audit log actions."""

    EXCUSED = "absence.excused"  # a note began to hold an unexcused absence
    REATTRIBUTED = "absence.reattributed"  # another note took over a held absence
    REVERTED = "absence.reverted"  # no note holds it any more: back to unexcused
    CHANGED_BY_PERSON = "absence.changed_by_person"  # PATCH
    RECORDED = "absence.recorded"  # POST
    REVIEW = "absence.review"  # a person's absence lost its note: listed for review
    REVIEW_RESOLVED = "absence.review_resolved"  # its note covers it again: off the list
    REVIEW_CLOSED = "absence.review_closed"  # an operator kept or unexcused it: off the list
    DELETED = "absence.deleted"  # the diary removed it (entered by mistake)
    NOTE_RECEIVED = "note.received"
    NOTE_CANCELLED = "note.cancelled"
    NOTE_MATCHED = "note.matched"
    NOTE_UNMATCHED = "note.unmatched"
    NOTE_REDELIVERED = "note.redelivered"  # an operator handed it to a vendor again


def _day(value: dt.date) -> str:
    return value.strftime("%d.%m.%Y")


def excusal_comment(
    nrn: str, authored_on: dt.datetime, from_date: dt.date, to_date: dt.date, pmi: str
) -> str:
    """The comment NEISPUO writes on an absence a note excused (one day, or a period)."""
    head = f"Автоматично уважено с електронна медицинска бележка {nrn}/{_day(authored_on)}"
    if from_date == to_date:
        span = f"за дата {_day(from_date)}"
    else:
        span = f"за периода {_day(from_date)} - {_day(to_date)}"
    return f"{head} {span}. УИН на лекаря - {pmi}."
