"""Step 4, the caps: a document is parsed within a token cap, then measured, and refused
before validation when it is larger than the caps allow or when its root fields
together cost too much. Each check is linear in the document's text, so a refused
document costs next to nothing, and validation (whose cost grows with fragments,
spreads and fields) only ever reads a document within the caps."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from graphql import DocumentNode, GraphQLError, parse

from gql.pipeline.documents import capped
from gql.pipeline.refusal import Refusal
from gql.pipeline.rules import (
    INSTEAD,
    SCHEMA_ROOT_FIELDS,
    measure,
    posts_listings,
    repeated_expensive_fields,
    root_names,
)
from schemas.errors import ErrorCode


@dataclass(frozen=True, slots=True)
class Limits:
    """The document caps and the explorer switch, read from settings once, with the
    pipeline (config/bootstrap.py rebuilds it when a test overrides one of them)."""

    explorer: bool
    max_document_bytes: int
    max_tokens: int
    max_fields: int
    max_depth: int
    max_aliases: int
    max_operations: int
    max_fragments: int
    max_spreads: int
    max_directives: int
    max_repeats: int

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(
            explorer=bool(settings.GRAPHQL_EXPLORER),
            max_document_bytes=int(settings.GRAPHQL_MAX_DOCUMENT_BYTES),
            max_tokens=int(settings.GRAPHQL_MAX_TOKENS),
            max_fields=int(settings.GRAPHQL_MAX_FIELDS),
            max_depth=int(settings.GRAPHQL_MAX_DEPTH),
            max_aliases=int(settings.GRAPHQL_MAX_ALIASES),
            max_operations=int(settings.GRAPHQL_MAX_OPERATIONS),
            max_fragments=int(settings.GRAPHQL_MAX_FRAGMENTS),
            max_spreads=int(settings.GRAPHQL_MAX_SPREADS),
            max_directives=int(settings.GRAPHQL_MAX_DIRECTIVES),
            max_repeats=int(settings.GRAPHQL_MAX_REPEATED_FIELDS),
        )


def parse_within_caps(text: str, limits: Limits) -> DocumentNode:
    """The parsed document, or its refusal by a document cap (before validation)."""
    capped(text, limits.max_document_bytes)
    try:
        document = parse(
            text,
            no_location=True,
            max_lexical_tokens=limits.max_tokens,
            max_comments=limits.max_tokens,
        )
    except GraphQLError as exc:
        raise Refusal(ErrorCode.BAD_USER_INPUT, exc.message) from None
    shape = measure(document, limits.max_fields)
    if shape.cycle is not None:
        raise Refusal(
            ErrorCode.BAD_USER_INPUT, f'Cannot spread fragment "{shape.cycle}" within itself.'
        )
    for count, limit, what, extension in (
        (shape.fields, limits.max_fields, "selects more than {} fields", "maxFields"),
        (shape.aliases, limits.max_aliases, "has more than {} aliases", "maxAliases"),
        (shape.depth, limits.max_depth, "exceeds the maximum depth of {}", "maxDepth"),
        (shape.operations, limits.max_operations, "has more than {} operations", "maxOperations"),
        (shape.fragments, limits.max_fragments, "has more than {} fragments", "maxFragments"),
        (shape.spreads, limits.max_spreads, "has more than {} fragment spreads", "maxSpreads"),
        (shape.directives, limits.max_directives, "has more than {} directives", "maxDirectives"),
        (
            shape.repeats,
            limits.max_repeats,
            "selects one field more than {} times in one selection set",
            "maxRepeatedFields",
        ),
    ):
        if count > limit:
            raise Refusal(
                ErrorCode.BAD_USER_INPUT,
                f"The document {what.format(limit)}",
                **{extension: limit},
            )
    _refuse_costly(document)
    return document


def _refuse_costly(document: DocumentNode) -> None:
    """Refuse a document whose root fields together cost too much."""
    repeated = repeated_expensive_fields(document)
    if repeated:
        name = repeated[0]
        instead = f"; use {INSTEAD[name]} for several" if name in INSTEAD else ""
        raise Refusal(
            ErrorCode.BAD_USER_INPUT,
            f"'{name}' may be selected at most once per document{instead}.",
        )
    listings = posts_listings(document)
    if listings:
        raise Refusal(
            ErrorCode.BAD_USER_INPUT,
            "An operation may list posts once (getPosts, nodes or a page of posts); "
            f"this one selects {', '.join(listings)}.",
        )
    names = root_names(document)
    if names & SCHEMA_ROOT_FIELDS and not names <= SCHEMA_ROOT_FIELDS | {"__typename"}:
        # Introspection is answered alone, and cached for everyone (docs/adr/).
        raise Refusal(
            ErrorCode.BAD_USER_INPUT,
            "A document that selects __schema or __type selects nothing else "
            "(but __typename); send other fields in a document of their own.",
        )
