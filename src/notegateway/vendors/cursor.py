"""Opaque, tamper-evident feed cursors: a vendor, a feed position (txid, seq), and a MAC."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import struct
from dataclasses import dataclass

_FORMAT = struct.Struct(">QQQ")  # vendor id, transaction id (xid8), event seq
_PREFIX = "c1"
_MAC_BYTES = 12
CURSOR_CHARS = re.compile(r"[A-Za-z0-9._~-]{1,200}")


class InvalidCursor(ValueError):
    """Malformed, altered, or another vendor's."""


@dataclass(frozen=True, order=True, slots=True)
class Position:
    txid: int
    seq: int


START = Position(0, 0)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, b"notegateway feed cursor\x00" + payload, hashlib.sha256).digest()[
        :_MAC_BYTES
    ]


def encode(key: bytes, vendor_id: int, position: Position) -> str:
    payload = _FORMAT.pack(vendor_id, position.txid, position.seq)
    return f"{_PREFIX}.{_b64(payload)}.{_b64(_mac(key, payload))}"


def decode(key: bytes, vendor_id: int, cursor: str) -> Position:
    """The position a cursor names, if it is intact and this vendor's; else InvalidCursor."""
    if not CURSOR_CHARS.fullmatch(cursor):
        raise InvalidCursor("not a cursor")
    parts = cursor.split(".")
    if len(parts) != 3 or parts[0] != _PREFIX:
        raise InvalidCursor("not a cursor")
    try:
        payload, mac = _unb64(parts[1]), _unb64(parts[2])
    except ValueError:
        raise InvalidCursor("not a cursor") from None
    if len(payload) != _FORMAT.size or not hmac.compare_digest(mac, _mac(key, payload)):
        raise InvalidCursor("altered cursor")
    owner, txid, seq = _FORMAT.unpack(payload)
    if owner != vendor_id:
        raise InvalidCursor("another vendor's cursor")
    return Position(txid, seq)
