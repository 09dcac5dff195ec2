"""Registry rules: institutions and their diaries, persons, enrollments, and re-matching.

A person write re-matches that person's notes by identifier and re-places their days in
the same transaction, under the identity's lock, so a note and a registry write that
commit at the same moment never leave a note unmatched while its person is registered.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from notegateway.clients import repository as clients_repository
from notegateway.core import locks, metrics
from notegateway.core.errors import Conflict, ErrorItem, NotFound, Unprocessable
from notegateway.core.identifiers import identifier_kind, identifier_problem
from notegateway.core.wire import known_names, validate_item
from notegateway.diary import service as diary_service
from notegateway.registry import repository
from notegateway.registry.schemas import (
    NEISPUO_DIARY,
    InstitutionIn,
    PersonBatchItemIn,
    PersonIn,
)
from notegateway.vendors import service as vendors_service

log = logging.getLogger(__name__)

PERSON_NAMES = known_names(PersonBatchItemIn)
INSTITUTION_NAMES = known_names(InstitutionIn)


async def put_institution(
    db: asyncpg.Connection, institution_id: int, body: Any, actor: str = "registry"
) -> bool:
    """Create or replace an institution; True when new.

    Excusals already made stay when the diary changes. When it becomes NEISPUO's own, the
    rules apply from then on, at once, to the absences kept there.
    """
    institution, errors = validate_item(InstitutionIn, body, INSTITUTION_NAMES)
    if institution is None:
        raise Unprocessable("the institution is invalid", errors)
    diary_client_id = None
    if institution.diary != NEISPUO_DIARY:
        diary_client_id = await clients_repository.vendor_id_by_name(db, institution.diary)
        if diary_client_id is None:
            raise Unprocessable(
                f"diary must be {NEISPUO_DIARY!r} or the name of a vendor client",
                [{"loc": ["diary"], "msg": "no vendor client has this name"}],
            )
    created, diary_changed = await repository.upsert_institution(
        db, institution_id, institution.name, institution.town, diary_client_id, actor
    )
    if diary_changed:
        await _diary_changed(db, institution_id, diary_client_id, actor)
    return created


async def _diary_changed(
    db: asyncpg.Connection, institution_id: int, diary_client_id: int | None, actor: str
) -> None:
    """Excusals already made stay; vendors are told nothing of notes already handed on;
    from now on the new diary's rules apply (NEISPUO's own: to its absences, at once)."""
    if diary_client_id is None:
        person_ids = await repository.persons_with_absences_in(db, institution_id)
        await lock_persons(db, person_ids)
        await diary_service.apply_rules(
            db, actor, [(pid, dt.date.min, dt.date.max) for pid in person_ids]
        )
    await vendors_service.diary_changed(db, institution_id)


async def get_institution(db: asyncpg.Connection, institution_id: int) -> dict[str, Any]:
    row = await repository.get_institution(db, institution_id)
    if row is None:
        raise NotFound(f"no institution {institution_id}")
    return {
        "institutionId": row["id"],
        "name": row["name"],
        "town": row["town"],
        "diary": row["diary"],
    }


@dataclass(slots=True)
class PersonResult:
    index: int
    person_id: int | None
    outcome: str
    errors: list[ErrorItem] = field(default_factory=list)

    def wire(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "index": self.index,
            "personId": self.person_id,
            "outcome": self.outcome,
        }
        if self.errors:
            item["errors"] = self.errors
        return item


def _enrollment_rows(person: PersonIn) -> list[repository.EnrollmentRow]:
    return sorted(
        (
            (e.institution_id, e.class_name, e.section, e.from_date, e.to_date)
            for e in person.enrollments
        ),
        key=lambda row: row[3],
    )


def _person_rule_errors(person: PersonIn) -> list[ErrorItem]:
    errors: list[ErrorItem] = []
    problem = identifier_problem(person.identifier_type, person.identifier)
    if problem:
        errors.append({"loc": ["identifier"], "msg": problem})
    order = sorted(range(len(person.enrollments)), key=lambda i: person.enrollments[i].from_date)
    for i in order:
        e = person.enrollments[i]
        if e.to_date is not None and e.to_date < e.from_date:
            errors.append(
                {"loc": ["enrollments", i, "toDate"], "msg": "must not be before fromDate"}
            )
    for prev, nxt in itertools.pairwise(order):
        ends = person.enrollments[prev].to_date
        if ends is None or person.enrollments[nxt].from_date <= ends:
            errors.append(
                {
                    "loc": ["enrollments", nxt, "fromDate"],
                    "msg": f"overlaps enrollment {prev}: one enrollment at a time",
                }
            )
    return errors


def _stored_enrollments(row: asyncpg.Record) -> list[repository.EnrollmentRow]:
    return sorted(
        (
            (
                inst,
                cls,
                sec,
                dt.date.fromisoformat(start),
                dt.date.fromisoformat(end) if end else None,
            )
            for inst, cls, sec, start, end in json.loads(row["enrollments"])
        ),
        key=lambda row: row[3],
    )


async def lock_persons(db: asyncpg.Connection, person_ids: list[int]) -> int:
    """Take the persons' locks, then their identities' (the order registry writes use).

    Holding both, nothing else can change these persons' identities, notes or excusals
    until this transaction ends. Returns how many of them exist.
    """
    await locks.lock_keys(db, [locks.person_key(pid) for pid in person_ids])
    identities = await repository.identities(db, person_ids)
    await locks.lock_keys(db, [locks.identity_key(*i) for i in identities])
    return len(identities)


async def lock_person(db: asyncpg.Connection, person_id: int) -> bool:
    """`lock_persons` for one person; False when there is no such person."""
    return await lock_persons(db, [person_id]) == 1


async def institution_exists(db: asyncpg.Connection, institution_id: int) -> bool:
    return await repository.institution_exists(db, institution_id)


async def hold_institution(db: asyncpg.Connection, institution_id: int) -> bool:
    """Keep the institution's diary as it is until this transaction ends (a diary switch
    waits); False when there is no such institution."""
    return await repository.share_lock_institution(db, institution_id)


async def put_persons(
    db: asyncpg.Connection, items: list[Any], actor: str = "registry"
) -> list[PersonResult]:
    """Create or replace persons one by one in input order, in this one transaction."""
    results: list[PersonResult] = []
    valid: list[tuple[PersonResult, PersonBatchItemIn]] = []
    for index, raw in enumerate(items):
        person, errors = validate_item(PersonBatchItemIn, raw, PERSON_NAMES)
        if person is not None:
            errors = _person_rule_errors(person)
        pid = person.person_id if person else _raw_person_id(raw)
        result = PersonResult(index, pid, "invalid", errors)
        results.append(result)
        if person is not None and not errors:
            valid.append((result, person))
    if not valid:
        return results

    person_ids = sorted({p.person_id for _, p in valid})
    await locks.lock_keys(db, [locks.person_key(pid) for pid in person_ids])
    current = await repository.current_persons(db, person_ids)
    identities = {(identifier_kind(p.identifier_type), p.identifier) for _, p in valid}
    identities |= {(row["identifier_kind"], row["identifier"]) for row in current.values()}
    await locks.lock_keys(db, [locks.identity_key(k, i) for k, i in identities])
    changed_notices: list[int] = []  # whose placements may have changed: the vendors hear last
    missing = await repository.missing_institutions(
        db, [e.institution_id for _, p in valid for e in p.enrollments]
    )

    for result, person in valid:
        unknown = [
            {"loc": ["enrollments", i, "institutionId"], "msg": "no such institution"}
            for i, e in enumerate(person.enrollments)
            if e.institution_id in missing
        ]
        if unknown:
            result.errors = unknown
            continue
        result.outcome = await _write_person(db, person, current, actor, changed_notices)
        if result.outcome == "conflict":
            result.errors = [
                {"loc": ["identifier"], "msg": "this identifier is held by another person"}
            ]
    await vendors_service.sync_feed(db, changed_notices)
    return results


async def _write_person(
    db: asyncpg.Connection,
    person: PersonBatchItemIn,
    current: dict[int, asyncpg.Record],
    actor: str,
    changed_notices: list[int],
) -> str:
    kind = identifier_kind(person.identifier_type)
    if await repository.identifier_holder(db, kind, person.identifier, person.person_id):
        return "conflict"
    given, family = person.given_name or "", person.family_name or ""
    enrollments = _enrollment_rows(person)
    before = current.get(person.person_id)
    same_identity = before is not None and (before["identifier_kind"], before["identifier"]) == (
        kind,
        person.identifier,
    )
    same_enrollments = before is not None and _stored_enrollments(before) == enrollments
    if (
        before is not None
        and same_identity
        and same_enrollments
        and (before["identifier_type"], before["given_name"], before["family_name"])
        == (person.identifier_type, given, family)
    ):
        return "unchanged"
    await repository.upsert_person(
        db, person.person_id, person.identifier_type, kind, person.identifier, given, family
    )
    if not same_enrollments:
        await repository.replace_enrollments(db, person.person_id, enrollments)
    if not (same_identity and same_enrollments):
        rematched = await repository.rematch_and_place(
            db, person.person_id, kind, person.identifier, actor
        )
        # Re-apply the excusal rules to all of the person's days, and to whatever the notes
        # that left them held; tell the vendors what changed for them.
        await diary_service.apply_rules(
            db, actor, [(person.person_id, dt.date.min, dt.date.max)], rematched.unmatched
        )
        changed_notices.extend(rematched.notices + rematched.unmatched)
        if rematched.newly_matched:
            metrics.NOTES_MATCHED_LATE.inc(rematched.newly_matched)
            log.info("registry write matched %d waiting note(s)", rematched.newly_matched)
    # Later writes in the same batch compare against what this one stored.
    current.pop(person.person_id, None)
    fresh = await repository.current_persons(db, [person.person_id])
    current.update(fresh)
    return "created" if before is None else "updated"


def _raw_person_id(raw: Any) -> int | None:
    if isinstance(raw, dict):
        for key, value in raw.items():
            if (
                key.casefold() == "personid"
                and isinstance(value, int)
                and not isinstance(value, bool)
            ):
                return value
            if (
                key.casefold() == "personid"
                and isinstance(value, str)
                and value.isascii()
                and value.isdigit()
                and len(value) <= 19
            ):
                return int(value)
    return None


async def put_person(
    db: asyncpg.Connection, person_id: int, body: Any, actor: str = "registry"
) -> bool:
    """PUT of one person; True when new. 422 when invalid, 409 on an identifier held by another."""
    if isinstance(body, dict):
        # The path names the person; a personId in the body is ignored.
        body = {k: v for k, v in body.items() if k.casefold() != "personid"} | {
            "personId": person_id
        }
    [result] = await put_persons(db, [body], actor)
    if result.outcome == "invalid":
        raise Unprocessable("the person is invalid", result.errors)
    if result.outcome == "conflict":
        raise Conflict("this identifier is held by another person", result.errors)
    return result.outcome == "created"


async def get_person(db: asyncpg.Connection, person_id: int) -> dict[str, Any]:
    row = await repository.get_person(db, person_id)
    if row is None:
        raise NotFound(f"no person {person_id}")
    return {
        "personId": row["id"],
        "identifierType": row["identifier_type"],
        "identifier": row["identifier"],
        "givenName": row["given_name"],
        "familyName": row["family_name"],
        "enrollments": json.loads(row["enrollments"]),
    }
