"""Prometheus metrics. Labels never carry personal identifiers or free text.

Under `serve --workers N` every worker writes its values to files in
PROMETHEUS_MULTIPROC_DIR (prometheus-client's multiprocess mode) and /metrics, whichever
worker answers it, adds up those of all workers: counters and histograms summed; the
gauges, which are read from the database at every scrape, as last set by any worker.
"""

from __future__ import annotations

import os

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    multiprocess,
)

disable_created_metrics()  # type: ignore[no-untyped-call]
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # the metrics below are kept in files there
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

NOTES_RECEIVED = Counter("notegateway_notes_received", "Pushed notes by outcome", ["outcome"])
for _outcome in ("created", "duplicate", "conflict", "invalid"):  # 0 from the start: an
    NOTES_RECEIVED.labels(_outcome)  # alert's increase() then counts the first of each too
NOTES_MATCHED = Counter(
    "notegateway_notes_matched",
    "Notes stored, by whether their person was found (matched) or not yet (unmatched)",
    ["match"],
)
NOTES_MATCHED_LATE = Counter(
    "notegateway_notes_matched_late", "Waiting notes matched when the registry gained their person"
)
ABSENCES_EXCUSED = Counter(
    "notegateway_absences_excused", "Absences a note began to hold (excused)"
)
ABSENCES_REVERTED = Counter(
    "notegateway_absences_reverted", "Absences returned to unexcused: no note covers them any more"
)
ABSENCES_REATTRIBUTED = Counter(
    "notegateway_absences_reattributed", "Held absences taken over by another covering note"
)
VENDOR_LAST_POLL = Gauge(
    "notegateway_vendor_last_poll_timestamp_seconds",
    "When the vendor last read its feed",
    ["vendor"],
    multiprocess_mode="mostrecent",
)
VENDOR_FEED_LAG_EVENTS = Gauge(
    "notegateway_vendor_feed_lag_events",
    "Events past the vendor's last cursor",
    ["vendor"],
    multiprocess_mode="mostrecent",
)
VENDOR_FEED_LAG_SECONDS = Gauge(
    "notegateway_vendor_feed_lag_seconds",
    "Age of the oldest event past the vendor's last cursor (0 when caught up)",
    ["vendor"],
    multiprocess_mode="mostrecent",
)
CHANGE_FEED_LAST_READ = Gauge(
    "notegateway_change_feed_last_read_timestamp_seconds",
    "When the NEISPUO client last read the diary change feed",
    ["reader"],
    multiprocess_mode="mostrecent",
)
CHANGE_FEED_LAG_EVENTS = Gauge(
    "notegateway_change_feed_lag_events",
    "Changes past the NEISPUO client's last position in the diary change feed",
    ["reader"],
    multiprocess_mode="mostrecent",
)
CHANGE_FEED_LAG_SECONDS = Gauge(
    "notegateway_change_feed_lag_seconds",
    "Age of the oldest change past the NEISPUO client's last position (0 when caught up)",
    ["reader"],
    multiprocess_mode="mostrecent",
)
NOTES_UNMATCHED = Gauge(
    "notegateway_notes_unmatched",
    "Active notes still waiting for their pupil to appear in the registry",
    multiprocess_mode="mostrecent",
)
NOTES_UNMATCHED_OLDEST_SECONDS = Gauge(
    "notegateway_notes_unmatched_oldest_seconds",
    "How long the oldest active unmatched note has waited (0 when none waits)",
    multiprocess_mode="mostrecent",
)
DATABASE_UP = Gauge(
    "notegateway_database_up",
    "1 when the last read of the figures above from the database succeeded, else 0",
    multiprocess_mode="mostrecent",
)
VENDOR_ACKS = Counter("notegateway_vendor_acks", "Feed acks by outcome", ["vendor", "outcome"])
REQUEST_SECONDS = Histogram(
    "notegateway_http_request_duration_seconds",
    "HTTP request latency by route template",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


def metrics_registry() -> CollectorRegistry:
    """What /metrics serves: this process's metrics, or every worker's added up."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry
