"""The document rules the request pipeline runs: a linear measure before validation
(fields, aliases, depth), merging of repeated fields, and the validation rule set.

Depth and aliases are measured here rather than by Strawberry's QueryDepthLimiter
and MaxAliasesLimiter: those expand every fragment spread again, exponentially in
nested spreads, while ``measure`` reads each fragment once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphql import (
    ASTValidationRule,
    DefinitionNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionNode,
    SelectionSetNode,
    ValidationRule,
    print_ast,
    specified_rules,
)
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

# Root fields that cost real work each time (bcrypt, a user's whole post list, a
# page of posts, many nodes): one of each per document, so aliases cannot multiply them.
ONCE_PER_DOCUMENT = frozenset(
    {
        "signup",
        "login",
        "refreshToken",
        "changePassword",
        "deleteAccount",
        "getPosts",
        "viewer",
        "nodes",
    }
)


def _root_field_names(
    selection_set: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode], seen: set[str]
) -> Iterator[str]:
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection.name.value
        elif isinstance(selection, InlineFragmentNode):
            yield from _root_field_names(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in fragments and name not in seen:
                seen.add(name)
                yield from _root_field_names(fragments[name].selection_set, fragments, seen)


class OncePerDocumentRule(ValidationRule):
    """Refuse a document that selects an expensive root field more than once.

    Strawberry ships depth, alias and token limiters but no per-field cost limit,
    hence this small rule.
    """

    def enter_document(self, node: DocumentNode, *_args: object) -> None:
        fragments = {
            d.name.value: d for d in node.definitions if isinstance(d, FragmentDefinitionNode)
        }
        counts: dict[str, int] = {}
        for definition in node.definitions:
            if isinstance(definition, OperationDefinitionNode):
                for name in _root_field_names(definition.selection_set, fragments, set()):
                    counts[name] = counts.get(name, 0) + 1
        for name in sorted(ONCE_PER_DOCUMENT):
            if counts.get(name, 0) > 1:
                self.report_error(
                    GraphQLError(f"'{name}' may be selected at most once per document.")
                )


# What Strawberry's own validate_document appends to every rule set.
_STRAWBERRY_RULES = (MaybeNullValidationRule, OneOfInputValidationRule)


@lru_cache(maxsize=8)
def validation_rules(*, explorer: bool) -> tuple[type[ASTValidationRule], ...]:
    """The whole rule set (introspection refused when the explorer is off)."""
    rules = (*specified_rules, OncePerDocumentRule, *_STRAWBERRY_RULES)
    if not explorer:
        rules = (*rules, NoSchemaIntrospectionCustomRule)
    return rules


@dataclass(frozen=True, slots=True)
class Shape:
    """What a document costs to run, measured before validation."""

    fields: int  # every selected field, repeats, __typename and expanded spreads included
    aliases: int  # aliased fields, expanded spreads included
    depth: int  # nested selection sets below the root, introspection fields not counted


def measure(document: DocumentNode, max_fields: int) -> Shape:
    """Fields, aliases and depth in one pass, each fragment measured once.

    A fragment's figures are computed once and reused wherever it is spread,
    so nested spreads that would expand exponentially cost nothing extra
    (Strawberry's depth and alias limiters expand every spread again: 8 nested
    fragments cost them 50,000 steps). A fragment no operation spreads counts
    once (validation still reads it). Counting stops once fields pass
    ``max_fields``. Unknown and cyclic spreads count nothing (validation refuses
    them). Depth is counted as Strawberry's QueryDepthLimiter counts it: a field
    with a selection set adds one, and introspection fields add nothing.
    """
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    measured: dict[str, tuple[int, int, int]] = {}
    visiting: set[str] = set()

    def fragment(name: str) -> tuple[int, int, int]:
        if name in measured:
            return measured[name]
        if name in visiting or name not in fragments:
            return (0, 0, 0)
        visiting.add(name)
        measured[name] = selections(fragments[name].selection_set)
        visiting.discard(name)
        return measured[name]

    def selections(selection_set: SelectionSetNode | None) -> tuple[int, int, int]:
        fields = aliases = depth = 0
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                inner_fields, inner_aliases, inner_depth = selections(selection.selection_set)
                fields += 1 + inner_fields
                aliases += inner_aliases + (1 if selection.alias else 0)
                if selection.selection_set and not selection.name.value.startswith("__"):
                    depth = max(depth, 1 + inner_depth)
            else:
                inner = (
                    selections(selection.selection_set)
                    if isinstance(selection, InlineFragmentNode)
                    else fragment(selection.name.value)  # type: ignore[attr-defined]
                )
                fields, aliases = fields + inner[0], aliases + inner[1]
                depth = max(depth, inner[2])
            if fields > max_fields:
                break
        return fields, aliases, depth

    fields = aliases = depth = 0
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            shape = selections(definition.selection_set)
            fields, aliases = fields + shape[0], aliases + shape[1]
            depth = max(depth, shape[2])
            if fields > max_fields:
                return Shape(fields, aliases, depth)
    # Fragments no operation reaches are validated too (and refused): count them once.
    for name in fragments:
        if name not in measured:
            shape = fragment(name)
            fields, aliases = fields + shape[0], aliases + shape[1]
            depth = max(depth, shape[2])
            if fields > max_fields:
                break
    return Shape(fields, aliases, depth)


def count_fields(document: DocumentNode, limit: int) -> int:
    """Every field the document selects (see :func:`measure`)."""
    return measure(document, limit).fields


def _field_key(node: FieldNode) -> tuple[str, ...]:
    # Two sibling fields with this key are one field to GraphQL: same response name,
    # same field, same arguments and directives (printed, so literal spelling counts).
    return (
        node.alias.value if node.alias else "",
        node.name.value,
        *(print_ast(argument) for argument in node.arguments or ()),
        "@",
        *(print_ast(directive) for directive in node.directives or ()),
    )


def _merge(selection_set: SelectionSetNode | None) -> SelectionSetNode | None:
    if selection_set is None:
        return None
    merged: list[SelectionNode] = []
    fields: dict[tuple[str, ...], int] = {}
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            key = _field_key(selection)
            if key in fields:  # the same field again: its sub-selections join the first's
                first = merged[fields[key]]
                if not isinstance(first, FieldNode):  # pragma: no cover - keys index fields
                    raise TypeError(first)
                if first.selection_set is not None and selection.selection_set is not None:
                    joined = (*first.selection_set.selections, *selection.selection_set.selections)
                    merged[fields[key]] = _replace(
                        first, SelectionSetNode(selections=joined, loc=first.selection_set.loc)
                    )
                    continue
                if (first.selection_set is None) == (selection.selection_set is None):
                    continue
            else:
                fields[key] = len(merged)
            merged.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            merged.append(selection)
        else:
            merged.append(selection)
    return SelectionSetNode(
        selections=tuple(
            _replace(node, node.selection_set)
            if isinstance(node, FieldNode | InlineFragmentNode)
            else node
            for node in merged
        ),
        loc=selection_set.loc,
    )


def _replace(node: Any, selection_set: SelectionSetNode | None) -> Any:
    """A copy of ``node`` (a field, inline fragment, operation or fragment definition)
    whose selections are merged: graphql-core's nodes are frozen."""
    fields = {key: getattr(node, key) for key in node.keys if key != "selection_set"}
    return type(node)(**fields, selection_set=_merge(selection_set))


def merge_identical_fields(document: DocumentNode) -> DocumentNode:
    """The document with each repeated identical sibling field selected once.

    GraphQL merges such fields anyway (the spec's CollectFields), so the result
    of executing either document is the same; but graphql-core's
    OverlappingFieldsCanBeMerged compares every pair of same-named fields, so
    ``{ __typename __typename ... }`` costs quadratic time to validate. Merging
    first makes that check linear for repeats. Fields that differ in arguments
    or directives are kept apart, and validation still judges them.
    """
    definitions: list[DefinitionNode] = []
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode):
            definitions.append(_replace(definition, definition.selection_set))
        else:
            definitions.append(definition)
    return DocumentNode(definitions=tuple(definitions), loc=document.loc)
