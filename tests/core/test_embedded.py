"""`make run`'s server on the embedded PostgreSQL: stopping it (Ctrl-C or SIGTERM) stops
the embedded database too, also after an earlier server was killed outright; and
`notegateway stop-embedded` stops one a killed server left behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.serving import free_port


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTEGATEWAY_")}
    return env | {"NOTEGATEWAY_DATA_DIR": str(data_dir)}


def _serve(data_dir: Path, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    with log.open("ab") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "notegateway", "serve", "--port", str(port)],
            env=_env(data_dir),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1).status_code == 200:
                return server, port
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    server.kill()
    raise AssertionError(log.read_text())


def _postgres_runs(data_dir: Path) -> bool:
    return (data_dir / "pg" / "postmaster.pid").is_file()


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """Outside pytest's temporary tree: pytest makes its root 0700 again whenever a run
    starts, and under root the embedded PostgreSQL runs as the user `pgserver`, which
    must reach its data directory."""
    made = Path(tempfile.mkdtemp(prefix="ngw-embedded-"))
    yield made / "data"
    command = [sys.executable, "-m", "notegateway", "stop-embedded"]  # after a failure
    subprocess.run(command, env=_env(made / "data"), capture_output=True, check=False)
    shutil.rmtree(made, ignore_errors=True)


def test_stopping_the_server_stops_the_embedded_database(tmp_path: Path, data_dir: Path) -> None:
    log = tmp_path / "serve.log"
    migrate = [sys.executable, "-m", "notegateway", "migrate"]
    migrated = subprocess.run(migrate, env=_env(data_dir), capture_output=True, text=True)
    assert migrated.returncode == 0, migrated.stderr
    assert not _postgres_runs(data_dir)  # the command's own start and stop
    killed, _ = _serve(data_dir, log)
    killed.send_signal(signal.SIGKILL)  # no exit handler ran: it stays listed as a user
    killed.wait(10)
    assert _postgres_runs(data_dir)
    for stop in (signal.SIGTERM, signal.SIGINT):
        server, _ = _serve(data_dir, log)
        server.send_signal(stop)
        assert server.wait(30) == 0
        assert not _postgres_runs(data_dir), (stop, log.read_text())
        assert "Traceback" not in log.read_text()

    left, _ = _serve(data_dir, log)
    left.send_signal(signal.SIGKILL)
    left.wait(10)
    assert _postgres_runs(data_dir)
    command = [sys.executable, "-m", "notegateway", "stop-embedded"]
    stopped = subprocess.run(command, env=_env(data_dir), capture_output=True, text=True)
    assert stopped.returncode == 0, stopped.stderr
    assert not _postgres_runs(data_dir)
