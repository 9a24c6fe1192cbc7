"""Global ids and cursors: one canonical spelling each; anything else is BAD_USER_INPUT."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import datetime

import pytest
from django.conf import settings
from strawberry.relay import GlobalID

from gql import ids
from schemas.errors import DomainError, ErrorCode
from schemas.ids import NodeRef, PostCursor


def b64(raw: str) -> str:
    return base64.b64encode(raw.encode()).decode()


def refused(call: object, *args: object, argument: str) -> DomainError:
    with pytest.raises(DomainError) as raised:
        call(*args, argument=argument)  # type: ignore[operator]
    error = raised.value
    assert error.code is ErrorCode.BAD_USER_INPUT
    assert set(error.fields) == {argument}
    return error


# Global ids


@pytest.mark.parametrize(
    ("type_name", "key"), [("Post", 1), ("User", 42), ("Post", 2**63 - 1), ("Comment", 7)]
)
def test_a_global_id_round_trips(type_name: str, key: int) -> None:
    value = ids.encode_id(type_name, key)
    assert value == str(GlobalID(type_name, str(key)))  # Strawberry's own encoding
    assert ids.decode_id(value, argument="id") == NodeRef(type_name=type_name, key=key)


def test_a_user_and_a_post_with_one_row_id_have_different_global_ids() -> None:
    assert ids.encode_id("User", 5) != ids.encode_id("Post", 5)


@pytest.mark.parametrize(
    "value",
    [
        b64("Post:12").rstrip("="),  # missing padding
        b64("Post:12") + "=",  # extra padding
        base64.urlsafe_b64encode(b"Post:1>?").decode(),  # "-" and "_" alphabet
        " " + b64("Post:12"),
        b64("Post:12") + "\n",
        b64("Post:12")[:4] + " " + b64("Post:12")[4:],
        b64("Post:012"),  # leading zero: a second spelling of Post:12
        b64("Post:+12"),
        b64("Post: 12"),
        b64("Post:12 "),
        b64(" Post:12"),
    ],
    ids=[
        "no padding",
        "extra padding",
        "urlsafe",
        "leading space",
        "newline",
        "inner space",
        "leading zero",
        "plus sign",
        "space before key",
        "space after key",
        "space before type",
    ],
)
def test_a_non_canonical_spelling_is_refused(value: str) -> None:
    refused(ids.decode_id, value, argument="postId")


@pytest.mark.parametrize(
    "key", ["0", "-1", "-0", str(2**63), str(2**64), "1.5", "1e3", "abc", "", "١٢"]
)
def test_keys_outside_the_row_id_range_or_not_numeric_are_refused(key: str) -> None:
    refused(ids.decode_id, b64(f"Post:{key}"), argument="id")


@pytest.mark.parametrize(
    "raw",
    ["Post", ":12", "Post:", "Po st:12", "1Post:12", "Post:12:3", "P" * 65 + ":1"],
)
def test_malformed_type_names_and_separators_are_refused(raw: str) -> None:
    refused(ids.decode_id, b64(raw), argument="id")


@pytest.mark.parametrize("value", ["", "12", "not base64!", "\u00e9\u00e9\u00e9\u00e9", "////"])
def test_strings_that_are_not_base64_of_an_id_are_refused(value: str) -> None:
    refused(ids.decode_id, value, argument="ids")


def test_bytes_that_are_not_utf8_are_refused() -> None:
    refused(ids.decode_id, base64.b64encode(b"Post:\xff1").decode(), argument="id")


# Cursors


@pytest.fixture
def secret() -> Iterator[None]:
    ids._cursor_key.cache_clear()
    yield
    ids._cursor_key.cache_clear()


CURSOR = PostCursor(created_at=datetime(2025, 1, 2, 3, 4, 5, 123456), id=99)


@pytest.mark.usefixtures("secret")
@pytest.mark.parametrize(
    "cursor",
    [
        CURSOR,
        PostCursor(created_at=datetime(1970, 1, 1), id=1),
        PostCursor(created_at=datetime(1900, 5, 6, 7, 8, 9, 1), id=2**63 - 1),
        PostCursor(created_at=datetime(9999, 12, 31, 23, 59, 59, 999999), id=3),
    ],
)
def test_a_cursor_round_trips(cursor: PostCursor) -> None:
    value = ids.encode_cursor(cursor)
    assert ids.decode_cursor(value, argument="after") == cursor


@pytest.mark.usefixtures("secret")
def test_a_cursor_is_opaque() -> None:
    value = ids.encode_cursor(CURSOR)
    assert "99" not in value
    assert "2025" not in value
    with pytest.raises(ValueError, match=r"."):
        base64.b64decode(value, validate=True).decode("utf-8")


@pytest.mark.usefixtures("secret")
def test_every_single_character_change_is_refused() -> None:
    value = ids.encode_cursor(CURSOR)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_="
    for position, char in enumerate(value):
        for replacement in alphabet:
            if replacement != char:
                forged = value[:position] + replacement + value[position + 1 :]
                refused(ids.decode_cursor, forged, argument="after")


@pytest.mark.usefixtures("secret")
@pytest.mark.parametrize(
    "edit",
    [
        lambda v: v.rstrip("="),
        lambda v: v + "=",
        lambda v: v[:10] + "\n" + v[10:],
        lambda v: " " + v,
        lambda v: v[:10] + "!" + v[10:],
        lambda v: v.replace("-", "+").replace("_", "/"),
        lambda v: v[:-4] + "AA==",
        lambda v: v[4:],
        lambda v: "AAAA" + v,
    ],
    ids=[
        "no padding",
        "extra padding",
        "newline",
        "space",
        "stray character",
        "standard alphabet",
        "truncated",
        "shortened",
        "lengthened",
    ],
)
def test_edited_spellings_of_a_cursor_are_refused(edit: object) -> None:
    value = ids.encode_cursor(
        PostCursor(created_at=datetime(2025, 1, 2, 3, 4, 5, 123456), id=2**40 + 0xFBFF)
    )
    edited = edit(value)  # type: ignore[operator]
    assert edited != value
    refused(ids.decode_cursor, edited, argument="before")


@pytest.mark.usefixtures("secret")
def test_a_cursor_forged_without_the_key_is_refused() -> None:
    genuine = base64.urlsafe_b64decode(ids.encode_cursor(CURSOR))
    payload = ids._CURSOR.pack(0, 1)  # another position, with the genuine MAC
    forged = base64.urlsafe_b64encode(payload + genuine[ids._CURSOR.size :]).decode()
    refused(ids.decode_cursor, forged, argument="after")
    unsigned = base64.urlsafe_b64encode(payload + b"\0" * 12).decode()
    refused(ids.decode_cursor, unsigned, argument="after")


@pytest.mark.usefixtures("secret")
def test_a_cursor_signed_with_another_secret_is_refused() -> None:
    original = settings.SECRET_KEY
    try:
        settings.SECRET_KEY = original + "-elsewhere"
        ids._cursor_key.cache_clear()
        foreign = ids.encode_cursor(CURSOR)
    finally:
        settings.SECRET_KEY = original
        ids._cursor_key.cache_clear()
    assert foreign != ids.encode_cursor(CURSOR)
    refused(ids.decode_cursor, foreign, argument="after")


@pytest.mark.usefixtures("secret")
def test_a_correctly_signed_cursor_of_a_non_positive_row_id_is_refused() -> None:
    payload = ids._CURSOR.pack(0, 0)
    value = base64.urlsafe_b64encode(payload + ids._mac(payload)).decode()
    refused(ids.decode_cursor, value, argument="after")


@pytest.mark.parametrize("value", ["", "a", "garbage!", "\u00e9" * 40, "=" * 40])
def test_strings_that_are_not_cursors_are_refused(value: str) -> None:
    refused(ids.decode_cursor, value, argument="after")
