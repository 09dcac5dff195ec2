"""Running the app under uvicorn, with logging that keeps identifiers out."""

from __future__ import annotations

import uvicorn

from notegateway.app import create_app
from notegateway.core.config import Settings
from notegateway.core.db import resolve_database_url
from notegateway.core.logging import configure_logging


def serve(settings: Settings, host: str, port: int) -> None:
    configure_logging(settings.log_level)
    # Resolve (or start the embedded) database before the server binds its port.
    database_url = resolve_database_url(settings)
    app = create_app(settings, database_url=database_url)
    uvicorn.run(
        app,
        host=host,
        port=port,
        access_log=False,
        log_config=None,
        proxy_headers=False,
        server_header=False,
    )
