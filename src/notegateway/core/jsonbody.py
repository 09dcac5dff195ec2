"""Reading request bodies the way the ASP.NET API did: case-insensitive property names.

Bodies are read by hand (not by FastAPI's body parameters) so that authentication runs
first, malformed JSON is a 400, oversized bodies a 413, and batch items are judged one
by one.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Depends, Request

from notegateway.core.errors import BadRequest, ErrorItem, PayloadTooLarge, RequestTimeout

MAX_BODY_BYTES = 1024 * 1024


async def read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body is larger than {MAX_BODY_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"the body is larger than {MAX_BODY_BYTES} bytes")
    return bytes(body)


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise BadRequest("the body is not valid JSON: nested too deeply") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def read_json(request: Request, *, optional: bool = False) -> Any:
    """The parsed body; NO_BODY for an empty body when `optional`, else 400. A body not
    received within NOTEGATEWAY_BODY_TIMEOUT_S: 408."""
    try:
        async with asyncio.timeout(request.app.state.settings.body_timeout_s):
            body = await read_body(request)
    except TimeoutError:
        raise RequestTimeout("the request body did not arrive in time") from None
    if not body.strip():
        if optional:
            return NO_BODY
        raise BadRequest("the body is empty; JSON was expected")
    return parse_json(body)


NOT_TEXT = "not valid Unicode text (a lone surrogate)"


def is_text(value: str) -> bool:
    """False for strings holding lone surrogates (JSON lets "\\ud800" through)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(value: str) -> str:
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def canonicalise(value: Any, known: Mapping[str, str]) -> tuple[Any, list[ErrorItem]]:
    """One walk over a parsed JSON value, at any depth:

    - keys matching a known camelCase name case-insensitively are renamed to it;
    - an object holding two keys that differ only in case is an error;
    - a string holding a NUL character is an error (PostgreSQL cannot keep it).
    Returns the renamed value and the errors, with locations in camelCase.
    """
    errors: list[ErrorItem] = []

    def walk(node: Any, path: tuple[str | int, ...]) -> Any:
        if isinstance(node, dict):
            renamed: dict[str, Any] = {}
            seen: set[str] = set()
            for key, item in node.items():
                if not is_text(key):
                    errors.append({"loc": [*path, printable(key)], "msg": NOT_TEXT})
                    continue
                folded = key.casefold()
                if folded in seen:
                    errors.append(
                        {
                            "loc": [*path, key],
                            "msg": "property given twice (names are case-insensitive)",
                        }
                    )
                seen.add(folded)
                name = known.get(folded, key)
                renamed[name] = walk(item, (*path, name))
            return renamed
        if isinstance(node, list):
            return [walk(item, (*path, index)) for index, item in enumerate(node)]
        if isinstance(node, str) and "\x00" in node:
            errors.append({"loc": list(path), "msg": "must not contain the NUL character"})
        elif isinstance(node, str) and not is_text(node):
            errors.append({"loc": list(path), "msg": NOT_TEXT})
        return node

    return walk(value, ()), errors


async def _json_body(request: Request) -> Any:
    return await read_json(request)


NO_BODY = object()  # an optional body that was not sent (JSON `null` is a body)


async def _optional_json_body(request: Request) -> Any:
    return await read_json(request, optional=True)


# Bodies as dependencies: declared after the client (credentials are checked first) and
# before the database (no connection is held while a body arrives).
JsonBody = Annotated[Any, Depends(_json_body)]
OptionalJsonBody = Annotated[Any, Depends(_optional_json_body)]
