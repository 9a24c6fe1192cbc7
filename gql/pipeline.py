"""The request pipeline: one path for every GraphQL request, each step refusing cheaply.

In order: the body (strict JSON), the document (persisted-query lookup,
trusted-document check, size cap on the raw string, parse with a token cap,
field count, expensive fields once (posts listed once per operation, the schema
introspected alone), inlining of the fragments that meet,
operation choice, validation: all cached by the document's SHA-256, and a
document about the schema alone also by its printed form), the caller (resolved
once, from the header or the operation's ``token`` argument), execution or a
response-cache hit (the caller's own, or introspection's, shared), and the
encoding.

A refused request runs nothing: the refusal is a GraphQL error with a code
from the contract, in a JSON body.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
from cachetools import LRUCache
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    VariableNode,
)

from gql import json_body
from gql.compat import core_schema, execute_document, parse_document, validate_document
from gql.context import NOT_AUTHENTICATED, Context
from gql.errors import shape_error
from gql.fast_parser import token_key
from gql.introspection import answer as introspect
from gql.response_cache import Key, ResponseCache
from gql.rules import (
    INSTEAD,
    fragments_of,
    measure,
    posts_listings,
    repeated_expensive_fields,
    selected_fields,
    simplify_document,
    validation_rules,
)
from gql.schema import schema
from gql.trusted import load_manifest
from observability.context import annotate
from observability.metrics import record_apq, record_cache, watch_cache
from persistence.uow import UnitOfWork
from resolvers_services.accounts import user_authenticate
from resolvers_services.documents import DocumentStore
from schemas.errors import DomainError, ErrorCode
from schemas.kept_bytes import kept
from schemas.users import Principal

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_BEARER = "bearer"
# Root fields that never need the caller: a request made only of these skips the
# token check (Apollo's auth link sends a possibly stale header with every login).
_PUBLIC_ROOT_FIELDS = frozenset(
    {"signup", "login", "refreshToken", "__typename", "__schema", "__type"}
)
_SCHEMA_ROOT_FIELDS = frozenset({"__schema", "__type"})
OK = "OK"  # the outcome of a request without errors, in logs and metrics
APQ_NOT_FOUND_MESSAGE = "PersistedQueryNotFound"  # what Apollo's link looks for
APQ_NOT_SUPPORTED_MESSAGE = "PersistedQueryNotSupported"


class Refusal(Exception):
    """A request refused before execution: nothing runs; the client gets this error."""

    def __init__(
        self, code: ErrorCode, message: str, *, status: int = 200, **extensions: object
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.extensions = extensions


def _bad_request(message: str) -> Refusal:
    return Refusal(ErrorCode.BAD_USER_INPUT, message, status=400)


@dataclass(frozen=True, slots=True)
class Body:
    """A GraphQL-over-HTTP request body, checked for shape."""

    query: str | None
    variables: dict[str, Any] | None
    operation_name: str | None
    persisted_hash: str | None


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation of a document, with where its ``token`` arguments come from."""

    name: str | None
    kind: str  # "query", "mutation" or "subscription"
    needs_caller: bool
    token_literals: tuple[str, ...]
    token_variables: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Prepared:
    """A document that parsed, fit the caps and validated, ready to execute."""

    sha256: str
    document: DocumentNode
    operations: Mapping[str | None, Operation]
    # For a document about the schema alone: the SHA-256 of the document as printed,
    # under which its validation and its responses are shared by every text of it.
    canonical: str | None = None
    # The length of the text it was parsed from: what it weighs in the cache.
    source_length: int = 0
    # How its executions complete each object, shared by them (gql/compat.py); None
    # for a document with variables, whose plans may differ from one request to the next.
    plans: dict[tuple[object, ...], Any] | None = None


def read_body(request: HttpRequest) -> Body:
    """The request body as strict JSON (RFC 8259: UTF-8, no NaN or Infinity)."""
    if request.content_type != "application/json":
        raise Refusal(ErrorCode.BAD_USER_INPUT, "Content-Type must be application/json", status=415)
    charset = request.content_params.get("charset")
    if charset is not None and charset.strip().lower() not in {"utf-8", "utf8"}:
        raise _bad_request("The request body must be UTF-8 JSON")
    try:
        data = json_body.loads(request.body)
    except json_body.InvalidJson:
        raise _bad_request("Unable to parse request body as JSON") from None
    if isinstance(data, list):
        raise _bad_request("Batched requests are not supported")
    if not isinstance(data, dict):
        raise _bad_request("The request body must be a JSON object")
    query, variables = data.get("query"), data.get("variables")
    operation_name, extensions = data.get("operationName"), data.get("extensions")
    if query is not None and not isinstance(query, str):
        raise _bad_request("'query' must be a string")
    if variables is not None and not isinstance(variables, dict):
        raise _bad_request("'variables' must be an object")
    if operation_name is not None and not isinstance(operation_name, str):
        raise _bad_request("'operationName' must be a string")
    if extensions is not None and not isinstance(extensions, dict):
        raise _bad_request("'extensions' must be an object")
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


def _root_fields(
    selection_set: SelectionSetNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> list[FieldNode]:
    return [
        field
        for siblings in selected_fields(selection_set, fragments, nested=False)
        for field in siblings
    ]


def _operations(document: DocumentNode) -> dict[str | None, Operation]:
    fragments = fragments_of(document)
    operations: dict[str | None, Operation] = {}
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        roots = _root_fields(definition.selection_set, fragments)
        tokens = [
            argument.value
            for root in roots
            for argument in root.arguments or ()
            if argument.name.value == "token"
        ]
        name = definition.name.value if definition.name else None
        operations[name] = Operation(
            name=name,
            kind=definition.operation.value,
            needs_caller=any(root.name.value not in _PUBLIC_ROOT_FIELDS for root in roots),
            token_literals=tuple(v.value for v in tokens if isinstance(v, StringValueNode)),
            token_variables=tuple(v.name.value for v in tokens if isinstance(v, VariableNode)),
        )
    return operations


@dataclass(frozen=True, slots=True)
class Limits:
    """The document caps and the explorer switch, read from settings once, with the
    pipeline (config/apps.py rebuilds it when a test overrides one of them)."""

    explorer: bool
    max_document_bytes: int
    max_tokens: int
    max_fields: int
    max_depth: int
    max_aliases: int

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(
            explorer=bool(settings.GRAPHQL_EXPLORER),
            max_document_bytes=int(settings.GRAPHQL_MAX_DOCUMENT_BYTES),
            max_tokens=int(settings.GRAPHQL_MAX_TOKENS),
            max_fields=int(settings.GRAPHQL_MAX_FIELDS),
            max_depth=int(settings.GRAPHQL_MAX_DEPTH),
            max_aliases=int(settings.GRAPHQL_MAX_ALIASES),
        )


# What config/apps.py watches: a change to any of these rebuilds the pipeline.
PIPELINE_SETTINGS = frozenset(
    {
        "GRAPHQL_EXPLORER",
        "GRAPHQL_MAX_DOCUMENT_BYTES",
        "GRAPHQL_MAX_TOKENS",
        "GRAPHQL_MAX_FIELDS",
        "GRAPHQL_MAX_DEPTH",
        "GRAPHQL_MAX_ALIASES",
        "GRAPHQL_TRUSTED_DOCUMENTS",
        "APQ_CACHE_DOCUMENTS",
        "APQ_MAX_DOCUMENTS",
        "POSTS_CACHE_TTL_SECONDS",
        "RESPONSE_CACHE_MAX_BYTES",
    }
)


@dataclass
class Pipeline:
    """The per-process request pipeline and the state it keeps (built once, at start-up)."""

    documents: DocumentStore
    responses: ResponseCache
    trusted: Mapping[str, str] | None
    limits: Limits
    _prepared: LRUCache[tuple[object, ...], Prepared | Refusal] = field(
        default_factory=lambda: LRUCache(maxsize=4 * 1024 * 1024, getsizeof=_cost)
    )
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_settings(cls) -> Pipeline:
        """Build the pipeline and its caches from settings (a bad manifest stops start-up)."""
        path = settings.GRAPHQL_TRUSTED_DOCUMENTS
        responses = ResponseCache(
            ttl_seconds=settings.POSTS_CACHE_TTL_SECONDS,
            max_bytes=settings.RESPONSE_CACHE_MAX_BYTES,
        )
        watch_cache("response", lambda: responses.current_bytes)
        return cls(
            documents=DocumentStore(
                cache_size=settings.APQ_CACHE_DOCUMENTS,
                max_documents=settings.APQ_MAX_DOCUMENTS,
            ),
            responses=responses,
            trusted=load_manifest(path) if path else None,
            limits=Limits.from_settings(),
        )

    # The document

    def source(self, body: Body) -> tuple[str, str, bool]:
        """The document's text, its SHA-256, and whether to register it once it validates."""
        if self.trusted is not None:
            return self._trusted_source(body)
        if body.persisted_hash is not None and body.query is None:
            document = self.documents.lookup(uow=UnitOfWork(), sha256=body.persisted_hash)
            record_apq(hit=document is not None)
            if document is None:
                raise Refusal(ErrorCode.PERSISTED_QUERY_NOT_FOUND, APQ_NOT_FOUND_MESSAGE)
            return document, body.persisted_hash, False
        if body.query is None:
            raise _bad_request("No GraphQL query found in the request")
        digest = _sha256(_capped(body.query, self.limits.max_document_bytes))
        if body.persisted_hash is not None and body.persisted_hash != digest:
            raise Refusal(ErrorCode.BAD_USER_INPUT, "sha256Hash is not the SHA-256 of the query")
        return body.query, digest, body.persisted_hash is not None

    def _trusted_source(self, body: Body) -> tuple[str, str, bool]:
        trusted = self.trusted or {}
        if body.query is None:
            digest = body.persisted_hash
            if digest is None:
                raise _bad_request("No GraphQL query found in the request")
            if digest not in trusted:
                raise Refusal(ErrorCode.PERSISTED_QUERY_NOT_FOUND, APQ_NOT_FOUND_MESSAGE)
            return trusted[digest], digest, False
        digest = _sha256(_capped(body.query, self.limits.max_document_bytes))
        if digest not in trusted or (body.persisted_hash not in {None, digest}):
            raise Refusal(ErrorCode.BAD_USER_INPUT, "Only the server's trusted documents may run")
        return body.query, digest, False

    def prepare(self, source: str, digest: str) -> Prepared:
        """Parse, cap and validate a document, or refuse it; cached by hash (the
        limits are the pipeline's own, fixed when it was built)."""
        explorer = self.limits.explorer
        key = (digest,)
        with self._lock:
            known = self._prepared.get(key)
        if known is None:
            known = self._prepare(source, digest, explorer)
            with self._lock:
                self._prepared[key] = known
        if isinstance(known, Refusal):
            raise known
        return known

    def _prepare(self, source: str, digest: str, explorer: bool) -> Prepared | Refusal:
        document = _parse_within_caps(source, self.limits)
        if isinstance(document, Refusal):
            return document
        # What runs, and what validation reads, is the same document with the
        # fragments that meet inlined and repeated fields merged (gql/rules.py says
        # why that is the same document, and why validating it then costs linear time).
        document = simplify_document(document, core_schema(schema))
        # Rules that can find nothing in this text are skipped (gql/rules.py).
        rules = validation_rules(
            explorer=explorer, variables="$" in source, directives="@" in source
        )
        if not _about_the_schema(document):
            return _validated(
                document, digest, rules, explorer=explorer, canonical=None, source=source
            )
        # GraphiQL and other tools send the introspection query on every load, often
        # as a new text (a comment or spacing differs): it is validated (and its
        # response cached) once per sequence of tokens, which comments and spacing
        # do not change, and introspection is the same for every caller. Reading the
        # tokens costs 50 us; printing the document cost 350-600 us.
        canonical = _sha256(token_key(source))
        key = ("canonical", canonical, explorer)
        with self._lock:
            known = self._prepared.get(key)
        if known is None:
            known = _validated(
                document, digest, rules, explorer=explorer, canonical=canonical, source=source
            )
            with self._lock:
                self._prepared[key] = known
        if isinstance(known, Refusal):
            return known
        return replace(known, sha256=digest, source_length=len(source))

    # The caller

    def caller(
        self, request: HttpRequest, operation: Operation, body: Body
    ) -> Principal | DomainError:
        """Who is calling, resolved once: from the header or the operation's token argument."""
        if not operation.needs_caller:
            return NOT_AUTHENTICATED
        try:
            token = _token(request, operation, body)
            return user_authenticate(uow=UnitOfWork(), token=token)
        except DomainError as error:
            return error

    # The whole request

    def handle(self, request: HttpRequest) -> HttpResponse:
        """Answer one GraphQL-over-HTTP POST."""
        try:
            body = read_body(request)
            source, digest, register = self.source(body)
            prepared = self.prepare(source, digest)
            operation = _choose(prepared, body.operation_name)
        except Refusal as refusal:
            annotate(outcome=refusal.code.value)
            return _refusal_response(refusal)
        annotate(operation_name=operation.name, operation_type=operation.kind)
        if register:
            self.documents.register(uow=UnitOfWork(), sha256=digest, document=source)
        auth = self.caller(request, operation, body)
        if isinstance(auth, Principal):
            annotate(user_id=auth.id)
        key: Key | None = None
        version = 0
        if operation.kind == "query" and isinstance(auth, Principal):
            variables = kept(orjson.dumps(body.variables or {}, option=orjson.OPT_SORT_KEYS))
            key, version = (auth.id, digest, operation.name, variables), auth.posts_version
        elif operation.kind == "query" and prepared.canonical is not None:
            variables = kept(orjson.dumps(body.variables or {}, option=orjson.OPT_SORT_KEYS))
            key = (None, prepared.canonical, operation.name, variables)  # anyone's
        if key is not None:
            cached = self.responses.get(key, version)
            record_cache("response", hit=cached is not None)
            if cached is not None:
                annotate(outcome=OK)
                return _json_response(cached)
        payload, outcome = self._run(request, prepared, body, auth)
        annotate(outcome=outcome)
        encoded = encode(payload)
        if key is not None and "errors" not in payload:
            self.responses.put(key, version, encoded)
        return _json_response(encoded)

    def _run(
        self, request: HttpRequest, prepared: Prepared, body: Body, auth: Principal | DomainError
    ) -> tuple[dict[str, Any], str]:
        """The response's payload and its outcome: a document about the schema alone is
        read from the schema (gql/introspection.py says why), any other executed."""
        if prepared.canonical is not None:
            data = introspect(
                core_schema(schema), prepared.document, body.operation_name, body.variables
            )
            if data is not None:
                return {"data": data}, OK
        result = execute_document(
            schema,
            prepared.document,
            variables=body.variables,
            operation_name=body.operation_name,
            context=Context(request=request, auth=auth),
            plans=prepared.plans,
        )
        payload: dict[str, Any] = {}
        outcome = OK
        if result.errors:
            payload["errors"] = [shape_error(error).formatted for error in result.errors]
            outcome = str(payload["errors"][0]["extensions"]["code"])
        payload["data"] = result.data
        return payload, outcome


def _parse_within_caps(source: str, limits: Limits) -> DocumentNode | Refusal:
    """The parsed document, or its refusal by a document cap (run before validation)."""
    _capped(source, limits.max_document_bytes)
    try:
        document = parse_document(source, max_tokens=limits.max_tokens)
    except GraphQLError as exc:
        return Refusal(ErrorCode.BAD_USER_INPUT, exc.message)
    limit = limits.max_fields
    shape = measure(document, limit)
    if shape.fields > limit:
        return Refusal(
            ErrorCode.BAD_USER_INPUT,
            f"The document selects more than {limit} fields",
            maxFields=limit,
        )
    if shape.aliases > limits.max_aliases:
        return Refusal(
            ErrorCode.BAD_USER_INPUT,
            f"The document has more than {limits.max_aliases} aliases",
            maxAliases=limits.max_aliases,
        )
    if shape.depth > limits.max_depth:
        return Refusal(
            ErrorCode.BAD_USER_INPUT,
            f"The document exceeds the maximum depth of {limits.max_depth}",
            maxDepth=limits.max_depth,
        )
    return _refuse_costly(document) or document


def _refuse_costly(document: DocumentNode) -> Refusal | None:
    """The refusal of a document whose root fields together cost too much, if it is one."""
    repeated = repeated_expensive_fields(document)
    if repeated:
        name = repeated[0]
        instead = f"; use {INSTEAD[name]} for several" if name in INSTEAD else ""
        return Refusal(
            ErrorCode.BAD_USER_INPUT,
            f"'{name}' may be selected at most once per document{instead}.",
        )
    listings = posts_listings(document)
    if listings:
        return Refusal(
            ErrorCode.BAD_USER_INPUT,
            "An operation may list posts once (getPosts, nodes or a page of posts); "
            f"this one selects {', '.join(listings)}.",
        )
    names = _root_names(document)
    if names & _SCHEMA_ROOT_FIELDS and not names <= _SCHEMA_ROOT_FIELDS | {"__typename"}:
        # The schema is read alone, and so answered from the schema and cached
        # (gql/introspection.py); beside other fields it would be executed field by
        # field: the introspection query beside getPosts passed 8x, beside the rest 16x.
        return Refusal(
            ErrorCode.BAD_USER_INPUT,
            "A document that selects __schema or __type selects nothing else "
            "(but __typename); send other fields in a document of their own.",
        )
    return None


def _validated(
    document: DocumentNode,
    digest: str,
    rules: tuple[type[ASTValidationRule], ...],
    *,
    explorer: bool,
    canonical: str | None,
    source: str,
) -> Prepared | Refusal:
    """The (simplified) document ready to run, or its refusal by validation."""
    errors = validate_document(core_schema(schema), document, rules, hide_suggestions=not explorer)
    if errors:
        return Refusal(ErrorCode.BAD_USER_INPUT, errors[0].message)
    return Prepared(
        sha256=digest,
        document=document,
        operations=_operations(document),
        canonical=canonical,
        source_length=len(source),
        plans=None if "$" in source else {},
    )


def _root_names(document: DocumentNode) -> set[str]:
    """The names of the root fields of every operation of the document."""
    fragments = fragments_of(document)
    return {
        root.name.value
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode)
        for root in _root_fields(definition.selection_set, fragments)
    }


def _about_the_schema(document: DocumentNode) -> bool:
    """Whether the document selects introspection at its root (``__schema`` or
    ``__type``): then nothing else but ``__typename`` (_parse_within_caps refuses
    the rest), and its response is the same for every caller."""
    return bool(_root_names(document) & _SCHEMA_ROOT_FIELDS)


def _choose(prepared: Prepared, name: str | None) -> Operation:
    """The operation to run (GraphQL spec, GetOperation): a request error if ambiguous."""
    if name is not None:
        if name not in prepared.operations:
            raise Refusal(ErrorCode.BAD_USER_INPUT, f"Unknown operation named '{name}'")
        return prepared.operations[name]
    if len(prepared.operations) != 1:
        raise Refusal(
            ErrorCode.BAD_USER_INPUT,
            "The document has several operations; operationName must name one",
        )
    return next(iter(prepared.operations.values()))


def _token(request: HttpRequest, operation: Operation, body: Body) -> str:
    """The one token of the request: the header's, the arguments', or both when equal."""
    header = _header_token(request)
    variables = body.variables or {}
    arguments = set(operation.token_literals)
    arguments.update(
        value for name in operation.token_variables if isinstance(value := variables.get(name), str)
    )
    if len(arguments) > 1:
        raise DomainError(ErrorCode.UNAUTHENTICATED, "The token arguments differ")
    argument = next(iter(arguments), None)
    if header is not None and argument is not None and header != argument:
        raise DomainError(
            ErrorCode.UNAUTHENTICATED, "The token argument and the Authorization header differ"
        )
    token = header if header is not None else argument
    if not token:
        raise NOT_AUTHENTICATED
    return token


def _header_token(request: HttpRequest) -> str | None:
    # META, not request.headers: that builds a dict of every header on first use.
    header: str | None = request.META.get("HTTP_AUTHORIZATION")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != _BEARER or not token or " " in token:
        raise DomainError(
            ErrorCode.UNAUTHENTICATED, "Malformed Authorization header; expected 'Bearer <token>'"
        )
    return token


def _capped(query: str, limit: int) -> bytes:
    """The query's UTF-8, refused before any lexing when over the document cap."""
    if len(query) > limit:  # characters <= bytes: refuse without encoding
        raise _too_large(limit)
    raw = query.encode("utf-8", errors="surrogatepass")
    if len(raw) > limit:
        raise _too_large(limit)
    return raw


def _too_large(limit: int) -> Refusal:
    return Refusal(
        ErrorCode.BAD_USER_INPUT,
        f"The document is larger than {limit} bytes; send long values as variables",
        maxBytes=limit,
    )


def _sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _cost(entry: Prepared | Refusal) -> int:
    # Parsed documents weigh far more than their text; a refusal almost nothing. (Not
    # the document's loc: documents are parsed without locations, so it is None.)
    if isinstance(entry, Refusal):
        return 256
    return 256 + 16 * entry.source_length


def encode(payload: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON (non-ASCII as is: a 1 MiB post is not inflated by escapes)."""
    try:
        return orjson.dumps(payload)
    except TypeError:
        # Only a lone surrogate (echoed from invalid input) gets here: escape it.
        text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        return text.encode("utf-8", errors="backslashreplace")


def _json_response(body: bytes, status: int = 200) -> HttpResponse:
    response = HttpResponse(body, status=status, content_type="application/json")
    # Responses may carry tokens, refresh tokens or someone's posts.
    response["Cache-Control"] = "no-store"
    return response


def _refusal_response(refusal: Refusal) -> HttpResponse:
    error = {
        "message": refusal.message,
        "extensions": {"code": refusal.code.value, **refusal.extensions},
    }
    return _json_response(encode({"errors": [error]}), status=refusal.status)


_pipeline_lock = threading.Lock()
_pipeline: Pipeline | None = None


def get_pipeline() -> Pipeline:
    """The process's pipeline, built from settings on first use (at start-up)."""
    global _pipeline  # noqa: PLW0603 - the one process-wide instance, built once
    if _pipeline is None:
        with _pipeline_lock:
            if _pipeline is None:
                _pipeline = Pipeline.from_settings()
    return _pipeline


def reset_pipeline() -> None:
    """Drop the pipeline so the next request builds it from settings again (tests)."""
    global _pipeline  # noqa: PLW0603 - see get_pipeline
    with _pipeline_lock:
        _pipeline = None


__all__ = ["Pipeline", "Refusal", "get_pipeline", "reset_pipeline"]
