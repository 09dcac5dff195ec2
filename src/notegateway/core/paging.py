"""Keyset paging, one mechanism for every list: `limit` (1..1000, default 100) and
`after` (the previous page's `nextCursor`, an opaque encoding of the last item's sort key).
A page is `{"items": [...], "nextCursor": "…" | null}` in a fixed order."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Query

from notegateway.core.errors import BadRequest

Limit = Annotated[int, Query(ge=1, le=1000, description="items per page")]
After = Annotated[
    str | None,
    Query(max_length=200, pattern=r"^[A-Za-z0-9_-]+$", description="the previous nextCursor"),
]
DEFAULT_LIMIT = 100
Row = TypeVar("Row")


def encode(key: list[int]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).rstrip(b"=").decode()


def decode(after: str | None, bounds: tuple[tuple[int, int], ...]) -> list[int] | None:
    """The sort key `after` names, None when omitted: whole numbers within `bounds`; 400
    when it is no cursor of this list."""
    if after is None:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(after + "=" * (-len(after) % 4)))
    except (binascii.Error, ValueError):
        key = None
    if (
        not isinstance(key, list)
        or len(key) != len(bounds)
        or not all(
            isinstance(v, int) and not isinstance(v, bool) and low <= v <= high
            for v, (low, high) in zip(key, bounds, strict=True)
        )
    ):
        raise BadRequest("invalid cursor: pass back a nextCursor as it was given")
    return key


@dataclass(frozen=True, slots=True)
class Page(Generic[Row]):
    """One page: its items, and the cursor of the next (None: this is the last)."""

    items: list[Row]
    next_cursor: str | None


def page(rows: Sequence[Row], limit: int, key: Callable[[Row], list[int]]) -> Page[Row]:
    """The page of `rows` fetched with `limit + 1`: `key(row)` is a row's sort key."""
    kept = list(rows[:limit])
    more = len(rows) > limit
    return Page(kept, encode(key(kept[-1])) if more else None)
