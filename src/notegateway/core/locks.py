"""Transaction-scoped advisory locks that serialise work on one NRN or one person.

Every path that could race on a note (push, cancel) takes the NRN's lock; every path that
changes what a person's notes excuse (push, cancel, absence, registry write) takes the
locks of the person's identities (kind + identifier): the current one and every former
one, since notes under any of them match the person. The second of two such transactions
waits, and its statements then see what the first committed.

Two levels, so that a 1000-note batch does not take 2000 locks (PostgreSQL's shared lock
table holds about max_locks_per_transaction × max_connections): each key falls in one of
`BUCKETS` buckets of its class. A transaction with few keys of a class takes their buckets
SHARED and the keys themselves EXCLUSIVE; one with many takes their buckets EXCLUSIVE and
no keys. Two transactions touching the same key thus always conflict (on the key, or on
its bucket), while small transactions on different keys run side by side.

Since a person's notes may come under several identities (current and former), the
identity locks alone do not serialise two notes of one person: every path that changes
what a person's notes excuse also takes the person's owner lock, after the identities
(the identity locks keep the identity-to-person mapping still, so the owners can be read
then). Owner locks are taken by a database function (`ngw_lock_owners`, in
core/sql_functions.py), with the same two-level scheme; `ngw_lock` (there too) takes a
request's keys and then its owners in one round trip, the owners read in a statement of
their own.

No deadlocks: classes are always taken in this order, person, then NRN, then identity,
then owner, each in one statement, and within a class in (bucket, key) order. Before all
of them come
institution rows: a diary switch updates the row, an absence being recorded holds it
FOR SHARE.

Outside all of these, in transactions of their own that take nothing else: a client's
lease lock (`LEASE_LOCK_CLASS`, the client's id), taken by `ngw_take_lease` while it
counts and adds a long-poll lease (core/limits.py); `STATISTICS_LOCK`, tried (never
waited for) by the transaction that renews the tables' statistics (core/statistics.py); and
`RETENTION_LOCK`, tried by each transaction of the retention purge (ops/retention.py), which
takes no other lock: it removes only school years long closed (a write that still reaches
one waits for the purge's row locks, then finds its rows gone).

Beside all of these, and waiting for nothing: a feed writer's ticket, a shared lock that
no one takes exclusively (`FEED_TICKET_CLASSES`; core/feed.py), taken by a trigger before
a statement numbers feed rows. No writer waits for another to write a feed.

Who takes what:
- a push: its notes' NRNs and identities, then the owners of those identities (in
  `ngw_insert_notes`, the same round trip as its notes);
- a cancellation: the NRN, then the note's identity, then the note's person's owner;
- an absence, a registry write, a diary switch: `lock_persons`: the persons, then every
  identity they hold and (a registry write) every identity its items name, then the
  owners of all those (a registry write thus also holds the person that loses a former
  identifier to it). A diary switch takes every identity bucket: no push or registry
  write places a note while the institution's periods change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import asyncpg

BUCKETS = 32
# The first key of the two-key advisory locks on a client's leases ("ngwl"); two-key
# locks never collide with the one-key (bigint) locks above.
LEASE_LOCK_CLASS = 0x6E67776C
FINE_LIMIT = 16  # at most this many keys of a class: lock them one by one


def nrn_key(nrn: str) -> str:
    return f"nrn:{nrn}"


def identity_key(kind: int, identifier: str) -> str:
    return f"identity:{kind}:{identifier}"


def person_key(person_id: int) -> str:
    """Taken before any NRN or identity key by the paths that take both."""
    return f"person:{person_id}"


def _int64(text: str) -> int:
    return int.from_bytes(
        hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True
    )


def _plan(keys: Iterable[str]) -> tuple[list[int], list[bool]]:
    """(lock ids, shared?) in the order to take them."""
    by_class: dict[str, set[str]] = {}
    for key in keys:
        by_class.setdefault(key.split(":", 1)[0], set()).add(key)
    if len(by_class) > 1:
        raise ValueError("lock one class of keys per call, in the documented order")
    if not by_class:
        return [], []
    [(klass, members)] = by_class.items()

    def bucket(key: str) -> int:
        return _int64(key) % BUCKETS

    def bucket_lock(number: int) -> int:
        return _int64(f"bucket:{klass}:{number}")

    if len(members) > FINE_LIMIT:
        buckets = sorted({bucket(k) for k in members})
        return [bucket_lock(b) for b in buckets], [False] * len(buckets)
    ids: list[int] = []
    shared: list[bool] = []
    taken: set[int] = set()
    for key in sorted(members, key=lambda k: (bucket(k), _int64(k))):
        if bucket(key) not in taken:
            taken.add(bucket(key))
            ids.append(bucket_lock(bucket(key)))
            shared.append(True)
        ids.append(_int64(key))
        shared.append(False)
    return ids, shared


async def lock_keys(db: asyncpg.Connection, keys: Iterable[str]) -> None:
    """Take the locks of these keys (all of one class) until the transaction ends."""
    await lock_classes(db, keys)


@dataclass(frozen=True, slots=True)
class LockPlan:
    """The arguments of `ngw_lock` (core/sql_functions.py), in the order of taking: lock
    ids and whether each is shared, then the identities whose holders' owner locks follow."""

    ids: list[int]
    shared: list[bool]
    owner_kinds: list[int]
    owner_identifiers: list[str]


def plan_classes(*classes: Iterable[str], owners_of: Iterable[tuple[int, str]] = ()) -> LockPlan:
    """The locks of several classes of keys, given in the documented class order, then
    the owner locks of the persons holding the identities `owners_of`."""
    ids: list[int] = []
    shared: list[bool] = []
    for keys in classes:
        class_ids, class_shared = _plan(keys)
        ids += class_ids
        shared += class_shared
    pairs = sorted(set(owners_of))
    return LockPlan(ids, shared, [p[0] for p in pairs], [p[1] for p in pairs])


async def lock_classes(
    db: asyncpg.Connection,
    *classes: Iterable[str],
    owners_of: Iterable[tuple[int, str]] = (),
    persons: Sequence[int] = (),
) -> None:
    """Take the locks `plan_classes` plans, and the owner locks of `persons`: one round
    trip, the order of taking kept (`ngw_lock`, core/sql_functions.py)."""
    await _lock(db, plan_classes(*classes, owners_of=owners_of), persons)


async def _lock(db: asyncpg.Connection, plan: LockPlan, persons: Sequence[int]) -> None:
    if plan.ids or plan.owner_kinds or persons:
        await db.execute(
            "SELECT ngw_lock($1::bigint[], $2::bool[], $3::int2[], $4::text[], $5::bigint[])",
            plan.ids,
            plan.shared,
            plan.owner_kinds,
            plan.owner_identifiers,
            list(persons),
        )


_IDENTITIES = """
SELECT id AS person_id, identifier_kind, identifier FROM persons WHERE id = ANY($1::bigint[])
UNION ALL
SELECT person_id, identifier_kind, identifier FROM former_identifiers
WHERE person_id = ANY($1::bigint[])
"""


async def lock_persons(
    db: asyncpg.Connection,
    person_ids: Sequence[int],
    also: Iterable[tuple[int, str]] = (),
    every_identity: bool = False,
) -> set[int]:
    """Take the persons' locks, then the locks of every identity they hold (current and
    former) and of the identities `also` (every identity at all: `every_identity`), then
    the owner locks of the persons and of whoever holds `also`; returns the ids of those
    persons that exist.

    Holding them, nothing else can change these persons' identities, notes or excusals
    until this transaction ends.
    """
    await lock_keys(db, [person_key(pid) for pid in person_ids])
    rows = await db.fetch(_IDENTITIES, list(person_ids))
    also = set(also)
    if every_identity:
        ids = [_int64(f"bucket:identity:{number}") for number in range(BUCKETS)]
        shared = [False] * BUCKETS
    else:
        identities = {(r["identifier_kind"], r["identifier"]) for r in rows} | also
        ids, shared = _plan(identity_key(kind, ident) for kind, ident in identities)
    owners = sorted(also)
    plan = LockPlan(ids, shared, [o[0] for o in owners], [o[1] for o in owners])
    await _lock(db, plan, person_ids)
    return {r["person_id"] for r in rows}


# The feed writers' tickets (core/feed.py): shared two-key locks, one class per feed
# table, never taken exclusively, so never waited for; each class spans 65,536 first keys
# (a row number's high 32 bits). Apart from LEASE_LOCK_CLASS and from each other.
FEED_TICKET_CLASSES = {"vendor_events": 0x46450000, "diary_changes": 0x46430000}


def feed_sequence(table: str) -> str:
    """The sequence that numbers a feed table's rows (its identity column `seq`)."""
    return f"public.{table}_seq_seq"


STATISTICS_LOCK = _int64("statistics")
RETENTION_LOCK = _int64("retention")
