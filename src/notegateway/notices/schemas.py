"""Wire models of the NZIS side: the note as pushed, results, the gateway's view."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from notegateway.core.identifiers import IdentifierTypeField
from notegateway.core.note_wire import HisMedicalNoticeOut, Placement
from notegateway.core.timeutil import LocalDate, LocalDateTime
from notegateway.core.wire import ErrorOut, OutModel, WireModel

NRN_PATTERN = re.compile(r"[0-9A-Z]{12}")

# Keys that would carry medical content: dropped when an NZIS body is read (medical.py).
MEDICAL_CONTENT_KEYS = (
    "diagnosis",
    "diagnoses",
    "code",
    "icd",
    "icd10",
    "mkb",
    "mkb10",
    "reason",
    "complaints",
    "anamnesis",
    "location",
    "note",
)


def _nrn(value: str) -> str:
    if not NRN_PATTERN.fullmatch(value):
        raise ValueError("must be exactly 12 characters of 0-9 and A-Z")
    return value


Nrn = Annotated[str, AfterValidator(_nrn)]
Name = Annotated[str | None, Field(default=None, max_length=255)]


class PatientIn(WireModel):
    identifier_type: IdentifierTypeField
    identifier: str
    given_name: Name = None
    family_name: Name = None


class PractitionerIn(WireModel):
    pmi: Annotated[str, Field(min_length=1, max_length=255, description="УИН of the doctor")]


class NoticePeriodIn(WireModel):
    from_date: LocalDate
    to_date: LocalDate
    authored_on: LocalDateTime


class HisMedicalNoticeIn(WireModel):
    """One note as NZIS pushes it (property names case-insensitive)."""

    nrn_medical_notice: Nrn
    nrn_examination: Nrn
    patient: PatientIn
    practitioner: PractitionerIn
    medical_notice: NoticePeriodIn


class CancelIn(WireModel):
    cancel_reason: Annotated[str | None, Field(default=None, max_length=2000)] = None


# ---- output ----


Outcome = Literal["created", "duplicate", "conflict", "invalid"]


class PushResultItem(OutModel):
    index: int
    nrn_medical_notice: str | None
    outcome: Outcome
    errors: list[ErrorOut] | None = None
    warnings: list[ErrorOut] | None = Field(
        default=None, description="keys of medical content dropped before judging: paths only"
    )


class PushResults(OutModel):
    results: list[PushResultItem]


class DoctorFeedback(OutModel):
    """What became of one doctor's notes; nothing about pupils."""

    pmi: str
    notes: int
    matched: int
    reached_diary: int = Field(description="placed on a day NEISPUO's or a vendor's diary keeps")
    cancelled: int
    unmatched: list[str] = Field(description="NRNs of active notes no pupil was found for")


class CancelResult(OutModel):
    nrn_medical_notice: str
    status: Literal["cancelled"]
    reverted_absences: int
    reattributed_absences: int


class DeliveryAck(OutModel):
    """What a vendor's diary did with the note, without naming the vendor."""

    outcome: str
    excused_absences: int
    at: dt.datetime


class VendorAck(DeliveryAck):
    vendor: str
    comment: str | None


class Delivered(OutModel):
    neispuo_diary: bool  # it covers a day kept in NEISPUO's diary
    vendors: int  # how many vendors' days it covers


class NoticeBase(OutModel):
    medical_notice_id: int
    nrn_medical_notice: str
    received_at: dt.datetime
    processed_at: dt.datetime
    status: Literal["active", "cancelled"]
    match: Literal["matched", "unmatched"]
    excused_absences: int
    delivered: Delivered
    his_medical_notice: HisMedicalNoticeOut


class NoticeView(NoticeBase):
    """NZIS's view: delivery feedback only, nothing of where the pupil studies."""

    vendor_acks: list[DeliveryAck]


class NoticeFull(NoticeBase):
    """The whole note before it is cut to an audience: NZIS's view (`NoticeView`) and the
    operators' (`ops.schemas.NoteWithAudit`) are made from it."""

    person_id: int | None
    placements: list[Placement]
    vendor_acks: list[VendorAck]
