"""Strict JSON bodies: orjson for small ones, the lean parser for large ones, the same rules."""

from __future__ import annotations

import json
import tracemalloc
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gql.json_body import InvalidJson, loads

VALID = [
    b'{"query": "{ __typename }"}',
    b'{"a": [1, -2, 3.5, 1e300, true, false, null, "x"]}',
    b'{"emoji": "\\ud83d\\ude00", "raw": "\xf0\x9f\x98\x80", "nul": "\\u0000"}',
    b'{"a": 1, "a": 2}',
    b'  {"nested": {"deep": [[[]]]}}  ',
    b'"just a string"',
]
INVALID = [
    b'{"a": NaN}',
    b'{"a": Infinity}',
    b'{"a": -Infinity}',
    b'{"a": 1e400}',
    b'{"a": "\\ud800"}',
    b'{"a": "\\udc00 low alone"}',
    b'{"\\ud800": 1}',
    b'{"a": "\xff"}',
    b"\xef\xbb\xbf{}",  # a BOM
    b'{"a": 1,}',
    b"{'a': 1}",
    b"",
    '{"a": "x"}'.encode("utf-16"),
    b"[" * 100_000 + b"]" * 100_000,
]


@pytest.mark.parametrize("body", VALID)
def test_both_parsers_read_a_valid_body_alike(body: bytes) -> None:
    assert loads(body, lean_above=0) == loads(body) == orjson.loads(body)


@pytest.mark.parametrize("body", INVALID)
@pytest.mark.parametrize("lean_above", [0, 1 << 20], ids=["lean", "orjson"])
def test_both_parsers_refuse_what_is_not_strict_json(body: bytes, lean_above: int) -> None:
    with pytest.raises(InvalidJson):
        loads(body, lean_above=lean_above)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_categories=("Cs",))),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@given(json_values, st.booleans())
def test_the_lean_parser_reads_what_orjson_reads(value: Any, ascii_only: bool) -> None:
    body = json.dumps(value, ensure_ascii=ascii_only).encode()  # escapes or raw UTF-8
    assert loads(body, lean_above=0) == orjson.loads(body)


def _peak(body: bytes) -> int:
    tracemalloc.start()
    try:
        loads(body)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("text", ["x" * (1 << 20), "\u00e9" * (1 << 19)], ids=["ascii", "latin"])
def test_a_large_body_is_parsed_in_about_twice_its_size(text: str) -> None:
    body = json.dumps({"query": "q", "variables": {"t": text}}, ensure_ascii=False).encode()
    assert _peak(body) <= 3 * len(body)  # orjson took 13x
