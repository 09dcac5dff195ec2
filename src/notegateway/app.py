"""The FastAPI application: routers, error handling, lifespan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from notegateway import __version__, settle
from notegateway.clients import service as clients_service
from notegateway.clients.auth import KnownCallers
from notegateway.console.router import install as install_console
from notegateway.core import statistics
from notegateway.core.config import Settings
from notegateway.core.contract import install_contract
from notegateway.core.db import create_engine, resolve_database_url, to_libpq_url, transaction
from notegateway.core.docs import install_docs
from notegateway.core.errors import (
    install_error_handlers,
    reject_nul_in_query,
)
from notegateway.core.limits import ClientLimits, ProcessRegistry
from notegateway.core.middleware import EdgeMiddleware
from notegateway.core.notifier import FeedNotifier
from notegateway.core.openapi import install_openapi
from notegateway.core.timeutil import today_in_sofia
from notegateway.diary import service as diary_service
from notegateway.diary.router import router as diary_router
from notegateway.notices import service as notices_service
from notegateway.notices.router import router as notices_router
from notegateway.ops import retention
from notegateway.ops.router import api_router as ops_api_router
from notegateway.ops.router import router as ops_router
from notegateway.ops.scrape import FeedMetrics
from notegateway.registry.router import router as registry_router
from notegateway.vendors import service as vendors_service
from notegateway.vendors.router import router as vendors_router

DESCRIPTION = (
    "Receives electronic medical notes from NZIS, matches them to pupils in the NEISPUO "
    "registry, excuses their absences, and hands them to e-diary vendors. The exchange "
    "contract, with what this implementation chose where it is silent: "
    "[/docs/contract](/docs/contract) (docs/contract.md in the repository)."
)


log = logging.getLogger(__name__)
PURGE_EVERY_SECONDS = 3600


async def _purge_periodically(engine: AsyncEngine, settings: Settings) -> None:
    """Drop feed events, diary changes and rejections past retention, and school years
    past theirs (ops/retention.py), hourly (several processes may do it: harmless)."""
    while True:
        try:
            async with transaction(engine) as db:
                purged = await vendors_service.purge(db, settings.event_retention_days)
                purged += await diary_service.purge_changes(db, settings.event_retention_days)
                dropped = await notices_service.purge_rejections(
                    db, settings.rejection_retention_days
                )
            if purged or dropped:
                log.info("purged %d feed rows and %d rejections past retention", purged, dropped)
            for year in await retention.purge(
                engine, today_in_sofia(), settings.retention_school_years, only_when_due=True
            ):
                log.info("purged school year %d: %s", year.school_year, year.removed)
        except Exception as exc:  # keep purging later; never take the server down
            log.warning("purge failed: %s", type(exc).__name__)
        await asyncio.sleep(PURGE_EVERY_SECONDS)


def create_app(settings: Settings | None = None, database_url: str | None = None) -> FastAPI:
    """Build the app; the database is resolved (or the embedded one started) at startup."""
    settings = settings or Settings()
    settle.install()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = database_url or resolve_database_url(settings)
        engine = create_engine(url, settings)
        app.state.engine = engine
        secret = settings.secret_key.get_secret_value() if settings.secret_key else None
        async with transaction(engine) as db:
            keys = await clients_service.load_keys(db, secret)
        app.state.token_key, app.state.cursor_key = keys.tokens, keys.cursors
        app.state.form_key = keys.forms
        feed_notifier = FeedNotifier()
        await feed_notifier.start(to_libpq_url(settings.listen_database_url or url))
        app.state.feed_notifier = feed_notifier
        processes = ProcessRegistry(engine, app.state.client_limits)
        await processes.start()
        purger = asyncio.create_task(_purge_periodically(engine, settings))
        stopping = asyncio.Event()
        statistician = asyncio.create_task(statistics.keep_current(engine, stopping))
        try:
            yield
        finally:
            purger.cancel()
            stopping.set()
            # both ended before the pool closes, their connections given back
            await asyncio.gather(purger, statistician, return_exceptions=True)
            await processes.stop()
            await feed_notifier.stop()
            await engine.dispose()

    app = FastAPI(
        title="notegateway",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        dependencies=[Depends(reject_nul_in_query)],
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.client_limits = ClientLimits(
        settings.client_concurrency, settings.vendor_long_polls, settings.request_leases
    )
    app.state.feed_metrics = FeedMetrics()
    app.state.known_callers = KnownCallers()
    install_error_handlers(app)
    install_openapi(app)
    install_docs(app)
    install_contract(app)
    app.add_middleware(EdgeMiddleware, max_requests=settings.max_requests)
    app.include_router(notices_router)
    app.include_router(registry_router)
    app.include_router(diary_router)
    app.include_router(vendors_router)
    app.include_router(ops_api_router)
    install_console(app)
    app.include_router(ops_router)
    return app
