"""`/docs` without internet access: Swagger UI's assets come from the pinned package
fastapi-offline (served at /docs/static), started by our own script file, so nothing is
fetched from a CDN and no inline script is needed (core/middleware.py's CSP)."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

SWAGGER_ASSETS = Path(fastapi_offline.__file__).parent / "static"
OWN_ASSETS = Path(__file__).parent / "docs_static"

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · API</title>
<link rel="icon" href="/docs/static/favicon.png">
<link rel="stylesheet" href="/docs/static/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="/openapi.json"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script src="/docs/own/swagger-init.js"></script>
</body>
</html>
"""


def install_docs(app: FastAPI) -> None:
    """/docs and its assets (the app is created with docs_url=None, redoc_url=None)."""
    page = _PAGE.format(title=app.title)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(page)

    app.mount("/docs/static", StaticFiles(directory=SWAGGER_ASSETS), name="docs-static")
    app.mount("/docs/own", StaticFiles(directory=OWN_ASSETS), name="docs-own")
