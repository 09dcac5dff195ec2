"""CPU time of the processes under load, read from /proc around a run: PostgreSQL's
backends (every process named postgres) and a served process tree (the server and its
workers), so that a run can say how much CPU one push costs on each side."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[str, int, float] | None:
    """(command name, parent pid, CPU seconds) of a live process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    # fields[1] is the parent pid; fields[11], fields[12] are utime and stime (man 5 proc).
    return name, int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


def _processes() -> dict[int, tuple[str, int, float]]:
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            found[int(entry)] = stat
    return found


def listening_pid(port: int) -> int | None:
    """The process whose command line names `--port port` (the server a bench started)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        at = argv.index(b"--port") if b"--port" in argv else -1
        if 0 <= at < len(argv) - 1 and argv[at + 1] == str(port).encode():
            return int(entry)
    return None


@dataclass(frozen=True)
class Cpu:
    postgres: float  # seconds, all postgres processes
    server: float  # seconds, the served process and its descendants


def sample(server_pid: int | None) -> Cpu:
    processes = _processes()
    postgres = sum(cpu for name, _parent, cpu in processes.values() if name == "postgres")
    tree, pending = set(), [server_pid] if server_pid else []
    while pending:
        pid = pending.pop()
        tree.add(pid)
        pending.extend(p for p, (_n, parent, _c) in processes.items() if parent == pid)
    server = sum(processes[p][2] for p in tree if p in processes)
    return Cpu(postgres, server)


def per_request(before: Cpu, after: Cpu, requests: float) -> tuple[float, float]:
    """Milliseconds of CPU per request: PostgreSQL's, the server's."""
    if requests <= 0:
        return 0.0, 0.0
    return (
        (after.postgres - before.postgres) * 1000 / requests,
        (after.server - before.server) * 1000 / requests,
    )
