"""The illness wave: per day and region (or town), how many pupils a note covers, with
small counts suppressed so that no child can be singled out."""

from __future__ import annotations

import datetime as dt

import asyncpg

from notegateway.core.errors import BadRequest
from notegateway.core.timeutil import today_in_sofia
from notegateway.ops import wave_repository
from notegateway.ops.schemas import DayFigure, NoteFigures
from notegateway.ops.wave_repository import DayCount

SUPPRESS_UNDER = 5  # a count under this is not shown: no child can be singled out
MAX_STATS_DAYS = 366


async def notes_by_day(
    db: asyncpg.Connection,
    from_date: dt.date | None,
    to_date: dt.date | None,
    by: str,
    region: str | None,
) -> NoteFigures:
    """The illness wave: per day and region (or town), how many pupils a note covers;
    counts under SUPPRESS_UNDER suppressed. Default: the 30 days up to today."""
    to_date = to_date or today_in_sofia()
    from_date = from_date or to_date - dt.timedelta(days=29)
    if from_date > to_date or (to_date - from_date).days >= MAX_STATS_DAYS:
        raise BadRequest(
            f"fromDate..toDate must be a period of 1 to {MAX_STATS_DAYS} days",
            [{"loc": ["query", "fromDate"], "msg": "not a period of 1 to 366 days"}],
        )
    rows = await wave_repository.notes_by_day(db, from_date, to_date, by, region)
    hidden = suppressed(rows)
    items = []
    for r in rows:
        shown = (r.date, r.name) not in hidden
        group = {by: r.name}  # only the grouping's key is set, and so sent
        items.append(
            DayFigure(
                date=r.date.isoformat(),
                pupils=r.pupils if shown else None,
                suppressed=not shown,
                **group,
            )
        )
    return NoteFigures(items=items)


def suppressed(rows: list[DayCount]) -> set[tuple[dt.date, str | None]]:
    """The cells (day, group) not shown: every count under SUPPRESS_UNDER, and then, so
    that no hidden count follows by subtraction from the total shown beside them (a town's
    region), in every day and parent with exactly one hidden cell the smallest other cell
    too. Two hidden cells give away only their sum."""
    hidden = {(r.date, r.name) for r in rows if r.pupils < SUPPRESS_UNDER}
    families: dict[tuple[dt.date, str], list[DayCount]] = {}
    for r in rows:
        if r.parent is not None:
            families.setdefault((r.date, r.parent), []).append(r)
    for cells in families.values():
        alone = [c for c in cells if (c.date, c.name) in hidden]
        shown = [c for c in cells if (c.date, c.name) not in hidden]
        if len(alone) == 1 and shown:
            smallest = min(shown, key=lambda c: (c.pupils, c.name or ""))
            hidden.add((smallest.date, smallest.name))
    return hidden
