"""The one step every write ends with: apply the excusal rules, count, write the feeds.

A writer (a push, a cancellation, an absence, a registry write, a diary switch, a review
closed) records in `Changes` what it changed and calls `settle` once, last, in its own
transaction. Order matters: the rules first (they decide the absences), then the metrics,
then the feeds: the feed writers' lock, held to commit (core/feed.py), then the change
feed (every change made to an absence, by the rules or by the writer), then what each
vendor is told.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import asyncpg

from notegateway.core import locks, metrics
from notegateway.core.db import rehearsing
from notegateway.core.timeutil import FOREVER, NEVER
from notegateway.diary import changes_repository, reconcile_repository
from notegateway.diary.reconcile_repository import Reconciled
from notegateway.vendors import service as vendors_service

EVER = (NEVER, FOREVER)


@dataclass(slots=True)
class Changes:
    """What a request changed, for the rules and the feeds. Callers hold the persons'
    identity locks (core/locks.py) for every person named here."""

    # The days of these persons whose absences the rules must decide again.
    person_days: list[tuple[int, dt.date, dt.date]] = field(default_factory=list)
    # Notes whose held absences must be decided again (cancelled, or moved off a person).
    released: list[int] = field(default_factory=list)
    # Notes whose status, person or placements changed: each vendor hears what it means.
    notes: list[int] = field(default_factory=list)
    # Notes whose vendors' view changed by a diary switch: brought up to date silently.
    quietly: list[int] = field(default_factory=list)
    # (vendor, note) pairs an operator hands again: a redelivered `note.issued` event.
    redeliver: list[tuple[int, int]] = field(default_factory=list)
    # Audit entries of changes the writer itself made to absences (a review closed).
    absences: list[int] = field(default_factory=list)

    def person(self, person_id: int, days: tuple[dt.date, dt.date] = EVER) -> None:
        self.person_days.append((person_id, *days))


async def settle(db: asyncpg.Connection, actor: str, changes: Changes) -> Reconciled:
    """Reconcile, count, write the feeds; once per request, as its last step."""
    result = await reconcile_repository.reconcile_absences(
        db, actor, changes.person_days, changes.released
    )
    if not rehearsing():  # a console's rehearsal is undone: nothing to count
        metrics.ABSENCES_EXCUSED.inc(result.excused)
        metrics.ABSENCES_REVERTED.inc(result.reverted)
        metrics.ABSENCES_REATTRIBUTED.inc(result.reattributed)
    changed = [*changes.absences, *result.changes]
    if not (changed or changes.notes or changes.quietly or changes.redeliver):
        return result
    if changed:  # the feed writers' lock first, in the same round trip
        await changes_repository.publish(db, changed)
    else:
        await locks.lock_feed_writers(db)
    await vendors_service.sync_feed(db, changes.notes, redeliver=changes.redeliver)
    await vendors_service.sync_feed(db, changes.quietly, silent=True)
    return result
