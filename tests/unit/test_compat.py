"""What the project relies on past Strawberry's public API, pinned: an upgrade that
changes one of these fails here, in one place (gql/compat.py lists them)."""

from __future__ import annotations

from graphql import GraphQLSchema, parse

from gql.compat import core_schema
from gql.context import Context
from gql.schema import schema
from resolvers_services.post_cache import PostsCache

NO_CACHE = PostsCache(ttl_seconds=0, max_bytes=0)


def test_the_core_schema_is_graphql_cores_schema_of_the_app() -> None:
    core = core_schema(schema)
    assert isinstance(core, GraphQLSchema)
    assert core.query_type is not None
    assert "getPosts" in core.query_type.fields


def test_a_prepared_document_is_executed_without_strawberry_parsing_the_text_again() -> None:
    # The text says one thing and the prepared document another: what runs is the
    # document, so Strawberry did not parse the text (UsePreparedDocument, on_parse).
    context = Context(request=None, posts_cache=NO_CACHE, document=parse("{ __typename }"))  # type: ignore[arg-type]
    result = schema.execute_sync("{ doesNotParse ", context_value=context)
    assert result.errors is None
    assert result.data == {"__typename": "Query"}


def test_a_prepared_document_is_not_validated_again() -> None:
    # An unknown field would fail validation; handed over as prepared it is not
    # validated again (on_validate), so execution reaches it and skips it.
    document = parse("{ __typename unknownField }")
    context = Context(request=None, posts_cache=NO_CACHE, document=document)  # type: ignore[arg-type]
    result = schema.execute_sync("{ __typename }", context_value=context)
    assert result.data == {"__typename": "Query"}


def test_without_a_prepared_document_strawberry_parses_and_validates_as_usual() -> None:
    result = schema.execute_sync("{ __typename unknownField }")
    assert result.errors is not None
    assert "unknownField" in result.errors[0].message
