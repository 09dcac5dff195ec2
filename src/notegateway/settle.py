"""The one step every write ends with: apply the excusal rules, count, write the feeds.

It sits above the domains (the import contract in pyproject.toml): writers record in
`core.settling.Changes` what they changed and call `core.settling.settle` once, last, in
their own transaction; that port runs this step, which `install()` puts under it (the
app and the demo call it at start).
Order matters: the rules first (they decide the absences), then the metrics,
then the feeds: the change feed (every change made to an absence, by the rules or by the
writer; written by the rules' own statement, in the same round trip), then what each
vendor is told (their order for readers: core/feed.py).
"""

from __future__ import annotations

import asyncpg

from notegateway.core import metrics, settling
from notegateway.core.db import rehearsing
from notegateway.core.settling import Changes, Settled
from notegateway.diary import reconcile_repository
from notegateway.vendors import service as vendors_service


async def settle(db: asyncpg.Connection, actor: str, changes: Changes) -> Settled:
    """Reconcile, count, write the feeds; once per request, as its last step."""
    result = await reconcile_repository.reconcile_absences(
        db, actor, changes.person_days, changes.released, published=changes.absences
    )
    if not rehearsing():  # a console's rehearsal is undone: nothing to count
        metrics.ABSENCES_EXCUSED.inc(result.excused)
        metrics.ABSENCES_REVERTED.inc(result.reverted)
        metrics.ABSENCES_REATTRIBUTED.inc(result.reattributed)
    settled = Settled(result.excused, result.reverted, result.reattributed)
    if not (changes.notes or changes.quietly or changes.redeliver):
        return settled
    await vendors_service.sync_feed(db, changes.notes, redeliver=changes.redeliver)
    await vendors_service.sync_feed(db, changes.quietly, silent=True)
    return settled


def install() -> None:
    """Put this step under the writers' port (core/settling.py)."""
    settling.install(settle)
