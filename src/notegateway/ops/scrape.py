"""What an anonymous /metrics scrape may cost: at most one read of the database (one
transaction) per process every FEED_METRICS_EVERY_S (scrapes in between, or while one is
reading, serve the last figures), bounded by FEED_METRICS_TIMEOUT_S. A scraper hammering
/metrics thus never turns into load on the database, nor waits on it."""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy.ext.asyncio import AsyncEngine

from notegateway.core import metrics
from notegateway.core.db import transaction
from notegateway.diary import service as diary_service
from notegateway.notices import service as notices_service
from notegateway.vendors import service as vendors_service

FEED_METRICS_EVERY_S = 10.0
FEED_METRICS_TIMEOUT_S = 2.0
log = logging.getLogger(__name__)


class FeedMetrics:
    def __init__(self) -> None:
        self._read_at = float("-inf")
        self._reading = asyncio.Lock()

    async def refresh(self, engine: AsyncEngine) -> None:
        """Read the figures kept in the database (the feeds' readers' lag, the unmatched
        notes), unless read lately; whether that read succeeded is itself a figure."""
        if self._reading.locked() or time.monotonic() - self._read_at < FEED_METRICS_EVERY_S:
            return
        async with self._reading:
            self._read_at = time.monotonic()
            answered = False  # database_up: whether it answers at all, not the figures' cost
            try:
                async with asyncio.timeout(FEED_METRICS_TIMEOUT_S), transaction(engine) as db:
                    answered = await db.fetchval("SELECT true")
                    await vendors_service.refresh_feed_metrics(db)
                    await diary_service.refresh_change_feed_metrics(db)
                    await notices_service.refresh_unmatched_metrics(db)
            except Exception as exc:  # the process's own metrics are still worth serving
                log.warning("could not refresh the database's figures: %s", type(exc).__name__)
            metrics.DATABASE_UP.set(1 if answered else 0)
