"""The NZIS side: judging pushed notes one by one, keeping each once, cancelling."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import asyncpg

from notegateway.core import locks, metrics
from notegateway.core.db import plan_for
from notegateway.core.errors import (
    BadRequest,
    Conflict,
    DomainError,
    ErrorItem,
    NotFound,
    Unprocessable,
)
from notegateway.core.note_wire import note_of, placements_of
from notegateway.core.settling import Changes, Settled, settle
from notegateway.core.timeutil import age_seconds, today_in_sofia
from notegateway.notices import doctors_repository, repository
from notegateway.notices.doctors_repository import DoctorDigest
from notegateway.notices.rejections import kept_of_item, masked_errors, masked_text
from notegateway.notices.repository import CancelAnswer, Rejection, StoredNote
from notegateway.notices.schemas import Delivered, DeliveryAck, NoticeFull, NoticeView, VendorAck
from notegateway.notices.validation import JudgedNote, ValidNote, raw_nrn
from notegateway.vendors import service as vendors_service

log = logging.getLogger(__name__)


Outcome = Literal["created", "duplicate", "conflict", "invalid"]
REJECTED = frozenset({"invalid", "conflict"})  # kept for the helpdesk (notices/rejections.py)


@dataclass(frozen=True, slots=True)
class PushOutcome:
    """What became of one pushed item."""

    index: int
    nrn: str | None
    outcome: Outcome
    errors: tuple[ErrorItem, ...] = ()
    warnings: tuple[ErrorItem, ...] = ()


def batch_status(results: Sequence[PushOutcome]) -> int:
    """200 when all are created or duplicate; else 422 if any is invalid, else 409."""
    outcomes = {r.outcome for r in results}
    if outcomes <= {"created", "duplicate"}:
        return 200
    return 422 if "invalid" in outcomes else 409


async def push_notes(
    db: asyncpg.Connection, judged: Sequence[JudgedNote], actor: str
) -> list[PushOutcome]:
    """Keep the valid notes (once per NRN) in a few statements; the items were judged one
    by one already (`validation.judge_notes`)."""
    first_of_nrn: dict[str, ValidNote] = {}
    for item in judged:
        if item.note is not None:
            first_of_nrn.setdefault(item.note.nrn, item.note)
    stored: dict[str, StoredNote] = {}
    if first_of_nrn:
        notes = list(first_of_nrn.values())
        await plan_for(db, len(notes))
        identities = [(n.identifier_kind, n.identifier) for n in notes]
        taken = locks.plan_classes(
            [locks.nrn_key(n.nrn) for n in notes],
            [locks.identity_key(*i) for i in identities],
            owners_of=identities,
        )
        stored = {s.nrn: s for s in await repository.insert_notes(db, notes, actor, taken)}
        # The new notes excuse what they cover, and reach the vendors whose days they
        # cover (a new note has nothing to tell a vendor unless it placed a day there).
        changes = Changes()
        for s in stored.values():
            if s.notice_id is None:
                continue
            if s.person_id is not None and not s.cancelled and s.from_date and s.to_date:
                changes.person(s.person_id, (s.from_date, s.to_date))
            if s.for_vendors:
                changes.notes.append(s.notice_id)
        await settle(db, actor, changes)

    results: list[PushOutcome] = []
    created: set[str] = set()
    for item in judged:
        if item.note is None:
            results.append(PushOutcome(item.index, item.nrn, "invalid", item.errors, item.warnings))
            continue
        kept = stored[item.note.nrn]
        outcome: Outcome
        if kept.notice_id is not None and item.note.nrn not in created:
            created.add(item.note.nrn)
            metrics.NOTES_MATCHED.labels("unmatched" if kept.person_id is None else "matched").inc()
            outcome = "created"
        else:
            kept_payload = (
                first_of_nrn[item.note.nrn].payload if kept.notice_id else kept.stored_payload
            )
            outcome = "duplicate" if kept_payload == item.note.payload else "conflict"
        results.append(PushOutcome(item.index, item.nrn, outcome, warnings=item.warnings))

    rejected = [r for r in results if r.outcome in REJECTED]
    if rejected:
        await repository.insert_rejections(
            db,
            actor,
            [
                Rejection(
                    r.index,
                    masked_text(r.nrn) if r.nrn else None,
                    r.outcome,
                    masked_errors(list(r.errors)),
                    kept_of_item(judged[r.index].raw),
                )
                for r in rejected
            ],
        )
    for result in results:
        metrics.NOTES_RECEIVED.labels(result.outcome).inc()
    if log.isEnabledFor(logging.INFO):
        outcomes = sorted({r.outcome for r in results})
        counts = {o: sum(r.outcome == o for r in results) for o in outcomes}
        log.info("notes pushed: %s", json.dumps(counts))
    return results


async def record_refused_push(
    db: asyncpg.Connection, actor: str, refusal: DomainError, body: Any
) -> None:
    """A push refused as a whole (not JSON, not an array of 1 to 1000, too large), kept
    for the helpdesk without an index; of the body only what the allow-list keeps of a
    lone note sent without its array."""
    errors = refusal.errors or [{"loc": [], "msg": refusal.detail}]
    nrn = raw_nrn(body)
    await repository.insert_rejections(
        db,
        actor,
        [
            Rejection(
                None,
                masked_text(nrn[:40]) if nrn else None,
                "invalid",
                masked_errors(errors),
                kept_of_item(body),
            )
        ],
    )


async def cancel(db: asyncpg.Connection, nrn: str, reason: str | None, actor: str) -> CancelAnswer:
    """Cancel a note (also one not received yet); every repeat gets the first answer.

    What the note held returns to unexcused, or passes to another covering note.
    """
    await locks.lock_keys(db, [locks.nrn_key(nrn)])
    # Read under the NRN lock: a push of this NRN has committed or not begun.
    identity = await repository.note_identity(db, nrn)
    if identity is not None:
        await locks.lock_classes(db, [locks.identity_key(*identity)], owners_of=[identity])
    if not await repository.insert_cancellation(db, nrn, reason):
        return await repository.first_cancellation_answer(db, nrn)
    notice_id = await repository.mark_cancelled(db, nrn, reason, actor)
    reconciled = Settled()
    if notice_id is not None:
        reconciled = await settle(db, actor, Changes(released=[notice_id], notes=[notice_id]))
    else:
        await repository.audit_early_cancellation(db, nrn, reason, actor)
    status_code = 200 if notice_id is not None else 202
    answer = CancelAnswer(status_code, nrn, reconciled.reverted, reconciled.reattributed)
    await repository.store_cancellation_answer(db, answer)
    return answer


async def link(
    db: asyncpg.Connection, nrn: str, person_id: int | None, reason: str, actor: str
) -> None:
    """An operator links the note to a person whatever its identifier says (None: back to
    matching by identifier). Applied at once, both ways: what it held for the person it
    leaves returns to unexcused or passes to another note, and the new person's absences
    it covers are excused; the vendors hear of it."""
    identity = await repository.note_identity(db, nrn)
    if identity is None:
        raise NotFound(f"no medical notice {nrn} has been received")
    was = await repository.person_of_note(db, nrn)
    persons = sorted({p for p in (was, person_id) if p is not None})
    existing = await locks.lock_persons(db, persons, also=[identity])
    if person_id is not None and person_id not in existing:
        raise Unprocessable("no such person", [{"loc": ["personId"], "msg": "no such person"}])
    if await repository.person_of_note(db, nrn) != was:  # a registry write moved it meanwhile
        raise Conflict("the note's person changed meanwhile; look again and retry")
    linked = await repository.link(db, nrn, person_id, reason, actor)
    assert linked is not None
    changes = Changes(released=[linked.notice_id], notes=[linked.notice_id])
    if linked.now is not None and not linked.cancelled:
        changes.person(linked.now, (linked.from_date, linked.to_date))
    await settle(db, actor, changes)


MAX_DIGEST_DAYS = 92


async def doctor_digest(
    db: asyncpg.Connection, pmi: str, from_date: dt.date | None, to_date: dt.date | None
) -> DoctorDigest:
    """What became of a doctor's notes authored in the period (default: the 92 days up to
    today; at most 92): counts, and the NRNs no pupil was found for."""
    to_date = to_date or today_in_sofia()
    from_date = from_date or to_date - dt.timedelta(days=MAX_DIGEST_DAYS - 1)
    if from_date > to_date or (to_date - from_date).days + 1 > MAX_DIGEST_DAYS:
        message = f"fromDate..toDate must be a period of 1 to {MAX_DIGEST_DAYS} days"
        raise BadRequest(message, [{"loc": ["query", "fromDate"], "msg": message}])
    return await doctors_repository.digest(db, pmi, from_date, to_date)


async def purge_rejections(db: asyncpg.Connection, retention_days: int) -> int:
    older_than = dt.datetime.now(dt.UTC) - dt.timedelta(days=retention_days)
    return await repository.purge_rejections(db, older_than)


async def notice_view(db: asyncpg.Connection, nrn: str) -> NoticeFull:
    """The whole note, as operators see it; `delivery_view` is what NZIS may see of it."""
    row = await repository.notice_view_row(db, nrn)
    if row is None:
        raise NotFound(f"no medical notice {nrn} has been received")
    return NoticeFull(
        medical_notice_id=row.notice_id,
        nrn_medical_notice=row.nrn,
        received_at=row.received_at,
        processed_at=row.processed_at,
        status=row.status,
        match="matched" if row.person_id is not None else "unmatched",
        person_id=row.person_id,
        placements=placements_of(row.placements),
        excused_absences=row.excused,
        delivered=Delivered(neispuo_diary=row.neispuo_diary, vendors=row.vendors),
        vendor_acks=[
            VendorAck(
                vendor=a.vendor,
                outcome=a.outcome,
                excused_absences=a.excused_absences,
                comment=a.comment,
                at=a.at,
            )
            for a in await vendors_service.acks_of_note(db, row.notice_id)
        ],
        his_medical_notice=note_of(row.payload),
    )


async def delivery_view(db: asyncpg.Connection, nrn: str) -> NoticeView:
    """Delivery feedback for NZIS: that the note arrived and served, and nothing of where
    the pupil studies (no person, institution, class, placement, vendor name or comment)."""
    view = await notice_view(db, nrn)
    acks = [
        DeliveryAck(outcome=a.outcome, excused_absences=a.excused_absences, at=a.at)
        for a in view.vendor_acks
    ]
    # NoticeView has no field for the person, the placements or a vendor's name: the
    # whole note's other fields are dropped, not copied.
    return NoticeView.model_validate(dict(view) | {"vendor_acks": acks})


async def refresh_unmatched_metrics(db: asyncpg.Connection) -> None:
    """The queue of notes waiting for their pupil, from the database: its length and how
    long its oldest has waited."""
    waiting = await repository.unmatched_waiting(db)
    metrics.NOTES_UNMATCHED.set(waiting.count)
    metrics.NOTES_UNMATCHED_OLDEST_SECONDS.set(age_seconds(waiting.oldest))
