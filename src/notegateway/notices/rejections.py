"""What is kept of a rejected push for the helpdesk: the item as it came, with every
identifier masked and every name dropped, whatever shape the item has.

- A value under a key named `identifier` (any case, any depth) is masked (`14******38`).
- Keys that carry a person's names (`givenName`, `middleName`, `familyName`, `name`, any
  case) are dropped.
- Any run of ten digits left anywhere (an ЕГН or ЛНЧ in the wrong field) is masked too,
  in the item and in the error messages. Keys are masked like values.
- What PostgreSQL cannot keep in jsonb (lone surrogates, NUL) is escaped as text;
  what is nested deeper than MAX_DEPTH is replaced by a mark.
"""

from __future__ import annotations

from typing import Any

from notegateway.core.identifiers import mask, mask_ten_digit_runs
from notegateway.core.jsonbody import printable

MAX_DEPTH = 32  # a note is 3 deep; what is nested past this is not kept
TOO_DEEP = "(nested too deep to keep)"
_NAME_KEYS = frozenset({"givenname", "middlename", "familyname", "name"})


def masked_text(text: str) -> str:
    """Ten-digit runs masked; what PostgreSQL cannot keep (lone surrogates, NUL) escaped."""
    kept = printable(text).replace("\x00", "\\u0000")
    return mask_ten_digit_runs(kept)


def masked(value: Any, depth: int = 0) -> Any:
    """`value` (parsed JSON) without identifiers or names; below MAX_DEPTH, a mark."""
    if depth >= MAX_DEPTH and isinstance(value, dict | list):
        return TOO_DEEP
    if isinstance(value, dict):
        kept: dict[str, Any] = {}
        for key, inner in value.items():
            folded = key.casefold()
            if folded in _NAME_KEYS:
                continue
            if (
                folded == "identifier"
                and isinstance(inner, str | int)
                and not isinstance(inner, bool)
            ):
                kept[masked_text(key)] = mask(printable(str(inner)))
            else:
                kept[masked_text(key)] = masked(inner, depth + 1)
        return kept
    if isinstance(value, list):
        return [masked(inner, depth + 1) for inner in value]
    if isinstance(value, str):
        return masked_text(value)
    if isinstance(value, int) and not isinstance(value, bool) and len(str(abs(value))) >= 10:
        return masked_text(str(value))  # an identifier sent as a number
    return value
