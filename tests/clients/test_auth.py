"""Authentication (tokens, client certificates via a trusted proxy) and the role table."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys
from urllib.parse import quote

import asyncpg
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import ValidationError

from notegateway.core.config import Settings
from tests.conftest import TRUSTED_PROXY
from tests.factories import Api, bearer
from tests.serving import gateway_env

NOTES = "/api/v1/hisMedicalNotices"


def make_certificate(common_name: str, valid_from_days: int = -1) -> tuple[str, str]:
    """A self-signed certificate: (URL-encoded PEM as nginx forwards it, SHA-256 thumbprint),
    valid from `valid_from_days` (relative to now) for 31 days."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC) + dt.timedelta(days=valid_from_days + 1)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    return quote(pem, safe=""), certificate.fingerprint(hashes.SHA256()).hex()


def client_from(api: Api, host: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=api.app, client=(host, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")


async def test_missing_and_unknown_credentials_are_401(api: Api) -> None:
    assert (await api.http.get(f"{NOTES}/25317A000123")).status_code == 401
    unknown = await api.http.get(f"{NOTES}/25317A000123", headers=bearer("ngw_nope"))
    assert unknown.status_code == 401
    assert unknown.headers["content-type"] == "application/problem+json"
    basic = await api.http.get(f"{NOTES}/25317A000123", headers={"Authorization": "Basic eDp5"})
    assert basic.status_code == 401


async def test_auth_comes_before_body_parsing(api: Api) -> None:
    response = await api.http.post(NOTES, content=b"{not json")
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("role", "method", "path", "allowed"),
    [
        ("nzis", "POST", NOTES, True),
        ("nzis", "GET", f"{NOTES}/25317A000123", True),
        ("nzis", "PUT", "/api/v1/registry/institutions/1", False),
        ("neispuo", "POST", NOTES, False),
        ("neispuo", "PUT", "/api/v1/registry/institutions/1", True),
        ("neispuo", "GET", f"{NOTES}/25317A000123", False),
        ("vendor", "POST", NOTES, False),
        ("vendor", "GET", f"{NOTES}/25317A000123", False),
        ("vendor", "GET", "/api/v1/registry/institutions/1", False),
        ("operator", "GET", f"{NOTES}/25317A000123", True),
        ("operator", "GET", "/api/v1/registry/institutions/1", True),
        ("operator", "POST", NOTES, False),
        ("operator", "POST", f"{NOTES}/25317A000123/cancel", False),
        ("operator", "PUT", "/api/v1/registry/institutions/1", False),
        ("operator", "POST", "/api/v1/registry/persons:batch", False),
    ],
)
async def test_role_table(api: Api, role: str, method: str, path: str, allowed: bool) -> None:
    response = await api.http.request(method, path, json=[], headers=await api.as_role(role))
    if allowed:
        assert response.status_code not in (401, 403), response.text
    else:
        assert response.status_code == 403
        assert response.json()["title"] == "Forbidden"


async def test_certificate_from_trusted_proxy(api: Api) -> None:
    header, thumbprint = make_certificate("nzis-client")
    await api.add_client("nzis-cert", "nzis", thumbprint.upper())
    async with client_from(api, TRUSTED_PROXY) as proxy:
        ok = await proxy.get(f"{NOTES}/25317A000123", headers={"X-Client-Cert": header})
        assert ok.status_code == 404  # authenticated; the note does not exist
        garbage = await proxy.get(
            f"{NOTES}/25317A000123", headers={"X-Client-Cert": "not%20a%20cert"}
        )
        assert garbage.status_code == 401
        other_header, _ = make_certificate("stranger")
        stranger = await proxy.get(f"{NOTES}/25317A000123", headers={"X-Client-Cert": other_header})
        assert stranger.status_code == 401


async def test_ipv4_mapped_proxy_address_is_trusted(api: Api) -> None:
    header, thumbprint = make_certificate("nzis-client")
    await api.add_client("nzis-cert", "nzis", thumbprint)
    async with client_from(api, f"::ffff:{TRUSTED_PROXY}") as proxy:
        assert (
            await proxy.get(f"{NOTES}/25317A000123", headers={"X-Client-Cert": header})
        ).status_code == 404


async def test_token_key_created_once_under_concurrent_first_use(database_url: str) -> None:
    from notegateway.clients import service
    from tests.conftest import plain

    first, second = (
        await asyncpg.connect(plain(database_url)),
        await asyncpg.connect(plain(database_url)),
    )
    try:
        await first.execute("DELETE FROM gateway_secrets")
        tx = first.transaction()
        await tx.start()
        key_one = await service.load_keys(first, None)
        racing = asyncio.create_task(service.load_keys(second, None))
        await asyncio.sleep(0.2)  # the second waits on the first's uncommitted insert
        await tx.commit()
        assert await racing == key_one
    finally:
        await first.close()
        await second.close()


async def test_certificate_header_ignored_from_untrusted_peer(api: Api) -> None:
    header, thumbprint = make_certificate("nzis-client")
    await api.add_client("nzis-cert", "nzis", thumbprint)
    # Forged: sent straight to the gateway, and with X-Forwarded-For naming the proxy.
    forged = await api.http.get(
        f"{NOTES}/25317A000123",
        headers={"X-Client-Cert": header, "X-Forwarded-For": TRUSTED_PROXY},
    )
    assert forged.status_code == 401
    async with client_from(api, "10.20.30.41") as neighbour:
        assert (
            await neighbour.get(f"{NOTES}/25317A000123", headers={"X-Client-Cert": header})
        ).status_code == 401
        # An unreadable header from an untrusted peer is ignored too: the token decides.
        token = await api.token("nzis")
        ok = await neighbour.get(
            f"{NOTES}/25317A000123", headers={"X-Client-Cert": "junk", **bearer(token)}
        )
        assert ok.status_code == 404


async def test_token_and_certificate_must_name_the_same_client(api: Api) -> None:
    header, thumbprint = make_certificate("nzis-client")
    await api.add_client("nzis-cert", "nzis", thumbprint)
    other_token = await api.token("nzis", "nzis-other")
    async with client_from(api, TRUSTED_PROXY) as proxy:
        mixed = await proxy.get(
            f"{NOTES}/25317A000123", headers={"X-Client-Cert": header, **bearer(other_token)}
        )
        assert mixed.status_code == 401


async def test_tokens_are_stored_only_as_keyed_hashes(api: Api, db) -> None:  # type: ignore[no-untyped-def]
    token = await api.token("nzis")
    assert token.startswith("ngw_")
    stored = await db.fetchval("SELECT token_hash FROM clients WHERE name = 'test-nzis'")
    assert token not in stored
    assert len(stored) == 64


async def test_rotate_and_disable_take_effect_at_once(api: Api) -> None:
    import asyncpg

    from notegateway.clients import service
    from tests.conftest import plain

    token = await api.token("nzis")
    headers = bearer(token)
    assert (await api.http.get(f"{NOTES}/25317A000123", headers=headers)).status_code == 404
    conn = await asyncpg.connect(plain(api.database_url))
    try:
        async with conn.transaction():
            new_token = await service.rotate(conn, api.app.state.token_key, "test-nzis")
    finally:
        await conn.close()
    assert (await api.http.get(f"{NOTES}/25317A000123", headers=headers)).status_code == 401
    assert (
        await api.http.get(f"{NOTES}/25317A000123", headers=bearer(new_token))
    ).status_code == 404
    conn = await asyncpg.connect(plain(api.database_url))
    try:
        async with conn.transaction():
            await service.disable(conn, "test-nzis")
    finally:
        await conn.close()
    await asyncio.sleep(0)
    assert (
        await api.http.get(f"{NOTES}/25317A000123", headers=bearer(new_token))
    ).status_code == 401


async def test_certificate_given_twice_or_outside_its_dates_is_401(api: Api) -> None:
    header, thumbprint = make_certificate("nzis-client")
    await api.add_client("nzis-cert", "nzis", thumbprint)
    expired, expired_thumbprint = make_certificate("old", valid_from_days=-60)
    await api.add_client("nzis-old", "nzis", expired_thumbprint)
    future, future_thumbprint = make_certificate("new", valid_from_days=5)
    await api.add_client("nzis-new", "nzis", future_thumbprint)
    async with client_from(api, TRUSTED_PROXY) as proxy:
        url = f"{NOTES}/25317A000123"
        assert (await proxy.get(url, headers={"X-Client-Cert": header})).status_code == 404
        twice = await proxy.get(url, headers=[("X-Client-Cert", header), ("X-Client-Cert", header)])
        assert twice.status_code == 401
        for outside in (expired, future):
            assert (await proxy.get(url, headers={"X-Client-Cert": outside})).status_code == 401


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"secret_key": "x" * 31}, "at least 32 bytes"),
        ({"trusted_proxies": "10.0.0.1, proxy.example"}, "not an address"),
        ({"trusted_proxies": "10.0.0.300"}, "not an address"),
    ],
)
def test_settings_refuse_short_keys_and_bad_proxies(changes: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(**changes)  # type: ignore[arg-type]


def test_ipv4_mapped_proxy_entries_match_ipv4_peers() -> None:
    networks = Settings(
        trusted_proxies="::ffff:10.1.2.3, ::ffff:10.9.0.0/112"
    ).trusted_proxy_networks
    assert [str(n) for n in networks] == ["10.1.2.3/32", "10.9.0.0/16"]


def test_the_command_line_refuses_a_short_secret_key(database_url: str) -> None:
    env = gateway_env(database_url) | {"NOTEGATEWAY_SECRET_KEY": "short"}
    result = subprocess.run(
        [sys.executable, "-m", "notegateway", "clients", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "32 bytes" in result.stderr
