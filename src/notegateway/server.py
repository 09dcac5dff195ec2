"""Running the app under uvicorn: one process, or a supervisor and N worker processes
sharing one listening socket; logging that keeps identifiers out, and a shutdown that
answers open long polls at once.

Nothing a request relies on lives in one process: locks, feed order and long-poll
wake-ups are the database's (core/locks.py, core/notifier.py). What is per process:
the limits of core/limits.py (each worker admits its own share of them), and the metrics,
which workers write to files in PROMETHEUS_MULTIPROC_DIR that /metrics adds up.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import uvicorn
from fastapi import FastAPI

from notegateway.core.config import Settings
from notegateway.core.db import resolve_database_url, stop_embedded_postgres
from notegateway.core.http_protocol import GuardedHttpToolsProtocol
from notegateway.core.logging import configure_logging

GRACEFUL_SHUTDOWN_S = 10  # requests in progress at SIGTERM get this long to finish
# Per process; beyond: a bare 503 from the HTTP server, not a queue. Requests are capped
# lower, with Retry-After (NOTEGATEWAY_MAX_REQUESTS, core/middleware.py).
MAX_CONNECTIONS = 2000
GC_THRESHOLD = 20_000  # allocations between collections of the youngest generation
RESTART_PAUSE_S = 1.0
STARTUP_FAILURE = 3  # uvicorn's exit code when the app's startup failed
DEFAULT_POOL = 32  # connections in all, when NOTEGATEWAY_POOL_SIZE is not set
MIN_POOL = 4  # per worker  # a worker that died is replaced after this pause

log = logging.getLogger(__name__)


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

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """uvicorn's, without raising the signal again after the graceful shutdown: that
        would end the process (SIGTERM) or print a traceback (SIGINT) before `serve`
        stops the embedded PostgreSQL; the shutdown is the signal's whole effect here."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


def default_workers(settings: Settings) -> int:
    """One process on the embedded database (a demo, a laptop), else one per CPU."""
    return 1 if settings.database_url is None else os.cpu_count() or 1


def _config(app: FastAPI | str, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=False,
        log_config=None,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        limit_concurrency=MAX_CONNECTIONS,
        http=GuardedHttpToolsProtocol,  # heads: at most 64 KiB, complete within 10 s
    )


def _run(database_url: str, host: str, port: int, sock: socket.socket | None) -> None:
    # Imported here: under --workers, the supervisor loads no metrics of its own.
    from notegateway.app import create_app

    settings = Settings()
    configure_logging(settings.log_level)
    app = create_app(settings, database_url=database_url)
    # What is loaded now lives as long as the process: out of the collector's sight, and
    # the youngest generation collected less often (a request makes many small objects).
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, 20, 20)
    _Server(_config(app, host, port), app).run(sockets=[sock] if sock else None)


def serve(settings: Settings, host: str, port: int, workers: int | None = None) -> None:
    configure_logging(settings.log_level)
    # Resolve (or start the embedded) database before the server binds its port.
    database_url = resolve_database_url(settings)
    try:
        _serve(database_url, host, port, workers or default_workers(settings))
    finally:
        stop_embedded_postgres()  # Ctrl-C or SIGTERM: the embedded database stops too


def _serve(database_url: str, host: str, port: int, workers: int) -> None:
    if workers == 1:
        _run(database_url, host, port, None)
        return
    # The workers' metric files: in PROMETHEUS_MULTIPROC_DIR when it is set (emptied
    # first: a value from an earlier run would be added in), else in a folder of our own.
    configured = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    metrics_dir = Path(configured or tempfile.mkdtemp(prefix="notegateway-metrics-"))
    metrics_dir.mkdir(parents=True, exist_ok=True)
    for stale in metrics_dir.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)  # read by the workers at import
    # Unless set, the workers share the one process's default pool (32 connections in
    # all): N workers times 32 would pass a database's max_connections quickly.
    if "NOTEGATEWAY_POOL_SIZE" not in os.environ:
        os.environ["NOTEGATEWAY_POOL_SIZE"] = str(max(DEFAULT_POOL // workers, MIN_POOL))
    try:
        sock = _config("notegateway", host, port).bind_socket()
        _supervise(database_url, host, port, sock, workers)
    finally:
        if not configured:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _supervise(database_url: str, host: str, port: int, sock: socket.socket, count: int) -> None:
    """Start `count` workers on `sock`; replace one that dies; on SIGTERM or SIGINT pass
    it on to every worker and wait for them (each finishes its requests, then exits)."""
    spawn = multiprocessing.get_context("spawn")
    stopping = failed = False

    def stop(sig: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    def start() -> multiprocessing.process.BaseProcess:
        process = spawn.Process(target=_run, args=(database_url, host, port, sock), daemon=False)
        process.start()
        return process

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    processes = [start() for _ in range(count)]
    log.info("serving on http://%s:%d with %d worker processes", host, port, count)
    while not stopping:
        time.sleep(0.2)
        for index, process in enumerate(processes):
            if process.is_alive() or stopping:
                continue
            if process.exitcode == STARTUP_FAILURE:
                # It could not start (the database away, a bad setting): so would the next.
                log.error("worker %s could not start; stopping", process.pid)
                stopping = failed = True
                break
            log.warning("worker %s exited (%s); starting another", process.pid, process.exitcode)
            time.sleep(RESTART_PAUSE_S)
            processes[index] = start()
    for process in processes:
        if process.is_alive() and process.pid is not None:
            os.kill(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + GRACEFUL_SHUTDOWN_S + 5
    for process in processes:
        process.join(max(deadline - time.monotonic(), 0.1))
        if process.is_alive():
            process.kill()
            process.join()
    if failed:
        raise SystemExit(1)
