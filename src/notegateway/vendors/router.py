"""HTTP of the vendors' side: /api/v1/medicalNotices (role vendor)."""

from __future__ import annotations

import functools
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import JSONResponse

from notegateway.clients.auth import VendorClient, authenticate
from notegateway.core import feed
from notegateway.core.deps import Db
from notegateway.core.errors import BadRequest
from notegateway.core.feed_cursor import CURSOR_CHARS
from notegateway.core.jsonbody import JsonBody
from notegateway.core.note_wire import NrnPath
from notegateway.core.openapi import json_array_body, json_body
from notegateway.core.wire import known_names, validated
from notegateway.vendors import service
from notegateway.vendors.schemas import EventAckIn, FeedPage, NextNotices, VendorNotice

router = APIRouter(prefix="/api/v1/medicalNotices", tags=["Vendors"])
_ACK_NAMES = known_names(EventAckIn)


@router.get(
    "/next/{next}",
    summary="NEISPUO-compatible: the next notes not yet acknowledged by this vendor",
    response_model=NextNotices,
)
async def next_notices(
    count: Annotated[int, Path(alias="next", ge=100, le=10000)], client: VendorClient, db: Db
) -> NextNotices:
    return await service.next_notices(db, client.id, count)


@router.post(
    "/acknowledge",
    summary="NEISPUO-compatible: these notes are read (ids not given to this vendor are ignored)",
    response_class=Response,
    responses={200: {"description": "empty body"}},
    openapi_extra=json_array_body({"type": "integer", "format": "int64"}, 1, 100000),
)
async def acknowledge(client: VendorClient, body: JsonBody, db: Db) -> Response:
    await service.acknowledge(db, client.id, _notice_ids(body))
    return Response(status_code=200)


def _notice_ids(body: Any) -> list[int]:
    """NEISPUO's body: a non-empty JSON array of medicalNoticeId (int64 numbers, or numeric
    strings, as ASP.NET accepts)."""
    if not isinstance(body, list):
        raise BadRequest("the body must be a JSON array of medicalNoticeId numbers")
    if not body:
        raise BadRequest("the array of medicalNoticeId is empty")
    ids = []
    for item in body:
        if isinstance(item, str) and item.strip().isascii() and item.strip().isdigit():
            item = int(item.strip())
        if isinstance(item, bool) or not isinstance(item, int) or not -(2**63) <= item < 2**63:
            raise BadRequest("the body must be a JSON array of medicalNoticeId numbers")
        ids.append(item)
    return ids


@router.get(
    "/events",
    summary="This vendor's ordered feed of note events; long polls with `wait`",
    response_model=FeedPage,
    responses={410: {"description": "the cursor is older than the feed keeps"}},
)
async def events(
    request: Request,
    client: VendorClient,
    after: feed.After = None,
    limit: feed.Limit = feed.DEFAULT_LIMIT,
    wait: feed.Wait = 0,
) -> JSONResponse:
    events = service.reader(request.app.state.cursor_key, client.id)
    position = events.position(after)

    async def look(db: asyncpg.Connection) -> feed.Answer:
        return await service.feed_page(db, events, position, limit)

    async def answered(db: asyncpg.Connection, reached: int) -> None:
        await service.record_poll(db, client.id, reached)

    recheck = functools.partial(authenticate, request)
    return JSONResponse(await feed.long_poll(request, client.id, wait, look, recheck, answered))


@router.post(
    "/events/{cursor}/ack",
    summary="What this vendor's diary did with that event's note (the latest ack wins)",
    status_code=204,
    response_class=Response,
    openapi_extra=json_body(EventAckIn),
)
async def ack_event(
    cursor: Annotated[str, Path(max_length=400)],
    request: Request,
    client: VendorClient,
    body: JsonBody,
    db: Db,
) -> Response:
    if not CURSOR_CHARS.fullmatch(cursor):
        raise BadRequest("a cursor is 1 to 200 characters of A-Z a-z 0-9 . _ ~ -")
    ack = validated(EventAckIn, body, _ACK_NAMES, "the acknowledgement is invalid")
    await service.ack_event(db, request.app.state.cursor_key, (client.id, client.name), cursor, ack)
    return Response(status_code=204)


@router.get(
    "/{nrn}",
    summary="A note as this vendor may see it (404 outside its scope)",
    response_model=VendorNotice,
)
async def vendor_view(nrn: NrnPath, client: VendorClient, db: Db) -> VendorNotice:
    return await service.vendor_view(db, client.id, nrn)
