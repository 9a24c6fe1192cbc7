"""Pins the Strawberry and graphql-core internals gql/compat.py relies on: an upgrade that
moves them fails here."""

from __future__ import annotations

import gc
import hashlib
from collections import deque
from datetime import UTC, datetime
from enum import Enum
from typing import Any, cast

import pytest
import strawberry
from graphql import (
    ExecutionResult,
    Executor,
    GraphQLSchema,
    GraphQLSyntaxError,
    Token,
    execute,
    get_introspection_query,
    introspection_types,
    parse,
    specified_rules,
    validate,
)
from strawberry.permission import BasePermission
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import Info

from gql.compat import (
    WireExecutionContext,
    core_schema,
    execute_document,
    parse_document,
    validate_document,
)
from gql.pipeline import get_pipeline
from gql.rules import validation_rules
from gql.schema import schema as app_schema
from tests.documents import GRAMMAR_CORPUS


class _Seen:
    permissions: list[str]

    def __init__(self) -> None:
        self.permissions = []


class OnlyAdmins(BasePermission):
    message = "admins only"

    def has_permission(self, source: Any, info: Info[Any, Any], **kwargs: Any) -> bool:
        context: dict[str, Any] = info.context
        context["seen"].permissions.append(info.field_name)
        return bool(context["admin"])


@strawberry.type
class Query:
    @strawberry.field
    def hello(self, info: Info[Any, Any], name: str = "world") -> str:
        context: dict[str, Any] = info.context
        return f"hello {name} from {context['who']}"

    @strawberry.field(permission_classes=[OnlyAdmins])
    def secret(self) -> str:
        return "42"

    @strawberry.field
    async def later(self) -> str:
        return "async"


TINY = strawberry.Schema(query=Query)


def run(source: str, **context: Any) -> Any:
    document = parse(source)
    assert validate(core_schema(TINY), document) == []
    return execute_document(TINY, document, variables=None, operation_name=None, context=context)


def test_strawberry_schema_keeps_its_graphql_core_schema_in_underscore_schema() -> None:
    assert isinstance(app_schema._schema, GraphQLSchema)
    assert core_schema(app_schema) is app_schema._schema
    assert core_schema(app_schema).query_type is not None
    assert core_schema(app_schema).query_type.name == "Query"


def test_strawberry_schema_names_its_graphql_core_executor_class() -> None:
    assert issubclass(app_schema.execution_context_class, Executor)
    assert issubclass(TINY.execution_context_class, Executor)


def test_execute_document_runs_a_resolver_with_arguments_and_the_context() -> None:
    result = run('{ hello(name: "compat") }', who="the test")
    assert result.errors is None
    assert result.data == {"hello": "hello compat from the test"}


def test_execute_document_uses_variables_and_the_operation_name() -> None:
    document = parse("query A { hello } query B($n: String!) { hello(name: $n) }")
    result = execute_document(
        TINY, document, variables={"n": "B"}, operation_name="B", context={"who": "me"}
    )
    assert result.data == {"hello": "hello B from me"}


def test_execute_document_runs_a_fields_permission_that_allows() -> None:
    seen = _Seen()
    result = run("{ secret }", admin=True, seen=seen)
    assert result.errors is None
    assert result.data == {"secret": "42"}
    assert seen.permissions == ["secret"]


def test_execute_document_runs_a_fields_permission_that_refuses() -> None:
    seen = _Seen()
    result = run("{ hello secret }", admin=False, seen=seen, who="x")
    assert result.data is None  # secret is non-null: the error nulls the whole data
    assert [error.message for error in result.errors or []] == ["admins only"]
    assert seen.permissions == ["secret"]


@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
def test_execute_document_refuses_an_async_resolver() -> None:
    with pytest.raises(TypeError, match="awaitable"):
        run("{ later }")


def test_execute_document_runs_the_app_schema() -> None:
    result = execute_document(
        app_schema,
        parse("{ __typename }"),
        variables=None,
        operation_name=None,
        context=None,
    )
    assert result.errors is None
    assert result.data == {"__typename": "Query"}


@pytest.mark.parametrize("source", GRAMMAR_CORPUS)
def test_parse_document_parses_as_graphql_core_does(source: str) -> None:
    expected = parse(source, no_location=True, max_tokens=1000, allow_empty_selection_sets=False)
    assert parse_document(source, max_tokens=1000) == expected


@pytest.mark.parametrize(
    "source",
    [
        "{ a ",
        "{ }",
        "{ a(x: 1.) }",
        '{ a(x: "unterminated) }',
        "{ a\u00e9 }",
        "{ a } }",
        "{ " + "a " * 20 + "}",  # over the token cap below
        "{ a" + " { a" * 300 + " }" * 301,  # nested too deeply
        "query { ..on Query { a } }",
    ],
)
def test_parse_document_refuses_as_graphql_core_does(source: str) -> None:
    with pytest.raises(GraphQLSyntaxError) as expected:
        parse(source, no_location=True, max_tokens=10, allow_empty_selection_sets=False)
    with pytest.raises(GraphQLSyntaxError) as refused:
        parse_document(source, max_tokens=10)
    assert refused.value.message == expected.value.message
    assert refused.value.positions == expected.value.positions


def _live_tokens() -> int:
    return sum(isinstance(thing, Token) for thing in gc.get_objects())


def test_parse_document_leaves_no_tokens_for_the_cycle_collector() -> None:
    source = get_introspection_query(descriptions=True)
    gc.collect()
    gc.disable()
    try:
        before = _live_tokens()
        document = parse_document(source, max_tokens=1000)
        assert _live_tokens() == before  # freed at once, by reference counting
        parse(source, no_location=True)  # graphql-core's own: a cycle of every token
        assert _live_tokens() > before + 100
    finally:
        gc.enable()
    assert document.definitions


# The execution's loop (WireExecutionContext): every answer the same as graphql-core's
# own path (Strawberry's execution context), errors and their paths included.


@strawberry.enum
class Mood(Enum):
    GLAD = "glad"
    SAD = "sad"


@strawberry.type
class Leafy:
    name: str
    nickname: str | None
    count: int
    ratio: float
    flag: bool
    mood: Mood
    when: datetime
    key: strawberry.ID
    tags: list[str]
    friend: Leafy | None = None
    friends: list[Leafy] = strawberry.field(default_factory=list)
    maybe_friends: list[Leafy | None] = strawberry.field(default_factory=list)

    @strawberry.field
    def shout(self, times: int = 1) -> str:
        return self.name.upper() * times

    @strawberry.field
    def broken(self) -> str | None:
        raise ValueError("broken resolver")


def _leafy(label: str, **overrides: Any) -> Leafy:
    values: dict[str, Any] = {
        "name": label,
        "nickname": None,
        "count": 3,
        "ratio": 0.5,
        "flag": True,
        "mood": Mood.GLAD,
        "when": datetime(2026, 11, 25, 10, 0, tzinfo=UTC),
        "key": strawberry.ID(f"id-{label}"),
        "tags": ["a", "b"],
    }
    values.update(overrides)
    return Leafy(**values)


@strawberry.type
class LeafyQuery:
    @strawberry.field
    def one(self, info: Info[Any, Any]) -> Leafy:
        return info.context["one"]  # type: ignore[no-any-return]

    @strawberry.field
    def many(self, info: Info[Any, Any]) -> list[Leafy]:
        return info.context["many"]  # type: ignore[no-any-return]


LEAFY = strawberry.Schema(query=LeafyQuery)
LEAF_DOCUMENTS = [
    "{ one { name nickname count ratio flag mood when key tags __typename } }",
    "{ many { n: name name n2: name __typename t: __typename } }",
    "{ one { name friend { name friend { name } } friends { name mood } } }",
    "{ one { maybeFriends { name } } }",
    "{ one { name shout(times: 2) key } many { shout name } }",
    "{ one { name broken count } }",
    "{ many { name broken } }",  # an item's error, at the item's path
    "query($x: Boolean!) { many { name @include(if: $x) count @skip(if: $x) flag } }",
    "{ one { ... on Leafy { name } ...F } } fragment F on Leafy { count name }",
]


def _both_ways(document: str, schema: strawberry.Schema = LEAFY, **context: Any) -> tuple[Any, Any]:
    parsed = parse(document)
    assert validate(core_schema(schema), parsed) == []
    results = []
    for executor in (WireExecutionContext, StrawberryGraphQLCoreExecutionContext):
        result = execute(
            core_schema(schema),
            parsed,
            context_value=context,
            variable_values={"x": True},
            executor_class=executor,
        )
        assert isinstance(result, ExecutionResult)
        results.append(
            (
                result.data,
                [(error.message, error.path) for error in result.errors or []],
            )
        )
    return results[0], results[1]


@pytest.mark.parametrize("document", LEAF_DOCUMENTS)
def test_the_leaf_loop_answers_as_graphql_core_does(document: str) -> None:
    friend = _leafy("bob", nickname="bobby")
    one = _leafy("ann", friend=_leafy("cat", friend=friend), friends=[friend, _leafy("dan")])
    one.maybe_friends = [friend, None]
    fast, slow = _both_ways(document, one=one, many=[one, friend])
    assert fast == slow
    assert fast[0] is not None


@pytest.mark.parametrize(
    ("overrides", "document"),
    [
        ({"name": None}, "{ many { name count } }"),  # null where null is an error
        ({"count": 2**40}, "{ many { count } }"),  # Int's coercion refuses it
        ({"count": "three"}, "{ one { name count } }"),
        ({"mood": "cheerful"}, "{ many { mood name } }"),  # not an enum value
        ({"friends": [None]}, "{ one { friends { name } } }"),  # a null item, non-null
        ({"friends": "nope"}, "{ one { friends { name } } }"),  # not a list
        ({"friend": 7}, "{ one { friend { name } } }"),  # not a Leafy (is_type_of)
        ({"tags": [None]}, "{ one { tags } }"),
    ],
)
def test_the_leaf_loop_fails_as_graphql_core_does(overrides: dict[str, Any], document: str) -> None:
    """Each a value graphql-core refuses: the same error, at the same path, the same
    data around it (the loop hands the object back to graphql-core's path)."""
    bad = _leafy("eve", **overrides)
    fast, slow = _both_ways(document, one=bad, many=[_leafy("ann"), bad])
    assert fast == slow
    assert fast[1], "the value was meant to be refused"


# A list of objects a resolver returns (getPosts' posts) is completed item by item in
# the loop (complete_list_value); its type has is_type_of, as every type that
# implements an interface has (Post, User).


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Tagged(Named):
    tag: str

    @strawberry.field
    def broken(self) -> str | None:
        raise ValueError("broken resolver")


@strawberry.type
class ListQuery:
    @strawberry.field
    def tagged(self, info: Info[Any, Any]) -> list[Tagged]:
        return info.context["tagged"]  # type: ignore[no-any-return]

    @strawberry.field
    def maybe_tagged(self, info: Info[Any, Any]) -> list[Tagged | None] | None:
        return info.context["tagged"]  # type: ignore[no-any-return]


LISTS = strawberry.Schema(query=ListQuery, types=[Tagged])
TAGGED = [Tagged(name="ann", tag="a"), Tagged(name="bob", tag="b")]


@pytest.mark.parametrize(
    ("tagged", "document"),
    [
        (TAGGED, "{ tagged { name tag __typename ... on Named { name } } }"),
        (tuple(TAGGED), "{ tagged { tag } }"),
        ([], "{ tagged { tag } }"),
        (TAGGED, "{ tagged { name broken } }"),  # each item's error at its own path
        ([TAGGED[0], None], "{ maybeTagged { name } }"),  # a null item where null is fine
        ([TAGGED[0], None], "{ tagged { name } }"),  # a null item where it is an error
        # null where null is an error, inside an item: the item, or the list, is null
        ([TAGGED[0], Tagged(name=None, tag="x")], "{ maybeTagged { tag name } }"),  # type: ignore[arg-type]
        ([TAGGED[0], Tagged(name=None, tag="x")], "{ tagged { tag name } }"),  # type: ignore[arg-type]
        ([TAGGED[0], _leafy("eve")], "{ tagged { name } }"),  # refused by is_type_of
        ([TAGGED[0], _leafy("eve")], "{ maybeTagged { name } }"),
        ("nope", "{ maybeTagged { name } }"),  # not a list
        (deque(TAGGED), "{ tagged { name } }"),  # another iterable: graphql-core's way
        (TAGGED, "query($x: Boolean!) { tagged @include(if: $x) { name } }"),
    ],
)
def test_a_resolvers_list_of_objects_completes_as_graphql_core_does(
    tagged: Any, document: str
) -> None:
    fast, slow = _both_ways(document, LISTS, tagged=tagged)
    assert fast == slow


def test_the_leaf_loop_answers_the_introspection_query_as_graphql_core_does() -> None:
    document = parse(get_introspection_query(descriptions=True, input_value_deprecation=True))
    fast, slow = (
        cast(
            "ExecutionResult",
            execute(core_schema(app_schema), document, executor_class=executor),
        )
        for executor in (WireExecutionContext, StrawberryGraphQLCoreExecutionContext)
    )
    assert fast.errors is None
    assert slow.errors is None
    assert fast.data == slow.data


def test_the_leaf_loop_reads_each_plain_field_without_graphql_cores_execute_field(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The point of the loop: only fields with resolvers of their own go field by field."""
    executed: list[str] = []
    original = WireExecutionContext.execute_field

    def counting(self: Any, parent_type: Any, source: Any, details: Any, *rest: Any) -> Any:
        executed.append(details[0].node.name.value)
        return original(self, parent_type, source, details, *rest)

    monkeypatch.setattr(WireExecutionContext, "execute_field", counting)
    one = _leafy("ann", friends=[_leafy("bob"), _leafy("cat")])
    fast, _slow = _both_ways(
        "{ one { name count mood friends { name when } shout } }", one=one, many=[]
    )
    assert fast[1] == []
    assert executed == ["one", "shout"]


@pytest.mark.parametrize("field", ["kind", "name"])
def test_the_loop_locates_an_error_in_a_list_item_as_graphql_core_does(
    monkeypatch: pytest.MonkeyPatch, field: str
) -> None:
    """Introspection's objects are completed at once, lists of them item by item: an
    error in one item (non-null ``kind``: it nulls the list's parents; nullable
    ``name``: only itself) is located and propagated as graphql-core does."""
    resolver = introspection_types["__Type"].fields[field].resolve  # type: ignore[union-attr]

    def failing_for_post(type_: Any, _info: Any) -> Any:
        if getattr(type_, "name", None) == "Post":
            raise ValueError("no kind for Post")
        return resolver(type_, _info)  # type: ignore[misc]

    fields = introspection_types["__Type"].fields  # type: ignore[union-attr]
    monkeypatch.setattr(fields[field], "resolve", failing_for_post)
    document = parse("{ __schema { types { name kind } } __typename }")
    fast, slow = (
        cast("ExecutionResult", execute(core_schema(app_schema), document, executor_class=e))
        for e in (WireExecutionContext, StrawberryGraphQLCoreExecutionContext)
    )
    assert fast.data == slow.data
    assert [(e.message, e.path) for e in fast.errors or []] == [
        (e.message, e.path) for e in slow.errors or []
    ]
    assert fast.errors


# Executions of one document without variables share how each object is completed
# (execute_document's ``plans``, kept with the prepared document by gql/pipeline.py).

LEAFY_WIRE = strawberry.Schema(query=LeafyQuery, execution_context_class=WireExecutionContext)


@pytest.mark.parametrize("document", [d for d in LEAF_DOCUMENTS if "$" not in d])
def test_executions_of_one_document_share_its_plans_and_answer_as_graphql_core_does(
    monkeypatch: pytest.MonkeyPatch, document: str
) -> None:
    """The second execution plans nothing, and each answers as graphql-core's own path
    does for its own data, a refused value the second time included."""
    planned: list[str] = []
    original = WireExecutionContext._new_plan

    def counting(self: Any, return_type: Any, details: Any) -> Any:
        planned.append(return_type.name)
        return original(self, return_type, details)

    monkeypatch.setattr(WireExecutionContext, "_new_plan", counting)
    parsed = parse(document)
    plans: dict[tuple[object, ...], Any] = {}
    friend = _leafy("bob", nickname="bobby")
    good = _leafy("ann", friend=_leafy("cat", friend=friend), friends=[friend, _leafy("dan")])
    bad = _leafy("eve", name=None, friend=_leafy("fay", count="three"), friends=[friend])
    for round_, one in enumerate((good, bad)):
        context = {"one": one, "many": [one, friend]}
        shared = execute_document(
            LEAFY_WIRE, parsed, variables=None, operation_name=None, context=context, plans=plans
        )
        stock = execute(
            core_schema(LEAFY),
            parsed,
            context_value=context,
            executor_class=StrawberryGraphQLCoreExecutionContext,
        )
        assert isinstance(stock, ExecutionResult)
        assert shared.data == stock.data
        assert [(e.message, e.path) for e in shared.errors or []] == [
            (e.message, e.path) for e in stock.errors or []
        ]
        if round_ == 0:
            assert planned, "the first execution plans its objects"
            assert len(plans) == len(planned)
            first = len(planned)
    assert len(planned) == first, "the second execution reuses every plan"


def test_a_document_with_variables_gets_no_shared_plans() -> None:
    """``@include(if: $x)`` selects other fields from one request to the next: its
    plans may not outlive an execution (gql/pipeline.py keeps none for it)."""
    pipeline = get_pipeline()
    with_variables = "query($x: Boolean!) { getPosts { id text @include(if: $x) } }"
    without = "{ getPosts { id text @include(if: true) } }"
    prepared = [
        pipeline.prepare(source, hashlib.sha256(source.encode()).hexdigest())
        for source in (with_variables, without)
    ]
    assert prepared[0].plans is None
    assert prepared[1].plans == {}


# validate_document: graphql-core's validate with handlers found once per rule class;
# the same errors, in the same order, with the same locations, on valid and invalid
# documents alike (rules that skip a subtree, an aborted validation included).

VALIDATED = [
    "{ __typename }",
    "query { getPosts { id text createdAt } }",
    get_introspection_query(descriptions=True),
    "{ nope getPosts { nope2 } }",
    "{ getPosts }",
    "{ ...F } fragment F on Query { ...G } fragment G on Query { ...F }",
    "{ ...Missing } fragment Unused on Query { __typename }",
    "query Q { __typename } query Q { __typename } { __typename }",
    "query($a: Int, $a: Int, $u: Post) { node(id: $b) @skip(if: $a) @skip(if: true) { id } }",
    "query($t: String) @skip(if: false) { getPosts(token: $t) { id text createdAt } }",
    "{ node(id: 1) { ... on Post { text } ... on User { text } } a: __typename a: getPosts { id } }",
    "mutation { addPost { postId } addPost(text: 1, nope: 2) { postId } }",
    "subscription { a b }",
    "type Query { a: Int } { __typename }",
    "{ " + "x " * 150 + "}",  # over a hundred errors: aborted
    "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }",
]


@pytest.mark.parametrize("source", VALIDATED)
def test_validate_document_reports_what_graphql_core_reports(source: str) -> None:
    document = parse(source)
    for rules in (specified_rules, validation_rules(explorer=False)):
        for hide in (False, True):
            ours = validate_document(
                core_schema(app_schema), document, rules, hide_suggestions=hide
            )
            theirs = validate(core_schema(app_schema), document, rules, hide_suggestions=hide)
            assert [(e.message, e.locations) for e in ours] == [
                (e.message, e.locations) for e in theirs
            ]
