"""Operators' views: the notes search (and unmatched queue), a note with its audit, review,
rejections, redelivery. What a regional operator may see is decided here, for the API and
the console alike (core/scope.py): both call these functions with the operator's region."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import asyncpg

from notegateway.clients import repository as clients_repository
from notegateway.core import locks, paging
from notegateway.core.errors import NotFound, Unprocessable
from notegateway.core.note_wire import note_of
from notegateway.core.scope import refuse_regional
from notegateway.core.settling import Changes, settle
from notegateway.core.timeutil import school_year_days, school_years
from notegateway.diary import service as diary_service
from notegateway.diary.excusal import Action
from notegateway.diary.repository import Absence
from notegateway.notices import service as notices_service
from notegateway.notices.schemas import Delivered
from notegateway.ops import repository
from notegateway.ops.repository import AuditRow, RejectionRow, ReviewRow
from notegateway.ops.schemas import (
    AuditEntry,
    Delivery,
    NoteSearch,
    NoteSummary,
    NoteWithAudit,
    Redelivery,
    RegistryPerson,
    Rejection,
    RejectionList,
    ReviewAbsence,
    ReviewItem,
    ReviewList,
)
from notegateway.vendors import service as vendors_service


@dataclass(frozen=True, slots=True)
class NoteQuery:
    """The operators' search: every filter optional; NRNs and identifier as substrings."""

    match: str | None = None
    status: str | None = None
    nrn: str | None = None
    nrn_examination: str | None = None
    identifier: str | None = None
    from_date: dt.date | None = None
    to_date: dt.date | None = None
    school_year: int | None = None
    oldest_first: bool = False  # the unmatched queue: the longest waiting first


async def search_notes(
    db: asyncpg.Connection, query: NoteQuery, limit: int, offset: int, region: str | None
) -> NoteSearch:
    """Notes by the operators' filters; the unmatched ones for the whole country only."""
    if query.match == "unmatched":
        refuse_regional(region, "unmatched notes")
    rows, total = await repository.search_notes(
        db,
        query.match,
        query.status,
        query.nrn,
        query.nrn_examination,
        query.identifier,
        query.from_date,
        query.to_date,
        limit,
        offset,
        region,
        school_year_days(query.school_year) if query.school_year is not None else None,
        query.oldest_first,
    )
    return NoteSearch(
        items=[
            NoteSummary(
                medical_notice_id=n.notice_id,
                nrn_medical_notice=n.nrn,
                nrn_examination=n.nrn_examination,
                received_at=n.received_at,
                processed_at=n.processed_at,
                status=n.status,
                match="matched" if n.person_id is not None else "unmatched",
                person_id=n.person_id,
                from_date=n.from_date,
                to_date=n.to_date,
                school_years=school_years(n.from_date, n.to_date),
                excused_absences=n.excused,
                his_medical_notice=note_of(n.payload),
            )
            for n in rows
        ],
        total=total,
    )


@dataclass(frozen=True, slots=True)
class AuditedNote:
    """The whole note, and for each of its audit entries the absence's day and lesson
    (the console shows them; the contract's audit entry has neither)."""

    note: NoteWithAudit
    days: list[tuple[dt.date | None, int | None]]


async def note_with_audit(
    db: asyncpg.Connection, nrn: str, region: str | None = None
) -> AuditedNote:
    """The whole note; for an operator limited to a region, clipped to that region: its
    placements, audit entries, vendors' deliveries and acks, and the absences it holds,
    there only (a pupil who moved from Sofia to Plovdiv shows Plovdiv nothing of Sofia)."""
    if region is not None and await repository.notice_id_of(db, nrn, region) is None:
        raise NotFound(f"no medical notice {nrn} has been received")  # not in its region
    view = await notices_service.notice_view(db, nrn)
    notice_id = view.medical_notice_id
    audit = await repository.audit_of_note(db, notice_id, nrn, region)
    deliveries = await vendors_service.deliveries_of_note(db, notice_id)
    links = await repository.note_links(db, notice_id, region)
    note = NoteWithAudit(
        **dict(view),
        person=(
            RegistryPerson(
                person_id=links.person.person_id,
                given_name=links.person.given_name,
                family_name=links.person.family_name,
            )
            if links.person is not None
            else None
        ),
        deliveries=[
            Delivery(
                vendor=d.vendor,
                institutions=d.institutions,
                first_served_at=d.first_served_at,
                acknowledged_at=d.acknowledged_at,
                ack=d.ack,
            )
            for d in deliveries
        ],
        replaces=links.replaces,
        replaced_by=links.replaced_by,
        audit=[_audit_entry(a) for a in audit],
    )
    if region is not None:
        part = await repository.region_part_of_note(db, notice_id, region)
        note.placements = [p for p in note.placements if p.institution_id in part.institutions]
        note.deliveries = [
            d.model_copy(
                update={"institutions": [i for i in d.institutions if i in part.institutions]}
            )
            for d in note.deliveries
            if d.vendor in part.vendors
        ]
        note.vendor_acks = [a for a in note.vendor_acks if a.vendor in part.vendors]
        # A redelivery to another region's vendor names that vendor.
        kept = [
            i
            for i, a in enumerate(note.audit)
            if a.action != Action.NOTE_REDELIVERED or (a.after or {}).get("vendor") in part.vendors
        ]
        note.audit = [note.audit[i] for i in kept]
        audit = [audit[i] for i in kept]
        note.excused_absences = part.excused
        note.delivered = Delivered(neispuo_diary=part.neispuo_diary, vendors=len(part.vendors))
    return AuditedNote(note, [(a.date, a.lesson) for a in audit])


def _audit_entry(a: AuditRow) -> AuditEntry:
    return AuditEntry(
        at=a.at,
        actor=a.actor,
        action=a.action,
        absence_id=a.absence_id,
        before=json.loads(a.before) if a.before else None,
        after=json.loads(a.after) if a.after else None,
        reason=a.reason,
    )


async def link(
    db: asyncpg.Connection,
    nrn: str,
    person_id: int | None,
    reason: str,
    actor: str,
    region: str | None,
) -> AuditedNote:
    """Link a note to a person by hand (None: back to matching by identifier); for the
    whole country's operators only: it shows pupils before anyone knows where they study."""
    refuse_regional(region, "unmatched notes and links by hand")
    await notices_service.link(db, nrn, person_id, reason, actor)
    return await note_with_audit(db, nrn)


async def review(
    db: asyncpg.Connection, after: str | None, limit: int, region: str | None
) -> ReviewList:
    """A page of the absences left for review, in the order they were listed."""
    key = paging.decode(after, ((1, 2**63 - 1),))
    rows = await repository.review_items(db, key[0] if key else 0, limit + 1, region)
    page = paging.page(rows, limit, lambda r: [r.item_id])
    return ReviewList(items=[_review_item(r) for r in page.items], next_cursor=page.next_cursor)


async def review_item(db: asyncpg.Connection, absence_id: int, region: str | None) -> ReviewItem:
    """The absence's open review item (the first, if it is listed twice)."""
    rows = await repository.review_items(db, 0, 1, region, absence_id)
    if not rows:
        raise NotFound(f"absence {absence_id} is not listed for review")
    return _review_item(rows[0])


async def absence_kind(db: asyncpg.Connection, absence_id: int) -> str | None:
    return await repository.absence_kind(db, absence_id)


def _review_item(r: ReviewRow) -> ReviewItem:
    return ReviewItem(
        absence_id=r.absence_id,
        medical_notice_id=r.notice_id,
        nrn_medical_notice=r.nrn,
        why=r.why,
        listed_at=r.listed_at,
        absence=ReviewAbsence(
            person_id=r.person_id,
            institution_id=r.institution_id,
            date=r.date.isoformat(),
            lesson=r.lesson,
            kind=r.kind,
            comment=r.comment,
        ),
    )


async def rejections(
    db: asyncpg.Connection,
    nrn: str | None,
    from_date: dt.date | None,
    to_date: dt.date | None,
    after: str | None,
    limit: int,
    region: str | None,
) -> RejectionList:
    """A page of the rejected items, newest first; identifiers in them are masked. For the
    whole country's operators only."""
    refuse_regional(region, "rejections")
    key = paging.decode(after, ((1, 2**63 - 1),))
    rows = await repository.rejections(
        db, nrn, from_date, to_date, key[0] if key else None, limit + 1
    )
    page = paging.page(rows, limit, lambda r: [r.row_id])
    return RejectionList(items=[_rejection(r) for r in page.items], next_cursor=page.next_cursor)


def _rejection(r: RejectionRow) -> Rejection:
    return Rejection(
        at=r.at,
        client=r.client,
        index=r.index,
        nrn_medical_notice=r.nrn,
        outcome=r.outcome,
        errors=json.loads(r.errors),
        item=json.loads(r.item) if r.item is not None else None,
    )


async def redeliver(
    db: asyncpg.Connection, nrn: str, vendor: str, reason: str, actor: str, region: str | None
) -> Redelivery:
    """Hand a note to a vendor again (its `next` serves it again, its feed gets a
    redelivered `note.issued`), audited with the operator's name and reason."""
    notice_id = await repository.notice_id_of(db, nrn, region)
    if notice_id is None:
        raise NotFound(f"no medical notice {nrn} has been received")
    vendor_id = await clients_repository.vendor_id_by_name(db, vendor)
    if vendor_id is None:
        raise Unprocessable("no such vendor", [{"loc": ["vendor"], "msg": "no such vendor"}])
    await locks.lock_keys(db, [locks.nrn_key(nrn)])  # no push or cancellation of it meanwhile
    if not await vendors_service.told_issued(db, vendor_id, notice_id):
        message = "the note covers no day that this vendor's diary keeps, or was cancelled"
        raise Unprocessable(message, [{"loc": ["vendor"], "msg": message}])
    after = {"vendor": vendor, "reason": reason}
    await repository.audit_note_action(db, notice_id, Action.NOTE_REDELIVERED, after, actor)
    await settle(db, actor, Changes(redeliver=[(vendor_id, notice_id)]))
    return Redelivery(nrn_medical_notice=nrn, vendor=vendor, status="redelivered")


async def resolve_review(
    db: asyncpg.Connection,
    absence_id: int,
    resolution: str,
    reason: str,
    actor: str,
    region: str | None,
) -> Absence:
    if region is not None and not await repository.absence_in_region(db, absence_id, region):
        raise NotFound(f"no absence {absence_id}")
    return await diary_service.resolve_review(db, absence_id, resolution, reason, actor)


async def institution_names(db: asyncpg.Connection, ids: list[int]) -> dict[int, str]:
    return await repository.institution_names(db, ids)
