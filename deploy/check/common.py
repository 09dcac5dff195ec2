"""What the deploy checks share: a report of named checks, gateway processes started as an
operator starts them (`notegateway serve`), the command line, test certificates."""

from __future__ import annotations

import datetime as dt
import ipaddress
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from benchmarks import common as bench
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from tests import factories

SECRET_KEY = "deploy-check-secret-key-of-at-least-32-bytes"


@dataclass
class Report:
    """Each check prints one line, what it saw included; any failure fails the run."""

    failed: list[str] = field(default_factory=list)

    def check(self, what: str, ok: bool, seen: str) -> None:
        print(f"{'ok  ' if ok else 'FAIL'} {what}: {seen}", flush=True)
        if not ok:
            self.failed.append(what)

    def exit_code(self) -> int:
        if self.failed:
            print(f"{len(self.failed)} check(s) failed: {', '.join(self.failed)}", flush=True)
            return 1
        print("every check passed", flush=True)
        return 0


def gateway_env(database_url: str, **extra: str) -> dict[str, str]:
    """The benchmarks' environment (benchmarks/common.py), with `extra` NOTEGATEWAY_*."""
    env = bench.gateway_env(database_url) | {"NOTEGATEWAY_SECRET_KEY": SECRET_KEY}
    return env | {f"NOTEGATEWAY_{k.upper()}": v for k, v in extra.items()}


def cli(database_url: str, *args: str) -> str:
    """`notegateway ARGS`; its output (the token is the last line of `clients add`)."""
    done = subprocess.run(
        [sys.executable, "-m", "notegateway", *args],
        env=gateway_env(database_url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"notegateway {args[0]} failed: {done.stderr}")
    return done.stdout.strip()


@contextmanager
def gateways(database_url: str, ports: list[int], **extra: str) -> Iterator[list[Any]]:
    """Gateway processes on these ports, ready when this yields; stopped after. Their
    logs go to /tmp/bench-PORT.log (benchmarks/common.py: start)."""
    env = gateway_env(database_url, **extra)
    serve = [sys.executable, "-m", "notegateway", "serve", "--workers", "1", "--port"]
    processes = [bench.start([*serve, str(port)], env, port) for port in ports]
    print(f"     (the gateways log to /tmp/bench-{{{','.join(map(str, ports))}}}.log)")
    try:
        for port in ports:
            wait_ready(f"http://127.0.0.1:{port}")
        yield processes
    finally:
        bench.stop(processes)


def wait_ready(base: str, within_s: float = 60.0) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{base} did not become ready")


def note(nrn: str, serial: int) -> dict[str, Any]:
    """A note for a pupil the registry does not hold (stored, waiting for the pupil)."""
    return factories.note(
        nrn, factories.make_egn(dt.date(2014, 3, 15 + serial // 1000 % 10), serial % 1000)
    )


@dataclass(frozen=True)
class Issued:
    certificate: Path
    key: Path

    def thumbprint(self) -> str:
        loaded = x509.load_pem_x509_certificate(self.certificate.read_bytes())
        return loaded.fingerprint(hashes.SHA256()).hex()

    def escaped_pem(self) -> str:
        """As nginx's $ssl_client_escaped_cert writes it (what a forger would send)."""
        from urllib.parse import quote

        return quote(self.certificate.read_text(), safe="")


class Authority:
    """A test CA, issuing server and client certificates into `directory`."""

    def __init__(self, directory: Path, name: str) -> None:
        self.directory, self.name = directory, name
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = dt.datetime.now(dt.UTC)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.path = directory / f"{name}.crt"
        self.path.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))

    def issue(self, name: str, *, server: bool = False, expired: bool = False) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        start, end = (
            (now - dt.timedelta(days=30), now - dt.timedelta(days=1))
            if expired
            else (now - dt.timedelta(days=1), now + dt.timedelta(days=30))
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.IPv4Address("127.0.0.1"))]
                ),
                critical=False,
            ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        else:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False
            )
        certificate = builder.sign(self.key, hashes.SHA256())
        issued = Issued(self.directory / f"{name}.crt", self.directory / f"{name}.key")
        issued.certificate.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        issued.key.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return issued
