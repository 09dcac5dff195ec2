"""How much one client may ask of this process at once: requests in progress, and (for a
vendor) open long polls. Beyond either: 429 with Retry-After. Counted per process."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from notegateway.core.errors import TooManyRequests


class ClientLimits:
    def __init__(self, requests: int, long_polls: int) -> None:
        self.max_requests = requests
        self.max_long_polls = long_polls
        self._requests: Counter[int] = Counter()
        self._long_polls: Counter[int] = Counter()

    @contextmanager
    def request(self, client_id: int) -> Iterator[None]:
        with _slot(self._requests, client_id, self.max_requests, "requests in progress"):
            yield

    @contextmanager
    def long_poll(self, client_id: int) -> Iterator[None]:
        with _slot(self._long_polls, client_id, self.max_long_polls, "open long polls"):
            yield


@contextmanager
def _slot(counts: Counter[int], client_id: int, limit: int, what: str) -> Iterator[None]:
    if counts[client_id] >= limit:
        raise TooManyRequests(f"at most {limit} {what} per client; try again shortly")
    counts[client_id] += 1
    try:
        yield
    finally:
        counts[client_id] -= 1
        if not counts[client_id]:
            del counts[client_id]
