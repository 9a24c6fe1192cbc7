"""Strict JSON request bodies (RFC 8259: UTF-8, no NaN or Infinity), in bounded memory.

orjson parses a typical request fastest, but sizes its working memory from the
input: parsing a 1 MiB body took 13 MiB, and a body may be 8 MiB
(``MAX_REQUEST_BYTES``), so a few concurrent large bodies would take hundreds
of megabytes. Bodies over ``LEAN_ABOVE_BYTES`` (an addPost of a long text,
almost nothing else) are parsed by the standard library instead, which takes
about twice the body, held to the same rules: the same documents are refused.
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


class InvalidJson(ValueError):
    """The body is not strict JSON."""


def loads(body: bytes, *, lean_above: int = LEAN_ABOVE_BYTES) -> Any:
    """The value of ``body``; InvalidJson when it is not strict UTF-8 JSON."""
    if len(body) <= lean_above:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise InvalidJson(str(exc)) from None
    return _lean_loads(body)


def _refuse_constant(name: str) -> Any:
    raise InvalidJson(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e400: orjson refuses what a double cannot hold
        raise InvalidJson(f"{text} overflows a double")
    return value


def _lean_loads(body: bytes) -> Any:
    try:
        text = body.decode("utf-8")  # strict: no other encoding, no BOM sniffing
        data = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite)
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
