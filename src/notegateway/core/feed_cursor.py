"""Opaque feed cursors: a position in one feed, sealed for one client.

AES-SIV (deterministic: the same position always reads the same, so a `nextCursor`
"does not move" when nothing is new) with the client's id, and the feed's name, as
associated data. Nothing can be read from a cursor, not even a global position; a cursor
altered, made up, given to another client, or taken from another feed fails alike.

The vendors' event feed seals with the vendor's id alone, as it did before the change feed
existed, so that cursors vendors hold stay good across the upgrade; every other feed adds
its name.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

_POSITION = struct.Struct(">Q")
_CLIENT = struct.Struct(">Q")
_PREFIX = "c3."
CURSOR_CHARS = re.compile(r"[A-Za-z0-9._~-]{1,200}")
_BODY = re.compile(r"[A-Za-z0-9_-]{32}")  # 8 bytes of position + 16 of SIV, unpadded


class InvalidCursor(ValueError):
    """Malformed, altered, another client's or another feed's."""


LEGACY_FEED = "events"  # sealed without its name (see above)


def _sealed_for(feed: str, client_id: int) -> list[bytes]:
    if feed == LEGACY_FEED:
        return [_CLIENT.pack(client_id)]
    return [feed.encode(), _CLIENT.pack(client_id)]


@lru_cache(maxsize=4)
def _cipher(key: bytes) -> AESSIV:
    """One cipher per key (a page seals a cursor per row)."""
    return AESSIV(key)


def encode(key: bytes, feed: str, client_id: int, seq: int) -> str:
    sealed = _cipher(key).encrypt(_POSITION.pack(seq), _sealed_for(feed, client_id))
    return _PREFIX + base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()


def decode(key: bytes, feed: str, client_id: int, cursor: str) -> int:
    """The position a cursor names, if it is intact and this client's cursor of this feed;
    else InvalidCursor."""
    body = cursor.removeprefix(_PREFIX)
    if body == cursor or not _BODY.fullmatch(body):
        raise InvalidCursor("not a cursor of this feed")
    try:
        sealed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        position = _cipher(key).decrypt(sealed, _sealed_for(feed, client_id))
    except (binascii.Error, ValueError, InvalidTag):
        raise InvalidCursor("not a cursor of this feed") from None
    (seq,) = _POSITION.unpack(position)
    value: int = seq
    return value
