"""The request pipeline: one path for every GraphQL request, each step refusing cheaply
before the next one costs, each step a module of this package.

1. ``body``: the request (a POST's body as strict JSON, a GET's parameters),
   checked for shape, and the media type of its answer.
2. ``documents``: the document's text: a persisted (APQ) or trusted document looked
   up by hash, or the text sent, within the size cap.
3. the budget (resolvers_services/document_budget.py): a document this process
   does not hold, sent as text, counts against its address's budget.
4. ``caps``: parsed within the token cap, measured, refused over a cap.
5. ``prepared``: validated by graphql-core with Strawberry's rules; cached by hash.
6. ``caller``: who is calling, once, from the header or the ``token`` argument.
7. the response cache (gql/response_cache.py): the caller's own answer, or
   introspection's (everyone's), when it is current.
8. ``execution``: ``strawberry.Schema.execute_sync`` with the prepared document.
9. ``encoding``: compact JSON, ``Cache-Control: no-store``.

A refused request runs nothing: the refusal is a GraphQL error with a code from
the contract, in a JSON body. What runs and what APQ stores is the document the
client sent, validated as sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from gql.pipeline.body import read_request, response_media_type
from gql.pipeline.caller import caller
from gql.pipeline.caps import Limits
from gql.pipeline.documents import Documents
from gql.pipeline.encoding import encode, json_response, refusal_response
from gql.pipeline.execution import OK, execute
from gql.pipeline.prepared import Operation, Prepared, PreparedDocuments, choose
from gql.pipeline.refusal import GRAPHQL_RESPONSE_JSON, Refusal
from gql.response_cache import Key, ResponseCache
from gql.trusted import load_manifest
from observability.context import annotate
from observability.metrics import record_cache, watch_cache
from persistence.uow import SqlUnitOfWork
from resolvers_services.document_budget import NewDocumentBudget
from resolvers_services.documents import DocumentStore
from resolvers_services.post_cache import PostsCache
from resolvers_services.tokens import TokenVerifier
from schemas.allocation import shrink_to_fit
from schemas.errors import DomainError, ErrorCode
from schemas.users import Principal

# What the pipeline is built from: config/bootstrap.py rebuilds it when a test overrides one.
PIPELINE_SETTINGS = frozenset(
    {
        "GRAPHQL_EXPLORER",
        "GRAPHQL_MAX_DOCUMENT_BYTES",
        "GRAPHQL_MAX_TOKENS",
        "GRAPHQL_MAX_FIELDS",
        "GRAPHQL_MAX_DEPTH",
        "GRAPHQL_MAX_ALIASES",
        "GRAPHQL_MAX_OPERATIONS",
        "GRAPHQL_MAX_FRAGMENTS",
        "GRAPHQL_MAX_SPREADS",
        "GRAPHQL_MAX_DIRECTIVES",
        "GRAPHQL_MAX_REPEATED_FIELDS",
        "GRAPHQL_NEW_DOCUMENTS_PER_ADDRESS_PER_MINUTE",
        "GRAPHQL_TRUSTED_DOCUMENTS",
        "APQ_ENABLED",
        "APQ_CACHE_DOCUMENTS",
        "APQ_MAX_DOCUMENTS",
        "POSTS_CACHE_TTL_SECONDS",
        "RESPONSE_CACHE_MAX_BYTES",
    }
)


@dataclass
class Pipeline:
    """The per-process request pipeline and the state it keeps (built once, at start-up,
    by config/bootstrap.py), and what it hands each request: the posts cache in the
    context, the token verifier to the caller step."""

    documents: Documents
    prepared: PreparedDocuments
    budget: NewDocumentBudget
    responses: ResponseCache
    limits: Limits
    posts_cache: PostsCache
    tokens: TokenVerifier

    @classmethod
    def from_settings(cls, *, posts_cache: PostsCache, tokens: TokenVerifier) -> Pipeline:
        """Build the pipeline and its caches from settings (a bad manifest stops start-up)."""
        path = settings.GRAPHQL_TRUSTED_DOCUMENTS
        limits = Limits.from_settings()
        responses = ResponseCache(
            ttl_seconds=settings.POSTS_CACHE_TTL_SECONDS,
            max_bytes=settings.RESPONSE_CACHE_MAX_BYTES,
        )
        watch_cache("response", lambda: responses.current_bytes)
        store = DocumentStore(
            cache_size=settings.APQ_CACHE_DOCUMENTS, max_documents=settings.APQ_MAX_DOCUMENTS
        )
        return cls(
            documents=Documents(
                store=store,
                trusted=load_manifest(path) if path else None,
                max_bytes=limits.max_document_bytes,
                apq_enabled=bool(settings.APQ_ENABLED),
            ),
            prepared=PreparedDocuments(),
            budget=NewDocumentBudget(
                per_minute=settings.GRAPHQL_NEW_DOCUMENTS_PER_ADDRESS_PER_MINUTE
            ),
            responses=responses,
            limits=limits,
            posts_cache=posts_cache,
            tokens=tokens,
        )

    def handle(self, request: HttpRequest) -> HttpResponse:
        """Answer one GraphQL-over-HTTP request."""
        media_type = response_media_type(request)
        try:
            body = read_request(request)
            source = self.documents.source(body)
            if not source.looked_up and not self.prepared.holds(source.sha256):
                self.budget.spend(source=str(request.META.get("REMOTE_ADDR") or ""))
            prepared = self.prepared.get(source.text, source.sha256, self.limits)
            operation = choose(prepared, body.operation_name)
            if body.read_only and operation.kind != "query":
                raise Refusal(
                    ErrorCode.BAD_USER_INPUT,
                    f"A {operation.kind} must be sent as POST",
                    status=405,
                )
        except Refusal as refusal:
            annotate(outcome=refusal.code.value)
            return refusal_response(refusal, media_type)
        except DomainError as error:
            annotate(outcome=error.code.value)
            return refusal_response(Refusal.of(error), media_type)
        annotate(operation_name=operation.name, operation_type=operation.kind)
        if source.register:
            self.documents.store.register(
                uow=SqlUnitOfWork(), sha256=source.sha256, document=source.text
            )
        variables = operation.declared(body.variables)
        auth = caller(request, operation, variables, tokens=self.tokens)
        if isinstance(auth, Principal):
            annotate(user_id=auth.id)
        key, version = _cache_key(prepared, operation, variables, auth)
        if key is not None:
            cached = self.responses.get(key, version)
            record_cache("response", hit=cached is not None)
            if cached is not None:
                annotate(outcome=OK)
                return json_response(cached, media_type=media_type)
        payload, outcome = execute(
            request,
            prepared,
            source.text,
            variables=variables,
            operation_name=body.operation_name,
            auth=auth,
            posts_cache=self.posts_cache,
        )
        annotate(outcome=outcome)
        encoded = encode(payload)
        if key is not None and "errors" not in payload:
            self.responses.put(key, version, encoded)
        # No data entry: the variables did not coerce, nothing ran (a request error).
        failed = "data" not in payload and media_type == GRAPHQL_RESPONSE_JSON
        return json_response(encoded, status=400 if failed else 200, media_type=media_type)


def _cache_key(
    prepared: Prepared,
    operation: Operation,
    variables: Mapping[str, Any],
    auth: Principal | DomainError,
) -> tuple[Key | None, int]:
    """Where the response is cached, and at which version of the caller's posts: a
    query's answer is the caller's own; introspection's is everyone's."""
    if operation.kind != "query":
        return None, 0
    if isinstance(auth, Principal):
        return (auth.id, prepared.sha256, operation.name, _canonical(variables)), auth.posts_version
    if prepared.canonical is not None:
        return (None, prepared.canonical, operation.name, _canonical(variables)), 0
    return None, 0


def _canonical(variables: Mapping[str, Any]) -> bytes:
    return shrink_to_fit(orjson.dumps(variables, option=orjson.OPT_SORT_KEYS))


__all__ = ["PIPELINE_SETTINGS", "Pipeline", "Refusal"]
