"""JsonText: a listed post's text as its JSON literal, written into responses as is."""

from __future__ import annotations

import sys
from typing import Any

import orjson
import strawberry
from graphql import parse
from hypothesis import given
from hypothesis import strategies as st

from gql.compat import WireExecutionContext, execute_document
from gql.schema import schema as app_schema
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
        value: Any = JsonText(orjson.dumps('a "quoted"\ntext'))
        return value  # what gql.posts.Post.text holds for a listed post

    @strawberry.field
    def plain(self) -> str:
        return "plain"


SCHEMA = strawberry.Schema(query=Query, execution_context_class=WireExecutionContext)


def test_the_executor_writes_a_json_text_leaf_into_the_response_as_is() -> None:
    result = execute_document(
        SCHEMA, parse("{ stored plain }"), variables=None, operation_name=None, context=None
    )
    assert result.errors is None
    assert orjson.dumps(result.data) == b'{"stored":"a \\"quoted\\"\\ntext","plain":"plain"}'


def test_without_the_wire_executor_a_json_text_still_reads_right_but_as_a_str_again() -> None:
    # graphql-core's String falls back to str(): the same response, the memory cost back.
    plain_schema = strawberry.Schema(query=Query)
    result = execute_document(
        plain_schema, parse("{ stored }"), variables=None, operation_name=None, context=None
    )
    assert result.data == {"stored": 'a "quoted"\ntext'}


def test_the_app_schema_executes_with_the_wire_executor() -> None:
    assert app_schema.execution_context_class is WireExecutionContext
