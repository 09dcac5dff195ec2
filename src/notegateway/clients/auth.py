"""The request-side of authentication and the contract's role table, in one place."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

import asyncpg
from fastapi import Depends, Request

from notegateway.clients import service
from notegateway.clients.schemas import Client, Role
from notegateway.core.config import Settings
from notegateway.core.db import idempotent
from notegateway.core.errors import Forbidden, Unauthorized
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


async def authenticate(
    request: Request, db: asyncpg.Connection, record_nzis_call: bool = False
) -> Client:
    settings: Settings = request.app.state.settings
    thumbprint = None
    cert_headers = request.headers.getlist("x-client-cert")
    # The header is the proxy's word; from anyone else it is ignored.
    if cert_headers and peer_is_trusted_proxy(request, settings):
        # Given twice, or two values joined by a comma (how a proxy may merge two header
        # lines; a URL-encoded PEM holds no comma): refused, never the first let through.
        if len(cert_headers) > 1 or "," in cert_headers[0]:
            raise Unauthorized("X-Client-Cert was given more than once")
        thumbprint = service.certificate_thumbprint(cert_headers[0])
    client = await service.authenticate(
        db, request.app.state.token_key, _bearer_token(request), thumbprint, record_nzis_call
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

    async def admit(db: asyncpg.Connection) -> Client:
        client = await authenticate(request, db, admission.records_nzis_call)
        _admit(request, client, admission)
        return client

    engine = request.app.state.engine
    client = await idempotent(engine, admit)
    limits: ClientLimits = request.app.state.client_limits
    async with limits.request(engine, client.id):
        yield client


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
