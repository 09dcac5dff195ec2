"""The note's wire types every domain hands on (the normalised note, its placements, the
NRN in a path): below the domains, so that none imports another's wire types."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Path
from pydantic import Field, TypeAdapter

from notegateway.core.wire import OutModel

NrnPath = Annotated[str, Path(pattern=r"^[0-9A-Z]{12}$", description="the note's NRN")]


class PatientOut(OutModel):
    identifier_type: int
    identifier: str
    given_name: str
    family_name: str


class PractitionerOut(OutModel):
    pmi: str


class NoticePeriodOut(OutModel):
    from_date: str = Field(examples=["2026-11-18T00:00:00"])
    to_date: str = Field(examples=["2026-11-20T00:00:00"])
    authored_on: str = Field(examples=["2026-11-20T10:31:00"])


class HisMedicalNoticeOut(OutModel):
    """The normalised note, as stored and handed on."""

    nrn_medical_notice: str
    nrn_examination: str
    patient: PatientOut
    practitioner: PractitionerOut
    medical_notice: NoticePeriodOut


class Placement(OutModel):
    institution_id: int
    class_name: str
    section: str | None
    from_date: dt.date
    to_date: dt.date


_PLACEMENTS: TypeAdapter[list[Placement]] = TypeAdapter(list[Placement])


def placements_of(text: str) -> list[Placement]:
    """Placements as the placement SQL gives them (a JSON array, core/placement_sql.py)."""
    return _PLACEMENTS.validate_json(text)


def note_of(text: str) -> HisMedicalNoticeOut:
    """The normalised note as stored (medical_notices.payload)."""
    return HisMedicalNoticeOut.model_validate_json(text)
