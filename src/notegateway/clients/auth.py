"""The request-side of authentication and the contract's role table, in one place."""

from __future__ import annotations

import contextlib
import ipaddress
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

import asyncpg
from fastapi import Depends, Request

from notegateway.clients import service
from notegateway.clients.schemas import Client, Role
from notegateway.core.config import Settings
from notegateway.core.db import idempotent, transaction
from notegateway.core.errors import Forbidden, ServiceUnavailable, Unauthorized
from notegateway.core.limits import ClientLimits

READ_METHODS = frozenset({"GET", "HEAD"})


def peer_is_trusted_proxy(request: Request, settings: Settings) -> bool:
    if request.client is None or not settings.trusted_proxy_networks:
        return False
    try:
        peer = ipaddress.ip_address(request.client.host)
    except ValueError:
        return False
    if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped is not None:
        peer = peer.ipv4_mapped  # a dual-stack listener shows IPv4 peers as ::ffff:a.b.c.d
    return any(peer in network for network in settings.trusted_proxy_networks)


def _bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    return token.strip()


def _thumbprint(request: Request) -> str | None:
    """The thumbprint of the certificate the proxy verified, if any."""
    settings: Settings = request.app.state.settings
    cert_headers = request.headers.getlist("x-client-cert")
    # The header is the proxy's word; from anyone else it is ignored.
    if not cert_headers or not peer_is_trusted_proxy(request, settings):
        return None
    # Given twice, or two values joined by a comma (how a proxy may merge two header
    # lines; a URL-encoded PEM holds no comma): refused, never the first let through.
    if len(cert_headers) > 1 or "," in cert_headers[0]:
        raise Unauthorized("X-Client-Cert was given more than once")
    return service.certificate_thumbprint(cert_headers[0])


async def authenticate(
    request: Request, db: asyncpg.Connection, record_nzis_call: bool = False
) -> Client:
    client = await service.authenticate(
        db,
        request.app.state.token_key,
        _bearer_token(request),
        _thumbprint(request),
        record_nzis_call,
    )
    request.state.client_name = client.name
    return client


@dataclass(frozen=True, slots=True)
class Admission:
    """Who may call an endpoint: `roles` (and operators on GET when `operator_reads`,
    those limited to a region too when `regional_reads`: the endpoint scopes by region);
    `records_nzis_call`: an admitted NZIS client's call is recorded whatever the answer
    (lastHisSyncTime), in the credentials' own statement."""

    roles: tuple[Role, ...]
    operator_reads: bool = False
    regional_reads: bool = False
    records_nzis_call: bool = False


@asynccontextmanager
async def admitted(request: Request, admission: Admission) -> AsyncIterator[Client]:
    """The client, admitted, holding one of its NOTEGATEWAY_CLIENT_CONCURRENCY requests
    in progress until the block ends (beyond them: 429).

    Credentials are checked before the request's body is read and before its own
    transaction, in a statement that is a transaction of its own: no connection is held
    while a body arrives or a long poll waits."""

    client = await _checked(request, admission)
    async with _in_progress(request, client):
        yield client


async def _checked(request: Request, admission: Admission) -> Client:
    """The credentials checked in a statement that is a transaction of its own."""

    async def admit(db: asyncpg.Connection) -> Client:
        client = await authenticate(request, db, admission.records_nzis_call)
        _admit(request, client, admission)
        return client

    return await idempotent(request.app.state.engine, admit)


def _in_progress(request: Request, client: Client) -> AbstractAsyncContextManager[None]:
    """One of the client's requests in progress (beyond its share: 429)."""
    limits: ClientLimits = request.app.state.client_limits
    return limits.request(request.app.state.engine, client.id)


CallerKey = tuple[str | None, str | None]  # (token hash, certificate thumbprint)
_HEX = re.compile(r"[0-9a-f]{1,128}")


class KnownCallers:
    """NZIS clients whose credentials were checked in full lately, by their token hash and
    certificate thumbprint: a push by one skips the credentials' own statement (a round
    trip and a pooled connection) and has them checked again, and its call recorded, in
    the round trip that begins its transaction (`caller_transaction`; the check is
    `ngw_nzis_call`, core/sql_functions.py). A client disabled or a token rotated is so
    refused at once, as by the full check. One per app; an entry lasts TTL_S."""

    TTL_S = 60.0
    MOST = 64  # NZIS has a client or two; past this many, all are checked in full again

    def __init__(self) -> None:
        self._known: dict[CallerKey, tuple[float, Client]] = {}

    def get(self, key: CallerKey) -> Client | None:
        entry = self._known.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def remember(self, key: CallerKey, client: Client) -> None:
        if len(self._known) >= self.MOST:
            self._known.clear()
        self._known[key] = (time.monotonic() + self.TTL_S, client)

    def forget(self, key: CallerKey) -> None:
        self._known.pop(key, None)


@dataclass(slots=True)
class Caller:
    """An NZIS client admitted to push. `recheck`: when it was a known caller, the SQL that
    checks its credentials again and records its call, in the round trip that begins the
    push's transaction (None: checked in full, and recorded, already). `recorded`: its
    call is recorded (committed)."""

    client: Client
    key: CallerKey
    recheck: str | None = None
    recorded: bool = True


def _literal(value: str | None) -> str:
    if value is None:
        return "NULL"
    if not _HEX.fullmatch(value):  # a hash and a thumbprint are hexadecimal, nothing else
        raise ValueError("not a hexadecimal digest")
    return f"'{value}'"


@asynccontextmanager
async def admitted_caller(request: Request, admission: Admission) -> AsyncIterator[Caller]:
    """`admitted` for the push (issue 21): an NZIS client, from the process's known callers
    when it is one, its credentials then checked again by `caller_transaction`."""
    token = _bearer_token(request)
    token_hash = None if token is None else service.hash_token(request.app.state.token_key, token)
    key: CallerKey = (token_hash, _thumbprint(request))
    known: KnownCallers = request.app.state.known_callers
    client = known.get(key)
    if client is None:
        client = await _checked(request, admission)
        caller = Caller(client, key)
        if client.role is Role.NZIS and admission.records_nzis_call:
            known.remember(key, client)
    else:
        _admit(request, client, admission)
        request.state.client_name = client.name
        recheck = f"SELECT ngw_nzis_call({client.id}, {_literal(key[0])}, {_literal(key[1])})"
        caller = Caller(client, key, recheck, recorded=False)
    try:
        async with _in_progress(request, client):
            yield caller
    except ServiceUnavailable:
        raise  # the database is away: nothing can be recorded, and the answer is due now
    except BaseException:
        if not caller.recorded:
            # Answered without its transaction committing (429, 408, a failure midway):
            # lastHisSyncTime moves whatever the answer, so the call is recorded as the
            # full check records it, if the credentials still admit the client.
            with contextlib.suppress(Exception):
                await _checked(request, admission)
        raise


@asynccontextmanager
async def caller_transaction(request: Request, caller: Caller) -> AsyncIterator[asyncpg.Connection]:
    """The push's one transaction, begun with its known caller's check (`Caller.recheck`);
    credentials that no longer admit the client: 401, nothing written, and it is known no
    more."""
    try:
        async with transaction(request.app.state.engine, also=caller.recheck) as db:
            yield db
        caller.recorded = True
    except asyncpg.InvalidAuthorizationSpecificationError:
        request.app.state.known_callers.forget(caller.key)
        raise Unauthorized("these credentials no longer admit this client") from None


def admitting(admission: Admission) -> Callable[..., AsyncIterator[Client]]:
    """A dependency admitting a client (`admitted`)."""

    async def dependency(request: Request) -> AsyncIterator[Client]:
        async with admitted(request, admission) as client:
            yield client

    return dependency


def require(
    *roles: Role, operator_reads: bool = False, regional_reads: bool = False
) -> Callable[..., AsyncIterator[Client]]:
    """A dependency admitting `roles` (`Admission`)."""
    return admitting(Admission(roles, operator_reads, regional_reads))


def _admit(request: Request, client: Client, admission: Admission) -> None:
    """The role table: `client` may call this endpoint, or 403."""
    if client.role in admission.roles:
        return
    if admission.operator_reads and client.role is Role.OPERATOR and request.method in READ_METHODS:
        if client.region is not None and not admission.regional_reads:  # core/scope.py
            raise Forbidden(
                "an operator limited to a region may use the operators' API and its region's "
                "monthly figures only"
            )
        return
    raise Forbidden(f"the role {client.role.value!r} may not call this endpoint")


NzisClient = Annotated[Client, Depends(require(Role.NZIS, operator_reads=True))]
NeispuoClient = Annotated[Client, Depends(require(Role.NEISPUO, operator_reads=True))]
NeispuoOnlyClient = Annotated[Client, Depends(require(Role.NEISPUO))]
FiguresClient = Annotated[
    Client, Depends(require(Role.NEISPUO, operator_reads=True, regional_reads=True))
]
VendorClient = Annotated[Client, Depends(require(Role.VENDOR))]
OperatorClient = Annotated[Client, Depends(require(Role.OPERATOR))]
