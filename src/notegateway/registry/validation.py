"""Judging registry input item by item, before the database sees it: the contract's
shapes (pydantic), then the rules no schema states (an identifier's check digit, no two
overlapping enrollments in the same institution, class and section)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from notegateway.core.errors import ErrorItem
from notegateway.core.identifiers import identifier_problem
from notegateway.core.wire import known_names, validate_item
from notegateway.registry.schemas import PersonBatchItemIn

PERSON_NAMES = known_names(PersonBatchItemIn)


@dataclass(frozen=True, slots=True)
class JudgedPerson:
    """One person of a write judged on its own: the valid person, or why not."""

    index: int
    person_id: int | None  # the personId it names, valid or not, for its result line
    person: PersonBatchItemIn | None  # None: invalid
    errors: tuple[ErrorItem, ...]


def judge_persons(items: list[Any]) -> list[JudgedPerson]:
    """Judge each item of a persons batch (or the one person of a PUT) on its own."""
    judged: list[JudgedPerson] = []
    for index, raw in enumerate(items):
        person, errors = validate_item(PersonBatchItemIn, raw, PERSON_NAMES)
        if person is not None:
            errors = _rule_errors(person)
        person_id = person.person_id if person is not None else _raw_person_id(raw)
        valid = person if person is not None and not errors else None
        judged.append(JudgedPerson(index, person_id, valid, tuple(errors)))
    return judged


def _rule_errors(person: PersonBatchItemIn) -> list[ErrorItem]:
    """The identifier follows the note rules; two enrollments in the same institution,
    class and section may not overlap (in others they may)."""
    errors: list[ErrorItem] = []
    problem = identifier_problem(person.identifier_type, person.identifier)
    if problem:
        errors.append({"loc": ["identifier"], "msg": problem})
    enrollments = person.enrollments
    for i, e in enumerate(enrollments):
        if e.to_date is not None and e.to_date < e.from_date:
            errors.append(
                {"loc": ["enrollments", i, "toDate"], "msg": "must not be before fromDate"}
            )

    def key(i: int) -> tuple[int, str, str]:
        e = enrollments[i]
        return (e.institution_id, e.class_name, e.section or "")

    for _, same in itertools.groupby(sorted(range(len(enrollments)), key=key), key=key):
        ordered = sorted(same, key=lambda i: enrollments[i].from_date)
        for prev, nxt in itertools.pairwise(ordered):
            ends = enrollments[prev].to_date
            if ends is None or enrollments[nxt].from_date <= ends:
                errors.append(
                    {
                        "loc": ["enrollments", nxt, "fromDate"],
                        "msg": f"overlaps enrollment {prev} in the same institution, "
                        "class and section",
                    }
                )
    return errors


def _raw_person_id(raw: Any) -> int | None:
    if isinstance(raw, dict):
        for key, value in raw.items():
            if key.casefold() != "personid":
                continue
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
                return int(value)
    return None
