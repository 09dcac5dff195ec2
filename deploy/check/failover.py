"""A database failover under load, on this machine: a PostgreSQL primary with a
synchronous standby (Debian's pg_createcluster and pg_basebackup), two gateway processes
given both hosts (`target_session_attrs=read-write`), notes pushed from 16 clients while the
primary is stopped and the standby promoted. Every note answered `created` must be on the
new primary, and the gateway must serve again within seconds, without a restart.

Run by `make deploy-check` (as root: the clusters belong to the postgres user).
"""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from benchmarks.common import free_port

from deploy.check.common import Report, cli, gateways, note

PRIMARY, STANDBY = "ngwprimary", "ngwstandby"
CLIENTS = 16
BEFORE_S, AFTER_S = 4.0, 8.0  # load before the primary stops; after the promotion


def version() -> str:
    installed = sorted(
        (p.name for p in Path("/usr/lib/postgresql").iterdir() if (p / "bin/pg_ctl").exists()),
        key=int,
    )
    return installed[-1]


def run(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def drop_clusters(major: str) -> None:
    listed = run("pg_lsclusters", "--no-header")
    for name in (PRIMARY, STANDBY):
        if any(line.split()[:2] == [major, name] for line in listed.splitlines()):
            run("pg_dropcluster", "--stop", major, name)


def ctl(major: str, name: str, action: str, *extra: str) -> None:
    run("pg_ctlcluster", "--skip-systemctl-redirect", major, name, action, *extra)


def make_clusters(major: str, primary: int, standby: int) -> None:
    """A primary whose commits wait for the standby's flush (synchronous_standby_names),
    and that standby, cloned from it by pg_basebackup."""
    drop_clusters(major)
    run("pg_createcluster", major, PRIMARY, "-p", str(primary), "--", "--auth=trust")
    configure(major, PRIMARY, f"synchronous_standby_names = '{STANDBY}'")
    ctl(major, PRIMARY, "start")
    run("pg_createcluster", major, STANDBY, "-p", str(standby), "--", "--auth=trust")
    configure(major, STANDBY)
    data = f"/var/lib/postgresql/{major}/{STANDBY}"
    run("find", data, "-mindepth", "1", "-delete")  # pg_basebackup fills it
    run(
        "runuser",
        "-u",
        "postgres",
        "--",
        f"/usr/lib/postgresql/{major}/bin/pg_basebackup",
        "-D",
        data,
        "-R",
        "-X",
        "stream",
        "-d",
        f"host=127.0.0.1 port={primary} user=postgres application_name={STANDBY}",
    )
    ctl(major, STANDBY, "start")


def configure(major: str, name: str, *lines: str) -> None:
    """Settings beside Debian's postgresql.conf (its conf.d is included)."""
    conf = Path(f"/etc/postgresql/{major}/{name}/conf.d/notegateway.conf")
    conf.write_text("\n".join(["listen_addresses = '127.0.0.1'", *lines]) + "\n")


@dataclass
class Load:
    """What the pushing clients saw."""

    created: list[str] = field(default_factory=list)  # answered created (or duplicate)
    unavailable: int = 0  # 503 (with Retry-After) or the connection refused: retried
    unexpected: list[int] = field(default_factory=list)  # any other status
    # (sent, answered) of each created note's successful request
    timings: list[tuple[float, float]] = field(default_factory=list)


async def push_until(ports: list[int], token: str, stop_at: float, load: Load) -> None:
    numbers = itertools.count(1)
    headers = {"Authorization": f"Bearer {token}"}

    async def client(index: int) -> None:
        base = f"http://127.0.0.1:{ports[index % len(ports)]}"
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
            while time.monotonic() < stop_at:
                serial = next(numbers)
                nrn = f"26341B{serial:06d}"
                while time.monotonic() < stop_at + 30:  # a note is retried until answered
                    sent = time.monotonic()
                    try:
                        answer = await http.post(
                            "/api/v1/hisMedicalNotices", json=[note(nrn, serial)]
                        )
                    except httpx.TransportError:
                        load.unavailable += 1
                        await asyncio.sleep(0.2)
                        continue
                    if answer.status_code == 503:
                        load.unavailable += 1
                        assert answer.headers.get("retry-after")
                        await asyncio.sleep(0.2)
                        continue
                    if answer.status_code == 200:
                        outcome = answer.json()["results"][0]["outcome"]
                        if outcome in ("created", "duplicate"):
                            load.created.append(nrn)
                            load.timings.append((sent, time.monotonic()))
                        else:
                            load.unexpected.append(answer.status_code)
                    else:
                        load.unexpected.append(answer.status_code)
                    break

    await asyncio.gather(*(client(i) for i in range(CLIENTS)))


async def cancel_sync_waits(port: int) -> int:
    """Cancel the backends waiting for the synchronous standby, as an operator would."""
    conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres")
    try:
        for _ in range(40):
            cancelled: int = await conn.fetchval(
                "SELECT count(*) FILTER (WHERE pg_cancel_backend(pid)) FROM pg_stat_activity "
                "WHERE wait_event = 'SyncRep'"
            )
            if cancelled:
                return cancelled
            await asyncio.sleep(0.05)
        return 0
    finally:
        await conn.close()


async def sync_state(port: int) -> str:
    conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres")
    try:
        for _ in range(100):
            state = await conn.fetchval(
                "SELECT sync_state FROM pg_stat_replication WHERE application_name = $1", STANDBY
            )
            if state == "sync":
                return str(state)
            await asyncio.sleep(0.1)
        return str(state)
    finally:
        await conn.close()


async def stored(port: int, nrns: list[str]) -> int:
    conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{port}/notegateway")
    try:
        found: int = await conn.fetchval(
            "SELECT count(*) FROM medical_notices WHERE nrn = ANY($1)", nrns
        )
        return found
    finally:
        await conn.close()


async def standby_away(major: str, report: Report, primary: int, port: int, token: str) -> None:
    """The synchronous standby stops: a commit then waits for it until the statement
    timeout cancels the wait, PostgreSQL keeps it on the primary alone and only warns. No
    such note may be answered created; once the standby is back, their retries are
    duplicates (nothing applied twice)."""
    await asyncio.to_thread(ctl, major, STANDBY, "stop")
    serials = {f"26341C{i:06d}": 900 + i for i in range(1, 4)}
    headers = {"Authorization": f"Bearer {token}"}
    started = time.monotonic()
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30
    ) as http:
        answers = await asyncio.gather(
            *(
                http.post("/api/v1/hisMedicalNotices", json=[note(nrn, serial)])
                for nrn, serial in serials.items()
            )
        )
        took = time.monotonic() - started
        statuses = [a.status_code for a in answers]
        report.check(
            "with the synchronous standby away, no note is answered created",
            statuses == [503] * 3 and all(a.headers.get("retry-after") for a in answers),
            f"{statuses} with Retry-After, in {took:.1f} s (statement timeout 2 s)",
        )
        # An operator cancelling the stuck commits: PostgreSQL keeps them and only warns.
        pushed = asyncio.create_task(
            http.post("/api/v1/hisMedicalNotices", json=[note("26341C000004", 904)])
        )
        cancelled = await cancel_sync_waits(primary)
        answer = await pushed
        serials["26341C000004"] = 904
        report.check(
            "a commit an operator cancels (pg_cancel_backend) is not answered created either",
            cancelled >= 1 and answer.status_code == 503,
            f"{cancelled} waiting commit(s) cancelled: {answer.status_code}",
        )
        await asyncio.to_thread(ctl, major, STANDBY, "start")
        await sync_state(primary)
        retried = [
            (await http.post("/api/v1/hisMedicalNotices", json=[note(nrn, serial)]))
            for nrn, serial in serials.items()
        ]
        outcomes = [
            r.json()["results"][0]["outcome"] if r.status_code == 200 else r.status_code
            for r in retried
        ]
        report.check(
            "once it is back, their retries find them stored: duplicates",
            outcomes == ["duplicate"] * len(serials),
            f"{outcomes}",
        )


async def scenario(major: str, report: Report, primary: int, standby: int) -> None:
    report.check(
        "the standby replicates synchronously",
        await sync_state(primary) == "sync",
        f"pg_stat_replication.sync_state = {await sync_state(primary)}",
    )
    admin = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{primary}/postgres")
    await admin.execute("CREATE DATABASE notegateway")
    await admin.close()
    url = (
        f"postgresql://postgres@127.0.0.1:{primary},127.0.0.1:{standby}/notegateway"
        "?target_session_attrs=read-write"
    )
    cli(url, "migrate")
    token = cli(url, "clients", "add", "nzis", "--role", "nzis").splitlines()[-1]
    ports = [free_port(), free_port()]
    with gateways(url, ports, statement_timeout_ms="2000"):
        await standby_away(major, report, primary, ports[0], token)
        load = Load()
        started = time.monotonic()
        stop_at = started + BEFORE_S + 1 + AFTER_S
        pushing = asyncio.create_task(push_until(ports, token, stop_at, load))
        await asyncio.sleep(BEFORE_S)
        before = len(load.created)
        await asyncio.to_thread(ctl, major, PRIMARY, "stop", "-m", "immediate")
        await asyncio.sleep(1.0)
        promoting = time.monotonic()
        await asyncio.to_thread(ctl, major, STANDBY, "promote")  # waits for the promotion
        promoted = time.monotonic()
        await pushing
        after = [answered for sent, answered in load.timings if sent >= promoting]
        back = min(after) - promoting if after else float("inf")
        report.check(
            "notes were pushed before the failover",
            before > 0,
            f"{before} created in {BEFORE_S:.0f} s from {CLIENTS} clients",
        )
        report.check(
            "the gateway serves again soon after the promotion, without a restart",
            back < 10,
            f"the first note sent after `promote` was created {back:.2f} s after it "
            f"(the command took {promoted - promoting:.2f} s); {len(after)} created since",
        )
        report.check(
            "the outage was answered 503 (with Retry-After) or refused, never 500",
            not load.unexpected,
            f"{load.unavailable} answers retried, others: {load.unexpected or 'none'}",
        )
        found = await stored(standby, load.created)
        report.check(
            "every note answered created is on the new primary",
            found == len(load.created),
            f"{found} of {len(load.created)} found, {len(load.created) - found} missing",
        )


def main() -> int:
    report = Report()
    major = version()
    primary, standby = free_port(), free_port()
    make_clusters(major, primary, standby)
    try:
        asyncio.run(scenario(major, report, primary, standby))
    finally:
        drop_clusters(major)
    return report.exit_code()


if __name__ == "__main__":
    sys.exit(main())
