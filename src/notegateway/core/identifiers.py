"""Personal identifiers: ЕГН, ЛНЧ and the rest; how they match and how they are masked."""

from __future__ import annotations

import re
from enum import IntEnum
from typing import Annotated

from pydantic import BeforeValidator, Field
from stdnum.bg import egn, pnf
from stdnum.exceptions import InvalidComponent

from notegateway.core.wire import reject_bool

_TEN_DIGITS = re.compile(r"[0-9]{10}")

IdentifierTypeField = Annotated[
    int,
    BeforeValidator(reject_bool),
    Field(ge=1, le=5, description="1 ЕГН, 2 ЛНЧ, 3-5 other (a number or numeric string)"),
]


class IdentifierType(IntEnum):
    EGN = 1
    LNCH = 2
    FOREIGNER_SOCIAL = 3
    PASSPORT = 4
    OTHER = 5


def identifier_kind(identifier_type: int) -> int:
    """The matching kind: 1 ЕГН, 2 ЛНЧ, 3 every other identifier (types 3, 4 and 5)."""
    return min(identifier_type, 3)


def identifier_problem(identifier_type: int, identifier: str) -> str | None:
    """Why this identifier is not acceptable for its type, or None."""
    # Exactly ten ASCII digits first, so python-stdnum's checks need no clean-up pass.
    if identifier_type == IdentifierType.EGN:
        if not _TEN_DIGITS.fullmatch(identifier) or not _egn_valid(identifier):
            return "not a valid ЕГН (10 digits, a real birth date and a valid check digit)"
    elif identifier_type == IdentifierType.LNCH:
        if (
            not _TEN_DIGITS.fullmatch(identifier)
            or pnf.calc_check_digit(identifier[:9]) != identifier[9]
        ):
            return "not a valid ЛНЧ (10 digits with a valid check digit)"
    elif not 1 <= len(identifier) <= 255:
        return "must be 1 to 255 characters"
    return None


def _egn_valid(number: str) -> bool:
    """The birth date (months +20 for the 1800s, +40 for the 2000s) and the check digit."""
    if egn.calc_check_digit(number[:9]) != number[9]:
        return False
    try:
        egn.get_birth_date(number)
    except InvalidComponent:
        return False
    return True


def mask(identifier: str) -> str:
    """`1443151238` → `14******38`: what a log may show of an identifier."""
    if len(identifier) <= 4:
        return "*" * len(identifier)
    return identifier[:2] + "*" * (len(identifier) - 4) + identifier[-2:]


# Any run of 10 digits (an ЕГН or ЛНЧ) in free text.
_TEN_DIGIT_RUN = re.compile(r"(?<![0-9])[0-9]{10}(?![0-9])")


def mask_ten_digit_runs(text: str) -> str:
    """`text` with every run of ten digits masked: identifiers that slipped into it."""
    return _TEN_DIGIT_RUN.sub(lambda m: mask(m.group(0)), text)
