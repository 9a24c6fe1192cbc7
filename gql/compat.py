"""The one place that reaches into Strawberry's internals (tests/unit/test_compat.py pins them).

The request pipeline parses, validates and caches documents itself, so it
executes a ready document with graphql-core against the schema Strawberry
built, the way ``strawberry.Schema.execute_sync`` does after its own parsing
and validation. An upgrade that moves these fails here, in one place.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable
from typing import Any, TypeGuard, cast

import orjson
import strawberry
from graphql import DocumentNode, ExecutionResult, GraphQLLeafType, GraphQLSchema, execute
from strawberry.execution import optimized_is_awaitable
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schemas.posts import JsonText


class WireExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, writing a :class:`JsonText` leaf as it is.

    A listed post's text is already its JSON literal; completed as an
    ``orjson.Fragment``, the response encoder copies it into the body as is, so
    the text is never a str again (schemas/posts.py says why that matters). Only
    String fields carry JsonText, so the type check graphql-core would do holds.
    """

    @staticmethod
    def complete_leaf_value(return_type: GraphQLLeafType, result: Any) -> Any:
        if type(result) is JsonText:
            return orjson.Fragment(result.literal)
        return StrawberryGraphQLCoreExecutionContext.complete_leaf_value(return_type, result)


def _never_async_iterable(_value: Any) -> TypeGuard[AsyncIterable[Any]]:
    return False  # synchronous execution: no subscriptions, no @stream


def core_schema(schema: strawberry.Schema) -> GraphQLSchema:
    """The graphql-core schema Strawberry built (private: ``Schema._schema``)."""
    core: GraphQLSchema = schema._schema
    return core


def execute_document(
    schema: strawberry.Schema,
    document: DocumentNode,
    *,
    variables: dict[str, Any] | None,
    operation_name: str | None,
    context: object,
) -> ExecutionResult:
    """Execute a parsed, validated document synchronously, as Strawberry's execute_sync does."""
    result = execute(
        core_schema(schema),
        document,
        context_value=context,
        variable_values=variables,
        operation_name=operation_name,
        executor_class=schema.execution_context_class,
        is_awaitable=cast("Callable[[Any], TypeGuard[Awaitable[Any]]]", optimized_is_awaitable),
        is_async_iterable=_never_async_iterable,
        operation_extensions=None,
    )
    if not isinstance(result, ExecutionResult):  # an awaitable: a resolver was async
        raise TypeError("synchronous execution returned an awaitable")
    return result
