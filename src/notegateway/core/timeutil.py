"""Dates and times as the contract reads and writes them (Bulgarian local time)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import BeforeValidator, Field

SOFIA = ZoneInfo("Europe/Sofia")
# Dates outside these years are refused (the database driver reads the extremes as ±infinity).
MIN_YEAR, MAX_YEAR = 1900, 9998
# All of time: asyncpg writes and reads these as the dates '-infinity' and 'infinity'.
NEVER, FOREVER = dt.date.min, dt.date.max

# `YYYY-MM-DD`, or that with `THH:MM`, optional seconds and fraction, optional offset.
_DATE_OR_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,7})?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?"
)


def parse_local_datetime(value: Any) -> dt.datetime:
    """`YYYY-MM-DD` or an ISO date-time; one with an offset is turned into Sofia local time."""
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime.combine(value, dt.time())
    elif isinstance(value, str):
        text = value.strip()
        if not _DATE_OR_DATETIME.fullmatch(text):
            raise ValueError("must be a date YYYY-MM-DD or a date-time YYYY-MM-DDTHH:MM[:SS]")
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError("must be a real date (YYYY-MM-DD) or date-time") from None
    else:
        raise ValueError("must be a date YYYY-MM-DD or a date-time string")
    if parsed.tzinfo is not None:
        try:
            parsed = parsed.astimezone(SOFIA).replace(tzinfo=None)
        except OverflowError:
            raise ValueError("out of the range of dates") from None
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise ValueError(f"the year must be from {MIN_YEAR} to {MAX_YEAR}")
    return parsed


def parse_local_date(value: Any) -> dt.date:
    return parse_local_datetime(value).date()


LocalDate = Annotated[dt.date, BeforeValidator(parse_local_date)]
# A date in a query string: the same strict forms (no number read as a timestamp).
QueryDate = Annotated[
    dt.date | None, BeforeValidator(lambda v: None if v is None else parse_local_date(v))
]
LocalDateTime = Annotated[dt.datetime, BeforeValidator(parse_local_datetime)]


def neispuo_date(value: dt.date) -> str:
    return f"{value.isoformat()}T00:00:00"


def neispuo_datetime(value: dt.datetime) -> str:
    return value.replace(microsecond=0, tzinfo=None).isoformat(timespec="seconds")


def today_in_sofia() -> dt.date:
    return dt.datetime.now(SOFIA).date()


def age_seconds(moment: dt.datetime | None, now: dt.datetime | None = None) -> float:
    """How long ago `moment` was, in seconds (0 for none, or one not yet past)."""
    if moment is None:
        return 0.0
    return max(((now or dt.datetime.now(dt.UTC)) - moment).total_seconds(), 0.0)


def open_end(value: Any) -> Any:
    """NEISPUO writes an open-ended enrollment as 9999-12-31: read it as no end date."""
    if isinstance(value, str) and value.strip().startswith("9999-"):
        return None
    return value


# School years as NEISPUO keeps them: school year Y runs from 1 September Y to 30 September
# Y+1 (its last September overlaps the next year's first), so a note for late September
# belongs to two school years.
SCHOOL_YEAR_START = (9, 1)
SCHOOL_YEAR_END = (9, 30)  # of the following year
SchoolYear = Annotated[
    int, Field(ge=2000, le=2999, description="the year its 1 September falls in")
]


def school_year_days(year: int) -> tuple[dt.date, dt.date]:
    """The first and last day of school year `year` (1 Sep `year` – 30 Sep `year`+1)."""
    return dt.date(year, *SCHOOL_YEAR_START), dt.date(year + 1, *SCHOOL_YEAR_END)


def school_year_of(day: dt.date) -> int:
    """The school year a day is taught in (its last September: the new one)."""
    return day.year if day >= dt.date(day.year, *SCHOOL_YEAR_START) else day.year - 1


def school_years(from_date: dt.date, to_date: dt.date) -> list[int]:
    """The school years a period overlaps."""
    first = (
        from_date.year - 1
        if from_date <= dt.date(from_date.year, *SCHOOL_YEAR_END)
        else from_date.year
    )
    last = (
        to_date.year if to_date >= dt.date(to_date.year, *SCHOOL_YEAR_START) else to_date.year - 1
    )
    return list(range(first, last + 1))
