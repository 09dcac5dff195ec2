"""Wire models of NEISPUO's own diary: absences, the class view of notes, the monthly
figures and the change feed."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from notegateway.core.note_wire import HisMedicalNoticeOut, Placement
from notegateway.core.timeutil import LocalDate
from notegateway.core.wire import MAX_ID, OutModel, WireModel, reject_bool
from notegateway.diary.repository import Absence

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

    @classmethod
    def of(cls, absence: Absence) -> AbsenceOut:
        return cls(
            absence_id=absence.absence_id,
            person_id=absence.person_id,
            institution_id=absence.institution_id,
            date=absence.date.isoformat(),
            lesson=absence.lesson,
            subject=absence.subject,
            kind=absence.kind,
            reason=absence.reason,
            comment=absence.comment,
            excused_by_nrn=absence.excused_by_nrn,
            set_by_person=absence.set_by_person,
        )


class AbsenceList(OutModel):
    items: list[AbsenceOut]
    next_cursor: str | None


class InstitutionNotice(OutModel):
    medical_notice_id: int
    person_id: int
    given_name: str  # the registry's
    family_name: str
    transferred: bool = Field(
        description="the pupil's enrollment there (in that class and section) ended before "
        "today: NEISPUO's ОТПИСАН"
    )
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


DayOutcome = Literal[
    "excused", "nothingRecorded", "keptBySchool", "locked", "atVendor", "cancelled", "notEnrolled"
]


class NoteDay(OutModel):
    date: dt.date
    institution_id: int | None = Field(default=None, description="none: enrolled nowhere")
    outcome: DayOutcome
    vendor_ack: Literal["excused", "pendingTeacher", "rejected"] | None = Field(
        default=None, description="atVendor: the vendor's last answer, null while none"
    )


class PersonNotice(OutModel):
    nrn_medical_notice: str
    authored_on: str = Field(examples=["2026-11-20T10:31:00"])
    from_date: dt.date
    to_date: dt.date
    pmi: str
    status: Literal["active", "cancelled"]
    excused_absences: int
    days: list[NoteDay]


class PersonNotices(OutModel):
    """A pupil's notes of a school year, newest first, with what each did each day."""

    person_id: int
    school_year: int
    items: list[PersonNotice]


class ReportIn(WireModel):
    """A month reported to social assistance: an empty object (the figures are the
    gateway's own, as they are now)."""


class ReportedMonth(OutModel):
    institution_id: int
    month: str = Field(examples=["2026-11"])


class ReportedFigures(OutModel):
    unexcused_hours: float
    unexcused_days: int
    over_benefit_limit: bool


class PupilCorrection(OutModel):
    person_id: int
    before: ReportedFigures
    after: ReportedFigures
    crossed_limit: bool
    nrn_medical_notices: list[str] = Field(description="the notes whose changes made it")


class MonthCorrections(OutModel):
    institution_id: int
    month: str = Field(examples=["2026-11"])
    reported_at: dt.datetime
    pupils: list[PupilCorrection]


class PupilAtRisk(OutModel):
    person_id: int
    class_name: str
    section: str | None
    unexcused_hours: float
    unexcused_days: int
    unexcused_dates: list[dt.date]


class AtRiskMonth(OutModel):
    """Pupils not over the limit but one lesson or one preschool day from it."""

    institution_id: int
    month: str = Field(examples=["2026-11"])
    pupils: list[PupilAtRisk]


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
