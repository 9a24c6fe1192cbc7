"""Answer a document about the schema alone (``__schema``, ``__type``) by reading the
schema, without graphql-core's executor.

Why: such a document is answered the same for every caller, so the pipeline caches
its answer once per sequence of tokens; but a client can send a new one each time
(another alias, another operation name), and then executing it was the larger half
of its cost: 2.2 ms of 5.4 for the standard introspection query, against 0.65 ms for
a whole getPosts (issue 12 bounds any document at 10x). The executor's cost is per
object (paths, plans, error handling); introspection needs none of it: its
resolvers are pure functions of the schema, and nothing in it can fail.

How: the same resolvers (graphql-core's introspection resolvers take ``_info`` and
ignore it, as ``gql.compat`` already relies on), the same coercion of variables and
arguments (``get_variable_values``, ``get_argument_values``), the same collection of
fields (``@skip``/``@include``, fragments by type condition, fields merged by response
key in the order first seen) and the same coercion of leaves. Anything else (another
directive, a null where null is an error, any exception) answers ``None``, and the
executor answers instead, errors and all. ``tests/unit/test_introspection.py``
compares both on the standard queries and on generated documents.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any, cast

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLBoolean,
    GraphQLField,
    GraphQLID,
    GraphQLIncludeDirective,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSkipDirective,
    GraphQLString,
    InlineFragmentNode,
    OperationType,
    SchemaMetaFieldDef,
    SelectionNode,
    SelectionSetNode,
    TypeMetaFieldDef,
    Undefined,
    get_operation_ast,
    is_leaf_type,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values

__all__ = ["answer"]


class _Declined(Exception):
    """Left to the executor."""


def _identity(value: Any) -> Any:
    return value


def _schema(_source: None, info: _Info) -> GraphQLSchema:
    return info.schema  # graphql-core's MetaFields.schema


def _type(_source: None, info: _Info, *, name: str) -> Any:
    return info.schema.get_type(name)  # graphql-core's MetaFields.type


def _leaf(coerce: Callable[[Any], Any], as_is: type | None, value: Any) -> Any:
    if value is None:
        return None
    if as_is is not None and type(value) is as_is:
        return value
    coerced = coerce(value)
    if coerced is Undefined or coerced is None:
        raise _Declined  # graphql-core's error, located
    return coerced


def answer(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: dict[str, Any] | None,
) -> dict[str, Any] | None:
    """The ``data`` graphql-core's execution returns for a validated query whose
    root selects only ``__schema``, ``__type`` and ``__typename``, or None."""
    operation = get_operation_ast(document, operation_name)
    query_type = schema.query_type
    if operation is None or operation.operation != OperationType.QUERY or query_type is None:
        return None
    values = get_variable_values(schema, operation.variable_definitions or (), variables or {})
    if isinstance(values, list):
        return None  # the executor words the errors
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    reading = _Reading(schema, fragments, values)
    try:
        return reading.object(query_type, (operation.selection_set,), None)
    except Exception:  # noqa: BLE001 - whatever it is, the executor answers it
        return None


class _Info:
    """What graphql-core's introspection resolvers read of their resolve info: only
    ``__Type.possibleTypes`` reads anything, the schema."""

    __slots__ = ("schema",)

    def __init__(self, schema: GraphQLSchema) -> None:
        self.schema = schema


_Complete = Callable[[Any], Any]
# One field of a plan: response key, how to read it (None: __typename), its arguments,
# how to complete its value.
_Entry = tuple[str, Callable[..., Any] | None, dict[str, Any], _Complete]
# graphql-core's String and ID coercions return a str as it is, Boolean's a bool.
_AS_IS: dict[Any, type] = {GraphQLString: str, GraphQLID: str, GraphQLBoolean: bool}


class _Reading:
    """One document's reading: a plan per (type, selection sets), as the executor keeps
    one per field list; arguments are fixed once variables are."""

    __slots__ = ("fragments", "info", "plans", "schema", "values")

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        values: VariableValues,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.values = values
        self.info = _Info(schema)
        self.plans: dict[tuple[str, tuple[int, ...]], tuple[_Entry, ...]] = {}

    def object(
        self,
        type_: GraphQLObjectType,
        selection_sets: Sequence[SelectionSetNode],
        source: Any,
        key: tuple[str, tuple[int, ...]] | None = None,
    ) -> dict[str, Any]:
        if key is None:
            key = (type_.name, tuple(map(id, selection_sets)))
        plan = self.plans.get(key)
        if plan is None:
            plan = self.plans[key] = self._plan(type_, selection_sets)
        completed: dict[str, Any] = {}
        info = self.info
        for response_key, read, arguments, complete in plan:
            if read is None:
                completed[response_key] = type_.name
            else:
                completed[response_key] = complete(read(source, info, **arguments))
        return completed

    def _plan(
        self, type_: GraphQLObjectType, selection_sets: Sequence[SelectionSetNode]
    ) -> tuple[_Entry, ...]:
        entries: list[_Entry] = []
        for key, nodes in self._collect(type_, selection_sets).items():
            node = nodes[0]
            name = node.name.value
            if name == "__typename":
                entries.append((key, None, {}, _identity))
                continue
            field = self._field(type_, name)
            arguments = get_argument_values(field, node, self.values) if field.args else {}
            if field is SchemaMetaFieldDef:
                read: Callable[..., Any] = _schema
            elif field is TypeMetaFieldDef:
                read = _type
            else:
                read = cast("Callable[..., Any]", field.resolve)
            entries.append((key, read, arguments, self._completer(field.type, nodes)))
        return tuple(entries)

    def _field(self, type_: GraphQLObjectType, name: str) -> GraphQLField:
        if type_ is self.schema.query_type:
            if name == "__schema":
                return SchemaMetaFieldDef
            if name == "__type":
                return TypeMetaFieldDef
            raise _Declined  # a field of the app: not a document about the schema
        field: GraphQLField | None = type_.fields.get(name)
        if field is None or field.resolve is None:
            raise _Declined
        return field

    def _completer(self, type_: Any, nodes: list[FieldNode]) -> _Complete:
        """How to complete a value of ``type_``, as complete_value does (nothing in
        introspection fails: a null where null is an error declines)."""
        if isinstance(type_, GraphQLNonNull):
            inner = self._completer(type_.of_type, nodes)

            def non_null(value: Any) -> Any:
                if value is None:
                    raise _Declined  # graphql-core's error, located
                return inner(value)

            return non_null
        if isinstance(type_, GraphQLList):
            item = self._completer(type_.of_type, nodes)

            def items(value: Any) -> Any:
                if value is None:
                    return None
                if isinstance(value, str | bytes | dict):
                    raise _Declined
                return [item(each) for each in value]

            return items
        if is_leaf_type(type_):
            return partial(_leaf, type_.coerce_output_value, _AS_IS.get(type_))
        if not isinstance(type_, GraphQLObjectType):
            raise _Declined  # abstract types: none in introspection
        selection_sets = tuple(node.selection_set for node in nodes if node.selection_set)
        key = (type_.name, tuple(map(id, selection_sets)))
        read = self.object

        def object_(value: Any) -> Any:
            return None if value is None else read(type_, selection_sets, value, key)

        return object_

    def _collect(
        self, type_: GraphQLObjectType, selection_sets: Iterable[SelectionSetNode]
    ) -> dict[str, list[FieldNode]]:
        """graphql-core's collect_fields: response key -> its field nodes, in order."""
        fields: dict[str, list[FieldNode]] = {}
        visited: set[str] = set()

        def collect(selection_set: SelectionSetNode) -> None:
            for selection in selection_set.selections:
                if selection.directives and not self._included(selection):
                    continue
                if isinstance(selection, FieldNode):
                    key = selection.alias.value if selection.alias else selection.name.value
                    fields.setdefault(key, []).append(selection)
                elif isinstance(selection, InlineFragmentNode):
                    if self._applies(selection.type_condition, type_):
                        collect(selection.selection_set)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = self.fragments[name]
                    if name in visited or not self._applies(fragment.type_condition, type_):
                        continue
                    visited.add(name)
                    collect(fragment.selection_set)
                else:
                    raise _Declined

        for selection_set in selection_sets:
            collect(selection_set)
        return fields

    def _applies(self, condition: Any, type_: GraphQLObjectType) -> bool:
        if condition is None:
            return True
        named = self.schema.get_type(condition.name.value)
        if named is type_:
            return True
        if isinstance(named, GraphQLObjectType):
            return False
        raise _Declined  # an abstract condition: the executor decides

    def _included(self, node: SelectionNode) -> bool:
        """@skip and @include, as graphql-core's should_include_node reads them."""
        included = True
        for directive in node.directives or ():
            name = directive.name.value
            if name == GraphQLSkipDirective.name:
                arguments = get_argument_values(GraphQLSkipDirective, directive, self.values)
                included = included and arguments["if"] is not True
            elif name == GraphQLIncludeDirective.name:
                arguments = get_argument_values(GraphQLIncludeDirective, directive, self.values)
                included = included and arguments["if"] is not False
            else:
                raise _Declined  # @defer, @stream and the like: the executor's
        return included
