"""What is kept of a rejected push for the helpdesk: an allow-list, nothing else.

An operator answering "my child's note did not arrive" needs to find the push and see
why it was refused, not the child's name or illness. So `item` keeps only:

- the two NRNs, `identifierType` and the dates, where the contract puts them, when each
  is a short scalar (text cut at MAX_KEPT_CHARS, ten-digit runs masked: an ЕГН typed
  into the wrong field);
- the doctor's `pmi` (УИН, ten digits itself: not masked, cut at MAX_KEPT_CHARS);
- the identifier, masked (`14******38`), when it is a string or a number;
- of every other field (names, phone, an identifier inside a list, an `egn` written with
  spaces, anything unknown) only its path, in `otherFields`, never its value.

Medical keys never get here: they are dropped when the body is read (notices/medical.py).
Error messages name paths and rules; ten-digit runs in them are masked all the same.
"""

from __future__ import annotations

from typing import Any

from notegateway.core.identifiers import mask, mask_ten_digit_runs
from notegateway.core.jsonbody import printable

MAX_KEPT_CHARS = 40  # an NRN is 12, a date-time 25: more is not what the helpdesk needs
MAX_OTHER_FIELDS = 50  # paths kept of other fields; past this, one mark
MORE = "…"
OTHER_FIELDS = "otherFields"

TEXT, IDENTIFIER, DOCTOR = "text", "identifier", "doctor"  # how a kept value is shown
# Where each kept value lives: container (None: the item itself) → case-folded key →
# (the contract's name, how it is shown).
_KEPT: dict[str | None, dict[str, tuple[str, str]]] = {
    None: {
        "nrnmedicalnotice": ("nrnMedicalNotice", TEXT),
        "nrnexamination": ("nrnExamination", TEXT),
    },
    "patient": {
        "identifiertype": ("identifierType", TEXT),
        "identifier": ("identifier", IDENTIFIER),
    },
    "practitioner": {"pmi": ("pmi", DOCTOR)},
    "medicalnotice": {
        "fromdate": ("fromDate", TEXT),
        "todate": ("toDate", TEXT),
        "authoredon": ("authoredOn", TEXT),
    },
}
_CONTAINERS = {
    "patient": "patient",
    "practitioner": "practitioner",
    "medicalnotice": "medicalNotice",
}


def masked_text(text: str) -> str:
    """Ten-digit runs masked; what PostgreSQL cannot keep (lone surrogates, NUL) escaped."""
    kept = printable(text).replace("\x00", "\\u0000")
    return mask_ten_digit_runs(kept)


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _kept_value(value: Any, shown: str) -> Any:
    if shown == IDENTIFIER:
        return mask(printable(str(value)))
    if shown == DOCTOR:
        return printable(str(value))[:MAX_KEPT_CHARS].replace("\x00", "\\u0000")
    if isinstance(value, str):
        return masked_text(value[:MAX_KEPT_CHARS])
    text = str(value)
    return masked_text(text) if len(text) >= 10 else value


def _path_part(key: Any) -> Any:
    return masked_text(key[:MAX_KEPT_CHARS]) if isinstance(key, str) else key


def kept_of_item(raw: Any) -> dict[str, Any] | None:
    """The allow-listed projection of one pushed item (None: it was not an object)."""
    if not isinstance(raw, dict):
        return None
    kept: dict[str, Any] = {}
    others: list[list[Any]] = []

    def visit(node: dict[Any, Any], container: str | None, path: list[Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        allowed = _KEPT[container]
        for key, value in node.items():
            folded = key.casefold() if isinstance(key, str) else ""
            if folded in allowed and _scalar(value):
                name, shown = allowed[folded]
                out[name] = _kept_value(value, shown)
            elif container is None and folded in _CONTAINERS and isinstance(value, dict):
                inner = visit(value, folded, [*path, _path_part(key)])
                if inner:
                    out[_CONTAINERS[folded]] = inner
            else:
                others.append([*path, _path_part(key)])
        return out

    kept = visit(raw, None, [])
    if others:
        kept[OTHER_FIELDS] = others[:MAX_OTHER_FIELDS] + (
            [[MORE]] if len(others) > MAX_OTHER_FIELDS else []
        )
    return kept


def masked_errors(errors: list[Any]) -> list[Any]:
    """Error items as kept: paths and rules only (ten-digit runs masked, text cut)."""
    return [
        {
            "loc": [_path_part(part) for part in error.get("loc", [])],
            "msg": masked_text(str(error.get("msg", ""))[:200]),
        }
        for error in errors
    ]
