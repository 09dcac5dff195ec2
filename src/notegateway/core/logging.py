"""Logging without personal identifiers: our own access log, and a masking safety net."""

from __future__ import annotations

import logging
from typing import Any

from starlette.types import Scope

from notegateway.core import metrics
from notegateway.core.identifiers import mask_ten_digit_runs

access_log = logging.getLogger("notegateway.access")


class MaskIdentifiers(logging.Filter):
    """Any run of 10 digits (an ЕГН or ЛНЧ) that slips into a message is masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_ten_digit_runs(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskIdentifiers())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's own access log prints the query string; ours does not.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def access(scope: Scope, status: int, elapsed: float) -> None:
    """One line per request: method, route template (never the raw path or query), status,
    time; and the request metrics (core/middleware.py calls it as each request ends)."""
    route = _route_template(scope)
    metrics.REQUEST_SECONDS.labels(scope["method"], route, str(status)).observe(elapsed)
    state: dict[str, Any] = scope.get("state") or {}
    access_log.info(
        "%s %s %d %.1fms client=%s",
        scope["method"],
        route,
        status,
        elapsed * 1000,
        state.get("client_name", "-"),
    )


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "<unmatched>"
