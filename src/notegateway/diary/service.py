"""NEISPUO's own diary: recording absences (excused at once when a note covers them), a
person's changes, and the class view of notes. The rules themselves: diary/excusal.py."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import asyncpg

from notegateway.core import feed, locks, metrics, paging
from notegateway.core.errors import BadRequest, Conflict, NotFound, Unprocessable
from notegateway.core.note_wire import note_of, placements_of
from notegateway.core.settling import Changes, settle
from notegateway.core.timeutil import school_year_days, school_years
from notegateway.diary import changes_repository, repository, review_repository
from notegateway.diary.excusal import Kind
from notegateway.diary.repository import Absence, NewAbsence, Posted
from notegateway.diary.schemas import (
    AbsenceIn,
    AbsencePatchIn,
    InstitutionNotice,
    InstitutionNoticeList,
)


async def record_absence(
    db: asyncpg.Connection, absence: AbsenceIn, actor: str
) -> tuple[bool, Absence]:
    """Record an absence (True when new); excused at once if an active note covers it."""
    # The institution first (its diary decides), then the person: the order a diary
    # switch takes them in.
    if not await repository.hold_institution(db, absence.institution_id):
        raise Unprocessable(
            "no such institution", [{"loc": ["institutionId"], "msg": "no such institution"}]
        )
    if not await locks.lock_persons(db, [absence.person_id]):
        raise Unprocessable("no such person", [{"loc": ["personId"], "msg": "no such person"}])
    new = NewAbsence(**absence.model_dump())  # the same fields, as posted
    posted = await repository.insert_absence(db, new, Kind(absence.kind) is Kind.EXCUSED, actor)
    if posted is Posted.OTHER:
        raise Conflict(
            f"absence {absence.absence_id} was posted with other fields; change it with PATCH"
        )
    if posted is Posted.NEW and Kind(absence.kind) is Kind.UNEXCUSED:
        changes = Changes()
        changes.person(absence.person_id, (absence.date, absence.date))
        await settle(db, actor, changes)
    stored = await repository.get_absence(db, absence.absence_id)
    assert stored is not None
    return posted is Posted.NEW, stored


async def change_absence(
    db: asyncpg.Connection, absence_id: int, patch: AbsencePatchIn, actor: str
) -> Absence:
    """A person sets kind and/or comment; from then on no note changes the absence."""
    given = patch.model_fields_set
    if not given:
        raise Unprocessable("nothing to change", [{"loc": [], "msg": "give kind and/or comment"}])
    if "kind" in given and patch.kind is None:
        raise Unprocessable("kind cannot be null", [{"loc": ["kind"], "msg": "must be a kind"}])
    person_id = await repository.person_of_absence(db, absence_id)
    if person_id is None:
        raise NotFound(f"no absence {absence_id}")
    await locks.lock_persons(db, [person_id])
    comment = (patch.comment,) if "comment" in given else None
    await repository.set_by_person(db, absence_id, patch.kind, comment, actor)
    stored = await repository.get_absence(db, absence_id)
    assert stored is not None
    # Rule 7: an override of a covering note is listed for review (and one undone leaves).
    settled = Changes()
    settled.person(person_id, (stored.date, stored.date))
    await settle(db, actor, settled)
    return stored


async def delete_absence(db: asyncpg.Connection, absence_id: int, actor: str) -> None:
    """The diary removed an absence entered by mistake: it counts nowhere from now on and
    leaves the review list; its history stays in the audit log, and the change feed says
    `absence.deleted`. Again for one already deleted: nothing; never recorded: 404."""
    person_id = await repository.person_of_absence(db, absence_id)
    if person_id is None:
        if await repository.was_deleted(db, absence_id):
            return
        raise NotFound(f"no absence {absence_id}")
    # The person's locks first, as every path that changes the person's absences takes
    # them: a note, a cancellation or a registry write on this pupil runs before or after.
    await locks.lock_persons(db, [person_id])
    audit_id = await repository.delete_absence(db, absence_id, person_id, actor)
    if audit_id is None:  # deleted (or re-posted for another pupil) meanwhile
        if await repository.person_of_absence(db, absence_id) is None:
            return
        raise Conflict(f"absence {absence_id} changed meanwhile; look again and retry")
    await settle(db, actor, Changes(absences=[audit_id]))


async def resolve_review(
    db: asyncpg.Connection, absence_id: int, resolution: str, reason: str, actor: str
) -> Absence:
    """An operator closes an absence's review (rule 5): `keep` or `unexcuse`; audited with
    the operator's name and reason. The absence as it is then."""
    person_id = await repository.person_of_absence(db, absence_id)
    if person_id is None:
        raise NotFound(f"no absence {absence_id}")
    await locks.lock_persons(db, [person_id])
    closed = await review_repository.resolve(db, absence_id, resolution, reason, actor)
    if closed is None:
        raise NotFound(f"absence {absence_id} is not listed for review")
    changes = Changes(absences=[closed.audit_id])
    if resolution == "unexcuse":  # back in the gateway's hands: a covering note takes it
        changes.person(person_id, (closed.date, closed.date))
    await settle(db, actor, changes)
    stored = await repository.get_absence(db, absence_id)
    assert stored is not None
    return stored


_ABSENCE_KEY = ((1, dt.date.max.toordinal()), (-1, 2**15 - 1), (1, 2**62))


async def list_absences(
    db: asyncpg.Connection,
    institution_id: int | None,
    person_id: int | None,
    from_date: dt.date | None,
    to_date: dt.date | None,
    after: str | None,
    limit: int,
) -> paging.Page[Absence]:
    """A page of an institution's or a person's absences (one of them is required)."""
    if institution_id is None and person_id is None:
        raise BadRequest(
            "give institutionId or personId",
            [{"loc": ["query", "institutionId"], "msg": "institutionId or personId is required"}],
        )
    key = paging.decode(after, _ABSENCE_KEY)
    start = (dt.date.fromordinal(key[0]), key[1], key[2]) if key else None
    rows = await repository.list_absences(
        db, institution_id, person_id, from_date, to_date, start, limit + 1
    )
    return paging.page(
        rows,
        limit,
        lambda a: [a.date.toordinal(), -1 if a.lesson is None else a.lesson, a.absence_id],
    )


async def institution_notices(
    db: asyncpg.Connection,
    institution_id: int,
    class_name: str | None,
    section: str | None,
    person_id: int | None,
    from_date: dt.date | None,
    to_date: dt.date | None,
    school_year: int | None = None,
) -> InstitutionNoticeList:
    """The class view; notes of `school_year` only (1 Sep – 30 Sep next year), when given."""
    if not await repository.institution_exists(db, institution_id):
        raise NotFound(f"no institution {institution_id}")
    year = school_year_days(school_year) if school_year is not None else None
    rows = await repository.institution_notices(
        db, institution_id, class_name, section, person_id, from_date, to_date, year
    )
    return InstitutionNoticeList(
        items=[
            InstitutionNotice(
                medical_notice_id=n.notice_id,
                person_id=n.person_id,
                given_name=n.given_name,
                family_name=n.family_name,
                transferred=n.transferred,
                status=n.status,
                excused_absences=n.excused,
                placements=placements_of(n.placements),
                school_years=school_years(n.from_date, n.to_date),
                his_medical_notice=note_of(n.payload),
            )
            for n in rows
        ]
    )


def change_reader(key: bytes, client_id: int) -> feed.Reader:
    """A NEISPUO client reading the change feed (one feed, each client its own cursors)."""
    return feed.Reader(changes_repository.CHANGES, key, client_id)


async def change_page(
    db: asyncpg.Connection, changes: feed.Reader, after: int | None, limit: int
) -> feed.Answer:
    """One page of the change feed after `after` (the oldest kept change when None)."""
    page = await feed.page(db, changes, after, limit, changes_repository.page)
    return page.answer(changes, "changes", lambda row: _change(changes, row))


def _change(changes: feed.Reader, row: asyncpg.Record) -> dict[str, Any]:
    """One change as the wire has it (diary/schemas.py: AbsenceChange), built as a dict from
    the row: a feed page is a hot path, as the vendors' (vendors/service.py:_event)."""
    return {
        "cursor": changes.cursor(row["seq"]),
        "at": row["at"].isoformat(),
        "absenceId": row["absence_id"],
        "personId": row["person_id"],
        "institutionId": row["institution_id"],
        "date": row["date"].isoformat(),
        "before": json.loads(row["before"]),
        "after": json.loads(row["after"]) if row["after"] is not None else None,
        "nrnMedicalNotice": row["nrn"],
        "action": row["action"],
    }


async def purge_changes(db: asyncpg.Connection, retention_days: int) -> int:
    older_than = dt.datetime.now(dt.UTC) - dt.timedelta(days=retention_days)
    return await feed.purge(db, changes_repository.CHANGES, older_than)


async def refresh_change_feed_metrics(db: asyncpg.Connection) -> None:
    """Per NEISPUO client, from the database: its last read of the change feed, the changes
    past its last position, and the age of the oldest of them."""
    CHANGE_FEED_GAUGES.report(await feed.lags(db, changes_repository.CHANGES, "neispuo"))


CHANGE_FEED_GAUGES = feed.LagGauges(
    metrics.CHANGE_FEED_LAST_READ, metrics.CHANGE_FEED_LAG_EVENTS, metrics.CHANGE_FEED_LAG_SECONDS
)


async def record_change_read(db: asyncpg.Connection, client_id: int, position: int) -> None:
    """The client was answered the change feed up to `position` (once per answer)."""
    await feed.record_read(db, changes_repository.CHANGES, client_id, position)
