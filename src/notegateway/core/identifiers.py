"""Personal identifiers: ЕГН, ЛНЧ and the rest; how they match and how they are masked."""

from __future__ import annotations

import re
from enum import IntEnum

from stdnum.bg import egn, pnf

_TEN_DIGITS = re.compile(r"[0-9]{10}")


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
    if identifier_type == IdentifierType.EGN:
        if not _TEN_DIGITS.fullmatch(identifier) or not egn.is_valid(identifier):
            return "not a valid ЕГН (10 digits, a real birth date and a valid check digit)"
    elif identifier_type == IdentifierType.LNCH:
        if not _TEN_DIGITS.fullmatch(identifier) or not pnf.is_valid(identifier):
            return "not a valid ЛНЧ (10 digits with a valid check digit)"
    elif not 1 <= len(identifier) <= 255:
        return "must be 1 to 255 characters"
    return None


def mask(identifier: str) -> str:
    """`1443151238` → `14******38`: what a log may show of an identifier."""
    if len(identifier) <= 4:
        return "*" * len(identifier)
    return identifier[:2] + "*" * (len(identifier) - 4) + identifier[-2:]
