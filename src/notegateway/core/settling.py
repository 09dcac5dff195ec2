"""What writers hand to the one settle step, and the port through which they call it.

A writer (a push, a cancellation, an absence, a registry write, a diary switch, a review
closed, a redelivery) records in `Changes` what it changed and calls `settle` once, last,
in its own transaction. The step itself (`notegateway/settle.py`) sits above the domains:
it applies the diary's excusal rules and writes the vendors' feed, so no domain imports
another to finish a write. `notegateway.settle.install()` puts it here (the app and the
demo call it at start); a writer that runs without it fails loudly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg

from notegateway.core.timeutil import FOREVER, NEVER

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


@dataclass(frozen=True, slots=True)
class Settled:
    """What the rules did to absences while settling."""

    excused: int = 0
    reverted: int = 0
    reattributed: int = 0


SettleStep = Callable[[asyncpg.Connection, str, Changes], Awaitable[Settled]]
_installed: list[SettleStep] = []


def install(step: SettleStep) -> None:
    """Install the settle step (`notegateway.settle.install()` does)."""
    _installed[:] = [step]


async def settle(db: asyncpg.Connection, actor: str, changes: Changes) -> Settled:
    """Reconcile, count, write the feeds; once per request, as the writer's last step."""
    if not _installed:
        raise RuntimeError("no settle step installed: call notegateway.settle.install()")
    return await _installed[0](db, actor, changes)
