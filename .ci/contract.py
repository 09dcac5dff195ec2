"""The served OpenAPI document, checked against what the gateway really answers.

    .venv/bin/python .ci/contract.py

Serves the gateway on a fresh database (demo data, one client per role), runs
schemathesis (a pinned version, in its own virtualenv: it pins libraries of its own) for
every role with positive and negative data, and fails on any 5xx or any answer the
document does not describe. Where promtool is installed, checks /metrics with it too.
The event feed's `wait` is fixed at 0 (`.ci/schemathesis.toml`): a generated one would
hold each request up to 30 s. Business rules the document cannot state (a vendor name that
is no client, say) make
valid-looking data be refused, so "positive data accepted" is not among the checks.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import asyncpg

from notegateway.core.db import to_libpq_url

SCHEMATHESIS = "4.32.5"
TOOLS = Path(".venv-tools")
ROLES = ("nzis", "vendor", "neispuo", "operator")
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
    )
)


def schemathesis() -> str:
    binary = TOOLS / "bin" / "schemathesis"
    version = (
        subprocess.run([binary, "--version"], capture_output=True, text=True)
        if binary.exists()
        else None
    )
    if version is None or SCHEMATHESIS not in version.stdout:
        subprocess.run([sys.executable, "-m", "venv", str(TOOLS)], check=True)
        subprocess.run(
            [TOOLS / "bin" / "pip", "install", "-q", f"schemathesis=={SCHEMATHESIS}"], check=True
        )
    return str(binary)


def gateway(url: str, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTEGATEWAY_")}
    env |= {
        "NOTEGATEWAY_DATABASE_URL": url,
        "NOTEGATEWAY_SECRET_KEY": "contract-check-key-of-32-bytes-or-more",
    }
    result = subprocess.run(
        [sys.executable, "-m", "notegateway", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""


def main() -> int:
    tool = schemathesis()
    server = os.environ.get(
        "NOTEGATEWAY_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    name = f"ngw_contract_{os.getpid()}"
    admin_url = to_libpq_url(server)

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    failed = False
    process = None
    try:
        gateway(url, "migrate")
        tokens = {
            role: gateway(url, "clients", "add", f"contract-{role}", "--role", role)
            for role in ROLES
        }
        gateway(url, "demo")
        port = 8600 + os.getpid() % 300
        env = {k: v for k, v in os.environ.items() if not k.startswith("NOTEGATEWAY_")}
        env |= {
            "NOTEGATEWAY_DATABASE_URL": url,
            "NOTEGATEWAY_SECRET_KEY": "contract-check-key-of-32-bytes-or-more",
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "notegateway", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open("contract-serve.log", "w"),  # noqa: SIM115 - closed with the process
        )
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/health/ready", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        for role in ROLES:
            print(f"== schemathesis as {role}", flush=True)
            run = subprocess.run(
                [
                    tool,
                    "--config-file",
                    str(Path(__file__).with_name("schemathesis.toml")),
                    "run",
                    f"{base}/openapi.json",
                    "-H",
                    f"Authorization: Bearer {tokens[role]}",
                    "--checks",
                    CHECKS,
                    "--max-examples",
                    "25",
                    "--seed",
                    "7",
                    "--no-color",
                ],
                capture_output=True,
                text=True,
            )
            print("\n".join(run.stdout.splitlines()[-25:]))
            failed |= run.returncode != 0
        if shutil.which("promtool"):
            metrics = urllib.request.urlopen(f"{base}/metrics", timeout=10).read()
            check = subprocess.run(
                ["promtool", "check", "metrics"], input=metrics, capture_output=True
            )
            print(
                "== promtool check metrics:",
                "ok" if check.returncode == 0 else check.stdout.decode() + check.stderr.decode(),
            )
            failed |= check.returncode != 0
        else:
            print("== promtool not installed: /metrics not checked")
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=20)
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    print("contract check:", "FAILED" if failed else "passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
