"""The one place that reaches into Strawberry's and graphql-core's internals
(tests/unit/test_compat.py pins them).

The request pipeline parses, validates and caches documents itself, so it
executes a ready document with graphql-core against the schema Strawberry
built, the way ``strawberry.Schema.execute_sync`` does after its own parsing
and validation; and it parses with graphql-core's parser given a faster lexer.
An upgrade that moves these fails here, in one place.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, Awaitable, Callable
from typing import Any, TypeGuard, cast

import orjson
import strawberry
from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLLeafType,
    GraphQLSchema,
    Source,
    Token,
    TokenKind,
    execute,
)
from graphql.language import Lexer
from graphql.language.parser import Parser, nested_too_deeply_error
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


_NAME_CONTINUE = re.compile(r"[_0-9A-Za-z]*")  # the spec's NameContinue, any number


class _Lexer(Lexer):
    """graphql-core's lexer, reading the rest of a name with one regular expression.

    Names are most of a document's tokens, and graphql-core reads them a character
    at a time (a Python call per character): a tenth of parsing.
    """

    def read_name(self, start: int) -> Token:
        body = self.source.body
        match = _NAME_CONTINUE.match(body, start + 1)
        end = match.end() if match else start + 1
        return self.create_token(TokenKind.NAME, start, end, body[start:end])


def _unlink(token: Token | None) -> None:
    # The lexer links every token to the next and back: a cycle as long as the
    # document, which only the cycle collector would free. Cut, the tokens go with
    # the parser, by reference counting.
    following = token.next if token is not None else None
    while token is not None:
        previous = token.prev
        token.prev = token.next = None
        token = previous
    while following is not None:
        after = following.next
        following.prev = following.next = None
        following = after


def parse_document(source: str, *, max_tokens: int) -> DocumentNode:
    """``graphql.parse(source, no_location=True, max_tokens=max_tokens,
    allow_empty_selection_sets=False)``, for a sixth less CPU (names read by a
    regular expression, the tokens freed at once): the same document, the same
    syntax errors.

    Without locations: they cost a sixth of parsing, the dearest step of a new
    document, and errors still name their path (and the field, in the message).
    """
    text = Source(source)
    lexer = _Lexer(text)
    parser = Parser(
        text,
        no_location=True,
        max_tokens=max_tokens,
        allow_empty_selection_sets=False,
        lexer=lexer,
    )
    try:
        return parser.parse_document()
    except RecursionError:
        pass  # raised below, as graphql.parse does, once this handler is left
    finally:
        _unlink(lexer.token)
    raise nested_too_deeply_error(parser)
