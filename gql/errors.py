"""The error shape clients see: every error carries ``extensions.code``; nothing leaks.

Applied by the view to every result (parse, validation and execution errors
alike). Strawberry's MaskErrors is not used: it drops ``extensions`` from the
errors it lets through and cannot tell a client's error from a bug.
"""

from __future__ import annotations

import logging

from django.http import JsonResponse
from graphql import GraphQLError

from schemas.errors import DomainError, ErrorCode

log = logging.getLogger("gql.errors")

INTERNAL_MESSAGE = "Internal server error"
_KNOWN_CODES = {code.value for code in ErrorCode}


def _with(error: GraphQLError, message: str, extensions: dict[str, object]) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions=extensions,
    )


def shape_error(error: GraphQLError) -> GraphQLError:
    """Give ``error`` its code, and mask anything unexpected."""
    original = error.original_error
    if isinstance(original, DomainError):
        return _with(error, original.message, original.extensions())
    if (
        isinstance(original, GraphQLError)
        and (original.extensions or {}).get("code") in _KNOWN_CODES
    ):
        return _with(error, original.message, dict(original.extensions or {}))
    if original is None or error.path is None:
        # Syntax, validation and variable-coercion errors: the document or the
        # variables are at fault, and graphql-core's messages are safe to show.
        return _with(error, error.message, {"code": ErrorCode.BAD_USER_INPUT.value})
    log.error("unexpected error in %s", ".".join(str(p) for p in error.path), exc_info=original)
    return _with(error, INTERNAL_MESSAGE, {"code": ErrorCode.INTERNAL_SERVER_ERROR.value})


def error_response(
    status: int, message: str, code: ErrorCode, **extensions: object
) -> JsonResponse:
    """A GraphQL-shaped JSON error body, for failures before GraphQL execution."""
    body = {"errors": [{"message": message, "extensions": {"code": code.value, **extensions}}]}
    return JsonResponse(body, status=status)
