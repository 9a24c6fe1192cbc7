"""JsonText: a listed post's text as its JSON literal, written into responses as is."""

from __future__ import annotations

import sys

import orjson
import strawberry
from hypothesis import given
from hypothesis import strategies as st

from gql.pipeline.encoding import encode
from schemas.posts import JsonText, PostOut

# Every code point a stored text can hold: anything but lone surrogates.
texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=200)


@given(texts)
def test_the_literal_is_what_orjson_writes_for_the_text(text: str) -> None:
    literal = JsonText.from_utf8(text.encode())
    assert literal.literal == orjson.dumps(text)
    assert str(literal) == text


def test_quotes_backslashes_and_control_characters_are_escaped() -> None:
    text = 'say "hi"\\\n\t\x00\x1f\u2028 \N{GRINNING FACE}'
    assert orjson.loads(JsonText.from_utf8(text.encode()).literal) == text


def test_its_size_counts_the_literal_so_byte_bounded_caches_count_it() -> None:
    literal = JsonText.from_utf8(b"x" * 100_000)
    assert sys.getsizeof(literal) > 100_000


def test_a_post_out_takes_a_json_text_or_a_str() -> None:
    stored = PostOut(id=1, text=JsonText(b'"a"'), created_at="2026-01-01T00:00:00Z")
    fresh = PostOut(id=1, text="a", created_at="2026-01-01T00:00:00Z")
    assert isinstance(stored.text, JsonText)
    assert fresh.text == "a"


@strawberry.type
class Query:
    @strawberry.field
    def stored(self) -> str:
        return JsonText(orjson.dumps('a "quoted"\ntext'))  # what Post.text holds when listed

    @strawberry.field
    def plain(self) -> str:
        return "plain"


SCHEMA = strawberry.Schema(query=Query)


def test_strawberry_passes_a_json_text_leaf_through_and_the_encoder_writes_its_literal() -> None:
    result = SCHEMA.execute_sync("{ stored plain }")
    assert result.errors is None
    stored = result.data["stored"]  # type: ignore[index]
    assert type(stored) is JsonText  # not turned into a str of the text on the way
    assert (
        encode({"data": result.data})
        == b'{"data":{"stored":"a \\"quoted\\"\\ntext","plain":"plain"}}'
    )


@given(texts)
def test_a_response_with_json_text_leaves_is_byte_for_byte_what_the_text_would_give(
    text: str,
) -> None:
    leaf = JsonText.from_utf8(text.encode())
    assert encode({"data": {"a": [leaf, text]}}) == orjson.dumps({"data": {"a": [text, text]}})


def test_a_lone_surrogate_elsewhere_in_the_response_still_writes_the_text_leaf() -> None:
    leaf = JsonText.from_utf8("héllo".encode())
    body = encode({"errors": [{"message": "bad \ud800"}], "data": {"text": leaf}})
    assert body.endswith(b'"data":{"text":"h\xc3\xa9llo"}}')
