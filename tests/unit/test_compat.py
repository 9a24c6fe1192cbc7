"""Pins the Strawberry and graphql-core internals gql/compat.py relies on: an upgrade that
moves them fails here."""

from __future__ import annotations

import gc
from typing import Any

import pytest
import strawberry
from graphql import (
    Executor,
    GraphQLSchema,
    GraphQLSyntaxError,
    Token,
    get_introspection_query,
    parse,
    validate,
)
from strawberry.permission import BasePermission
from strawberry.types import Info

from gql.compat import core_schema, execute_document, parse_document
from gql.schema import schema as app_schema


class _Seen:
    permissions: list[str]

    def __init__(self) -> None:
        self.permissions = []


class OnlyAdmins(BasePermission):
    message = "admins only"

    def has_permission(self, source: Any, info: Info[Any, Any], **kwargs: Any) -> bool:
        context: dict[str, Any] = info.context
        context["seen"].permissions.append(info.field_name)
        return bool(context["admin"])


@strawberry.type
class Query:
    @strawberry.field
    def hello(self, info: Info[Any, Any], name: str = "world") -> str:
        context: dict[str, Any] = info.context
        return f"hello {name} from {context['who']}"

    @strawberry.field(permission_classes=[OnlyAdmins])
    def secret(self) -> str:
        return "42"

    @strawberry.field
    async def later(self) -> str:
        return "async"


TINY = strawberry.Schema(query=Query)


def run(source: str, **context: Any) -> Any:
    document = parse(source)
    assert validate(core_schema(TINY), document) == []
    return execute_document(TINY, document, variables=None, operation_name=None, context=context)


def test_strawberry_schema_keeps_its_graphql_core_schema_in_underscore_schema() -> None:
    assert isinstance(app_schema._schema, GraphQLSchema)
    assert core_schema(app_schema) is app_schema._schema
    assert core_schema(app_schema).query_type is not None
    assert core_schema(app_schema).query_type.name == "Query"


def test_strawberry_schema_names_its_graphql_core_executor_class() -> None:
    assert issubclass(app_schema.execution_context_class, Executor)
    assert issubclass(TINY.execution_context_class, Executor)


def test_execute_document_runs_a_resolver_with_arguments_and_the_context() -> None:
    result = run('{ hello(name: "compat") }', who="the test")
    assert result.errors is None
    assert result.data == {"hello": "hello compat from the test"}


def test_execute_document_uses_variables_and_the_operation_name() -> None:
    document = parse("query A { hello } query B($n: String!) { hello(name: $n) }")
    result = execute_document(
        TINY, document, variables={"n": "B"}, operation_name="B", context={"who": "me"}
    )
    assert result.data == {"hello": "hello B from me"}


def test_execute_document_runs_a_fields_permission_that_allows() -> None:
    seen = _Seen()
    result = run("{ secret }", admin=True, seen=seen)
    assert result.errors is None
    assert result.data == {"secret": "42"}
    assert seen.permissions == ["secret"]


def test_execute_document_runs_a_fields_permission_that_refuses() -> None:
    seen = _Seen()
    result = run("{ hello secret }", admin=False, seen=seen, who="x")
    assert result.data is None  # secret is non-null: the error nulls the whole data
    assert [error.message for error in result.errors or []] == ["admins only"]
    assert seen.permissions == ["secret"]


@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
def test_execute_document_refuses_an_async_resolver() -> None:
    with pytest.raises(TypeError, match="awaitable"):
        run("{ later }")


def test_execute_document_runs_the_app_schema() -> None:
    result = execute_document(
        app_schema,
        parse("{ __typename }"),
        variables=None,
        operation_name=None,
        context=None,
    )
    assert result.errors is None
    assert result.data == {"__typename": "Query"}


CORPUS = [
    get_introspection_query(descriptions=True),
    "{ __typename }",
    'query Q_1($a: [ID!]! = ["x"], $b: Float = -1.5e3) @skip(if: false) {\n'
    '  a_1: node(id: "\\u00e9\\"\\n") { ... on Post { id text } ...F __typename }\n'
    "  b: nodes(ids: $a) { id } # a comment, é and 😀\n"
    '  c: getPosts(token: """block\n  string""") { id }\n'
    "} fragment F on Node { id }",
    'mutation { addPost(text: "x") { postId } } subscription S { a }',
    "{ a0z_Z9 _x __y x.y }".replace(".", " "),
]


@pytest.mark.parametrize("source", CORPUS)
def test_parse_document_parses_as_graphql_core_does(source: str) -> None:
    expected = parse(source, no_location=True, max_tokens=1000, allow_empty_selection_sets=False)
    assert parse_document(source, max_tokens=1000) == expected


@pytest.mark.parametrize(
    "source",
    [
        "{ a ",
        "{ }",
        "{ a(x: 1.) }",
        '{ a(x: "unterminated) }',
        "{ a\u00e9 }",
        "{ a } }",
        "{ " + "a " * 20 + "}",  # over the token cap below
        "{ a" + " { a" * 300 + " }" * 301,  # nested too deeply
        "query { ..on Query { a } }",
    ],
)
def test_parse_document_refuses_as_graphql_core_does(source: str) -> None:
    with pytest.raises(GraphQLSyntaxError) as expected:
        parse(source, no_location=True, max_tokens=10, allow_empty_selection_sets=False)
    with pytest.raises(GraphQLSyntaxError) as refused:
        parse_document(source, max_tokens=10)
    assert refused.value.message == expected.value.message
    assert refused.value.positions == expected.value.positions


def _live_tokens() -> int:
    return sum(isinstance(thing, Token) for thing in gc.get_objects())


def test_parse_document_leaves_no_tokens_for_the_cycle_collector() -> None:
    source = get_introspection_query(descriptions=True)
    gc.collect()
    gc.disable()
    try:
        before = _live_tokens()
        document = parse_document(source, max_tokens=1000)
        assert _live_tokens() == before  # freed at once, by reference counting
        parse(source, no_location=True)  # graphql-core's own: a cycle of every token
        assert _live_tokens() > before + 100
    finally:
        gc.enable()
    assert document.definitions
