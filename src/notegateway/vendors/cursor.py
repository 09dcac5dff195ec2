"""Opaque, tamper-evident feed cursors: a vendor, a feed position (the event's seq), a MAC."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import struct

_FORMAT = struct.Struct(">QQ")  # vendor id, event seq
_PREFIX = "c2"
_MAC_BYTES = 12
CURSOR_CHARS = re.compile(r"[A-Za-z0-9._~-]{1,200}")
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")


class InvalidCursor(ValueError):
    """Malformed, altered, or another vendor's."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _mac(key: bytes, payload: bytes) -> bytes:
    digest = hmac.new(key, b"notegateway feed cursor\x00" + payload, hashlib.sha256).digest()
    return digest[:_MAC_BYTES]


def encode(key: bytes, vendor_id: int, seq: int) -> str:
    payload = _FORMAT.pack(vendor_id, seq)
    return f"{_PREFIX}.{_b64(payload)}.{_b64(_mac(key, payload))}"


def decode(key: bytes, vendor_id: int, cursor: str) -> int:
    """The seq a cursor names, if it is intact and this vendor's; else InvalidCursor."""
    parts = cursor.split(".")
    if len(parts) != 3 or parts[0] != _PREFIX or not all(_SEGMENT.fullmatch(p) for p in parts[1:]):
        raise InvalidCursor("not a cursor")
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
    except ValueError:
        raise InvalidCursor("not a cursor") from None
    if len(payload) != _FORMAT.size or not hmac.compare_digest(
        parts[2].encode(), _b64(_mac(key, payload)).encode()
    ):
        raise InvalidCursor("altered cursor")
    if encode(key, vendor_id, _FORMAT.unpack(payload)[1]) != cursor:
        # Another vendor's, or not in the one canonical spelling of its position.
        raise InvalidCursor("not this vendor's cursor")
    owner, seq = _FORMAT.unpack(payload)
    assert owner == vendor_id
    seq_value: int = seq
    return seq_value
