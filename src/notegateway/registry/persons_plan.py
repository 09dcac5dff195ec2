"""Planning a batch of person writes: what "one by one, in input order" means, worked out
in memory, so that the database sees a few set-based statements per batch.

Each item is judged against the state the items before it left: an identifier that is
another person's current one is a `conflict`; one that is only someone's former
identifier passes to this person; a changed identifier becomes the person's former one.
The writes are cut into chunks in which each person is written once; chunks are applied
in order, and within a chunk persons are written in input order, so an identifier that an
earlier item released is free when a later one claims it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from notegateway.core.errors import ErrorItem
from notegateway.registry.repository import EnrollmentRow, Holder, Identity, StoredPerson


@dataclass(slots=True)
class PersonResult:
    index: int
    person_id: int | None
    outcome: str
    errors: list[ErrorItem] = field(default_factory=list)


@dataclass(slots=True)
class Chunk:
    """Writes in which each person appears once."""

    persons: dict[int, StoredPerson] = field(default_factory=dict)  # in input order
    enrollments: dict[int, tuple[EnrollmentRow, ...]] = field(default_factory=dict)
    # Identities whose holder this chunk changed, with their holder after it.
    identities: dict[Identity, Holder] = field(default_factory=dict)

    def claimed(self) -> list[Identity]:
        return [i for i, h in self.identities.items() if h.current]

    def released(self) -> list[tuple[Identity, Holder]]:
        return [(i, h) for i, h in self.identities.items() if not h.current]


def plan_writes(
    items: Sequence[tuple[PersonResult, StoredPerson]],
    stored: dict[int, StoredPerson],
    holders: dict[Identity, Holder],
) -> list[Chunk]:
    """Judge each item (setting its result) and return the writes, chunked.

    `stored` holds the batch's persons as stored and `holders` the holder of every identity
    the batch names or its persons hold; both are updated as the items are judged.
    """
    chunks = [Chunk()]
    for result, wanted in items:
        holder = holders.get(wanted.identity)
        if holder is not None and holder.current and holder.person_id != wanted.person_id:
            result.outcome = "conflict"
            result.errors = [
                {"loc": ["identifier"], "msg": "this identifier is held by another person"}
            ]
            continue
        before = stored.get(wanted.person_id)
        if before == wanted:
            result.outcome = "unchanged"
            continue
        result.outcome = "created" if before is None else "updated"
        chunk = chunks[-1]
        if wanted.person_id in chunk.persons:
            chunk = Chunk()
            chunks.append(chunk)
        chunk.persons[wanted.person_id] = wanted
        if before is None or before.enrollments != wanted.enrollments:
            chunk.enrollments[wanted.person_id] = wanted.enrollments
        if before is None or before.identity != wanted.identity:
            if before is not None:
                old = Holder(before.person_id, False, before.identifier_type)
                holders[before.identity] = chunk.identities[before.identity] = old
            new = Holder(wanted.person_id, True, wanted.identifier_type)
            holders[wanted.identity] = chunk.identities[wanted.identity] = new
        stored[wanted.person_id] = wanted
    return [chunk for chunk in chunks if chunk.persons]
