"""Client credentials: tokens as keyed hashes, certificate thumbprints, and who may call what."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote

import asyncpg
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from notegateway.clients import repository
from notegateway.clients.repository import StoredClient
from notegateway.clients.schemas import Client, Role
from notegateway.core.errors import Conflict, NotFound, Unauthorized, Unprocessable

TOKEN_PREFIX = "ngw_"
_THUMBPRINT = re.compile(r"[0-9a-fA-F]{64}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


MIN_SECRET_BYTES = 32


@dataclass(frozen=True, slots=True)
class Keys:
    """Separate keys derived from the one secret: token hashes, feed cursors, the
    console's sign-in form tokens."""

    tokens: bytes
    cursors: bytes
    forms: bytes


def derive_keys(secret: bytes) -> Keys:
    def derive(purpose: bytes, length: int) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=purpose).derive(
            secret
        )

    return Keys(
        derive(b"notegateway token hashes", 32),
        derive(b"notegateway feed cursors", 64),
        derive(b"notegateway console forms", 32),
    )


async def load_keys(db: asyncpg.Connection, configured: str | None) -> Keys:
    """Keys derived from `NOTEGATEWAY_SECRET_KEY` (at least 32 bytes: Settings refuses a
    shorter one), or from a secret generated once and kept in the database."""
    if configured:
        return derive_keys(configured.encode())
    stored = await repository.get_or_create_secret(db, "token_hmac_key", secrets.token_hex(32))
    return derive_keys(stored.encode())


def hash_token(key: bytes, token: str) -> str:
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def normalise_thumbprint(value: str) -> str:
    compact = value.replace(":", "").strip()
    if not _THUMBPRINT.fullmatch(compact):
        raise Unprocessable("a certificate thumbprint is 64 hexadecimal digits (SHA-256)")
    return compact.lower()


def certificate_thumbprint(header_value: str) -> str:
    """SHA-256 of the DER form of a URL-encoded PEM (nginx's $ssl_client_escaped_cert)."""
    try:
        certificate = x509.load_pem_x509_certificate(unquote(header_value).encode())
    except ValueError:
        raise Unauthorized("X-Client-Cert does not hold a readable certificate") from None
    now = datetime.now(UTC)
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise Unauthorized("the client certificate is outside its validity dates")
    return certificate.fingerprint(hashes.SHA256()).hex()


def _client(stored: StoredClient) -> Client:
    if stored.disabled_at is not None:
        raise Unauthorized("this client is disabled")
    return Client(id=stored.id, name=stored.name, role=Role(stored.role), region=stored.region)


async def authenticate(
    db: asyncpg.Connection,
    key: bytes,
    token: str | None,
    thumbprint: str | None,
    record_nzis_call: bool = False,
) -> Client:
    """The client proven by a bearer token and/or a certificate thumbprint; both must agree.
    `record_nzis_call`: an NZIS call is recorded, in the same round trip, when these
    credentials admit an NZIS client (clients/repository.py: `_NAMED` applies the rules
    below to decide it)."""
    if token is None and thumbprint is None:
        raise Unauthorized("credentials are required: a bearer token or a client certificate")
    computed = None if token is None else hash_token(key, token)
    named = await repository.find_named(db, computed, thumbprint, record_nzis_call)
    by_token = by_cert = None
    if computed is not None:
        row = named.by_token
        if row is None or not hmac.compare_digest(row.token_hash or "", computed):
            raise Unauthorized("unknown credentials")
        by_token = _client(row)
    if thumbprint is not None:
        if named.by_cert is None:
            raise Unauthorized("unknown credentials")
        by_cert = _client(named.by_cert)
    if by_token is not None and by_cert is not None and by_token.id != by_cert.id:
        raise Unauthorized("the token and the certificate name different clients")
    client = by_token or by_cert
    assert client is not None
    return client


@dataclass(frozen=True, slots=True)
class ClientListing:
    name: str
    role: str
    cert_thumbprint: str | None
    disabled_at: datetime | None
    created_at: datetime
    token_rotated_at: datetime | None
    region: str | None


async def add(
    db: asyncpg.Connection,
    key: bytes,
    name: str,
    role: str,
    thumbprint: str | None,
    region: str | None = None,
) -> str:
    """Create a client; returns its token (shown once, kept only as a keyed hash). An
    operator may be limited to a `region` (the institutions' region, as the registry
    names it)."""
    if not _NAME.fullmatch(name):
        raise Unprocessable("a client name is 1 to 100 of A-Z a-z 0-9 . _ -, starting alphanumeric")
    try:
        role = Role(role).value
    except ValueError:
        raise Unprocessable(f"role must be one of {', '.join(r.value for r in Role)}") from None
    if region is not None and (role != Role.OPERATOR or not 1 <= len(region.strip()) <= 100):
        raise Unprocessable("a region (1 to 100 characters) limits an operator only")
    token = new_token()
    normalised = normalise_thumbprint(thumbprint) if thumbprint else None
    try:
        created = await repository.insert(
            db, name, role, hash_token(key, token), normalised, region.strip() if region else None
        )
    except asyncpg.UniqueViolationError:
        raise Conflict("another client has this certificate thumbprint") from None
    if not created:
        raise Conflict(f"a client named {name!r} exists already")
    return token


async def rotate(db: asyncpg.Connection, key: bytes, name: str) -> str:
    token = new_token()
    if not await repository.set_token(db, name, hash_token(key, token)):
        raise NotFound(f"no client named {name!r}")
    return token


async def disable(db: asyncpg.Connection, name: str) -> None:
    if not await repository.disable(db, name):
        raise NotFound(f"no client named {name!r}")


async def list_clients(db: asyncpg.Connection) -> list[ClientListing]:
    return [ClientListing(**dict(row)) for row in await repository.list_all(db)]
