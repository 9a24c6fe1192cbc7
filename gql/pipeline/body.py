"""Step 1, the body: a GraphQL-over-HTTP request, read as strict JSON and checked for shape."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from gql import json_body
from gql.pipeline.refusal import Refusal, bad_request
from schemas.errors import ErrorCode

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
APQ_NOT_SUPPORTED_MESSAGE = "PersistedQueryNotSupported"


@dataclass(frozen=True, slots=True)
class Body:
    """A GraphQL-over-HTTP request body, checked for shape."""

    query: str | None
    variables: dict[str, Any] | None
    operation_name: str | None
    persisted_hash: str | None


def read_body(request: HttpRequest) -> Body:
    """The request body as strict JSON (RFC 8259: UTF-8, no NaN or Infinity)."""
    if request.content_type != "application/json":
        raise Refusal(ErrorCode.BAD_USER_INPUT, "Content-Type must be application/json", status=415)
    charset = request.content_params.get("charset")
    if charset is not None and charset.strip().lower() not in {"utf-8", "utf8"}:
        raise bad_request("The request body must be UTF-8 JSON")
    try:
        data = json_body.loads(request.body)
    except json_body.InvalidJson:
        raise bad_request("Unable to parse request body as JSON") from None
    if isinstance(data, list):
        raise bad_request("Batched requests are not supported")
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object")
    query, variables = data.get("query"), data.get("variables")
    operation_name, extensions = data.get("operationName"), data.get("extensions")
    if query is not None and not isinstance(query, str):
        raise bad_request("'query' must be a string")
    if variables is not None and not isinstance(variables, dict):
        raise bad_request("'variables' must be an object")
    if operation_name is not None and not isinstance(operation_name, str):
        raise bad_request("'operationName' must be a string")
    if extensions is not None and not isinstance(extensions, dict):
        raise bad_request("'extensions' must be an object")
    return Body(
        query=query,
        variables=variables,
        operation_name=operation_name,
        persisted_hash=_persisted_hash(extensions),
    )


def _persisted_hash(extensions: dict[str, Any] | None) -> str | None:
    persisted = (extensions or {}).get("persistedQuery")
    if persisted is None:
        return None
    if not settings.APQ_ENABLED and not settings.GRAPHQL_TRUSTED_DOCUMENTS:
        raise Refusal(ErrorCode.PERSISTED_QUERY_NOT_SUPPORTED, APQ_NOT_SUPPORTED_MESSAGE)
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise Refusal(ErrorCode.BAD_USER_INPUT, "Only persisted-query version 1 is supported")
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or not _SHA256_HEX.fullmatch(digest):
        raise Refusal(ErrorCode.BAD_USER_INPUT, "sha256Hash must be 64 lower-case hex digits")
    return digest
