"""The contract's rules for one pushed note, and its normalised form."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from notegateway.core.errors import ErrorItem
from notegateway.core.identifiers import identifier_kind, identifier_problem
from notegateway.core.jsonbody import printable
from notegateway.core.note_wire import (
    HisMedicalNoticeOut,
    NoticePeriodOut,
    PatientOut,
    PractitionerOut,
)
from notegateway.core.timeutil import neispuo_date, neispuo_datetime
from notegateway.core.wire import known_names, validate_item
from notegateway.diary.excusal import excusal_comment
from notegateway.notices.medical import Path, warnings_by_item
from notegateway.notices.schemas import HisMedicalNoticeIn

EARLIEST_FROM_DATE = dt.date(2022, 9, 1)
MAX_PERIOD_DAYS = 366

_KNOWN = known_names(HisMedicalNoticeIn)


@dataclass(frozen=True, slots=True)
class ValidNote:
    """A note that passed every rule, with what the database keeps of it."""

    nrn: str
    nrn_examination: str
    identifier_type: int
    identifier_kind: int
    identifier: str
    pmi: str
    from_date: dt.date
    to_date: dt.date
    authored_on: dt.datetime
    payload: HisMedicalNoticeOut  # the normalised note, as stored and handed on
    excusal_comment: str


def _rule_errors(note: HisMedicalNoticeIn, today: dt.date) -> list[ErrorItem]:
    errors: list[ErrorItem] = []
    patient = note.patient
    problem = identifier_problem(patient.identifier_type, patient.identifier)
    if problem:
        errors.append({"loc": ["patient", "identifier"], "msg": problem})
    period = note.medical_notice
    if period.from_date > period.to_date:
        errors.append({"loc": ["medicalNotice", "toDate"], "msg": "must not be before fromDate"})
    elif (period.to_date - period.from_date).days + 1 > MAX_PERIOD_DAYS:
        errors.append(
            {
                "loc": ["medicalNotice", "toDate"],
                "msg": f"the period is longer than {MAX_PERIOD_DAYS} days",
            }
        )
    if period.from_date < EARLIEST_FROM_DATE:
        errors.append(
            {
                "loc": ["medicalNotice", "fromDate"],
                "msg": f"must not be before {EARLIEST_FROM_DATE.isoformat()}",
            }
        )
    if period.authored_on.date() > today + dt.timedelta(days=1):
        errors.append({"loc": ["medicalNotice", "authoredOn"], "msg": "must not be after tomorrow"})
    return errors


def normalise(note: HisMedicalNoticeIn) -> HisMedicalNoticeOut:
    """What the gateway stores and hands on (NEISPUO's date forms, null names as "")."""
    return HisMedicalNoticeOut(
        nrn_medical_notice=note.nrn_medical_notice,
        nrn_examination=note.nrn_examination,
        patient=PatientOut(
            identifier_type=note.patient.identifier_type,
            identifier=note.patient.identifier,
            given_name=note.patient.given_name or "",
            family_name=note.patient.family_name or "",
        ),
        practitioner=PractitionerOut(pmi=note.practitioner.pmi),
        medical_notice=NoticePeriodOut(
            from_date=neispuo_date(note.medical_notice.from_date),
            to_date=neispuo_date(note.medical_notice.to_date),
            authored_on=neispuo_datetime(note.medical_notice.authored_on),
        ),
    )


def validate_note(raw: Any, today: dt.date) -> tuple[ValidNote | None, list[ErrorItem]]:
    """Judge one pushed item on its own: the valid note, or the errors naming each field."""
    if not isinstance(raw, dict):
        return None, [{"loc": [], "msg": "a note must be a JSON object"}]
    note, errors = validate_item(HisMedicalNoticeIn, raw, _KNOWN)
    if note is not None:
        errors.extend(_rule_errors(note, today))
    if errors or note is None:
        return None, errors
    return (
        ValidNote(
            nrn=note.nrn_medical_notice,
            nrn_examination=note.nrn_examination,
            identifier_type=note.patient.identifier_type,
            identifier_kind=identifier_kind(note.patient.identifier_type),
            identifier=note.patient.identifier,
            pmi=note.practitioner.pmi,
            from_date=note.medical_notice.from_date,
            to_date=note.medical_notice.to_date,
            authored_on=note.medical_notice.authored_on.replace(microsecond=0),
            payload=normalise(note),
            excusal_comment=excusal_comment(
                note.nrn_medical_notice,
                note.medical_notice.authored_on,
                note.medical_notice.from_date,
                note.medical_notice.to_date,
                note.practitioner.pmi,
            ),
        ),
        [],
    )


@dataclass(frozen=True, slots=True)
class JudgedNote:
    """One pushed item judged on its own, before the database sees it: the valid note, or
    why not. `raw` is the item as received (medical content dropped already): only the
    rejection log's allow-list reads it (notices/rejections.py)."""

    index: int
    nrn: str | None  # the NRN it names, valid or not, for its result line
    note: ValidNote | None  # None: invalid
    errors: tuple[ErrorItem, ...]
    warnings: tuple[ErrorItem, ...]  # medical content dropped: paths only
    raw: Any


def judge_notes(items: list[Any], dropped: list[Path], today: dt.date) -> list[JudgedNote]:
    """Judge each item of a push on its own (the router does, before the service keeps)."""
    warned = warnings_by_item(dropped)
    judged: list[JudgedNote] = []
    for index, raw in enumerate(items):
        note, errors = validate_note(raw, today)
        nrn = note.nrn if note is not None else raw_nrn(raw)
        judged.append(
            JudgedNote(index, nrn, note, tuple(errors), tuple(warned.get(index, ())), raw)
        )
    return judged


def raw_nrn(raw: Any) -> str | None:
    """The NRN an item names (for its result line), whatever its validity."""
    if isinstance(raw, dict):
        for key, value in raw.items():
            if key.casefold() == "nrnmedicalnotice" and isinstance(value, str):
                return printable(value)
    return None
