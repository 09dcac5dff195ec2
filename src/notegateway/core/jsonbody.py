"""Reading request bodies the way the ASP.NET API did: case-insensitive property names.

Bodies are read by hand (not by FastAPI's body parameters) so that authentication runs
first, malformed JSON is a 400, oversized bodies a 413, and batch items are judged one
by one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from fastapi import Request

from notegateway.core.errors import BadRequest, ErrorItem, PayloadTooLarge

MAX_BODY_BYTES = 1024 * 1024


class JsonObject(dict[str, Any]):
    """A JSON object that remembers keys given twice (also when they differ only in case)."""

    repeated_keys: list[str]


def _object_hook(pairs: list[tuple[str, Any]]) -> JsonObject:
    obj = JsonObject()
    obj.repeated_keys = []
    seen: set[str] = set()
    for key, value in pairs:
        folded = key.casefold()
        if folded in seen:
            obj.repeated_keys.append(key)
        seen.add(folded)
        obj[key] = value
    return obj


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
        return json.loads(body.decode("utf-8"), object_pairs_hook=_object_hook)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None


async def read_json(request: Request, *, optional: bool = False) -> Any:
    """The parsed body; `None` for an empty body when `optional`, else 400."""
    body = await read_body(request)
    if not body.strip():
        if optional:
            return None
        raise BadRequest("the body is empty; JSON was expected")
    return parse_json(body)


def canonicalise(
    value: Any, known: dict[str, str], path: tuple[str | int, ...] = ()
) -> tuple[Any, list[ErrorItem]]:
    """Rename keys that match a known camelCase name case-insensitively; report repeats.

    Returns the renamed value and errors for objects holding a key twice.
    """
    errors: list[ErrorItem] = []
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key in getattr(value, "repeated_keys", ()):
            errors.append(
                {
                    "loc": [*path, key],
                    "msg": "property given more than once (names are case-insensitive)",
                }
            )
        for key, item in value.items():
            name = known.get(key.casefold(), key)
            out[name], sub = canonicalise(item, known, (*path, name))
            errors.extend(sub)
        return out, errors
    if isinstance(value, list):
        items = []
        for index, item in enumerate(value):
            new, sub = canonicalise(item, known, (*path, index))
            items.append(new)
            errors.extend(sub)
        return items, errors
    return value, errors


def find_keys(
    value: Any, forbidden: Iterable[str], path: tuple[str | int, ...] = ()
) -> list[tuple[str | int, ...]]:
    """Paths of every key (at any depth, case-insensitively) that is in `forbidden`."""
    folded = {name.casefold() for name in forbidden}
    found: list[tuple[str | int, ...]] = []

    def walk(node: Any, where: tuple[str | int, ...]) -> None:
        if isinstance(node, dict):
            for key, item in node.items():
                if key.casefold() in folded:
                    found.append((*where, key))
                walk(item, (*where, key))
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, (*where, index))

    walk(value, path)
    return found
