"""Step 1, the request: a GraphQL-over-HTTP request (a POST's body as strict JSON, or a
GET's URL parameters) checked for shape, and the media type its answer will have."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from gql import json_body
from gql.pipeline.refusal import GRAPHQL_RESPONSE_JSON, Refusal, bad_request
from schemas.errors import ErrorCode

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_DOCUMENT_ID = re.compile(r"sha256:([0-9a-f]{64})")
APQ_NOT_SUPPORTED_MESSAGE = "PersistedQueryNotSupported"
JSON = "application/json"


@dataclass(frozen=True, slots=True)
class Body:
    """A GraphQL-over-HTTP request, checked for shape."""

    query: str | None
    variables: dict[str, Any] | None
    operation_name: str | None
    # The SHA-256 of a persisted document: APQ's sha256Hash, or a documentId's payload.
    persisted_hash: str | None
    # Whether the request came by GET, which may only read (queries).
    read_only: bool = False


def response_media_type(request: HttpRequest) -> str:
    """The answer's media type: the specification's when the client accepts it, else
    application/json with 200 for every well-formed response, as before it."""
    accept = request.META.get("HTTP_ACCEPT", "")
    if GRAPHQL_RESPONSE_JSON in accept and not re.search(
        re.escape(GRAPHQL_RESPONSE_JSON) + r"\s*;\s*q\s*=\s*0(?:\.0*)?\s*(?:[,;]|$)", accept
    ):
        return GRAPHQL_RESPONSE_JSON
    return JSON


def read_request(request: HttpRequest) -> Body:
    """The GraphQL request of a POST (its JSON body) or a GET (its URL parameters)."""
    if request.method == "GET":
        return _read_parameters(request)
    return read_body(request)


def _read_parameters(request: HttpRequest) -> Body:
    """A GET's parameters: ``variables`` and ``extensions`` JSON-encoded."""
    data: dict[str, Any] = {}
    for name in ("query", "operationName", "documentId"):
        values = request.GET.getlist(name)
        if len(values) > 1:
            raise bad_request(f"'{name}' is given more than once")
        if values:
            data[name] = values[0]
    for name in ("variables", "extensions"):
        values = request.GET.getlist(name)
        if len(values) > 1:
            raise bad_request(f"'{name}' is given more than once")
        if values and values[0] != "":
            try:
                data[name] = json_body.loads(values[0].encode("utf-8", "surrogatepass"))
            except json_body.InvalidJson:
                raise bad_request(f"'{name}' must be JSON") from None
    return body_from(data, read_only=True)


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
    return body_from(data, read_only=False)


def body_from(data: Mapping[str, Any], *, read_only: bool) -> Body:
    """A request's fields (a JSON body's, a GET's, a stream's) checked for shape."""
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
    persisted_hash = _persisted_hash(extensions)
    document_id = data.get("documentId")
    if document_id is not None:
        if not isinstance(document_id, str):
            raise bad_request("'documentId' must be a string")
        if query is not None or persisted_hash is not None:
            raise bad_request("Send a documentId or a query, not both")
        persisted_hash = _document_hash(document_id)
    return Body(
        query=query,
        variables=variables,
        operation_name=operation_name,
        persisted_hash=persisted_hash,
        read_only=read_only,
    )


def _document_hash(document_id: str) -> str:
    """The SHA-256 a ``documentId`` names (the persisted-documents appendix's
    ``sha256:`` prefix, the one this server knows)."""
    match = _DOCUMENT_ID.fullmatch(document_id)
    if match is None:
        raise bad_request("documentId must be 'sha256:' and 64 lower-case hex digits")
    return match.group(1)


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
