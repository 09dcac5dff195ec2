"""Personal data kept no longer than the school documents it stands beside (GDPR art.
5(1)(e), storage limitation).

The rule: a school year is kept for NOTEGATEWAY_RETENTION_SCHOOL_YEARS whole school years
after it (default 5: Наредба № 8 от 11.08.2016 keeps a class's diary five years, and a note
exists here only to excuse that diary's absences); then, at the first purge of the school
year after those, everything of it is removed, one transaction per school year:
- notes whose last day is in it (with their placements, what vendors were told and served,
  their acks, review items and cancellations), and every absence of its days or excused by
  such a note;
- audit entries about those notes or absences (or about absences of its days that the
  diary deleted), and those written in its days about nothing that stays (the purges'
  own entries stay);
- former identifiers given up in it, and month reports of its months.
A day belongs to the school year `core/timeutil.school_year_of` gives (from 1 September).
Persons and enrolments are NEISPUO's registry, kept as NEISPUO sends them.

Each purge writes its counts (never content) to `retention_purges`, and to the audit log
when anything went.
The hourly job purges only when a school year has newly passed retention (a look at
`retention_purges`); `notegateway purge` looks at every year, late arrivals included.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncEngine

from notegateway.core.db import transaction
from notegateway.core.timeutil import school_year_of
from notegateway.ops import retention_repository
from notegateway.ops.retention_repository import PURGE_TIMEOUT_S, Purged


def newest_purgeable(today: dt.date, keep_school_years: int) -> int:
    """The newest school year past retention on `today`."""
    return school_year_of(today) - keep_school_years - 1


async def purge(
    engine: AsyncEngine, today: dt.date, keep_school_years: int, only_when_due: bool
) -> list[Purged]:
    """Purge every school year past retention that still holds anything, oldest first,
    each in a transaction of its own (the job that owns these transactions). With
    `only_when_due` (the hourly job), nothing is looked at unless the newest purgeable
    year is not yet purged, and a purge another process is at is left to it; without,
    this one waits its turn."""
    newest = newest_purgeable(today, keep_school_years)
    async with transaction(engine) as db:
        if not await retention_repository.take_the_purge(db, wait=not only_when_due):
            return []
        done = await retention_repository.purged_through(db)
        if only_when_due and done is not None and done >= newest:
            return []
        oldest = await retention_repository.oldest_day(db)
    # The newest purgeable year is purged even when empty: its mark spares the hourly job
    # the scans until the next school year passes retention.
    first = newest if oldest is None else min(school_year_of(oldest), newest)
    purged = []
    for year in range(first, newest + 1):
        async with transaction(engine, commit_timeout_s=PURGE_TIMEOUT_S) as db:
            if not await retention_repository.take_the_purge(db, wait=not only_when_due):
                break
            purged.append(await retention_repository.purge_year(db, year))
    return purged
