"""Wire models of NEISPUO's own diary: absences, the class view of notes, the monthly
figures and the change feed."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from notegateway.core.timeutil import LocalDate
from notegateway.core.wire import OutModel, WireModel, reject_bool
from notegateway.notices.schemas import HisMedicalNoticeOut, Placement
from notegateway.registry.schemas import MAX_ID

Id = Annotated[int, BeforeValidator(reject_bool), Field(ge=1, le=MAX_ID)]
AbsenceKind = Literal["unexcused", "excused", "late", "dplr"]


class AbsenceIn(WireModel):
    absence_id: Id
    person_id: Id
    institution_id: Id
    date: LocalDate
    lesson: Annotated[int, BeforeValidator(reject_bool), Field(ge=0, le=32767)] | None = None
    subject: Annotated[str | None, Field(max_length=255)] = None
    kind: AbsenceKind


class AbsencePatchIn(WireModel):
    kind: AbsenceKind | None = None
    comment: Annotated[str | None, Field(max_length=2000)] = None


class AbsenceOut(OutModel):
    absence_id: int
    person_id: int
    institution_id: int
    date: str = Field(examples=["2026-11-18"])
    lesson: int | None
    subject: str | None
    kind: AbsenceKind
    reason: str | None
    comment: str | None
    excused_by_nrn: str | None
    set_by_person: bool


class AbsenceList(OutModel):
    items: list[AbsenceOut]
    next_cursor: str | None


class InstitutionNotice(OutModel):
    medical_notice_id: int
    person_id: int
    status: Literal["active", "cancelled"]
    excused_absences: int
    placements: list[Placement]
    school_years: list[int]
    his_medical_notice: HisMedicalNoticeOut


class InstitutionNoticeList(OutModel):
    items: list[InstitutionNotice]


class PupilMonth(OutModel):
    person_id: int
    class_name: str
    section: str | None
    unexcused_lessons: int
    unexcused_days: int  # preschool: days with an unexcused absence
    late_arrivals: int
    unexcused_hours: float = Field(
        description="unexcused lessons + NOTEGATEWAY_LATE_WEIGHT × late arrivals (a decimal, "
        "as NEISPUO reports it to social assistance)"
    )
    excused_by_notes: int
    unexcused_under_notes: int = Field(
        description="unexcused absences an active note covers (an override, a locked day)"
    )
    over_benefit_limit: bool


class MonthFigures(OutModel):
    institution_id: int
    month: str = Field(examples=["2026-11"])
    pupils: list[PupilMonth]


class AbsenceState(OutModel):
    """An absence as the gateway left it (or found it): what the change feed shows."""

    kind: AbsenceKind
    reason: str | None
    comment: str | None
    excused_by_nrn: str | None


ChangeAction = Literal[
    "absence.excused",
    "absence.reattributed",
    "absence.reverted",
    "absence.review_closed",
    "absence.deleted",
]


class AbsenceChange(OutModel):
    cursor: str
    at: dt.datetime
    absence_id: int
    person_id: int
    institution_id: int
    date: str = Field(examples=["2026-11-18"])
    before: AbsenceState
    after: AbsenceState | None = Field(description="null: the absence was deleted")
    nrn_medical_notice: str | None
    action: ChangeAction


class ChangeFeedPage(OutModel):
    changes: list[AbsenceChange]
    next_cursor: str
    has_more: bool
