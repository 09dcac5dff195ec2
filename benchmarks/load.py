"""Driving load: single-note pushes by wrk (C), batches by Python clients."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

CONNECTIONS = 32  # single-note pushes
BATCH_CLIENTS = 4  # 1000-note batches
RUN_MARKS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True)
class Load:
    per_second: float  # notes per second
    errors: int  # answers other than 2xx
    p50_ms: float | None = None
    p99_ms: float | None = None


WRK_SCRIPT = """
local counter = 0
local thread_count = 0
setup = function(thread)
  thread:set("tid", thread_count)
  thread_count = thread_count + 1
end
init = function(args)
  math.randomseed(tid + 7)
end
request = function()
  counter = counter + 1
  local nrn = string.format("W%s%01d%09d", run, tid, counter)
  local ident = ids[math.random(#ids)]
  local body = '[{"nrnMedicalNotice":"' .. nrn .. '","nrnExamination":"26317A000077",'
    .. '"patient":{"identifierType":1,"identifier":"' .. ident .. '","givenName":"ИВАН",'
    .. '"familyName":"ТОДОРОВ"},"practitioner":{"pmi":"2300011922"},'
    .. '"medicalNotice":{"fromDate":"2026-11-18","toDate":"2026-11-20",'
    .. '"authoredOn":"2026-11-20T10:31:00"}}]'
  return wrk.format("POST", nil, wrk.headers, body)
end
"""


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([0-9.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk_single(
    url: str,
    token: str | None,
    idents: list[str],
    seconds: float,
    run: int,
    connections: int = CONNECTIONS,
) -> Load:
    """Single-note pushes by wrk: 2 threads, `connections` connections; NRNs unique to `run`."""
    script = Path(f"/tmp/notegateway-bench-{os.getpid()}-{run}.lua")
    header = f'wrk.headers["Authorization"] = "Bearer {token}"\n' if token else ""
    script.write_text(
        'wrk.headers["Content-Type"] = "application/json"\n'
        + header
        + f'run = "{RUN_MARKS[run % len(RUN_MARKS)]}"\n'
        + "ids = {"
        + ",".join(f'"{i}"' for i in idents)
        + "}\n"
        + WRK_SCRIPT
    )
    command = ["wrk", "-t2", f"-c{connections}", f"-d{int(seconds)}s", "--latency"]
    try:
        out = subprocess.run(
            [*command, "-s", str(script), url], capture_output=True, text=True, timeout=seconds + 60
        ).stdout
    finally:
        script.unlink(missing_ok=True)
    rate = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+([0-9]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    return Load(
        rate,
        int(bad.group(1)) if bad else 0,
        _ms(p50.group(1)) if p50 else None,
        _ms(p99.group(1)) if p99 else None,
    )


async def drive(
    url: str,
    headers: dict[str, str],
    make_body: Callable[[int], list[dict[str, Any]]],
    seconds: float,
    clients: int,
) -> Load:
    """`clients` Python clients posting bodies for `seconds`."""
    done = errors = notes = 0
    counter = iter(range(10**9))
    latencies: list[float] = []
    stop_at = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:

        async def client() -> None:
            nonlocal done, errors, notes
            while time.monotonic() < stop_at:
                body = make_body(next(counter))
                sent = time.monotonic()
                response = await http.post(url, json=body, headers=headers)
                latencies.append(time.monotonic() - sent)
                done += 1
                notes += len(body)
                errors += response.status_code >= 300

        await asyncio.gather(*(client() for _ in range(clients)))
    latencies.sort()
    return Load(
        notes / seconds,
        errors,
        latencies[len(latencies) // 2] * 1000 if latencies else None,
        latencies[int(len(latencies) * 0.99)] * 1000 if latencies else None,
    )
