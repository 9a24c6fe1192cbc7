"""Step 2, the document's text: a persisted (APQ) or trusted document looked up by its
SHA-256, or the text the client sent, checked against the document size cap and,
with trusted documents configured, against the manifest."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from gql.pipeline.body import Body
from gql.pipeline.refusal import Refusal, bad_request
from observability.metrics import record_apq
from persistence.uow import SqlUnitOfWork
from resolvers_services.documents import DocumentStore
from schemas.errors import ErrorCode

APQ_NOT_FOUND_MESSAGE = "PersistedQueryNotFound"  # what Apollo's link looks for


@dataclass(frozen=True, slots=True)
class Source:
    """The text to run, its SHA-256, and where it came from."""

    text: str
    sha256: str
    # APQ: the client sent the text with its hash; store it once it validates.
    register: bool = False
    # Looked up by hash (persisted or trusted): costs nothing against the budget.
    looked_up: bool = False


@dataclass(frozen=True, slots=True)
class Documents:
    """Where a request's document comes from: the shared APQ store, the trusted
    manifest, or the request itself."""

    store: DocumentStore
    trusted: Mapping[str, str] | None
    max_bytes: int
    apq_enabled: bool = True

    def source(self, body: Body) -> Source:
        """The request's document, or its refusal (nothing parsed yet)."""
        if self.trusted is not None:
            return self._trusted_source(body, self.trusted)
        if body.persisted_hash is not None and body.query is None:
            text = (
                self.store.lookup(uow=SqlUnitOfWork(), sha256=body.persisted_hash)
                if self.apq_enabled
                else None
            )
            record_apq(hit=text is not None)
            if text is None:
                raise Refusal(ErrorCode.PERSISTED_QUERY_NOT_FOUND, APQ_NOT_FOUND_MESSAGE)
            return Source(text, body.persisted_hash, looked_up=True)
        if body.query is None:
            raise bad_request("No GraphQL query found in the request")
        digest = sha256_hex(capped(body.query, self.max_bytes))
        if body.persisted_hash is not None and body.persisted_hash != digest:
            raise Refusal(ErrorCode.BAD_USER_INPUT, "sha256Hash is not the SHA-256 of the query")
        return Source(body.query, digest, register=body.persisted_hash is not None)

    def _trusted_source(self, body: Body, trusted: Mapping[str, str]) -> Source:
        if body.query is None:
            digest = body.persisted_hash
            if digest is None:
                raise bad_request("No GraphQL query found in the request")
            if digest not in trusted:
                raise Refusal(ErrorCode.PERSISTED_QUERY_NOT_FOUND, APQ_NOT_FOUND_MESSAGE)
            return Source(trusted[digest], digest, looked_up=True)
        digest = sha256_hex(capped(body.query, self.max_bytes))
        if digest not in trusted or (body.persisted_hash not in {None, digest}):
            raise Refusal(ErrorCode.BAD_USER_INPUT, "Only the server's trusted documents may run")
        return Source(body.query, digest, looked_up=True)


def capped(query: str, limit: int) -> bytes:
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


def sha256_hex(raw: bytes) -> str:
    """The SHA-256 of ``raw`` as 64 lower-case hex digits."""
    return hashlib.sha256(raw).hexdigest()
