"""Opaque feed cursors: a vendor's feed position, encrypted for that vendor.

AES-SIV (deterministic: the same position always reads the same, so a `nextCursor`
"does not move" when nothing is new) with the vendor's id as associated data. Nothing can
be read from a cursor, not even a global position; a cursor altered, made up, or given
to another vendor fails alike.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

_POSITION = struct.Struct(">Q")
_VENDOR = struct.Struct(">Q")
_PREFIX = "c3."
CURSOR_CHARS = re.compile(r"[A-Za-z0-9._~-]{1,200}")
_BODY = re.compile(r"[A-Za-z0-9_-]{32}")  # 8 bytes of position + 16 of SIV, unpadded


class InvalidCursor(ValueError):
    """Malformed, altered, or another vendor's."""


def encode(key: bytes, vendor_id: int, seq: int) -> str:
    sealed = AESSIV(key).encrypt(_POSITION.pack(seq), [_VENDOR.pack(vendor_id)])
    return _PREFIX + base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()


def decode(key: bytes, vendor_id: int, cursor: str) -> int:
    """The position a cursor names, if it is intact and this vendor's; else InvalidCursor."""
    body = cursor.removeprefix(_PREFIX)
    if body == cursor or not _BODY.fullmatch(body):
        raise InvalidCursor("not a cursor of this feed")
    try:
        sealed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        position = AESSIV(key).decrypt(sealed, [_VENDOR.pack(vendor_id)])
    except (binascii.Error, ValueError, InvalidTag):
        raise InvalidCursor("not a cursor of this feed") from None
    (seq,) = _POSITION.unpack(position)
    value: int = seq
    return value
