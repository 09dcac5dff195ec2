"""Wire models of the vendors' side."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from notegateway.core.note_wire import HisMedicalNoticeOut, Placement
from notegateway.core.wire import OutModel, WireModel, reject_bool


class NextNotice(OutModel):
    medical_notice_id: int
    person_id: int
    his_medical_notice: HisMedicalNoticeOut


class NextNotices(OutModel):
    medical_notices: list[NextNotice]
    last_his_sync_time: str | None = Field(examples=["2026-11-20T10:31:00"])
    has_more: bool


EventType = Literal["note.issued", "note.updated", "note.cancelled"]


class FeedEvent(OutModel):
    cursor: str
    type: EventType
    occurred_at: dt.datetime
    medical_notice_id: int
    person_id: int | None
    his_medical_notice: HisMedicalNoticeOut
    placements: list[Placement]
    reason: Literal["annulled", "placement"] | None = None
    redelivered: bool | None = None  # true: an operator handed the note again
    replaces: str | None = None  # the NRN of the cancelled note this one reissues
    replaced_by: str | None = None  # the NRN of the note that reissues this one


class FeedPage(OutModel):
    events: list[FeedEvent]
    next_cursor: str
    has_more: bool


class EventAckIn(WireModel):
    outcome: Literal["excused", "pendingTeacher", "rejected"]
    excused_absences: Annotated[int, BeforeValidator(reject_bool), Field(ge=0, le=100_000)] = 0
    comment: Annotated[str | None, Field(max_length=2000)] = None


class VendorNotice(OutModel):
    medical_notice_id: int
    status: Literal["active", "cancelled"]
    placements: list[Placement]
    his_medical_notice: HisMedicalNoticeOut
