"""Strict JSON request bodies, the same rules at every size, in bounded memory.

Strict: UTF-8 (no BOM, no lone surrogate), no NaN or Infinity, no number beyond a
double's range, and no key repeated in one object (RFC 8259 says names "SHOULD be
unique"; the contract refuses a repeat). Numbers are read as orjson reads them: an
integer in the 64-bit range (signed or unsigned) as an int, any other number as
the nearest double.

orjson parses a typical request fastest, but sizes its working memory from the
input: parsing a 1 MiB body took 13 MiB, and a body may be 8 MiB
(``MAX_REQUEST_BYTES``), so a few concurrent large bodies would take hundreds
of megabytes. Bodies over ``LEAN_ABOVE_BYTES`` (an addPost of a long text,
almost nothing else) are parsed by the standard library instead, which takes
about twice the body. The standard library's parser, with the hooks below, is
the reference for the rules; orjson's answers are held to it (a repeated key,
which orjson lets the last one win, is found by counting, see ``_has_repeated_key``).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

LEAN_ABOVE_BYTES = 64 * 1024

# A \uD800-\uDFFF escape: the only way a JSON text can spell a surrogate.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
# The 64-bit range orjson reads integers in; beyond it, a number is a double.
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1
# Digits (and a sign) enough for any integer of that range; a longer literal is not
# handed to int(), which refuses (ValueError) more than 4,300 digits.
_INT_MAX_CHARS = len(str(_INT_MIN))


class InvalidJson(ValueError):
    """The body is not strict JSON."""


def loads(body: bytes, *, lean_above: int = LEAN_ABOVE_BYTES) -> Any:
    """The value of ``body``; InvalidJson when it is not strict UTF-8 JSON."""
    if len(body) <= lean_above:
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise InvalidJson(str(exc)) from None
        if b"\\u" not in body:
            if _has_repeated_key(body, data):
                raise InvalidJson("a key is repeated in one object")
            return data
        # An escape may spell a colon (\u003a), which the count cannot tell from a
        # repeated key: the reference parser decides (small bodies: little memory).
    return _lean_loads(body)


def _has_repeated_key(body: bytes, data: Any) -> bool:
    """Whether ``body``, which orjson read as ``data`` and which has no \\u escape,
    repeats a key in one of its objects.

    Every member of an object in the text has one colon outside strings; the
    body's other colons are inside strings, each a colon of the string orjson
    made of it (only a \\u escape could spell one otherwise). A repeated key
    loses members (the last one wins), and with them their strings' colons. So
    the body's colons, less the colons in ``data``'s strings, are the text's
    members: more than ``data`` holds exactly when a key was repeated.
    """
    members = 0
    colons_in_strings = 0
    todo = [data]
    while todo:
        item = todo.pop()
        if type(item) is dict:
            members += len(item)
            for key, value in item.items():
                colons_in_strings += key.count(":")
                todo.append(value)
        elif type(item) is list:
            todo.extend(item)
        elif type(item) is str:
            colons_in_strings += item.count(":")
    return body.count(b":") - colons_in_strings != members


def _refuse_constant(name: str) -> Any:
    raise InvalidJson(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e400: orjson refuses what a double cannot hold
        raise InvalidJson(f"{text[:32]} overflows a double")
    return value


def _number(text: str) -> int | float:
    """An integer literal, as orjson reads it: an int within 64 bits, else a double."""
    if len(text) <= _INT_MAX_CHARS:
        value = int(text)
        if _INT_MIN <= value <= _INT_MAX:
            return value
    return _finite(text)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        raise InvalidJson("a key is repeated in one object")
    return value


def _lean_loads(body: bytes) -> Any:
    try:
        text = body.decode("utf-8")  # strict: no other encoding, no BOM sniffing
        data = json.loads(
            text,
            parse_constant=_refuse_constant,
            parse_float=_finite,
            parse_int=_number,
            object_pairs_hook=_object,
        )
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidJson(str(exc)) from None
    except RecursionError:  # orjson refuses nesting deeper than 1,024 as well
        raise InvalidJson("nested too deeply") from None
    del text
    if _SURROGATE_ESCAPE.search(body) is not None:
        _refuse_lone_surrogates(data)  # pairs became one character; a lone one stays
    return data


def _refuse_lone_surrogates(value: Any) -> None:
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, str):
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    raise InvalidJson("a lone surrogate is not a character") from None
        elif isinstance(item, dict):
            todo.extend(item.keys())
            todo.extend(item.values())
        elif isinstance(item, list):
            todo.extend(item)
