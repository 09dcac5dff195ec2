"""Registry rules: institutions and their diary periods, persons, identifier history,
enrollments, and re-matching.

A person write re-matches the notes of the identities it touches and re-places the
person's days in the same transaction, under the locks of the persons and of every
identity involved (core/locks.py), so a note and a registry write that commit at the same
moment never leave a note unmatched, or on the wrong person.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

import asyncpg

from notegateway.clients import repository as clients_repository
from notegateway.core import locks, metrics
from notegateway.core.db import plan_for
from notegateway.core.errors import Conflict, NotFound, Unprocessable
from notegateway.core.identifiers import identifier_kind
from notegateway.core.settling import Changes, settle
from notegateway.core.timeutil import FOREVER, NEVER, today_in_sofia
from notegateway.registry import institutions_repository, repository
from notegateway.registry.institutions_repository import DiaryPeriod
from notegateway.registry.persons_plan import Chunk, PersonResult, plan_writes
from notegateway.registry.repository import EnrollmentRow, enrollment_order
from notegateway.registry.schemas import (
    NEISPUO_DIARY,
    DiaryPeriodOut,
    EnrollmentOut,
    FormerIdentifierOut,
    InstitutionIn,
    InstitutionOut,
    PersonBatchItemIn,
    PersonOut,
)
from notegateway.registry.validation import JudgedPerson

log = logging.getLogger(__name__)


async def put_institution(
    db: asyncpg.Connection, institution_id: int, institution: InstitutionIn, actor: str
) -> bool:
    """Create or replace an institution; True when new.

    Diary periods: the first diary holds every day up to its next change. Naming a diary
    other than the latest period's starts a new period on `diaryFrom` (default: today in
    Sofia), which holds until the next one; a `diaryFrom` on the latest period's first day
    replaces that period's diary; one before it: 422. Excusals already made stay; for the
    new period's days vendors are told nothing of notes already handed on, and NEISPUO's
    rules, when the diary is its own, apply at once.
    """
    diary_client_id = None
    if institution.diary != NEISPUO_DIARY:
        diary_client_id = await clients_repository.vendor_id_by_name(db, institution.diary)
        if diary_client_id is None:
            raise Unprocessable(
                f"diary must be {NEISPUO_DIARY!r} or the name of a vendor client",
                [{"loc": ["diary"], "msg": "no vendor client has this name"}],
            )
    locked = (
        (institution.locked_through,) if "locked_through" in institution.model_fields_set else None
    )
    created = await institutions_repository.upsert_institution(
        db, institution_id, institution.name, institution.town, institution.region, locked
    )
    stored = await institutions_repository.get_institution(db, institution_id)
    periods = stored.diaries if stored else []
    start = institution.diary_from or today_in_sofia()
    if periods and institution.diary_from is not None and start < periods[-1].from_date:
        raise Unprocessable(
            "diaryFrom is before the start of the latest diary period",
            [
                {
                    "loc": ["diaryFrom"],
                    "msg": f"must not be before {periods[-1].from_date.isoformat()}",
                }
            ],
        )
    if periods and periods[-1].diary_client_id == diary_client_id:
        return created  # the latest period's diary: no period changes
    if periods and start < periods[-1].from_date:
        # A change with no diaryFrom, before a period that starts in the future.
        raise Unprocessable(
            "diaryFrom is needed: the latest diary period starts after today",
            [{"loc": ["diaryFrom"], "msg": "required here"}],
        )
    # The absences here cannot change meanwhile (the row is locked): lock their persons,
    # and every identity, so that no note is placed while the periods change.
    person_ids = (
        await institutions_repository.absences_from(db, institution_id, start)
        if diary_client_id is None and not created
        else []
    )
    if not created:
        await locks.lock_persons(db, person_ids, every_identity=True)
    start = await _new_period(
        db, institution_id, periods, start, (diary_client_id, institution.diary), actor
    )
    if created:
        return True
    changes = Changes(
        quietly=await institutions_repository.notices_placed_in(db, institution_id, start)
    )
    for person_id in person_ids:
        changes.person(person_id, (start, FOREVER))
    await settle(db, actor, changes)
    return created


async def _new_period(
    db: asyncpg.Connection,
    institution_id: int,
    periods: list[DiaryPeriod],
    start: dt.date,
    diary: tuple[int | None, str],
    actor: str,
) -> dt.date:
    """Write the diary period that `diary` (client id, name) keeps from `start` on; the
    first day whose diary changed."""
    diary_client_id, name = diary
    new_name = {"institutionId": institution_id, "diary": name}
    if not periods:  # a new institution: its first diary holds every day
        await institutions_repository.write_diary_periods(
            db, institution_id, [], [(NEVER, FOREVER, diary_client_id)], (None, new_name), actor
        )
        return NEVER
    latest = periods[-1]
    before = {
        "institutionId": institution_id,
        "diary": latest.diary,
        "fromDate": _wire_date(latest.from_date),
    }
    after = {"institutionId": institution_id, "diary": name, "fromDate": start.isoformat()}
    if start == latest.from_date:
        previous = periods[-2] if len(periods) > 1 else None
        if previous is not None and previous.diary_client_id == diary_client_id:
            # Back to the diary before it: the two periods are one again.
            upsert = [(previous.from_date, FOREVER, diary_client_id)]
            await institutions_repository.write_diary_periods(
                db, institution_id, [latest.from_date], upsert, (before, after), actor
            )
            return start
        upsert = [(latest.from_date, FOREVER, diary_client_id)]
    else:
        end = start - dt.timedelta(days=1)
        upsert = [
            (latest.from_date, end, latest.diary_client_id),
            (start, FOREVER, diary_client_id),
        ]
    await institutions_repository.write_diary_periods(
        db, institution_id, [], upsert, (before, after), actor
    )
    return start


def _wire_date(value: dt.date) -> str | None:
    return None if value in (NEVER, FOREVER) else value.isoformat()


async def get_institution(db: asyncpg.Connection, institution_id: int) -> InstitutionOut:
    stored = await institutions_repository.get_institution(db, institution_id)
    if stored is None:
        raise NotFound(f"no institution {institution_id}")
    today = today_in_sofia()
    return InstitutionOut(
        institution_id=stored.institution_id,
        name=stored.name,
        town=stored.town,
        region=stored.region,
        locked_through=stored.locked_through,
        diary=next(p.diary for p in stored.diaries if p.from_date <= today <= p.to_date),
        diaries=[
            DiaryPeriodOut(
                diary=p.diary,
                from_date=None if p.from_date == NEVER else p.from_date,
                to_date=None if p.to_date == FOREVER else p.to_date,
            )
            for p in stored.diaries
        ],
    )


def _wanted(person: PersonBatchItemIn) -> repository.StoredPerson:
    rows: list[EnrollmentRow] = [
        (e.institution_id, e.class_name, e.section, e.from_date, e.to_date)
        for e in person.enrollments
    ]
    return repository.StoredPerson(
        person.person_id,
        person.identifier_type,
        identifier_kind(person.identifier_type),
        person.identifier,
        person.given_name or "",
        person.family_name or "",
        tuple(sorted(rows, key=enrollment_order)),
    )


async def put_persons(
    db: asyncpg.Connection, judged: Sequence[JudgedPerson], actor: str
) -> list[PersonResult]:
    """Create or replace persons as if one by one in input order, in a bounded number of
    set-based statements, and apply the rules once for all of them. The items were judged
    one by one already (`validation.judge_persons`)."""
    results: list[PersonResult] = []
    valid: list[tuple[PersonResult, PersonBatchItemIn]] = []
    for item in judged:
        result = PersonResult(item.index, item.person_id, "invalid", list(item.errors))
        results.append(result)
        if item.person is not None:
            valid.append((result, item.person))
    missing = await institutions_repository.missing_institutions(
        db, [e.institution_id for _, p in valid for e in p.enrollments]
    )
    known: list[tuple[PersonResult, repository.StoredPerson]] = []
    for result, person in valid:
        result.errors = [
            {"loc": ["enrollments", i, "institutionId"], "msg": "no such institution"}
            for i, e in enumerate(person.enrollments)
            if e.institution_id in missing
        ]
        if not result.errors:
            known.append((result, _wanted(person)))
    if not known:
        return results

    person_ids = sorted({p.person_id for _, p in known})
    named = {p.identity for _, p in known}
    await plan_for(db, len(known))
    await locks.lock_persons(db, person_ids, also=named)
    stored = await repository.stored_persons(db, person_ids)
    holders = await repository.holders(db, sorted(named | {p.identity for p in stored.values()}))
    changes = Changes()
    for chunk in plan_writes(known, stored, holders):
        await _write(db, chunk, actor, changes)
    await settle(db, actor, changes)
    return results


async def _write(db: asyncpg.Connection, chunk: Chunk, actor: str, changes: Changes) -> None:
    """One chunk of the batch (each person once), set-based; what it changed goes into
    `changes` for the one settle step."""
    await repository.upsert_persons(db, list(chunk.persons.values()))
    if chunk.identities:
        await repository.write_former_identifiers(db, chunk.claimed(), chunk.released())
    if chunk.enrollments:
        await repository.replace_enrollments(db, chunk.enrollments)
    replaced = list(chunk.enrollments)
    if not (chunk.identities or replaced):
        return
    rematched = await repository.rematch_and_place(db, list(chunk.identities), replaced, actor)
    # Every day of the persons written, and whatever the notes that moved held before.
    for person_id in {*replaced, *(h.person_id for h in chunk.identities.values())}:
        changes.person(person_id)
    changes.released += rematched.moved
    changes.notes += rematched.placed
    if rematched.newly_matched:
        metrics.NOTES_MATCHED_LATE.inc(rematched.newly_matched)
        log.info("registry write matched %d waiting note(s)", rematched.newly_matched)


async def put_person(db: asyncpg.Connection, judged: JudgedPerson, actor: str) -> bool:
    """PUT of one person; True when new. 422 when invalid, 409 on an identifier held by another."""
    [result] = await put_persons(db, [judged], actor)
    if result.outcome == "invalid":
        raise Unprocessable("the person is invalid", result.errors)
    if result.outcome == "conflict":
        raise Conflict("this identifier is held by another person", result.errors)
    return result.outcome == "created"


async def get_person(db: asyncpg.Connection, person_id: int) -> PersonOut:
    view = await repository.get_person(db, person_id)
    if view is None:
        raise NotFound(f"no person {person_id}")
    p = view.person
    return PersonOut(
        person_id=p.person_id,
        identifier_type=p.identifier_type,
        identifier=p.identifier,
        given_name=p.given_name,
        family_name=p.family_name,
        enrollments=[
            EnrollmentOut(
                institution_id=inst,
                class_name=cls,
                section=sec,
                from_date=start.isoformat(),
                to_date=end.isoformat() if end else None,
            )
            for inst, cls, sec, start, end in p.enrollments
        ],
        former_identifiers=[
            FormerIdentifierOut(identifier_type=kind, identifier=ident, until=until)
            for kind, ident, until in view.former
        ],
    )
