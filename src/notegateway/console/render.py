"""How the console renders: its Jinja environment, the filters every page uses (dates as
dd.MM.yyyy, Sofia's clock, masked identifiers, the glossary's words) and `page()`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from notegateway.console import glossary
from notegateway.core.errors import DomainError
from notegateway.core.identifiers import mask
from notegateway.core.timeutil import SOFIA

_templates = Environment(
    loader=PackageLoader("notegateway.console"), autoescape=select_autoescape(default=True)
)


def _when(value: dt.datetime | str | None) -> str:
    """A moment as Sofia's clocks show it."""
    if value is None or value == "":
        return "—"
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(SOFIA).strftime("%d.%m.%Y %H:%M")


def day_text(value: dt.date | str | None) -> str:
    """A date as dd.MM.yyyy."""
    if value is None or value == "":
        return "—"
    day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])
    return day.strftime("%d.%m.%Y")


def _day_input(value: str) -> str:
    """A date field's value: an ISO date shown as dd.MM.yyyy, anything else as typed."""
    try:
        return dt.date.fromisoformat(value).strftime("%d.%m.%Y") if value else ""
    except ValueError:
        return value


def lesson_text(value: int | None) -> str:
    """An absence's lesson as people say it: '3. час', or 'целия ден' (a group's day)."""
    return "целия ден" if value is None else f"{value}. час"


def _ordinal(value: int) -> str:
    """1 → '1-ва', 2 → '2-ра', 7 → '7-ма', 5 → '5-та' (as in '5-та цифра')."""
    last_two, last = value % 100, value % 10
    if last_two not in (11, 12, 17, 18) and last in (1, 2, 7, 8):
        return f"{value}-{ {1: 'ва', 2: 'ра', 7: 'ма', 8: 'ма'}[last] }"
    return f"{value}-та"


_templates.filters |= {
    "ordinal": _ordinal,
    "mask": lambda value: mask(str(value)) if value else value,
    "when": _when,
    "day": day_text,
    "day_input": _day_input,
    "lesson": lesson_text,
    "field": glossary.field,
    "message": glossary.message,
}
_templates.globals |= {
    "STATUS": glossary.STATUS,
    "MATCH": glossary.MATCH,
    "ACTIONS": glossary.ACTIONS,
    "REVIEW_WHY": glossary.REVIEW_WHY,
    "SUGGESTION_WHY": glossary.SUGGESTION_WHY,
    "ACK_OUTCOMES": glossary.ACK_OUTCOMES,
    "KINDS": glossary.KINDS,
    "DAY_OUTCOMES": glossary.DAY_OUTCOMES,
    "REJECTION_OUTCOMES": glossary.REJECTION_OUTCOMES,
    "term": glossary.term,
}


def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A console page. `session` (when signed in) names the operator and carries the one-time
    message; `current` marks the menu entry of the page."""
    return HTMLResponse(_templates.get_template(name).render(**context), status_code=status)


def error_page(session: Any, status: int, message: str) -> HTMLResponse:
    return page("error.html", status, session=session, message=message)


def refused_page(session: Any, exc: DomainError) -> HTMLResponse:
    """The page of an action or a page the gateway refused, in the glossary's words."""
    return error_page(session, exc.status_code, glossary.error(exc.status_code, exc.detail))


MAX_OFFSET = 1_000_000  # a list's paging offset
NOT_A_NUMBER = "Въведете цяло число от {low} до {high}."


def number(text: str, low: int, high: int) -> int | None:
    """A whole number from a form or an address, within low..high, or None (the page
    then says so: an out-of-range number is never a 500)."""
    text = text.strip()
    if not text.isascii() or not text.lstrip("-").isdigit() or len(text) > 20:
        return None
    value = int(text)
    return value if low <= value <= high else None


def not_a_number_page(session: Any, low: int, high: int) -> HTMLResponse:
    return error_page(session, 400, NOT_A_NUMBER.format(low=low, high=high))
