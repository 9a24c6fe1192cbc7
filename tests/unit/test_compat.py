"""Pins the Strawberry internals gql/compat.py relies on: an upgrade that moves them fails here."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry
from graphql import Executor, GraphQLError, GraphQLSchema, parse, validate
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


PARSED = [
    "{ __typename }",
    'query Q($t: String = "x") { getPosts(token: $t) { id text createdAt } }',
    'mutation { addPost(text: "a \\"quoted\\" text", token: null) { postId } }',
    '{ a: node(id: "VXNlcjox") { ... on User { id } } ...F } fragment F on Query { viewer { id } }',
    "query { _a1_b2: __typename __typename_x: __typename }",
    '"""described""" query { x(list: [1, 2.5e3, -3], obj: {k: ENUM, z: $v}) @skip(if: true) }',
]


@pytest.mark.parametrize("text", PARSED)
def test_the_name_matching_lexer_parses_as_graphql_core_does(text: str) -> None:
    expected = parse(text, no_location=True, max_tokens=1000, allow_empty_selection_sets=False)
    assert parse_document(text, max_tokens=1000) == expected


@pytest.mark.parametrize(
    "text", ["{ }", "{ a", "{ 9a }", "{ a-b }", "{ é }", "{ a } }", "{ " + "a " * 1001 + "}"]
)
def test_the_name_matching_lexer_refuses_what_graphql_core_refuses(text: str) -> None:
    with pytest.raises(GraphQLError) as expected:
        parse(text, no_location=True, max_tokens=1000, allow_empty_selection_sets=False)
    with pytest.raises(GraphQLError) as ours:
        parse_document(text, max_tokens=1000)
    assert ours.value.message == expected.value.message
