"""Wire models of the registry: institutions, persons and their dated enrollments."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field

from notegateway.core.identifiers import IdentifierTypeField
from notegateway.core.timeutil import LocalDate, open_end
from notegateway.core.wire import MAX_ID, ErrorOut, OutModel, WireModel

NEISPUO_DIARY = "neispuo"


class InstitutionIn(WireModel):
    name: Annotated[str, Field(min_length=1, max_length=500)]
    town: Annotated[str, Field(max_length=255)] = ""
    region: Annotated[str | None, Field(max_length=255, description="the oblast")] = None
    diary: Annotated[
        str,
        Field(min_length=1, max_length=100, description='"neispuo" or the name of a vendor client'),
    ]
    diary_from: Annotated[
        LocalDate | None,
        Field(
            description="the first day the diary keeps when it changes (default: today in "
            "Sofia); ignored for a new institution, whose first diary holds every day"
        ),
    ] = None
    locked_through: Annotated[
        LocalDate | None,
        Field(
            description="the diary is closed through this day (null: open); it may move "
            "forward or back; left out: unchanged"
        ),
    ] = None


class EnrollmentIn(WireModel):
    institution_id: Annotated[int, Field(ge=1, le=MAX_ID)]
    class_name: Annotated[str, Field(min_length=1, max_length=100)]
    # "" is no section, as null is (a group has none).
    section: Annotated[str | None, Field(max_length=50), AfterValidator(lambda v: v or None)] = None
    from_date: LocalDate
    to_date: Annotated[LocalDate | None, BeforeValidator(open_end)] = None


class PersonIn(WireModel):
    identifier_type: IdentifierTypeField
    identifier: str
    given_name: Annotated[str | None, Field(max_length=255)] = None
    family_name: Annotated[str | None, Field(max_length=255)] = None
    enrollments: Annotated[list[EnrollmentIn], Field(max_length=500)]


class PersonBatchItemIn(PersonIn):
    person_id: Annotated[int, Field(ge=1, le=MAX_ID)]


class PersonBatchResultItem(OutModel):
    index: int
    person_id: int | None
    outcome: Literal["created", "updated", "unchanged", "invalid", "conflict"]
    errors: list[ErrorOut] | None = None


class PersonBatchResults(OutModel):
    results: list[PersonBatchResultItem]


class EnrollmentOut(OutModel):
    institution_id: int
    class_name: str
    section: str | None
    from_date: str
    to_date: str | None


class FormerIdentifierOut(OutModel):
    identifier_type: int
    identifier: str
    until: dt.datetime  # when it stopped being current


class PersonOut(OutModel):
    person_id: int
    identifier_type: int
    identifier: str
    given_name: str
    family_name: str
    enrollments: list[EnrollmentOut]
    former_identifiers: list[FormerIdentifierOut]  # newest first


class DiaryPeriodOut(OutModel):
    diary: str
    from_date: dt.date | None  # null: from the beginning
    to_date: dt.date | None  # null: open


class InstitutionOut(OutModel):
    institution_id: int
    name: str
    town: str
    region: str | None
    locked_through: dt.date | None
    diary: str  # today's
    diaries: list[DiaryPeriodOut]  # in date order
