"""The request-side of authentication and the contract's role table, in one place."""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from typing import Annotated

import asyncpg
from fastapi import Depends, Request

from notegateway.clients import service
from notegateway.clients.schemas import Client, Role
from notegateway.core.config import Settings
from notegateway.core.db import transaction
from notegateway.core.deps import Db
from notegateway.core.errors import Forbidden, Unauthorized

READ_METHODS = frozenset({"GET", "HEAD"})


def _peer_is_trusted_proxy(request: Request, settings: Settings) -> bool:
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


async def authenticate(request: Request, db: asyncpg.Connection) -> Client:
    settings: Settings = request.app.state.settings
    thumbprint = None
    cert_header = request.headers.get("x-client-cert")
    # The header is the proxy's word; from anyone else it is ignored.
    if cert_header and _peer_is_trusted_proxy(request, settings):
        thumbprint = service.certificate_thumbprint(cert_header)
    client = await service.authenticate(
        db, request.app.state.token_key, _bearer_token(request), thumbprint
    )
    request.state.client_name = client.name
    return client


def require(*roles: Role, operator_reads: bool = False) -> Callable[..., Awaitable[Client]]:
    """A dependency admitting `roles`, and operators on GET when `operator_reads`."""

    async def dependency(request: Request, db: Db) -> Client:
        return _admit(request, await authenticate(request, db), roles, operator_reads)

    return dependency


def _admit(
    request: Request, client: Client, roles: tuple[Role, ...], operator_reads: bool
) -> Client:
    """The role table: `client` may call this endpoint, or 403."""
    if client.role in roles:
        return client
    if operator_reads and client.role is Role.OPERATOR and request.method in READ_METHODS:
        return client
    raise Forbidden(f"the role {client.role.value!r} may not call this endpoint")


def require_briefly(
    *roles: Role, on_admit: Callable[[asyncpg.Connection], Awaitable[None]] | None = None
) -> Callable[..., Awaitable[Client]]:
    """Like `require`, in a transaction of its own, before the request's: for requests
    that must not hold a connection while they wait (long polls), or that must leave a
    trace whatever their answer (`on_admit` runs in that transaction once admitted)."""

    async def dependency(request: Request) -> Client:
        async with transaction(request.app.state.engine) as db:
            client = _admit(request, await authenticate(request, db), roles, False)
            if on_admit is not None:
                await on_admit(db)
        return client

    return dependency


NzisClient = Annotated[Client, Depends(require(Role.NZIS, operator_reads=True))]
NeispuoClient = Annotated[Client, Depends(require(Role.NEISPUO, operator_reads=True))]
VendorClient = Annotated[Client, Depends(require(Role.VENDOR))]
PollingVendor = Annotated[Client, Depends(require_briefly(Role.VENDOR))]
OperatorClient = Annotated[Client, Depends(require(Role.OPERATOR))]
