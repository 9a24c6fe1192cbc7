"""Extensions: reusable argument checks declared on a field, and the schema extension
that hands Strawberry the request pipeline's prepared document."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import Any

from graphql import DocumentNode
from strawberry.extensions import FieldExtension, SchemaExtension
from strawberry.types import ExecutionContext, Info

from observability.tracing import tracing_enabled
from schemas.errors import DomainError, ErrorCode
from schemas.posts import utf8_size


class MaxUtf8Bytes(FieldExtension):
    """Refuse with PAYLOAD_TOO_LARGE when a string argument's UTF-8 encoding exceeds a limit.

    Runs before the resolver, so an oversized value never reaches validation,
    the services or the database.
    """

    def __init__(self, *, argument: str, max_bytes: int) -> None:
        self.argument = argument
        self.max_bytes = max_bytes

    def resolve(
        self, next_: Callable[..., Any], source: Any, info: Info[Any, Any], **kwargs: Any
    ) -> Any:
        value = kwargs.get(self.argument)
        if isinstance(value, str) and utf8_size(value) > self.max_bytes:
            raise DomainError(
                ErrorCode.PAYLOAD_TOO_LARGE,
                f"'{self.argument}' is larger than {self.max_bytes} bytes of UTF-8",
                fields={self.argument: f"at most {self.max_bytes} bytes"},
                extra={"maxBytes": self.max_bytes},
            )
        return next_(source, info, **kwargs)


class UsePreparedDocument(SchemaExtension):
    """Hands Strawberry the document the request pipeline parsed and validated already
    (``Context.document``), as Strawberry's own ParserCache and ValidationCache do:
    parsing is skipped (a document is there) and so is validation (its errors are
    known: none), so execution starts at once. One hook, not two: each hook costs
    Strawberry a context manager per request. Without a prepared document (a test
    calling the schema directly), Strawberry parses and validates as usual."""

    def on_parse(self) -> Iterator[None]:
        document = _prepared_document(self.execution_context)
        if document is not None:
            self.execution_context.graphql_document = document
            self.execution_context.pre_execution_errors = []
        yield


def _prepared_document(execution_context: ExecutionContext) -> DocumentNode | None:
    document: DocumentNode | None = getattr(execution_context.context, "document", None)
    return document


def tracing_extensions() -> list[type[SchemaExtension]]:
    """Strawberry's OpenTelemetry extension when tracing is on (observability/tracing.py),
    nothing otherwise: off, its resolver hook would cost every field."""
    return [operation_tracing()] if tracing_enabled() else []


def operation_tracing() -> type[SchemaExtension]:
    """Strawberry's OpenTelemetry extension, keeping what clients send off the spans."""
    from strawberry.extensions.tracing import OpenTelemetryExtensionSync

    class OperationTracing(OpenTelemetryExtensionSync):
        """A span per operation, named after it, with parsing, validation and resolver
        spans under it, but neither the document's text nor any argument on a span:
        they carry passwords, tokens and post text."""

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(arg_filter=_no_arguments, **kwargs)

        def on_operation(self) -> Generator[None, None, None]:
            context = self.execution_context
            query, context.query = context.query, None
            operation = super().on_operation()
            try:
                next(operation)  # the span starts, without the text
            finally:
                context.query = query
            yield
            next(operation, None)

    return OperationTracing


def _no_arguments(_arguments: dict[str, Any], _info: Any) -> dict[str, Any]:
    return {}
