"""The document rules, checked before validation: a linear measure (fields,
aliases, depth, operations, fragments, spreads, directives, fragment cycles),
the expensive root fields selected once, and posts listed once per operation.

Depth and aliases are measured here rather than by Strawberry's QueryDepthLimiter
and MaxAliasesLimiter: those expand every fragment spread again, exponentially in
nested spreads, while ``measure`` reads each fragment once. None of these rules
changes the document: what validation reads and what runs is what the client sent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    ListValueNode,
    NullValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    VariableNode,
    Visitor,
    visit,
)

# Root fields that cost real work each time (bcrypt, a user's whole post list, a
# page of posts, a database lookup, the whole schema): one of each per operation, so
# aliases cannot multiply them (docs/adr/0007-document-caps.md). Every introspection
# client sends one ``__schema`` (or ``__type``); ``nodes(ids:)`` looks up many in one
# query, and Relay asks for one ``node`` at a time.
ONCE_PER_DOCUMENT = frozenset(
    {
        "__schema",
        "__type",
        "signup",
        "login",
        "refreshToken",
        "changePassword",
        "deleteAccount",
        "getPosts",
        "viewer",
        "node",
        "nodes",
    }
)
# What to use instead, where there is something.
INSTEAD = {"node": "nodes(ids:)"}


def repeated_expensive_fields(document: DocumentNode) -> list[str]:
    """The expensive root fields (``ONCE_PER_DOCUMENT``) that one operation of the
    document selects more than once (only one operation runs).

    Strawberry ships depth, alias and token limiters but no per-field cost limit,
    hence this check. It reads the document as written: a field selected through
    two fragments is refused; identical sibling fields count once, as graphql-core's
    execution merges them.
    """
    fragments = fragments_of(document)
    repeated: set[str] = set()
    for operation in _operations(document):
        counts = Counter(_distinct_fields(operation, fragments, ONCE_PER_DOCUMENT, nested=False))
        repeated.update(name for name, count in counts.items() if count > 1)
    return sorted(repeated)


# The fields that list posts: an operation lists them once, through one of these
# (a page of User.posts however it is reached, getPosts, or nodes): each alone costs
# a few getPosts, together many more (docs/adr/0007-document-caps.md).
LISTINGS = frozenset({"getPosts", "nodes", "posts"})


# What makes a ``posts`` field load a page: without them it reads the caller's count.
PAGE_FIELDS = frozenset({"edges", "pageInfo"})


def posts_listings(document: DocumentNode) -> list[str]:
    """The fields listing posts (``LISTINGS``) that one operation selects, if more than one.

    Every level is read, each fragment once per operation; identical sibling
    fields count once, as execution merges them. A ``posts`` connection that
    selects neither ``edges`` nor ``pageInfo`` lists nothing (``totalCount``
    alone reads the caller's count). Only one operation runs, so each is
    counted on its own.
    """
    fragments = fragments_of(document)

    def lists(field: FieldNode) -> bool:
        if field.name.value != "posts" or field.selection_set is None:
            return True
        return any(
            inner.name.value in PAGE_FIELDS
            for siblings in selected_fields(field.selection_set, fragments, nested=False)
            for inner in siblings
        )

    for operation in _operations(document):
        found = list(_distinct_fields(operation, fragments, LISTINGS, nested=True, keep=lists))
        if len(found) > 1:
            return found
    return []


def fragments_of(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    """The document's fragments by name."""
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def _operations(document: DocumentNode) -> Iterator[OperationDefinitionNode]:
    return (d for d in document.definitions if isinstance(d, OperationDefinitionNode))


def _distinct_fields(
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    names: frozenset[str],
    *,
    nested: bool,
    keep: Callable[[FieldNode], bool] = lambda _field: True,
) -> Iterator[str]:
    """The names, of ``names``, of the fields ``operation`` selects (at its root, or
    with ``nested`` at every level): identical sibling fields once, as merging leaves
    them, and each fragment read once."""
    for siblings in selected_fields(operation.selection_set, fragments, nested=nested):
        keys: set[tuple[object, ...]] = set()
        for field in siblings:
            name = field.name.value
            if name in names and keep(field):
                key = (*_field_key(field), field.selection_set is None)
                if key not in keys:
                    keys.add(key)
                    yield name


def selected_fields(
    selection_set: SelectionSetNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    *,
    nested: bool,
) -> Iterator[list[FieldNode]]:
    """The fields of ``selection_set``, one list per selection set they stand in: its
    own, those of its inline fragments and of the fragments it spreads (each read
    once), and with ``nested`` those of every field's selection below them too."""
    pending, seen = [selection_set], set()
    while pending:
        fields: list[FieldNode] = []
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode):
                fields.append(selection)
                if nested and selection.selection_set is not None:
                    pending.append(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = selection.name.value
                if fragment in fragments and fragment not in seen:
                    seen.add(fragment)
                    pending.append(fragments[fragment].selection_set)
        yield fields


@dataclass(frozen=True, slots=True)
class Shape:
    """What a document costs to validate and run, measured before validation."""

    fields: int  # every selected field, repeats, __typename and expanded spreads included
    aliases: int  # aliased fields, expanded spreads included
    depth: int  # nested selection sets below the root, through fragments
    operations: int  # operation definitions
    fragments: int  # fragment definitions
    spreads: int  # fragment spreads and inline fragments, as written
    directives: int  # directives, as written
    # The most times one response name is selected in one selection set (its inline
    # fragments included): validation compares every pair of them.
    repeats: int
    cycle: str | None  # the name of a fragment that spreads itself, if one does


def measure(document: DocumentNode, max_fields: int) -> Shape:
    """Every figure of :class:`Shape` in one pass, each fragment measured once.

    A fragment's figures are computed once and reused wherever it is spread, so
    nested spreads that would expand exponentially cost nothing extra (Strawberry's
    depth and alias limiters expand every spread again). A fragment no operation
    spreads counts once (validation still reads it). Counting fields stops once
    they pass ``max_fields``. A spread of an unknown fragment counts nothing
    (validation refuses it); a fragment that reaches itself is named in ``cycle``,
    so that the document is refused before validation reads it. Depth is counted as
    Strawberry's QueryDepthLimiter counts it: a field with a selection set adds one,
    and introspection fields add nothing.
    """
    fragments = fragments_of(document)
    measured: dict[str, tuple[int, int, int]] = {}
    visiting: set[str] = set()
    cycle: list[str] = []
    written = _Written()

    def fragment(name: str) -> tuple[int, int, int]:
        if name in measured:
            return measured[name]
        if name in visiting:
            cycle.append(name)
            return (0, 0, 0)
        if name not in fragments:
            return (0, 0, 0)
        visiting.add(name)
        measured[name] = selections(fragments[name].selection_set)
        visiting.discard(name)
        return measured[name]

    def selections(selection_set: SelectionSetNode | None) -> tuple[int, int, int]:
        fields = aliases = depth = 0
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                fields += 1
                aliases += 1 if selection.alias else 0
                if selection.selection_set is not None:
                    inner_fields, inner_aliases, inner_depth = selections(selection.selection_set)
                    fields, aliases = fields + inner_fields, aliases + inner_aliases
                    if not selection.name.value.startswith("__"):
                        depth = max(depth, 1 + inner_depth)
            else:
                inner = (
                    selections(selection.selection_set)
                    if isinstance(selection, InlineFragmentNode)
                    else fragment(selection.name.value)  # type: ignore[attr-defined]
                )
                fields, aliases = fields + inner[0], aliases + inner[1]
                depth = max(depth, inner[2])
            if fields > max_fields or cycle:
                break
        return fields, aliases, depth

    fields = aliases = depth = operations = 0
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            operations += 1
            shape = selections(definition.selection_set)
            fields, aliases = fields + shape[0], aliases + shape[1]
            depth = max(depth, shape[2])
            if fields > max_fields or cycle:
                break
    else:
        # Fragments no operation reaches are validated too (and refused): count them once.
        for name in fragments:
            if name not in measured:
                shape = fragment(name)
                fields, aliases = fields + shape[0], aliases + shape[1]
                depth = max(depth, shape[2])
                if fields > max_fields or cycle:
                    break
    visit(document, written)
    return Shape(
        fields=fields,
        aliases=aliases,
        depth=depth,
        operations=operations,
        fragments=len(fragments),
        spreads=written.spreads,
        directives=written.directives,
        repeats=written.repeats,
        cycle=cycle[0] if cycle else None,
    )


class _Written(Visitor):
    """Counts the spreads, inline fragments, directives and repeated response names of a
    document as written."""

    def __init__(self) -> None:
        super().__init__()
        self.spreads = 0
        self.directives = 0
        self.repeats = 0

    def enter_selection_set(self, node: SelectionSetNode, *_args: object) -> None:
        names: Counter[str] = Counter()
        pending = [node]
        while pending:
            for selection in pending.pop().selections:
                if isinstance(selection, FieldNode):
                    names[(selection.alias or selection.name).value] += 1
                elif isinstance(selection, InlineFragmentNode):
                    pending.append(selection.selection_set)
        self.repeats = max(self.repeats, max(names.values(), default=0))

    def enter_fragment_spread(self, *_args: object) -> None:
        self.spreads += 1

    def enter_inline_fragment(self, *_args: object) -> None:
        self.spreads += 1

    def enter_directive(self, *_args: object) -> None:
        self.directives += 1


def _field_key(node: FieldNode) -> tuple[object, ...]:
    # Two sibling fields with this key are one field to GraphQL: same response name,
    # same field, same arguments and directives, spelled the same (graphql-core's
    # OverlappingFieldsCanBeMerged compares them printed; this is the same comparison
    # without the printer, which cost more than merging itself for a list of 100 ids).
    if not node.arguments and not node.directives:  # most fields: nothing to compare
        return (node.alias.value if node.alias else "", node.name.value)
    return (
        node.alias.value if node.alias else "",
        node.name.value,
        *((a.name.value, _value_key(a.value)) for a in node.arguments or ()),
        "@",
        *(
            (d.name.value, *((a.name.value, _value_key(a.value)) for a in d.arguments or ()))
            for d in node.directives or ()
        ),
    )


def _value_key(value: ValueNode) -> object:
    """A value as written: equal for two values exactly when they print the same."""
    if isinstance(value, ListValueNode):
        return ("[", *map(_value_key, value.values))
    if isinstance(value, ObjectValueNode):
        return ("{", *((f.name.value, _value_key(f.value)) for f in value.fields))
    if isinstance(value, VariableNode):
        return ("$", value.name.value)
    if isinstance(value, StringValueNode):
        return ("block" if value.block else "string", value.value)
    if isinstance(value, NullValueNode):
        return ("null",)
    # Int, Float, Boolean and Enum values: their kind and their token's text.
    return (value.kind, getattr(value, "value", None))


# The introspection root fields: a document that selects them selects nothing else.
SCHEMA_ROOT_FIELDS = frozenset({"__schema", "__type"})


def root_fields(
    selection_set: SelectionSetNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> list[FieldNode]:
    """The fields at the root of a selection set, through its fragments."""
    return [
        field
        for siblings in selected_fields(selection_set, fragments, nested=False)
        for field in siblings
    ]


def root_names(document: DocumentNode) -> set[str]:
    """The names of the root fields of every operation of the document."""
    fragments = fragments_of(document)
    return {
        root.name.value
        for operation in _operations(document)
        for root in root_fields(operation.selection_set, fragments)
    }
