"""The parent's view (NEISPUO's `StudentMedicalNoticeController`, which calls it on a
parent's behalf): a pupil's notes of a school year, and for each covered day and each
institution the pupil was enrolled in that day, what the note did there, in words a
parent and a helpdesk can act on. The question parents lose money over is "which covered
days are still unexcused, and why"; each outcome answers it, first that applies:

- `notEnrolled`: the pupil was enrolled nowhere that day (no institution);
- `locked`: the note is cancelled, but the day is locked and an absence the note excused
  there stays excused (review reason `locked`);
- `cancelled`: the note is cancelled;
- `atVendor`: the day is kept in a vendor's diary, which the gateway hands the note to;
  `vendorAck` is the vendor's last answer (`excused`, `pendingTeacher`, `rejected`) or
  null while it has not answered;
- `nothingRecorded`: NEISPUO's diary has no absence there that day that a note excuses;
- `keptBySchool`: an absence that day was set unexcused by a person and stays so;
- `excused`: every absence of the day that a note can excuse is excused;
- `locked` again: some absence there is still unexcused on a locked day.
"""

from __future__ import annotations

import asyncpg

from notegateway.core.errors import NotFound
from notegateway.core.timeutil import (
    neispuo_datetime,
    school_year_days,
    school_year_of,
    today_in_sofia,
)
from notegateway.diary import parents_repository, repository
from notegateway.diary.parents_repository import DayCell
from notegateway.diary.schemas import NoteDay, PersonNotice, PersonNotices


def _outcome(cell: DayCell, status: str) -> str:
    if cell.institution_id is None:
        return "notEnrolled"
    if status == "cancelled":
        return "locked" if cell.locked and cell.held_by_this else "cancelled"
    if cell.at_vendor:
        return "atVendor"
    if not cell.recorded:
        return "nothingRecorded"
    if cell.kept_by_school:
        return "keptBySchool"
    if not cell.unexcused:
        return "excused"
    return "locked" if cell.locked else "keptBySchool"


async def person_notices(
    db: asyncpg.Connection, person_id: int, school_year: int | None
) -> PersonNotices:
    """The person's notes of `school_year` (default: today's), newest first, each with its
    days and what it did there."""
    if not await repository.person_exists(db, person_id):
        raise NotFound(f"no person {person_id}")
    year = school_year if school_year is not None else school_year_of(today_in_sofia())
    first, last = school_year_days(year)
    notes, cells = await parents_repository.person_days(db, person_id, first, last)
    days: dict[int, list[NoteDay]] = {n.notice_id: [] for n in notes}
    status = {n.notice_id: n.status for n in notes}
    for cell in cells:
        outcome = _outcome(cell, status[cell.notice_id])
        # The keys are sent only when they apply (the router leaves out what is unset).
        day: dict[str, object] = {"date": cell.date, "outcome": outcome}
        if cell.institution_id is not None:
            day["institution_id"] = cell.institution_id
        if outcome == "atVendor":
            day["vendor_ack"] = cell.vendor_ack
        days[cell.notice_id].append(NoteDay.model_validate(day))
    return PersonNotices(
        person_id=person_id,
        school_year=year,
        items=[
            PersonNotice(
                nrn_medical_notice=n.nrn,
                authored_on=neispuo_datetime(n.authored_on),
                from_date=n.from_date,
                to_date=n.to_date,
                pmi=n.pmi,
                status=n.status,
                excused_absences=n.excused,
                days=days[n.notice_id],
            )
            for n in notes
        ],
    )
