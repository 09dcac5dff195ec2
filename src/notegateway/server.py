"""Running the app under uvicorn, with logging that keeps identifiers out, and a shutdown
that answers open long polls at once."""

from __future__ import annotations

import asyncio
from types import FrameType

import uvicorn
from fastapi import FastAPI

from notegateway.app import create_app
from notegateway.core.config import Settings
from notegateway.core.db import resolve_database_url
from notegateway.core.logging import configure_logging

GRACEFUL_SHUTDOWN_S = 10  # requests in progress at SIGTERM get this long to finish
MAX_CONNECTIONS = 2000  # beyond: 503 from the HTTP server, not a queue


class _Server(uvicorn.Server):
    """On SIGTERM (or SIGINT): stop accepting, answer every open long poll now with what
    it has, let requests in progress finish (at most GRACEFUL_SHUTDOWN_S), exit."""

    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self._app = app

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        notifier = getattr(self._app.state, "feed_notifier", None)
        if notifier is not None:
            asyncio.get_event_loop().call_soon_threadsafe(notifier.drain)
        super().handle_exit(sig, frame)


def serve(settings: Settings, host: str, port: int) -> None:
    configure_logging(settings.log_level)
    # Resolve (or start the embedded) database before the server binds its port.
    database_url = resolve_database_url(settings)
    app = create_app(settings, database_url=database_url)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=False,
        log_config=None,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        limit_concurrency=MAX_CONNECTIONS,
    )
    _Server(config, app).run()
