"""Step 5, the prepared document: parsed within the caps and validated by graphql-core
with the rules Strawberry adds, once per document text per process (cached by its
SHA-256), with what the later steps read of each operation."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cachetools import LRUCache
from graphql import (
    DocumentNode,
    NoSchemaIntrospectionCustomRule,
    OperationDefinitionNode,
    StringValueNode,
    VariableNode,
    print_ast,
    specified_rules,
    validate,
)
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from gql.compat import core_schema
from gql.pipeline.caps import Limits, parse_within_caps
from gql.pipeline.documents import sha256_hex
from gql.pipeline.refusal import Refusal
from gql.pipeline.rules import SCHEMA_ROOT_FIELDS, fragments_of, root_fields, root_names
from gql.schema import schema
from schemas.errors import ErrorCode

# Root fields that never need the caller: a request made only of these skips the
# token check (Apollo's auth link sends a possibly stale header with every login).
PUBLIC_ROOT_FIELDS = frozenset(
    {"signup", "login", "refreshToken", *SCHEMA_ROOT_FIELDS, "__typename"}
)
# The rules Strawberry's own validation adds to graphql-core's (strawberry.schema.schema).
STRAWBERRY_RULES = (MaybeNullValidationRule, OneOfInputValidationRule)


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation of a document, with what the caller step and the cache read of it."""

    name: str | None
    kind: str  # "query", "mutation" or "subscription"
    needs_caller: bool
    # The variables it declares: no other variable is kept or used.
    variables: frozenset[str]
    # Its ``token`` arguments: literal strings, and variables with their defaults.
    token_literals: tuple[str, ...]
    token_variables: tuple[tuple[str, str | None], ...]

    def declared(self, given: Mapping[str, Any] | None) -> dict[str, Any]:
        """The variables of ``given`` that the operation declares: no other is kept or used."""
        return {name: value for name, value in (given or {}).items() if name in self.variables}


@dataclass(frozen=True, slots=True)
class Prepared:
    """A document that parsed, fit the caps and validated, ready to execute."""

    sha256: str
    document: DocumentNode
    operations: Mapping[str | None, Operation]
    # For a document about the schema alone: the SHA-256 of the document as printed,
    # under which its responses are shared by every caller and every text of it.
    canonical: str | None = None
    # The length of the text it was parsed from: what it weighs in the cache.
    source_length: int = 0


def prepare(text: str, sha256: str, limits: Limits) -> Prepared:
    """Parse, cap and validate a document, or refuse it."""
    document = parse_within_caps(text, limits)
    rules = (
        *specified_rules,
        *STRAWBERRY_RULES,
        *(() if limits.explorer else (NoSchemaIntrospectionCustomRule,)),
    )
    # Only the first error is answered: validation stops there (graphql-core adds an
    # "aborted" error after it), so a document of many mistakes costs no more than one.
    errors = validate(
        core_schema(schema),
        document,
        rules,
        max_errors=1,
        hide_suggestions=not limits.explorer,
    )
    if errors:
        raise Refusal(ErrorCode.BAD_USER_INPUT, errors[0].message)
    about_the_schema = bool(root_names(document) & SCHEMA_ROOT_FIELDS)
    return Prepared(
        sha256=sha256,
        document=document,
        operations=_operations(document),
        canonical=sha256_hex(print_ast(document).encode()) if about_the_schema else None,
        source_length=len(text),
    )


def _operations(document: DocumentNode) -> dict[str | None, Operation]:
    fragments = fragments_of(document)
    operations: dict[str | None, Operation] = {}
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        roots = root_fields(definition.selection_set, fragments)
        tokens = [
            argument.value
            for root in roots
            for argument in root.arguments or ()
            if argument.name.value == "token"
        ]
        defaults = {
            variable.variable.name.value: variable.default_value.value
            if isinstance(variable.default_value, StringValueNode)
            else None
            for variable in definition.variable_definitions or ()
        }
        name = definition.name.value if definition.name else None
        operations[name] = Operation(
            name=name,
            kind=definition.operation.value,
            needs_caller=any(root.name.value not in PUBLIC_ROOT_FIELDS for root in roots),
            variables=frozenset(defaults),
            token_literals=tuple(v.value for v in tokens if isinstance(v, StringValueNode)),
            token_variables=tuple(
                (v.name.value, defaults.get(v.name.value))
                for v in tokens
                if isinstance(v, VariableNode)
            ),
        )
    return operations


def choose(prepared: Prepared, name: str | None) -> Operation:
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


# What a prepared document weighs against the cache's bound: its parsed nodes weigh
# far more than its text; a refusal almost nothing.
_ENTRY_BYTES = 256
_BYTES_PER_CHARACTER = 16


@dataclass
class PreparedDocuments:
    """The process's prepared documents (and refusals) by SHA-256, bounded in bytes."""

    max_bytes: int = 4 * 1024 * 1024
    _entries: LRUCache[str, Prepared | Refusal] = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._entries = LRUCache(maxsize=self.max_bytes, getsizeof=_weight)

    def holds(self, sha256: str) -> bool:
        """Whether the process holds this document (prepared, or refused)."""
        with self._lock:
            return sha256 in self._entries

    def get(self, text: str, sha256: str, limits: Limits) -> Prepared:
        """The document prepared, from the cache or now; raises its Refusal."""
        with self._lock:
            known = self._entries.get(sha256)
        if known is None:
            try:
                known = prepare(text, sha256, limits)
            except Refusal as refusal:
                known = refusal
            with self._lock:
                self._entries[sha256] = known
        if isinstance(known, Refusal):
            # A fresh traceback each time: a kept one would grow with every raise.
            raise known.with_traceback(None)
        return known


def _weight(entry: Prepared | Refusal) -> int:
    if isinstance(entry, Refusal):
        return _ENTRY_BYTES
    return _ENTRY_BYTES + _BYTES_PER_CHARACTER * entry.source_length
