"""Operators' views: the notes search (and unmatched queue), a note with its audit, review."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import asyncpg

from notegateway.clients import repository as clients_repository
from notegateway.core import locks, paging
from notegateway.core.errors import BadRequest, NotFound, Unprocessable
from notegateway.core.timeutil import school_year_days, school_years, today_in_sofia
from notegateway.diary import service as diary_service
from notegateway.diary.excusal import Action
from notegateway.diary.settle import Changes, settle
from notegateway.notices import service as notices_service
from notegateway.ops import repository
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
) -> dict[str, Any]:
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
    return {
        "items": [
            {
                "medicalNoticeId": r["id"],
                "nrnMedicalNotice": r["nrn"],
                "nrnExamination": r["nrn_examination"],
                "receivedAt": r["received_at"].isoformat(),
                "processedAt": r["processed_at"].isoformat(),
                "status": r["status"],
                "match": "matched" if r["person_id"] is not None else "unmatched",
                "personId": r["person_id"],
                "fromDate": r["from_date"].isoformat(),
                "toDate": r["to_date"].isoformat(),
                "schoolYears": school_years(r["from_date"], r["to_date"]),
                "excusedAbsences": r["excused"],
                "hisMedicalNotice": json.loads(r["payload"]),
            }
            for r in rows
        ],
        "total": total,
    }


async def note_with_audit(
    db: asyncpg.Connection, nrn: str, region: str | None = None
) -> dict[str, Any]:
    """The whole note; for an operator limited to a region, clipped to that region: its
    placements, audit entries, vendors' deliveries and acks, and the absences it holds,
    there only (a pupil who moved from Sofia to Plovdiv shows Plovdiv nothing of Sofia)."""
    if region is not None and await repository.notice_id_of(db, nrn, region) is None:
        raise NotFound(f"no medical notice {nrn} has been received")  # not in its region
    view = await notices_service.notice_view(db, nrn)
    notice_id = view["medicalNoticeId"]
    rows = await repository.audit_of_note(db, notice_id, nrn, region)
    view["audit"] = [
        {
            "at": r["at"],
            "actor": r["actor"],
            "action": r["action"],
            "absenceId": r["absence_id"],
            "before": json.loads(r["before"]) if r["before"] else None,
            "after": json.loads(r["after"]) if r["after"] else None,
            "reason": r["reason"],
            "date": r["date"],  # the console's, not the contract's: the schema leaves it out
            "lesson": r["lesson"],
        }
        for r in rows
    ]
    view["deliveries"] = await vendors_service.deliveries_of_note(db, notice_id)
    links = await repository.note_links(db, notice_id, region)
    view["person"] = links.person
    view["replaces"] = links.replaces
    view["replacedBy"] = links.replaced_by
    if region is not None:
        part = await repository.region_part_of_note(db, notice_id, region)
        view["placements"] = [
            p for p in view["placements"] if p["institutionId"] in part.institutions
        ]
        view["deliveries"] = [
            {**d, "institutions": [i for i in d["institutions"] if i in part.institutions]}
            for d in view["deliveries"]
            if d["vendor"] in part.vendors
        ]
        view["vendorAcks"] = [a for a in view["vendorAcks"] if a["vendor"] in part.vendors]
        view["audit"] = [  # a redelivery to another region's vendor names that vendor
            a
            for a in view["audit"]
            if a["action"] != Action.NOTE_REDELIVERED
            or (a["after"] or {}).get("vendor") in part.vendors
        ]
        view["excusedAbsences"] = part.excused
        view["delivered"] = {"neispuoDiary": part.neispuo_diary, "vendors": len(part.vendors)}
    return view


async def review(
    db: asyncpg.Connection, after: str | None, limit: int, region: str | None
) -> dict[str, Any]:
    """A page of the absences left for review, in the order they were listed."""
    key = paging.decode(after, ((1, 2**63 - 1),))
    rows = await repository.review_items(db, key[0] if key else 0, limit + 1, region)
    return paging.page(rows, limit, lambda r: [r["id"]], _review_item)


async def review_item(
    db: asyncpg.Connection, absence_id: int, region: str | None
) -> dict[str, Any]:
    """The absence's open review item (the first, if it is listed twice)."""
    rows = await repository.review_items(db, 0, 1, region, absence_id)
    if not rows:
        raise NotFound(f"absence {absence_id} is not listed for review")
    return _review_item(rows[0])


async def absence_kind(db: asyncpg.Connection, absence_id: int) -> str | None:
    return await repository.absence_kind(db, absence_id)


def _review_item(r: asyncpg.Record) -> dict[str, Any]:
    return {
        "absenceId": r["absence_id"],
        "medicalNoticeId": r["notice_id"],
        "nrnMedicalNotice": r["nrn"],
        "why": r["why"],
        "listedAt": r["created_at"].isoformat(),
        "absence": {
            "personId": r["person_id"],
            "institutionId": r["institution_id"],
            "date": r["date"],
            "lesson": r["lesson"],
            "kind": r["kind"],
            "comment": r["comment"],
        },
    }


async def rejections(
    db: asyncpg.Connection,
    nrn: str | None,
    from_date: dt.date | None,
    to_date: dt.date | None,
    after: str | None,
    limit: int,
) -> dict[str, Any]:
    """A page of the rejected items, newest first; identifiers in them are masked."""
    key = paging.decode(after, ((1, 2**63 - 1),))
    rows = await repository.rejections(
        db, nrn, from_date, to_date, key[0] if key else None, limit + 1
    )
    return paging.page(rows, limit, lambda r: [r["id"]], _rejection)


def _rejection(r: asyncpg.Record) -> dict[str, Any]:
    return {
        "at": r["at"],
        "client": r["client"],
        "index": r["item_index"],
        "nrnMedicalNotice": r["nrn"],
        "outcome": r["outcome"],
        "errors": json.loads(r["errors"]),
        "item": json.loads(r["item"]),
    }


async def redeliver(
    db: asyncpg.Connection, nrn: str, vendor: str, reason: str, actor: str, region: str | None
) -> dict[str, Any]:
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
    return {"nrnMedicalNotice": nrn, "vendor": vendor, "status": "redelivered"}


SUPPRESS_UNDER = 5  # a count under this is not shown: no child can be singled out
MAX_STATS_DAYS = 366


async def notes_by_day(
    db: asyncpg.Connection,
    from_date: dt.date | None,
    to_date: dt.date | None,
    by: str,
    region: str | None,
) -> dict[str, Any]:
    """The illness wave: per day and region (or town), how many pupils a note covers;
    counts under SUPPRESS_UNDER suppressed. Default: the 30 days up to today."""
    to_date = to_date or today_in_sofia()
    from_date = from_date or to_date - dt.timedelta(days=29)
    if from_date > to_date or (to_date - from_date).days >= MAX_STATS_DAYS:
        raise BadRequest(
            f"fromDate..toDate must be a period of 1 to {MAX_STATS_DAYS} days",
            [{"loc": ["query", "fromDate"], "msg": "not a period of 1 to 366 days"}],
        )
    rows = await repository.notes_by_day(db, from_date, to_date, by, region)
    hidden = suppressed(rows)
    return {
        "items": [
            {
                "date": r["date"].isoformat(),
                by: r["name"],
                "pupils": None if (r["date"], r["name"]) in hidden else r["pupils"],
                "suppressed": (r["date"], r["name"]) in hidden,
            }
            for r in rows
        ]
    }


def suppressed(rows: list[asyncpg.Record]) -> set[tuple[dt.date, str | None]]:
    """The cells (day, group) not shown: every count under SUPPRESS_UNDER, and then, so
    that no hidden count follows by subtraction from the total shown beside them (a town's
    region), in every day and parent with exactly one hidden cell the smallest other cell
    too. Two hidden cells give away only their sum."""
    hidden = {(r["date"], r["name"]) for r in rows if r["pupils"] < SUPPRESS_UNDER}
    families: dict[tuple[dt.date, str], list[asyncpg.Record]] = {}
    for r in rows:
        if r["parent"] is not None:
            families.setdefault((r["date"], r["parent"]), []).append(r)
    for cells in families.values():
        alone = [c for c in cells if (c["date"], c["name"]) in hidden]
        shown = [c for c in cells if (c["date"], c["name"]) not in hidden]
        if len(alone) == 1 and shown:
            smallest = min(shown, key=lambda c: (c["pupils"], c["name"] or ""))
            hidden.add((smallest["date"], smallest["name"]))
    return hidden


async def resolve_review(
    db: asyncpg.Connection,
    absence_id: int,
    resolution: str,
    reason: str,
    actor: str,
    region: str | None,
) -> dict[str, Any]:
    if region is not None and not await repository.absence_in_region(db, absence_id, region):
        raise NotFound(f"no absence {absence_id}")
    return await diary_service.resolve_review(db, absence_id, resolution, reason, actor)


async def institution_names(db: asyncpg.Connection, ids: list[int]) -> dict[int, str]:
    return await repository.institution_names(db, ids)
