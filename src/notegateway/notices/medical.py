"""Medical content never enters the gateway, and never costs a family its excusal.

GP software sends fields towards NZIS that NZIS may pass on (`diagnosis`, `reason`, ...).
NEISPUO ignores unknown fields; the gateway must not even hold them. So the keys below
(case-insensitive, at any depth, inside unknown objects and arrays too) are taken out of
an NZIS body right after it is parsed, before anything is judged, stored, logged or kept
for the helpdesk. What is left is judged as if they had never been sent; each pushed item
is told, by the path of each key dropped (never its value), in its `warnings`.
"""

from __future__ import annotations

from typing import Any

from notegateway.core.errors import ErrorItem
from notegateway.notices.schemas import MEDICAL_CONTENT_KEYS

DROPPED = "medical content dropped"
_KEYS = frozenset(MEDICAL_CONTENT_KEYS)
Path = tuple[str | int, ...]


def drop_medical_content(value: Any) -> tuple[Any, list[Path]]:
    """`value` (parsed JSON) without medical keys, and the path of each key dropped (an
    object's own keys before those inside it). Iterative: a body nested as deep as the
    JSON parser allows is fine."""
    dropped: list[Path] = []
    root: list[Any] = [value]
    # (container to fill, key or index in it, node to copy, path of node)
    pending: list[tuple[Any, Any, Any, Path]] = [(root, 0, value, ())]
    while pending:
        into, slot, node, path = pending.pop()
        if isinstance(node, dict):
            copy: dict[str, Any] = {}
            into[slot] = copy
            children: list[tuple[Any, Any, Any, Path]] = []
            for key, inner in node.items():
                if isinstance(key, str) and key.casefold() in _KEYS:
                    dropped.append((*path, key))
                    continue
                copy[key] = None
                children.append((copy, key, inner, (*path, key)))
            pending.extend(reversed(children))
        elif isinstance(node, list):
            items: list[Any] = [None] * len(node)
            into[slot] = items
            pending.extend(
                (items, index, inner, (*path, index))
                for index, inner in reversed(list(enumerate(node)))
            )
        else:
            into[slot] = node
    return root[0], dropped


def warnings_by_item(dropped: list[Path]) -> dict[int, list[ErrorItem]]:
    """For an array body: each item's warnings, `loc` relative to the item."""
    warned: dict[int, list[ErrorItem]] = {}
    for path in dropped:
        if path and isinstance(path[0], int):
            warned.setdefault(path[0], []).append({"loc": list(path[1:]), "msg": DROPPED})
    return warned
