"""The document rules the request pipeline runs: a linear measure before validation
(fields, aliases, depth), the expensive fields selected once, inlining of the
fragments that meet and merging of repeated fields, and the validation rule set.

Depth and aliases are measured here rather than by Strawberry's QueryDepthLimiter
and MaxAliasesLimiter: those expand every fragment spread again, exponentially in
nested spreads, while ``measure`` reads each fragment once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any, TypeVar, cast

from graphql import (
    ASTValidationRule,
    DefinitionNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLCompositeType,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    ListValueNode,
    NamedTypeNode,
    Node,
    NullValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SchemaMetaFieldDef,
    SelectionNode,
    SelectionSetNode,
    StringValueNode,
    TypeInfo,
    TypeInfoVisitor,
    TypeMetaFieldDef,
    ValidationContext,
    ValueNode,
    VariableNode,
    get_named_type,
    specified_rules,
    visit,
)
from graphql.language.visitor import VisitorAction
from graphql.validation import (
    DeferStreamDirectiveLabel,
    DeferStreamDirectiveOnRootField,
    DeferStreamDirectiveOnValidOperationsRule,
    KnownDirectivesRule,
    NoSchemaIntrospectionCustomRule,
    NoUndefinedVariablesRule,
    NoUnusedVariablesRule,
    StreamDirectiveOnListField,
    UniqueDirectivesPerLocationRule,
    UniqueVariableNamesRule,
    VariablesAreInputTypesRule,
    VariablesInAllowedPositionRule,
)
from graphql.validation.validation_context import VariableUsage, VariableUsageVisitor
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

# Root fields that cost real work each time (bcrypt, a user's whole post list, a
# page of posts, a database lookup, the whole schema): one of each per document, so
# aliases cannot multiply them. Fifteen aliases of ``__schema { types { fields ... } }``
# cost 30 ms, 46 getPosts; every introspection client sends one ``__schema`` (or
# ``__type``). Fifteen aliased ``node`` lookups cost 16.7 getPosts: ``nodes(ids:)``
# looks up many in one query, and Relay asks for one ``node`` at a time.
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
    """The expensive root fields (``ONCE_PER_DOCUMENT``) the document selects more than once.

    Strawberry ships depth, alias and token limiters but no per-field cost limit,
    hence this check. It reads the document as written, before
    :func:`simplify_document` inlines fragments: a field selected through two
    fragments is refused, although inlining would merge the two into one
    execution; identical sibling fields count once, as merging leaves them.
    """
    fragments = fragments_of(document)
    counts = Counter(
        name
        for operation in _operations(document)
        for name in _distinct_fields(operation, fragments, ONCE_PER_DOCUMENT, nested=False)
    )
    return [name for name in sorted(ONCE_PER_DOCUMENT) if counts[name] > 1]


# The fields that list posts: a document lists them once, through one of these
# (a page of User.posts however it is reached, getPosts, or nodes). Each alone
# costs at most a few getPosts (nodes of 100 ids 7.4x, a page 3.6x); together, with
# a node and the viewer beside them, they passed 11x.
LISTINGS = frozenset({"getPosts", "nodes", "posts"})


def posts_listings(document: DocumentNode) -> list[str]:
    """The fields listing posts (``LISTINGS``) that one operation selects, if more than one.

    Every level is read, each fragment once per operation; identical sibling
    fields count once, as merging leaves them. Only one operation runs, so each
    is counted on its own.
    """
    fragments = fragments_of(document)
    for operation in _operations(document):
        found = list(_distinct_fields(operation, fragments, LISTINGS, nested=True))
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
) -> Iterator[str]:
    """The names, of ``names``, of the fields ``operation`` selects (at its root, or
    with ``nested`` at every level): identical sibling fields once, as merging leaves
    them, and each fragment read once."""
    for siblings in selected_fields(operation.selection_set, fragments, nested=nested):
        keys: set[tuple[object, ...]] = set()
        for field in siblings:
            name = field.name.value
            if name in names:
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


# What Strawberry's own validate_document appends to every rule set.
_STRAWBERRY_RULES = (MaybeNullValidationRule, OneOfInputValidationRule)


# Where each kind of node may hold a variable (a variable definition's default is
# constant, and the usage walk skips definitions anyway).
_MAY_HOLD_VARIABLES: dict[str, tuple[str, ...]] = {
    "operation_definition": ("directives", "selection_set"),
    "fragment_definition": ("directives", "selection_set"),
    "selection_set": ("selections",),
    "field": ("arguments", "directives", "selection_set"),
    "inline_fragment": ("directives", "selection_set"),
    "fragment_spread": ("directives",),
    "directive": ("arguments",),
    "argument": ("value",),
    "list_value": ("values",),
    "object_value": ("fields",),
    "object_field": ("value",),
}


def _holding_variables(document: DocumentNode) -> set[int]:
    """The ids of the nodes with a variable at or below them."""
    holding: set[int] = set()

    def holds(node: Node) -> bool:
        if isinstance(node, VariableNode):
            holding.add(id(node))
            return True
        found = False
        for key in _MAY_HOLD_VARIABLES.get(node.kind, ()):
            value = getattr(node, key)
            if isinstance(value, tuple):
                for item in value:
                    found = holds(item) or found
            elif value is not None:
                found = holds(value) or found
        if found:
            holding.add(id(node))
        return found

    for definition in document.definitions:
        holds(definition)
    return holding


class _UsagesAlongVariables(VariableUsageVisitor):
    """graphql-core's walk for variable usages, entering only nodes with a variable
    at or below them (the rest is skipped, as the walk skips variable definitions)."""

    def __init__(
        self,
        type_info: TypeInfo,
        fragment_definition: FragmentDefinitionNode | None,
        holding: set[int],
    ) -> None:
        super().__init__(type_info, fragment_definition)
        self._holding = holding

    def enter(self, node: Node, *_args: object) -> VisitorAction:
        return None if id(node) in self._holding else self.SKIP


class VariableUsagesAlongVariables(ASTValidationRule):
    """Not a rule of its own: it makes the variable rules' shared walk cheaper.

    Three rules about variables (NoUndefinedVariables, NoUnusedVariables,
    VariablesInAllowedPosition) read ``context.get_variable_usages``, which walks each
    operation and fragment with a TypeInfo over every node: 0.7 ms for the
    introspection query with one variable, as much again as validating it otherwise.
    This gives the context a walk that enters only the nodes leading to a variable:
    the same usages (node, type, parent type, default), found in the same order.
    Runs first, before any rule asks.
    """

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        holding = _holding_variables(context.document)
        schema = context.schema
        usages: dict[int, list[VariableUsage]] = {}

        def get_variable_usages(node: Any) -> list[VariableUsage]:
            found = usages.get(id(node))
            if found is None and id(node) not in holding:
                found = usages[id(node)] = []  # no variable in it: nothing to walk
            if found is None:
                fragment = node if isinstance(node, FragmentDefinitionNode) else None
                type_info = TypeInfo(schema)
                visitor = _UsagesAlongVariables(type_info, fragment, holding)
                visit(node, TypeInfoVisitor(type_info, visitor))
                found = usages[id(node)] = visitor.usages
            return found

        context.get_variable_usages = get_variable_usages  # type: ignore[method-assign]


class UniqueDirectivesPerExecutableLocation(UniqueDirectivesPerLocationRule):
    """graphql-core's rule, entered only at the nodes of an executable document that
    can carry directives: it listens to every node (names, values, selection sets),
    a quarter of a ms of the introspection query with one directive. Nodes of the
    type system are not entered: a document with them is refused by
    ExecutableDefinitionsRule, which reports first."""

    enter = None  # type: ignore[assignment]
    enter_operation_definition = UniqueDirectivesPerLocationRule.enter
    enter_fragment_definition = UniqueDirectivesPerLocationRule.enter
    enter_variable_definition = UniqueDirectivesPerLocationRule.enter
    enter_field = UniqueDirectivesPerLocationRule.enter
    enter_fragment_spread = UniqueDirectivesPerLocationRule.enter
    enter_inline_fragment = UniqueDirectivesPerLocationRule.enter


# The rules about variables, which find nothing in a document that has none: a
# variable is a '$' token, so a text without '$' has none (a '$' in a string or a
# comment only keeps them). Each of three of them walks
# the document again (validation_context.get_recursive_variable_usages): skipped, the
# introspection query validates in a third of the time.
_VARIABLE_RULES = frozenset(
    {
        VariableUsagesAlongVariables,
        UniqueVariableNamesRule,
        VariablesAreInputTypesRule,
        NoUndefinedVariablesRule,
        NoUnusedVariablesRule,
        VariablesInAllowedPositionRule,
    }
)

# Likewise the rules about directives, in a text without '@' (each rule costs a pass
# over every node: these six were a fifth of validating the introspection query).
_DIRECTIVE_RULES = frozenset(
    {
        KnownDirectivesRule,
        UniqueDirectivesPerExecutableLocation,
        DeferStreamDirectiveOnRootField,
        DeferStreamDirectiveOnValidOperationsRule,
        DeferStreamDirectiveLabel,
        StreamDirectiveOnListField,
    }
)


# graphql-core's rules replaced by cheaper ones that find the same errors.
_CHEAPER: dict[type[ASTValidationRule], type[ASTValidationRule]] = {
    UniqueDirectivesPerLocationRule: UniqueDirectivesPerExecutableLocation
}


@lru_cache(maxsize=16)
def validation_rules(
    *, explorer: bool, variables: bool = True, directives: bool = True
) -> tuple[type[ASTValidationRule], ...]:
    """The whole rule set (introspection refused when the explorer is off), without the
    rules about variables when the document's text has no '$' (``variables=False``), nor
    those about directives when it has no '@' (``directives=False``)."""
    rules: tuple[type[ASTValidationRule], ...] = (
        VariableUsagesAlongVariables,
        *(_CHEAPER.get(rule, rule) for rule in specified_rules),
        *_STRAWBERRY_RULES,
    )
    if not variables:
        rules = tuple(rule for rule in rules if rule not in _VARIABLE_RULES)
    if not directives:
        rules = tuple(rule for rule in rules if rule not in _DIRECTIVE_RULES)
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
    fragments = fragments_of(document)
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


_Selecting = TypeVar(
    "_Selecting",
    bound=FieldNode | InlineFragmentNode | OperationDefinitionNode | FragmentDefinitionNode,
)


def _with_selections(node: _Selecting, selections: Sequence[SelectionNode]) -> _Selecting:
    """A copy of ``node`` selecting ``selections`` instead: graphql-core's nodes are frozen."""
    fields = {key: getattr(node, key) for key in node.keys if key != "selection_set"}
    return type(node)(**fields, selection_set=SelectionSetNode(selections=tuple(selections)))


def _unchanged(selections: Sequence[SelectionNode], selection_set: SelectionSetNode) -> bool:
    before = selection_set.selections
    return len(selections) == len(before) and all(
        a is b for a, b in zip(selections, before, strict=True)
    )


def _joinable(previous: SelectionNode, selection: InlineFragmentNode) -> bool:
    # Two adjacent inline fragments on one type (or both on the parent's), without
    # directives, apply together or not at all, and their fields come one after the
    # other in the response either way: one fragment selecting both says the same.
    if not isinstance(previous, InlineFragmentNode) or previous.directives or selection.directives:
        return False
    before, after = previous.type_condition, selection.type_condition
    return (before.name.value if before else None) == (after.name.value if after else None)


# What becomes of the selections of two joined fields (or inline fragments).
_Rejoin = Callable[
    [FieldNode | InlineFragmentNode, Sequence[SelectionNode]], Sequence[SelectionNode]
]


def _merged(
    selections: Sequence[SelectionNode], rejoin: _Rejoin | None = None
) -> Sequence[SelectionNode]:
    """Sibling ``selections`` with each identical field once, its sub-selections joined
    into the first's (and merged again, or given to ``rejoin``), and adjacent inline
    fragments on one type joined."""
    merged: list[SelectionNode] = []
    firsts: dict[tuple[object, ...], tuple[int, FieldNode]] = {}  # where, and what, so far
    joined: set[int] = set()
    for selection in selections:
        if isinstance(selection, FieldNode):
            key = _field_key(selection)
            first = firsts.get(key)
            if first is None:
                firsts[key] = (len(merged), selection)
            else:  # the same field again
                at, field = first
                if field.selection_set is None and selection.selection_set is None:
                    continue
                if field.selection_set is not None and selection.selection_set is not None:
                    field = _with_selections(
                        field,
                        (*field.selection_set.selections, *selection.selection_set.selections),
                    )
                    merged[at], firsts[key] = field, (at, field)
                    joined.add(at)
                    continue
                # A leaf and a field with a selection: left apart, for validation to refuse.
        elif (
            isinstance(selection, InlineFragmentNode)
            and merged
            and _joinable(merged[-1], selection)
        ):
            previous = cast("InlineFragmentNode", merged[-1])
            merged[-1] = _with_selections(
                previous, (*previous.selection_set.selections, *selection.selection_set.selections)
            )
            joined.add(len(merged) - 1)
            continue
        merged.append(selection)
    if not joined and len(merged) == len(selections):
        return selections
    for at in joined:  # what was joined may repeat itself one level down
        node = cast("FieldNode | InlineFragmentNode", merged[at])
        if node.selection_set is not None:
            children = node.selection_set.selections
            merged[at] = _with_selections(
                node, rejoin(node, children) if rejoin else _merged(children)
            )
    return merged


def _merge_within(node: _Selecting) -> _Selecting:
    """``node`` with the selections at every level below it merged."""
    if node.selection_set is None:
        return node
    selections = _merged(
        [
            _merge_within(s) if isinstance(s, FieldNode | InlineFragmentNode) else s
            for s in node.selection_set.selections
        ]
    )
    return (
        node if _unchanged(selections, node.selection_set) else _with_selections(node, selections)
    )


def merge_identical_fields(document: DocumentNode) -> DocumentNode:
    """The document with each repeated identical sibling field selected once.

    GraphQL merges such fields anyway (the spec's CollectFields), so the result
    of executing either document is the same; but graphql-core's
    OverlappingFieldsCanBeMerged compares every pair of same-named fields, so
    ``{ __typename __typename ... }`` costs quadratic time to validate. Merging
    first makes that check linear for repeats. Fields that differ in arguments
    or directives are kept apart, and validation still judges them. Adjacent
    inline fragments on one type, without directives, are joined into one.
    """
    definitions: list[DefinitionNode] = [
        _merge_within(d) if isinstance(d, OperationDefinitionNode | FragmentDefinitionNode) else d
        for d in document.definitions
    ]
    return DocumentNode(definitions=tuple(definitions), loc=document.loc)


# Nesting (expanded through inlined fragments) past which a document is only merged,
# as written: ten times what introspection's own query needs, and few enough that
# inlining (a few Python frames a level) stays well inside the interpreter's stack.
_MAX_NESTING = 128


class _NotInlined(Exception):
    """The document is only merged: a fragment cycle (refused by validation), or too deep."""


class _Inliner:
    """Inlines the fragment spreads that meet in one selection, where that changes nothing.

    A fragment's selections are inlined and merged once (they do not depend on where
    it is spread), then copied into every place it is inlined, so nested spreads cost
    no more than their merged size.
    """

    def __init__(self, schema: GraphQLSchema, fragments: Mapping[str, FragmentDefinitionNode]):
        self.schema = schema
        self.fragments = fragments
        self.spread: set[str] = set()  # every fragment name spread somewhere
        self._forms: dict[str, Sequence[SelectionNode]] = {}
        self._entered: set[str] = set()

    def form(self, name: str, nesting: int = 0) -> Sequence[SelectionNode]:
        """Fragment ``name``'s selections, inlined and merged."""
        form = self._forms.get(name)
        if form is None:
            if name in self._entered:
                raise _NotInlined(f"fragment {name} spreads itself")
            self._entered.add(name)
            fragment = self.fragments[name]
            own_type = self._named(fragment.type_condition)
            form = self._forms[name] = self.selections(fragment.selection_set, own_type, nesting)
        return form

    def selections(
        self, selection_set: SelectionSetNode, parent: GraphQLCompositeType | None, nesting: int
    ) -> Sequence[SelectionNode]:
        """The selections of ``selection_set`` (on ``parent``, when known), inlined and merged."""
        if nesting > _MAX_NESTING:
            raise _NotInlined("nested too deeply")
        found: list[SelectionNode] = []
        fields_only = True
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                found.append(
                    selection
                    if selection.selection_set is None
                    else self._field(selection, parent, nesting)
                )
                continue
            fields_only = False
            if isinstance(selection, InlineFragmentNode):
                found.extend(self._inline_fragment(selection, parent, nesting))
            elif isinstance(selection, FragmentSpreadNode):
                self.spread.add(selection.name.value)
                found.append(selection)
        if fields_only:  # no spreads to meet
            return _merged(found, partial(self._rejoin, parent, nesting))
        return self._meet(found, parent, nesting)

    def operation(self, operation: OperationDefinitionNode) -> OperationDefinitionNode:
        """``operation`` with its spreads that meet inlined, and merged."""
        root = self.schema.get_root_type(operation.operation)
        selections = self.selections(operation.selection_set, root, 0)
        if _unchanged(selections, operation.selection_set):
            return operation
        return _with_selections(operation, selections)

    def fragment(self, fragment: FragmentDefinitionNode) -> FragmentDefinitionNode:
        """``fragment`` with its spreads that meet inlined, and merged."""
        form = self.form(fragment.name.value)
        return (
            fragment
            if _unchanged(form, fragment.selection_set)
            else _with_selections(fragment, form)
        )

    def kept(self, operations: Iterable[OperationDefinitionNode]) -> set[str]:
        """The fragments still spread (and what they spread), and those never spread."""
        pending = _spread_names(s for o in operations for s in o.selection_set.selections)
        pending.update(self.fragments.keys() - self.spread)
        kept: set[str] = set()
        while pending:
            name = pending.pop()
            if name in self.fragments and name not in kept:
                kept.add(name)
                pending.update(_spread_names(self.form(name)))
        return kept

    def _meet(
        self, found: Sequence[SelectionNode], parent: GraphQLCompositeType | None, nesting: int
    ) -> Sequence[SelectionNode]:
        """``found`` with the spreads that meet in it inlined, then merged.

        OverlappingFieldsCanBeMerged compares every two fragments spread in one
        selection (its inline fragments' included): where several meet, they are
        inlined, and what they spread in turn, until one at most is left. A lone
        spread stays: it costs one comparison, and inlining it would only copy it.
        """
        for _round in range(len(self.fragments) + 1):  # each round inlines one level deeper
            if self._inlinable(found) <= 1:
                return _merged(found, partial(self._rejoin, parent, nesting))
            found = self._inline_spreads(found, parent, nesting)
        raise _NotInlined("a fragment cycle")  # deeper than there are fragments

    def _rejoin(
        self,
        parent: GraphQLCompositeType | None,
        nesting: int,
        node: FieldNode | InlineFragmentNode,
        selections: Sequence[SelectionNode],
    ) -> Sequence[SelectionNode]:
        """The selections of two fields (or inline fragments) joined: spreads may meet now."""
        own_type = (
            self._field_type(parent, node)
            if isinstance(node, FieldNode)
            else self._inline_type(node, parent)
        )
        return self._meet(selections, own_type, nesting + 1)

    def _field(
        self, field: FieldNode, parent: GraphQLCompositeType | None, nesting: int
    ) -> FieldNode:
        if field.selection_set is None:  # pragma: no cover - selections() keeps leaves
            return field
        inner = self.selections(field.selection_set, self._field_type(parent, field), nesting + 1)
        return field if _unchanged(inner, field.selection_set) else _with_selections(field, inner)

    def _inline_fragment(
        self, fragment: InlineFragmentNode, parent: GraphQLCompositeType | None, nesting: int
    ) -> Sequence[SelectionNode]:
        inner = self.selections(
            fragment.selection_set, self._inline_type(fragment, parent), nesting + 1
        )
        condition = fragment.type_condition
        if not fragment.directives and (condition is None or _names(parent, condition)):
            return inner  # on the parent's own type: it always applies
        if _unchanged(inner, fragment.selection_set):
            return (fragment,)
        return (_with_selections(fragment, inner),)

    def _inlinable(self, selections: Sequence[SelectionNode]) -> int:
        """How many spreads in ``selections`` (through inline fragments) can be inlined."""
        count = 0
        for selection in selections:
            if isinstance(selection, FragmentSpreadNode):
                count += self._can_inline(selection)
            elif isinstance(selection, InlineFragmentNode):
                count += self._inlinable(selection.selection_set.selections)
        return count

    def _can_inline(self, spread: FragmentSpreadNode) -> bool:
        # Unknown fragments are left for validation to refuse; directives, as written.
        fragment = self.fragments.get(spread.name.value)
        return fragment is not None and not spread.directives and not fragment.directives

    def _inline_spreads(
        self, selections: Sequence[SelectionNode], parent: GraphQLCompositeType | None, nesting: int
    ) -> list[SelectionNode]:
        inlined: list[SelectionNode] = []
        for selection in selections:
            if isinstance(selection, FragmentSpreadNode) and self._can_inline(selection):
                fragment = self.fragments[selection.name.value]
                form = self.form(fragment.name.value, nesting + 1)
                if _names(parent, fragment.type_condition):
                    inlined.extend(form)  # on the parent's own type: its fields are the parent's
                else:  # elsewhere, an inline fragment on the same type condition
                    inlined.append(
                        InlineFragmentNode(
                            type_condition=fragment.type_condition,
                            directives=(),
                            selection_set=SelectionSetNode(selections=tuple(form)),
                        )
                    )
            elif isinstance(selection, InlineFragmentNode) and self._inlinable(
                selection.selection_set.selections
            ):
                own_type = self._inline_type(selection, parent)
                inner = self._inline_spreads(selection.selection_set.selections, own_type, nesting)
                inlined.append(_with_selections(selection, self._meet(inner, own_type, nesting)))
            else:
                inlined.append(selection)
        return inlined

    def _inline_type(
        self, fragment: InlineFragmentNode, parent: GraphQLCompositeType | None
    ) -> GraphQLCompositeType | None:
        condition = fragment.type_condition
        return parent if condition is None else self._named(condition)

    def _field_type(
        self, parent: GraphQLCompositeType | None, field: FieldNode
    ) -> GraphQLCompositeType | None:
        name = field.name.value
        definition: GraphQLField | None = None
        if parent is not None and parent is self.schema.query_type and name == "__schema":
            definition = SchemaMetaFieldDef
        elif parent is not None and parent is self.schema.query_type and name == "__type":
            definition = TypeMetaFieldDef
        elif isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            definition = parent.fields.get(name)
        return None if definition is None else _composite(get_named_type(definition.type))

    def _named(self, condition: NamedTypeNode) -> GraphQLCompositeType | None:
        return _composite(self.schema.get_type(condition.name.value))


def _composite(named: GraphQLNamedType | None) -> GraphQLCompositeType | None:
    if isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType):
        return named
    return None


def _names(parent: GraphQLCompositeType | None, condition: NamedTypeNode) -> bool:
    return parent is not None and parent.name == condition.name.value


def _spread_names(selections: Iterable[SelectionNode]) -> set[str]:
    """The fragments spread anywhere in ``selections`` (each shared subtree read once)."""
    names: set[str] = set()
    pending, seen = [selections], set()
    while pending:
        for selection in pending.pop():
            if isinstance(selection, FragmentSpreadNode):
                names.add(selection.name.value)
            elif (
                isinstance(selection, FieldNode | InlineFragmentNode)
                and selection.selection_set is not None
                and id(selection) not in seen
            ):
                seen.add(id(selection))
                pending.append(selection.selection_set.selections)
    return names


def simplify_document(document: DocumentNode, schema: GraphQLSchema) -> DocumentNode:
    """The document with its meeting fragment spreads inlined, and repeats merged.

    Several fragments spread in one selection are inlined (a lone spread stays). A
    fragment spread (or inline fragment) whose type condition is the type it is
    spread in always applies, so its fields are the enclosing selection's own, and
    merge as :func:`merge_identical_fields` merges siblings; a spread on another
    type becomes an inline fragment on that type. Execution's CollectFields takes
    the fields in the same order, so the response is the same. Validation then sees
    each field once: graphql-core's OverlappingFieldsCanBeMerged would otherwise
    compare every pair of the fragments (50 fragments of one ``__typename`` spread
    at the root: 1,225 pairs, 14 ms).

    Nothing is hidden from validation: every field of every fragment is still
    there, in the place it applies, and checked with the same parent type. A
    fragment whose spreads were all inlined is dropped; one never spread is kept
    (NoUnusedFragments refuses it), as are spreads with directives and of unknown
    fragments. A document with a fragment cycle or duplicate fragment names (which
    validation refuses), or nested deeper than ``_MAX_NESTING`` levels, is only
    merged, as :func:`merge_identical_fields` does.
    """
    fragments = fragments_of(document)
    if len(fragments) < sum(isinstance(d, FragmentDefinitionNode) for d in document.definitions):
        return merge_identical_fields(document)  # a name defined twice: validation refuses it
    inliner = _Inliner(schema, fragments)
    try:
        operations = {
            at: inliner.operation(definition)
            for at, definition in enumerate(document.definitions)
            if isinstance(definition, OperationDefinitionNode)
        }
        for name in fragments:  # those no operation spreads, too (validation reads them)
            inliner.form(name)
    except _NotInlined:
        return merge_identical_fields(document)
    kept = inliner.kept(operations.values())
    definitions: list[DefinitionNode] = []
    for at, definition in enumerate(document.definitions):
        if at in operations:
            definitions.append(operations[at])
        elif not isinstance(definition, FragmentDefinitionNode):
            definitions.append(definition)
        elif definition.name.value in kept:
            definitions.append(inliner.fragment(definition))
    return DocumentNode(definitions=tuple(definitions), loc=document.loc)
