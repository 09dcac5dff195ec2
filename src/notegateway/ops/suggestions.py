"""Who an unmatched note may belong to: the helpdesk's suggestions, best first.

A note stays unmatched when its identifier is no registered person's: a typo at the
doctor's, or a pupil not yet registered. The persons suggested are those with the note's
names (first given name and family name, any case) and
- an identifier one digit away (`identifierDigit`: one digit typed wrong), or
- an identifier with two neighbouring digits swapped (`identifierSwap`), or
- for an ЕГН, the same birth date, read from its first six digits (`birthDate`).
A note that carries no names gets none: "the same names" is every kind's condition (a
birth date or a near identifier alone would show strangers' children); the console's
lookup by the full identifier serves it. One statement finds them all: the variants of
the identifier are computed here and looked up as a set, the birth date as a range of
the identifier index;
names are compared here, where case folding does not depend on the database's locale.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import asyncpg

from notegateway.core.errors import NotFound
from notegateway.core.identifiers import IdentifierType, mask
from notegateway.core.note_wire import note_of
from notegateway.core.scope import refuse_regional
from notegateway.ops import suggestions_repository as repository

MAX_SUGGESTIONS = 5


class Why(StrEnum):
    """Why a person is suggested, best first (the console says it in Bulgarian)."""

    IDENTIFIER_DIGIT = "identifierDigit"
    IDENTIFIER_SWAP = "identifierSwap"
    BIRTH_DATE = "birthDate"


_RANK = {why: rank for rank, why in enumerate(Why)}


@dataclass(frozen=True, slots=True)
class Suggestion:
    person_id: int
    given_name: str
    family_name: str
    identifier: str  # masked
    why: Why
    positions: tuple[int, ...]  # the digits (1-based) where the identifiers differ


def identifier_variants(identifier: str) -> dict[str, tuple[Why, tuple[int, ...]]]:
    """Every identifier one digit, or one swap of two neighbouring digits, away."""
    variants: dict[str, tuple[Why, tuple[int, ...]]] = {}
    for i, char in enumerate(identifier):
        if not char.isdigit():
            continue
        for digit in "0123456789":
            if digit != char:
                variants[identifier[:i] + digit + identifier[i + 1 :]] = (
                    Why.IDENTIFIER_DIGIT,
                    (i + 1,),
                )
        after = identifier[i + 1 : i + 2]
        if after.isdigit() and after != char:
            swapped = identifier[:i] + after + char + identifier[i + 2 :]
            variants[swapped] = (Why.IDENTIFIER_SWAP, (i + 1, i + 2))
    return variants


def _name_key(given: str, family: str) -> tuple[str, str] | None:
    given_words, family_words = given.split(), family.split()
    if not given_words or not family_words:
        return None
    return given_words[0].casefold(), family_words[-1].casefold()


def _birth_prefix(identifier_type: int, identifier: str) -> str | None:
    prefix = identifier[:6]
    if identifier_type != IdentifierType.EGN or not prefix.isdigit() or len(prefix) < 6:
        return None
    return prefix if prefix != "999999" else None


async def suggestions(db: asyncpg.Connection, nrn: str, region: str | None) -> list[Suggestion]:
    """Up to 5 registered persons an unmatched note may belong to; none for a matched one."""
    refuse_regional(region, "unmatched notes")
    note = await repository.note_identity(db, nrn)
    if note is None:
        raise NotFound(f"no medical notice {nrn} has been received")
    if note.person_id is not None:
        return []
    patient = note_of(note.payload).patient
    names = _name_key(patient.given_name, patient.family_name)
    if names is None:
        return []
    variants = identifier_variants(note.identifier)
    prefix = _birth_prefix(note.identifier_type, note.identifier)
    upper = f"{int(prefix) + 1:06d}" if prefix else None
    found: dict[int, Suggestion] = {}
    for person in await repository.candidates(
        db, note.identifier_kind, list(variants), prefix, upper
    ):
        if _name_key(person.given_name, person.family_name) != names:
            continue
        why, positions = variants.get(person.identifier, (Why.BIRTH_DATE, ()))
        suggestion = Suggestion(
            person.person_id,
            person.given_name,
            person.family_name,
            mask(person.identifier),
            why,
            positions,
        )
        kept = found.get(person.person_id)
        if kept is None or _RANK[why] < _RANK[kept.why]:
            found[person.person_id] = suggestion
    ranked = sorted(found.values(), key=lambda s: (_RANK[s.why], s.person_id))
    return ranked[:MAX_SUGGESTIONS]


@dataclass(frozen=True, slots=True)
class FoundPerson:
    person_id: int
    given_name: str
    family_name: str
    identifier: str  # masked


async def lookup(db: asyncpg.Connection, identifier: str, region: str | None) -> list[FoundPerson]:
    """The registered persons with this full identifier (current or former): how the
    helpdesk links a note when the parent reads the right ЕГН over the phone."""
    refuse_regional(region, "unmatched notes")
    return [
        FoundPerson(c.person_id, c.given_name, c.family_name, mask(c.identifier))
        for c in await repository.by_identifier(db, identifier.strip())
    ]
