"""Step 8, execution: the prepared document runs through ``strawberry.Schema.execute_sync``,
so every schema extension (tracing, anyone's) sees every executed operation.
The document is handed over already parsed and validated (gql/extensions.py's
UsePreparedDocument), and the errors are given the contract's shape."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest

from gql.context import Context
from gql.errors import shape_error
from gql.pipeline.prepared import Prepared
from gql.schema import schema
from resolvers_services.post_cache import PostsCache
from schemas.errors import DomainError
from schemas.users import Principal

OK = "OK"  # the outcome of a request without errors, in logs and metrics


def execute(
    request: HttpRequest,
    prepared: Prepared,
    text: str,
    *,
    variables: Mapping[str, Any],
    operation_name: str | None,
    auth: Principal | DomainError,
    posts_cache: PostsCache,
) -> tuple[dict[str, Any], str]:
    """The response's payload and its outcome code."""
    result = schema.execute_sync(
        text,
        variable_values=dict(variables),
        context_value=Context(
            request=request,
            posts_cache=posts_cache,
            caller_or_error=auth,
            document=prepared.document,
        ),
        operation_name=operation_name,
    )
    payload: dict[str, Any] = {}
    outcome = OK
    if result.errors:
        payload["errors"] = [shape_error(error).formatted for error in result.errors]
        outcome = str(payload["errors"][0]["extensions"]["code"])
    # A request error (variables that do not coerce) has no data entry: nothing ran.
    if result.data is not None or not all(error.path is None for error in result.errors or ()):
        payload["data"] = result.data
    return payload, outcome
