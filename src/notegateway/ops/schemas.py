"""Wire models of the operators' API."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field

from notegateway.core.note_wire import HisMedicalNoticeOut, Placement
from notegateway.core.wire import MAX_ID, OutModel, WireModel
from notegateway.notices.schemas import NoticeBase, VendorAck


class NoteSummary(OutModel):
    medical_notice_id: int
    nrn_medical_notice: str
    nrn_examination: str
    received_at: dt.datetime
    processed_at: dt.datetime
    status: Literal["active", "cancelled"]
    match: Literal["matched", "unmatched"]
    person_id: int | None
    from_date: dt.date
    to_date: dt.date
    school_years: list[int]
    excused_absences: int
    his_medical_notice: HisMedicalNoticeOut


class NoteSearch(OutModel):
    items: list[NoteSummary]
    total: int


class AuditEntry(OutModel):
    at: dt.datetime
    actor: str
    action: str
    absence_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None = Field(
        description="why: the operator's reason for their action, NZIS's cancelReason"
    )


class Delivery(OutModel):
    """What became of the note with one vendor whose days it covers (or that was served it)."""

    vendor: str
    institutions: list[int] = Field(
        description="this vendor's institutions whose days the note covers (for a regional "
        "operator: in its region)"
    )
    first_served_at: dt.datetime | None  # by `next` or by the feed
    acknowledged_at: dt.datetime | None  # NEISPUO's /acknowledge
    ack: Literal["excused", "pendingTeacher", "rejected"] | None  # the feed's last ack


class RegistryPerson(OutModel):
    """The pupil as the registry names it (beside NZIS's names in the note)."""

    person_id: int
    given_name: str
    family_name: str


class NoteWithAudit(NoticeBase):
    """The whole note, for operators: NZIS's view plus the pupil, the placements, the
    vendors' acks with their names and comments, per vendor its delivery, and the audit
    trail."""

    person_id: int | None
    person: RegistryPerson | None = Field(description="null while unmatched")
    placements: list[Placement]
    vendor_acks: list[VendorAck]
    deliveries: list[Delivery]
    replaces: str | None = Field(description="the NRN of the cancelled note this one reissues")
    replaced_by: str | None = Field(description="the NRN of the note that reissues this one")
    audit: list[AuditEntry]


class ReviewAbsence(OutModel):
    person_id: int
    institution_id: int
    date: str
    lesson: int | None
    kind: str
    comment: str | None


class ReviewItem(OutModel):
    absence_id: int
    medical_notice_id: int
    nrn_medical_notice: str
    why: Literal["noteCancelled", "noteMoved", "locked", "unexcusedUnderNote"]
    listed_at: dt.datetime
    absence: ReviewAbsence


class ReviewList(OutModel):
    items: list[ReviewItem]
    next_cursor: str | None


class Rejection(OutModel):
    at: dt.datetime
    client: str
    index: int | None = Field(description="null: the push's body was refused as a whole")
    nrn_medical_notice: str | None
    outcome: Literal["invalid", "conflict"]
    errors: list[dict[str, Any]]
    item: dict[str, Any] | None = Field(
        description="the two NRNs, identifierType, the identifier masked, the dates and the "
        "pmi; of every other field only its path (otherFields)"
    )


class RejectionList(OutModel):
    items: list[Rejection]
    next_cursor: str | None


class ReviewResolutionIn(WireModel):
    """How an operator closes an absence's review, and why (audited)."""

    resolution: Literal["keep", "unexcuse"]
    reason: str = Field(min_length=1, max_length=500, pattern=r"\S")


class RedeliveryIn(WireModel):
    """Which vendor to hand the note to again, and why (audited)."""

    vendor: str = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=1, max_length=500, pattern=r"\S")


class Redelivery(OutModel):
    nrn_medical_notice: str
    vendor: str
    status: Literal["redelivered"]


class MatchIn(WireModel):
    """The person an operator links the note to (null: back to matching by identifier),
    and why (audited)."""

    person_id: int | None = Field(ge=1, le=MAX_ID)
    reason: str = Field(min_length=1, max_length=500, pattern=r"\S")


class DayFigure(OutModel):
    """Pupils covered by a note that day in one region (or town); null when suppressed."""

    date: str = Field(examples=["2026-11-18"])
    region: str | None = None
    town: str | None = None
    pupils: int | None
    suppressed: bool


class NoteFigures(OutModel):
    items: list[DayFigure]


class SuggestedPerson(OutModel):
    """A registered person an unmatched note may belong to (ops/suggestions.py)."""

    person_id: int
    given_name: str
    family_name: str
    identifier: str = Field(description="masked: 14******38")
    why: Literal["identifierDigit", "identifierSwap", "birthDate"] = Field(
        description="identifierDigit: one digit away; identifierSwap: two neighbouring "
        "digits swapped; birthDate: the same birth date in the ЕГН (always with the same names)"
    )


class Suggestions(OutModel):
    items: list[SuggestedPerson] = Field(description="up to 5, best first")
