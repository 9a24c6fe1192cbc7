"""Strict JSON bodies: orjson for small ones, the lean parser for large ones, the same rules."""

from __future__ import annotations

import json
import tracemalloc
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gql.json_body import LEAN_ABOVE_BYTES, InvalidJson, loads

VALID = [
    b'{"query": "{ __typename }"}',
    b'{"a": [1, -2, 3.5, 1e300, true, false, null, "x"]}',
    b'{"emoji": "\\ud83d\\ude00", "raw": "\xf0\x9f\x98\x80", "nul": "\\u0000"}',
    b'  {"nested": {"deep": [[[]]]}}  ',
    # Colons in keys and values, raw or escaped: not to be taken for members.
    b'{"a:b": "c:d", "q": "query($t: String!) { x(t: $t) }", "e": "\\u003a", "f": "\\\\:"}',
    b'{"a": {"a": 1}, "b": [{"a": 1}, {"a": 2}]}',  # one key in different objects
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
    # A key repeated in one object, however it is spelled or wherever the object is.
    b'{"a": 1, "a": 2}',
    b'{"a": 1, "a": 1}',
    b'{"v": {"t": "x:y", "t": "z"}}',
    b'[{"a": null}, {"b": 1, "c": {}, "b": 2}]',
    b'{"a": 1, "\\u0061": 2}',
    b'{"\\u003a": 1, ":": 2}',
    b'{"a": "\\u00e9:", "a": ""}',
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


# Numbers: the 64-bit integers as ints, any other number as the nearest double (as
# orjson reads them), past a double's range refused; at every size, never a ValueError.

PADDING = "p" * LEAN_ABOVE_BYTES  # a string that takes a body past the small-body parser


def _outcome(body: bytes) -> tuple[str, Any]:
    try:
        value = loads(body)
    except InvalidJson:
        return ("refused", None)
    return ("read", [(type(item), item) for item in value["n"]])


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        (str(2**64 - 1), 2**64 - 1),
        (str(-(2**63)), -(2**63)),
        (str(2**64), float(2**64)),
        (str(-(2**63) - 1), float(-(2**63) - 1)),
        ("1" + "0" * 25, 1e25),
        ("9" * 308, float("9" * 308)),
        ("9" * 309, None),  # past a double's range
        ("1" * 4301, None),  # past int()'s 4,300 digits
        ("-" + "7" * 60_000, None),
        ("0." + "0" * 5000 + "1", 0.0),
    ],
    ids=lambda value: value if isinstance(value, str) and len(value) < 24 else None,
)
@pytest.mark.parametrize("size", ["small", "large"])
def test_a_number_is_read_alike_at_every_body_size(
    literal: str, expected: int | float | None, size: str
) -> None:
    body = f'{{"n": [{literal}], "pad": "{PADDING if size == "large" else ""}"}}'.encode()
    assert (len(body) > LEAN_ABOVE_BYTES) == (size == "large")
    if expected is None:
        assert _outcome(body) == ("refused", None)
    else:
        assert _outcome(body) == ("read", [(type(expected), expected)])


big_numbers = st.integers(min_value=-(10**400), max_value=10**400) | st.integers(
    min_value=-(2**70), max_value=2**70
)


@given(st.lists(big_numbers, min_size=1, max_size=5))
def test_the_lean_parser_reads_integers_as_orjson_does(numbers: list[int]) -> None:
    body = json.dumps({"n": numbers}).encode()
    small = _outcome(body)
    assert _outcome(body[:-1] + f', "pad": "{PADDING}"}}'.encode()) == small
    try:
        expected = ("read", [(type(n), n) for n in orjson.loads(body)["n"]])
    except orjson.JSONDecodeError:
        expected = ("refused", None)
    assert small == expected


# A key repeated in one object: refused at every size, however the rest is written.

keys = st.sampled_from(["a", "b", ":", "a:b", "é", '"', "\\"])
leaves = st.none() | st.integers(-5, 5) | st.sampled_from(["", ":", "x:y", "::", "\\:", "é:"])
members = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=3) | st.lists(st.tuples(keys, children), max_size=4)
    ),
    max_leaves=10,
)


def _is_object(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and isinstance(value[0], tuple)


def _write(value: Any, ascii_only: bool) -> str:
    """JSON text of ``value``, where a list of pairs is an object that may repeat a key."""
    if _is_object(value):
        pairs = (
            f"{json.dumps(k, ensure_ascii=ascii_only)}: {_write(v, ascii_only)}" for k, v in value
        )
        return "{" + ", ".join(pairs) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_write(item, ascii_only) for item in value) + "]"
    return json.dumps(value, ensure_ascii=ascii_only)


def _repeats(value: Any) -> bool:
    if _is_object(value):
        names = [key for key, _ in value]
        return len(set(names)) < len(names) or any(_repeats(item) for _, item in value)
    if isinstance(value, list):
        return any(_repeats(item) for item in value)
    return False


@given(members, st.booleans(), st.booleans())
def test_a_repeated_key_is_refused_by_both_parsers_and_nothing_else_is(
    value: Any, ascii_only: bool, large: bool
) -> None:
    text = _write(value, ascii_only)
    body = f'{{"v": {text}, "pad": "{PADDING if large else ""}"}}'.encode()
    if _repeats(value):
        with pytest.raises(InvalidJson):
            loads(body)
    else:
        assert loads(body)["v"] == orjson.loads(text.encode())
