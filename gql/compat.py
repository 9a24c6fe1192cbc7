"""The one place that reaches into Strawberry's and graphql-core's internals
(tests/unit/test_compat.py pins them).

The request pipeline parses, validates and caches documents itself, so it
executes a ready document with graphql-core against the schema Strawberry
built, the way ``strawberry.Schema.execute_sync`` does after its own parsing
and validation; and it parses with graphql-core's parser given a faster lexer.
An upgrade that moves these fails here, in one place.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, Awaitable, Callable, Collection
from contextvars import ContextVar
from functools import partial
from operator import attrgetter
from typing import Any, NamedTuple, TypeGuard, cast

import orjson
import strawberry
from graphql import (
    BREAK,
    SKIP,
    ASTValidationRule,
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLBoolean,
    GraphQLError,
    GraphQLField,
    GraphQLID,
    GraphQLLeafType,
    GraphQLList,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLSchema,
    GraphQLString,
    ParallelVisitor,
    Source,
    Token,
    TokenKind,
    TypeInfo,
    TypeInfoVisitor,
    Undefined,
    ValidationContext,
    Visitor,
    assert_valid_schema,
    execute,
    get_nullable_type,
    introspection_types,
    is_leaf_type,
    is_non_null_type,
    is_object_type,
    visit,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.execution.values import get_argument_values
from graphql.language import Lexer
from graphql.language.parser import Parser, nested_too_deeply_error
from graphql.language.visitor import EnterLeaveVisitor
from graphql.pyutils import Path
from graphql.validation.validate import (
    FragmentNestingVisitor,
    ValidationAbortedError,
    query_document_keys_to_validate,
)
from strawberry.execution import optimized_is_awaitable
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

from gql.fast_parser import Unparsed, parse_executable
from schemas.posts import JsonText

# Where Strawberry keeps a core field's own definition (GraphQLCoreConverter).
_DEFINITION_BACKREF = GraphQLCoreConverter.DEFINITION_BACKREF


class _Leaf(NamedTuple):
    """A leaf field (scalar or enum) read and coerced in the loop."""

    read: Callable[[Any], Any] | None  # None: __typename, the parent type's name as is
    coerce: Callable[[Any], Any]
    non_null: bool
    # The Python type that this scalar's coercion returns as it is (String and ID: str,
    # Boolean: bool): a value of exactly that type skips the call.
    as_is: type | None = None


class _Child(NamedTuple):
    """A field of an object type, or a list of one, read in the loop: its objects are
    completed at once when their type has no is_type_of check to run."""

    read: Callable[[Any], Any]
    field_type: GraphQLOutputType
    non_null: bool
    object_type: GraphQLObjectType | None  # None: the value goes graphql-core's way
    many: bool
    item_type: GraphQLOutputType  # of a list: its item type, as graphql-core locates errors
    item_non_null: bool


class _Plan(NamedTuple):
    """How an object's selection is completed: the response names in the selection's
    order, the leaves read in the loop, then the other fields, each a child read in the
    loop or (its child None) graphql-core's own path."""

    names: tuple[str, ...]
    leaves: tuple[tuple[str, _Leaf], ...]
    others: tuple[tuple[str, FieldDetailsList, _Child | None], ...]


_NO_PLAN = _Plan((), (), ())
# The plans shared by executions of one document (execute_document's ``plans``).
_SHARED_PLANS: ContextVar[dict[tuple[object, ...], _Plan] | None] = ContextVar(
    "shared_plans", default=None
)
_INTROSPECTION_TYPES = frozenset(introspection_types)
_FAILED = object()
# graphql-core's String and ID coercions return a str as it is, Boolean's a bool.
_AS_IS: dict[GraphQLLeafType, type] = {GraphQLString: str, GraphQLID: str, GraphQLBoolean: bool}


def _all_of_type(
    object_type: GraphQLObjectType, non_null: bool, items: Any, info: GraphQLResolveInfo[Any]
) -> bool:
    """Whether complete_object_value would take every item: none null where null is an
    error, each accepted by the type's ``is_type_of`` (a plain predicate, no side effect)."""
    is_type_of = object_type.is_type_of
    for item in items:
        if item is None:
            if non_null:
                return False
        elif is_type_of is not None and is_type_of(item, info) is not True:
            return False
    return True


class WireExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, writing a :class:`JsonText` leaf as it is, and
    completing the plain fields of an object's selection in one loop.

    A listed post's text is already its JSON literal; completed as an
    ``orjson.Fragment``, the response encoder copies it into the body as is, so
    the text is never a str again (schemas/posts.py says why that matters). Only
    String fields carry JsonText, so the type check graphql-core would do holds.

    The loop: graphql-core executes each field of each object alone (a path, a
    resolve info, the resolver, the completion by type, about 8 us): most of a
    cache miss of getPosts was that, for its 40 fields, and most of a new
    introspection query. A field whose value is plain data is read without a
    resolve info instead: one with Strawberry's default resolver (no resolver,
    no extension), one of graphql-core's introspection types (their resolvers
    take ``_info`` and ignore it; arguments are fixed per execution), and
    ``__typename``; a field with a directive is not read so. Leaves are
    coerced as graphql-core coerces them; objects whose type has no
    ``is_type_of`` (introspection's) are completed at once, lists of them item
    by item; the rest goes graphql-core's way, in the selection's order. A list
    of objects that a resolver returns (getPosts' posts) is completed item by
    item here too, once every item is of its type (``is_type_of``) and none is
    null where null is an error (measured: a getPosts miss of 10 posts, 304 us
    of CPU before, 286 after).
    Errors stay graphql-core's: if a leaf is null where null is an error,
    raises, or its coercion refuses the value, the object is completed the
    ordinary way before any other field ran (reading has no side effects); an
    error in a child is located and handled as execute_field handles it.
    No maintained library does this for graphql-core (graphql-jit is JavaScript's).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Per execution (arguments are fixed then), keyed as graphql-core keys its own
        # memo of sub-fields: by the identity of the field list, which it keeps alive.
        self._plans: dict[tuple[GraphQLObjectType, int], _Plan] = {}
        # Across executions of one document without variables (execute_document's
        # ``plans``): keyed by the type and the field nodes, which the document keeps.
        self._shared: dict[tuple[object, ...], _Plan] | None = _SHARED_PLANS.get()

    @staticmethod
    def complete_leaf_value(return_type: GraphQLLeafType, result: Any) -> Any:
        if type(result) is JsonText:
            return orjson.Fragment(result.literal)
        return StrawberryGraphQLCoreExecutionContext.complete_leaf_value(return_type, result)

    def collect_and_execute_subfields(
        self,
        return_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        plan = self._plan(return_type, field_details_list)
        completed: dict[str, Any] = dict.fromkeys(plan.names)
        if plan is _NO_PLAN or not _read_leaves(plan.leaves, return_type.name, result, completed):
            return super().collect_and_execute_subfields(
                return_type, field_details_list, path, result, position_context
            )
        for response_name, details, child in plan.others:
            field_path = Path(path, response_name, return_type.name)
            if child is not None:
                value = self._complete_child(child, details, field_path, result, position_context)
                if value is not _FAILED:
                    completed[response_name] = value
                    continue
            value = self.execute_field(return_type, result, details, field_path, position_context)
            if self.is_awaitable(value):
                raise TypeError("synchronous execution returned an awaitable")
            if value is Undefined:
                del completed[response_name]
            else:
                completed[response_name] = value
        return completed

    def _complete_child(
        self, child: _Child, details: FieldDetailsList, path: Path, source: Any, context: Any
    ) -> Any:
        """The completed field, or _FAILED to leave it to execute_field."""
        try:
            value = child.read(source)
        except Exception:  # noqa: BLE001 - execute_field raises it again, located
            return _FAILED
        if value is None:
            return _FAILED if child.non_null else None
        at_once = child.object_type is not None and (
            not child.many
            or (
                isinstance(value, list | tuple)
                and not (child.item_non_null and any(item is None for item in value))
            )
        )
        return self._complete_objects(child, details, path, value, context) if at_once else _FAILED

    def _complete_objects(
        self, child: _Child, details: FieldDetailsList, path: Path, value: Any, context: Any
    ) -> Any:
        """What execute_field completes for a child read in the loop, errors included."""
        object_type = cast("GraphQLObjectType", child.object_type)
        try:
            if not child.many:
                return self.collect_and_execute_subfields(
                    object_type, details, path, value, context
                )
            return self._complete_items(
                object_type, child.item_type, details, path, value, context=context
            )
        except Exception as error:  # noqa: BLE001 - as execute_field handles it
            self.handle_field_error(error, child.field_type, details, path)
            return None

    def _complete_items(
        self,
        object_type: GraphQLObjectType,
        item_type: GraphQLOutputType,
        details: FieldDetailsList,
        path: Path,
        value: list[Any] | tuple[Any, ...],
        *,
        context: Any,
    ) -> list[Any]:
        """A list of objects, item by item, each error as complete_list_item_value
        handles it (the caller has checked every item's type)."""
        items: list[Any] = []
        for index, item in enumerate(value):
            item_path = path.add_key(index, None)
            if item is None:
                items.append(None)
                continue
            try:
                items.append(
                    self.collect_and_execute_subfields(
                        object_type, details, item_path, item, context
                    )
                )
            except Exception as error:  # noqa: BLE001 - as complete_list_item_value
                self.handle_field_error(error, item_type, details, item_path)
                items.append(None)
        return items

    def complete_list_value(  # noqa: PLR0917 - graphql-core's signature
        self,
        return_type: GraphQLList[GraphQLOutputType],
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        """A list of objects returned by a resolver (getPosts' posts), completed item by
        item here rather than through complete_list_item_value, complete_value and
        complete_object_value for each; anything else, graphql-core's way. An item
        that is null where null is an error, or that its type's ``is_type_of``
        refuses, leaves the whole list to graphql-core before any item ran."""
        item_type = return_type.of_type
        object_type = get_nullable_type(item_type)
        if (
            type(result) not in (list, tuple)
            or not isinstance(object_type, GraphQLObjectType)
            or any(detail.node.directives for detail in field_details_list)  # @stream
            or not _all_of_type(object_type, is_non_null_type(item_type), result, info)
        ):
            return super().complete_list_value(
                return_type, field_details_list, info, path, result, position_context
            )
        return self._complete_items(
            object_type, item_type, field_details_list, path, result, context=position_context
        )

    def _plan(self, return_type: GraphQLObjectType, field_details_list: FieldDetailsList) -> _Plan:
        key = (return_type, id(field_details_list))
        plan = self._plans.get(key)
        if plan is None:
            shared = self._shared
            if shared is None:
                plan = self._plans[key] = self._new_plan(return_type, field_details_list)
                return plan
            nodes = (return_type, *[id(details.node) for details in field_details_list])
            plan = shared.get(nodes)
            if plan is None:
                plan = shared[nodes] = self._new_plan(return_type, field_details_list)
            self._plans[key] = plan
        return plan

    def _new_plan(
        self, return_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> _Plan:
        grouped, _defer_usages, _forbidden = self.collect_subfields(return_type, field_details_list)
        leaves, others = [], []
        for name, details in grouped.items():
            leaf, child = self._read_plainly(return_type, details)
            if leaf is not None:
                leaves.append((name, leaf))
            else:
                others.append((name, details, child))
        useful = leaves or any(child for _name, _details, child in others)
        return _Plan(tuple(grouped), tuple(leaves), tuple(others)) if useful else _NO_PLAN

    def _read_plainly(
        self, parent: GraphQLObjectType, details: FieldDetailsList
    ) -> tuple[_Leaf | None, _Child | None]:
        """How to read this field in the loop, or (None, None): graphql-core's path."""
        node = details[0].node
        if node.directives or any(d.fragment_variable_values for d in details):
            return None, None
        if node.name.value == "__typename":
            return _Leaf(None, str, True), None
        field_def = self.schema.get_field(parent, node.name.value)
        read = None if field_def is None else self._reader(parent, field_def, node)
        if field_def is None or read is None:
            return None, None
        field_type, non_null = get_nullable_type(field_def.type), is_non_null_type(field_def.type)
        if is_leaf_type(field_type):
            leaf = _Leaf(read, field_type.coerce_output_value, non_null, _AS_IS.get(field_type))
            return leaf, None
        many = isinstance(field_type, GraphQLList)
        item_type = cast("GraphQLOutputType", getattr(field_type, "of_type", field_type))
        object_type = get_nullable_type(item_type)
        at_once = (
            object_type if is_object_type(object_type) and object_type.is_type_of is None else None
        )
        if at_once is None and non_null:
            return None, None  # nothing to gain by reading it first: execute_field reads it
        child = _Child(
            read,
            field_def.type,
            non_null,
            at_once,
            many,
            item_type,
            is_non_null_type(item_type),
        )
        return None, child

    def _reader(
        self, parent: GraphQLObjectType, field_def: GraphQLField, node: FieldNode
    ) -> Callable[[Any], Any] | None:
        """A function of the source reading the field's value without a resolve info,
        or None if its resolver may need one."""
        resolver = field_def.resolve
        if getattr(resolver, "_is_default", False):  # Strawberry's resolver of a plain field
            definition = field_def.extensions.get(_DEFINITION_BACKREF)
            if definition is None or field_def.args:
                return None
            default, name = definition.default_resolver, definition.python_name
            return attrgetter(name) if default is getattr else partial(_call, default, name)
        if parent.name not in _INTROSPECTION_TYPES or resolver is None:
            return None
        code = getattr(resolver, "__code__", None)
        if code is None or code.co_argcount < 2 or code.co_varnames[1] != "_info":
            return None
        try:
            args = get_argument_values(field_def, node, self.variable_values)
        except Exception:  # noqa: BLE001 - graphql-core's path raises it, located
            return None
        return partial(resolver, _info=None, **args)


def _call(resolve: Callable[[Any, str], Any], name: str, source: Any) -> Any:
    return resolve(source, name)


def _read_leaves(
    leaves: tuple[tuple[str, _Leaf], ...], type_name: str, source: Any, into: dict[str, Any]
) -> bool:
    """Complete the leaves into ``into``; False to complete the object the ordinary way."""
    try:
        for response_name, (read, coerce, non_null, as_is) in leaves:
            if read is None:
                into[response_name] = type_name
                continue
            value = read(source)
            if type(value) is as_is:
                into[response_name] = value
            elif value is None or value is Undefined:
                if non_null:
                    return False
                into[response_name] = None
            elif type(value) is JsonText:
                into[response_name] = orjson.Fragment(value.literal)
            else:
                coerced = coerce(value)
                if coerced is None or coerced is Undefined:
                    return False
                into[response_name] = coerced
    except Exception:  # noqa: BLE001 - the ordinary completion raises it, located
        return False
    return True


def _never_async_iterable(_value: Any) -> TypeGuard[AsyncIterable[Any]]:
    return False  # synchronous execution: no subscriptions, no @stream


def core_schema(schema: strawberry.Schema) -> GraphQLSchema:
    """The graphql-core schema Strawberry built (private: ``Schema._schema``)."""
    core: GraphQLSchema = schema._schema
    return core


def execute_document(
    schema: strawberry.Schema,
    document: DocumentNode,
    *,
    variables: dict[str, Any] | None,
    operation_name: str | None,
    context: object,
    plans: dict[tuple[object, ...], Any] | None = None,
) -> ExecutionResult:
    """Execute a parsed, validated document synchronously, as Strawberry's execute_sync
    does. ``plans``: where executions of this very document keep how each object is
    completed (only for a document without variables, whose plans are then fixed)."""
    token = _SHARED_PLANS.set(plans)
    try:
        result = execute(
            core_schema(schema),
            document,
            context_value=context,
            variable_values=variables,
            operation_name=operation_name,
            executor_class=schema.execution_context_class,
            is_awaitable=cast("Callable[[Any], TypeGuard[Awaitable[Any]]]", optimized_is_awaitable),
            is_async_iterable=_never_async_iterable,
            operation_extensions=None,
        )
    finally:
        _SHARED_PLANS.reset(token)
    if not isinstance(result, ExecutionResult):  # an awaitable: a resolver was async
        raise TypeError("synchronous execution returned an awaitable")
    return result


# Validation: graphql-core's validate, with a ParallelVisitor that finds each rule's
# handlers for a kind of node once per process.

# Per (rule class, node kind): the names of its enter and leave handlers, or None.
_HANDLER_NAMES: dict[tuple[type, str], tuple[str | None, str | None]] = {}


def _handler_names(cls: type, kind: str) -> tuple[str | None, str | None]:
    key = (cls, kind)
    names = _HANDLER_NAMES.get(key)
    if names is None:
        enter = f"enter_{kind}" if getattr(cls, f"enter_{kind}", None) else "enter"
        leave = f"leave_{kind}" if getattr(cls, f"leave_{kind}", None) else "leave"
        names = _HANDLER_NAMES[key] = (
            enter if getattr(cls, enter, None) else None,
            leave if getattr(cls, leave, None) else None,
        )
    return names


class _ParallelVisitor(ParallelVisitor):
    """graphql-core's ParallelVisitor, the same calls in the same order, but each
    rule's handlers for a kind found by name once per process: graphql-core looks
    them up (and misses, mostly) for every rule and kind in every validation, as the
    rules are new each time. That was most of validating a small document (211 us
    of ``{ __typename }``, 81 after) and a third of the introspection query's."""

    def get_enter_leave_for_kind(self, kind: str) -> EnterLeaveVisitor:
        known = self.enter_leave_map.get(kind)
        if known is not None:
            return known
        enters: list[tuple[int, Callable[..., Any]]] = []
        leaves: list[tuple[int, Callable[..., Any] | None]] = []
        for i, visitor in enumerate(self.visitors):
            enter, leave = _handler_names(type(visitor), kind)
            if enter is not None:
                enters.append((i, getattr(visitor, enter)))
            leaves.append((i, getattr(visitor, leave) if leave is not None else None))
        if not enters and not any(fn for _i, fn in leaves):
            found = self.enter_leave_map[kind] = EnterLeaveVisitor(None, None)
            return found
        found = self.enter_leave_map[kind] = EnterLeaveVisitor(
            partial(_enter, self.skipping, tuple(enters)),
            partial(_leave, self.skipping, tuple(leaves)),
        )
        return found


def _enter(
    skipping: list[Any], enters: tuple[tuple[int, Callable[..., Any]], ...], *args: Any
) -> Any:
    # ParallelVisitor's enter, over the rules that have a handler.
    for i, fn in enters:
        if not skipping[i]:
            result = fn(*args)
            if result is None:
                continue
            if result is SKIP or result is False:
                skipping[i] = args[0]
            elif result is BREAK or result is True:
                skipping[i] = BREAK
            else:
                return result
    return None


def _leave(
    skipping: list[Any], leaves: tuple[tuple[int, Callable[..., Any] | None], ...], *args: Any
) -> Any:
    # ParallelVisitor's leave, over every rule (a skipping one is reset here).
    for i, fn in leaves:
        if not skipping[i]:
            if fn:
                result = fn(*args)
                if result is None:
                    continue
                if result is BREAK or result is True:
                    skipping[i] = BREAK
                elif result is not SKIP and result is not False:
                    return result
        elif skipping[i] is args[0]:
            skipping[i] = None
    return None


def validate_document(
    schema: GraphQLSchema,
    document: DocumentNode,
    rules: Collection[type[ASTValidationRule]],
    *,
    hide_suggestions: bool,
    max_errors: int = 100,
) -> list[GraphQLError]:
    """``graphql.validate(schema, document, rules, hide_suggestions=...)``, step for
    step (graphql-core 3.3's validate), with the ParallelVisitor above."""
    assert_valid_schema(schema)
    errors: list[GraphQLError] = []
    type_info = TypeInfo(schema)

    def on_error(error: GraphQLError) -> None:
        if len(errors) >= max_errors:
            msg = "Too many validation errors, error limit reached. Validation aborted."
            raise ValidationAbortedError(msg)
        errors.append(error)

    context = ValidationContext(schema, document, type_info, on_error, hide_suggestions)
    visitors: list[Visitor] = [rule(context) for rule in rules]
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    if fragments:
        visitors.insert(0, FragmentNestingVisitor(fragments))
    try:
        visit(
            document,
            TypeInfoVisitor(type_info, _ParallelVisitor(visitors)),
            query_document_keys_to_validate,
        )
    except ValidationAbortedError as error:
        error.__context__ = None
        errors.append(error.with_traceback(None))
    except RecursionError:
        errors.append(ValidationAbortedError("Validation aborted."))
    return errors


_NAME_CONTINUE = re.compile(r"[_0-9A-Za-z]*")  # the spec's NameContinue, any number


class _Lexer(Lexer):
    """graphql-core's lexer, reading the rest of a name with one regular expression.

    Names are most of a document's tokens, and graphql-core reads them a character
    at a time (a Python call per character): a tenth of parsing.
    """

    def read_name(self, start: int) -> Token:
        body = self.source.body
        match = _NAME_CONTINUE.match(body, start + 1)
        end = match.end() if match else start + 1
        return self.create_token(TokenKind.NAME, start, end, body[start:end])


def _unlink(token: Token | None) -> None:
    # The lexer links every token to the next and back: a cycle as long as the
    # document, which only the cycle collector would free. Cut, the tokens go with
    # the parser, by reference counting.
    following = token.next if token is not None else None
    while token is not None:
        previous = token.prev
        token.prev = token.next = None
        token = previous
    while following is not None:
        after = following.next
        following.prev = following.next = None
        following = after


def parse_document(source: str, *, max_tokens: int) -> DocumentNode:
    """``graphql.parse(source, no_location=True, max_tokens=max_tokens,
    allow_empty_selection_sets=False)``, for a sixth less CPU (names read by a
    regular expression, the tokens freed at once): the same document, the same
    syntax errors.

    Without locations: they cost a sixth of parsing, the dearest step of a new
    document, and errors still name their path (and the field, in the message).

    The documents that parse are parsed by ``gql.fast_parser`` (four times faster);
    graphql-core's parser takes what that one leaves, errors included.
    """
    try:
        return parse_executable(source, max_tokens=max_tokens)
    except Unparsed:
        pass
    text = Source(source)
    lexer = _Lexer(text)
    parser = Parser(
        text,
        no_location=True,
        max_tokens=max_tokens,
        allow_empty_selection_sets=False,
        lexer=lexer,
    )
    try:
        return parser.parse_document()
    except RecursionError:
        pass  # raised below, as graphql.parse does, once this handler is left
    finally:
        _unlink(lexer.token)
    raise nested_too_deeply_error(parser)
