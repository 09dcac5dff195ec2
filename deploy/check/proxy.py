"""The shipped nginx site (deploy/nginx/notegateway.conf) in front of two gateway
processes, on this machine: certificates, a forged header, slow and oversized requests.

Run by `make deploy-check`. Needs Debian's nginx and a PostgreSQL server to make a scratch
database in (DEPLOY_CHECK_ADMIN_URL, default the machine's PostgreSQL on 5432).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from benchmarks.common import choose_server, free_port, fresh_database

from deploy.check.common import Authority, Issued, Report, cli, gateways, note

SITE = Path(__file__).resolve().parents[1] / "nginx" / "notegateway.conf"


def render_site(work: Path, port: int, upstreams: list[int]) -> Path:
    """The shipped site with this run's paths and ports: nothing else is changed."""
    site = SITE.read_text()
    site = site.replace("listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;")
    site = site.replace("/etc/notegateway/tls/", f"{work}/tls/")
    site = site.replace("server 127.0.0.1:8001", f"server 127.0.0.1:{upstreams[0]}")
    site = site.replace("server 127.0.0.1:8002", f"server 127.0.0.1:{upstreams[1]}")
    (work / "site.conf").write_text(site)
    for temp in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (work / temp).mkdir(mode=0o777)
        os.chmod(work / temp, 0o777)
    main = work / "nginx.conf"
    main.write_text(
        f"""
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {work}/access.log;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    include {work}/site.conf;
}}
"""
    )
    return main


def trickle(port: int, ca: Path, head: bytes, piece: bytes) -> tuple[float, bytes]:
    """Send `head`, then `piece` once a second; how long until the other side answered or
    hung up, and what it answered."""
    context = ssl.create_default_context(cafile=str(ca))
    started, answered = time.monotonic(), b""
    with (
        socket.create_connection(("127.0.0.1", port)) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        tls.settimeout(1.0)
        tls.sendall(head)
        for _ in range(60):
            try:
                answered = tls.recv(4096)
                break  # an answer, or b"": hung up
            except TimeoutError:
                pass
            except (ssl.SSLError, OSError):
                break
            try:
                tls.sendall(piece)
            except (ssl.SSLError, OSError):
                break
    return time.monotonic() - started, answered


def main() -> int:
    report = Report()

    async def on_a_scratch_database() -> None:
        server = await choose_server(os.environ.get("DEPLOY_CHECK_SERVER_URL"))
        async with fresh_database(server, "deploy_proxy") as database_url:
            await asyncio.to_thread(check, report, database_url)

    asyncio.run(on_a_scratch_database())
    return report.exit_code()


def check(report: Report, database_url: str) -> None:
    work = Path(tempfile.mkdtemp(prefix="ngw-deploy-proxy-"))
    os.chmod(work, 0o755)
    (work / "tls").mkdir()
    clients_ca = Authority(work / "tls", "clients-ca")
    server_ca = Authority(work / "tls", "server-ca")
    foreign_ca = Authority(work / "tls", "foreign-ca")
    server = server_ca.issue("server", server=True)
    registered = clients_ca.issue("nzis")
    unregistered = clients_ca.issue("stranger")
    foreign = foreign_ca.issue("nzis-lookalike")
    expired = clients_ca.issue("nzis-expired", expired=True)
    try:
        cli(
            database_url,
            "clients",
            "add",
            "nzis",
            "--role",
            "nzis",
            "--cert-thumbprint",
            registered.thumbprint(),
        )
        cli(
            database_url,
            "clients",
            "add",
            "nzis-old",
            "--role",
            "nzis",
            "--cert-thumbprint",
            expired.thumbprint(),
        )
        vendor_token = cli(database_url, "clients", "add", "acme", "--role", "vendor")
        nzis_token = cli(database_url, "clients", "add", "nzis-token", "--role", "nzis")
        ports = [free_port(), free_port()]
        proxy_port = free_port()
        with gateways(database_url, ports, trusted_proxies="127.0.0.1") as processes:
            config = render_site(work, proxy_port, ports)
            checked = subprocess.run(
                ["nginx", "-t", "-p", str(work), "-c", str(config)], capture_output=True, text=True
            )
            report.check(
                "nginx -t accepts the shipped site",
                checked.returncode == 0,
                checked.stderr.strip().splitlines()[-1] if checked.stderr else "",
            )
            nginx = subprocess.Popen(
                ["nginx", "-p", str(work), "-c", str(config), "-g", "daemon off;"]
            )
            try:
                _wait_port(proxy_port)
                base = f"https://localhost:{proxy_port}"
                _checks(
                    report,
                    base,
                    proxy_port,
                    server_ca.path,
                    server,
                    registered,
                    unregistered,
                    foreign,
                    expired,
                    vendor_token.splitlines()[-1],
                    nzis_token.splitlines()[-1],
                )
                # One of the two gateway processes stops: the other serves every request.
                processes[0].terminate()
                processes[0].wait(timeout=15)
                answers = [
                    _client(base, server_ca.path, registered).get("/health/ready").status_code
                    for _ in range(6)
                ]
                report.check(
                    "one gateway process stopped: the proxy sends everything to the other",
                    answers == [200] * 6,
                    f"6 requests answered {answers}",
                )
            finally:
                nginx.terminate()
                nginx.wait(timeout=15)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _client(base: str, ca: Path, cert: Issued | None) -> httpx.Client:
    context = ssl.create_default_context(cafile=str(ca))
    if cert is not None:
        context.load_cert_chain(str(cert.certificate), str(cert.key))
    return httpx.Client(base_url=base, verify=context, timeout=30)


def _checks(
    report: Report,
    base: str,
    port: int,
    ca: Path,
    server: Issued,
    registered: Issued,
    unregistered: Issued,
    foreign: Issued,
    expired: Issued,
    vendor_token: str,
    nzis_token: str,
) -> None:
    push = "/api/v1/hisMedicalNotices"
    with _client(base, ca, registered) as http:
        answer = http.post(push, json=[note("26340A000001", 1)])
        outcome = (
            answer.json().get("results", [{}])[0].get("outcome")
            if answer.status_code == 200
            else None
        )
        report.check(
            "a registered certificate is served",
            outcome == "created",
            f"{answer.status_code}, outcome {outcome}",
        )
        hsts = answer.headers.get("strict-transport-security", "")
        report.check("HSTS on every answer", "max-age=31536000" in hsts, hsts or "missing")
    forged = {"X-Client-Cert": registered.escaped_pem()}
    refusals: list[tuple[str, Issued | None, dict[str, str], int]] = [
        ("an unknown issuer's certificate is refused at the proxy", foreign, {}, 400),
        (
            "an expired certificate (of a registered client) is refused at the proxy",
            expired,
            {},
            400,
        ),
        ("a valid certificate of no client is refused by the gateway", unregistered, {}, 401),
        ("a forged X-Client-Cert (no certificate) is ignored", None, forged, 401),
        (
            "a forged X-Client-Cert beside another certificate is replaced",
            unregistered,
            forged,
            401,
        ),
    ]
    for number, (what, cert, headers, refused) in enumerate(refusals, start=2):
        with _client(base, ca, cert) as http:
            answer = http.post(push, json=[note(f"26340A{number:06d}", number)], headers=headers)
            report.check(
                what,
                answer.status_code == refused,
                f"{answer.status_code} {_title(answer.text)}".strip(),
            )
    with _client(base, ca, None) as http:
        answer = http.get(
            "/api/v1/medicalNotices/events", headers={"Authorization": f"Bearer {vendor_token}"}
        )
        report.check(
            "a token client (no certificate) is served",
            answer.status_code == 200,
            str(answer.status_code),
        )
        big = b"[" + b" " * (1024 * 1024) + b"]"
        answer = http.post(push, content=big, headers={"Content-Type": "application/json"})
        report.check(
            "a body over 1 MiB is refused at the proxy, as problem+json",
            answer.status_code == 413
            and answer.headers.get("content-type") == "application/problem+json",
            f"{answer.status_code} {answer.headers.get('content-type')}",
        )
        answer = http.get("/health/live", headers={"X-Long": "a" * 17 * 1024})
        report.check(
            "a header line over 16 KiB is refused at the proxy",
            answer.status_code == 400,
            f"{answer.status_code} {_title(answer.text)}",
        )
    cut, _ = trickle(
        port, ca, b"GET /health/live HTTP/1.1\r\nHost: localhost\r\n", b"X-Slow: a\r\n"
    )
    report.check(
        "slow headers are cut at the proxy (client_header_timeout 10s)",
        9 <= cut <= 13,
        f"the connection was closed after {cut:.1f} s",
    )
    head = (
        "POST /api/v1/hisMedicalNotices HTTP/1.1\r\nHost: localhost\r\n"
        f"Authorization: Bearer {nzis_token}\r\nContent-Type: application/json\r\n"
        "Content-Length: 200\r\n\r\n"
    )
    took, answered = trickle(port, ca, head.encode(), b" ")
    status = answered.split(b"\r\n", 1)[0].decode(errors="replace")
    report.check(
        "a body sent a byte a second is cut at 10 s in all (the gateway's 408, through the proxy)",
        status.endswith("408 Request Timeout") and took < 13,
        f"{status or 'no answer'} after {took:.1f} s",
    )


def _title(html: str) -> str:
    found = re.search(r"<title>\d* ?(.*?)</title>", html)
    return found.group(1) if found else ""


def _wait_port(port: int) -> None:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("nginx did not start")


if __name__ == "__main__":
    sys.exit(main())
