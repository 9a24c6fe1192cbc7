"""The wire formats of ids and cursors: the one place that encodes and decodes them.

Global ids are Strawberry's ``relay.GlobalID`` encoding (base64 of
``TypeName:key``), decoded strictly: one canonical string per object, so a
client cannot make two ids for one post. Cursors are keyset positions
(created_at, id), signed with a key derived from SECRET_KEY, so a forged or
edited cursor is refused rather than silently paging from somewhere else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import struct
from datetime import UTC, datetime, timedelta
from functools import cache

from django.conf import settings
from strawberry.relay import to_base64

from schemas.errors import DomainError, ErrorCode
from schemas.ids import NodeRef, PostCursor

_KEY = re.compile(r"[1-9][0-9]{0,18}")
_TYPE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CURSOR = struct.Struct(">qq")  # microseconds since the epoch, row id
_MAC_BYTES = 12


def _bad_input(argument: str, reason: str) -> DomainError:
    return DomainError(
        ErrorCode.BAD_USER_INPUT, f"Invalid '{argument}': {reason}", fields={argument: reason}
    )


def encode_id(type_name: str, key: int) -> str:
    """The global id of row ``key`` of GraphQL type ``type_name``."""
    return to_base64(type_name, key)


def decode_id(value: str, *, argument: str) -> NodeRef:
    """The reference a global id stands for; BAD_USER_INPUT if ``value`` is not one."""
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
        type_name, key = raw.decode("utf-8").split(":", 1)
    except (UnicodeError, binascii.Error, ValueError):
        raise _bad_input(argument, "not a global id") from None
    if not _TYPE_NAME.fullmatch(type_name) or not _KEY.fullmatch(key) or int(key) >= 2**63:
        raise _bad_input(argument, "not a global id")
    if encode_id(type_name, int(key)) != value:  # padding or alphabet variants of one id
        raise _bad_input(argument, "not a global id")
    return NodeRef(type_name=type_name, key=int(key))


@cache
def _cursor_key() -> bytes:
    # Derived once per process; a separate key so cursors never sign anything else.
    return hmac.new(settings.SECRET_KEY.encode(), b"posts-api/cursor/v1", hashlib.sha256).digest()


def _mac(payload: bytes) -> bytes:
    return hmac.new(_cursor_key(), payload, hashlib.sha256).digest()[:_MAC_BYTES]


def encode_cursor(cursor: PostCursor) -> str:
    """An opaque, tamper-evident cursor for ``cursor``."""
    micros = (cursor.created_at.replace(tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)
    payload = _CURSOR.pack(micros, cursor.id)
    return base64.urlsafe_b64encode(payload + _mac(payload)).decode("ascii")


def decode_cursor(value: str, *, argument: str) -> PostCursor:
    """The position a cursor stands for; BAD_USER_INPUT if it is malformed or forged."""
    try:
        raw = base64.urlsafe_b64decode(value.encode("ascii"))
    except (UnicodeError, binascii.Error, ValueError):
        raise _bad_input(argument, "not a cursor from this API") from None
    # One spelling per cursor: the lenient decoder drops stray characters and
    # ignores the padding bits, so an edited cursor could decode as if untouched.
    if base64.urlsafe_b64encode(raw).decode("ascii") != value:
        raise _bad_input(argument, "not a cursor from this API")
    payload, mac = raw[: _CURSOR.size], raw[_CURSOR.size :]
    if len(raw) != _CURSOR.size + _MAC_BYTES or not hmac.compare_digest(mac, _mac(payload)):
        raise _bad_input(argument, "not a cursor from this API")
    micros, row_id = _CURSOR.unpack(payload)
    if row_id <= 0:
        raise _bad_input(argument, "not a cursor from this API")
    created_at = (_EPOCH + timedelta(microseconds=micros)).replace(tzinfo=None)
    return PostCursor(created_at=created_at, id=row_id)
