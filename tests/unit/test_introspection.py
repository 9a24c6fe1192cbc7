"""gql.introspection answers a document about the schema exactly as execution does.

The rule under test: for every valid document whose root selects only ``__schema``,
``__type`` and ``__typename``, ``answer`` returns the very ``data`` the executor
returns (same keys, same order, same values), or None; and None for every request
the executor answers with errors.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from typing import Any

import pytest
from graphql import (
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    get_named_type,
    introspection_types,
    is_leaf_type,
    validate,
)

from gql.compat import core_schema, execute_document, parse_document
from gql.introspection import answer
from gql.rules import simplify_document, validation_rules
from gql.schema import schema
from tests.documents import INTROSPECTION_QUERIES

CORE = core_schema(schema)
RULES = validation_rules(explorer=True)


def executed(document: Any, operation: str | None, variables: dict[str, Any] | None) -> Any:
    result = execute_document(
        schema, document, variables=variables, operation_name=operation, context=None
    )
    return result.data if not result.errors else None


def prepared(source: str) -> Any:
    document = simplify_document(parse_document(source, max_tokens=5000), CORE)
    errors = validate(CORE, document, RULES)
    return None if errors else document


def assert_answers_as_executed(
    source: str, operation: str | None = None, variables: dict[str, Any] | None = None
) -> str:
    """ "answered" (what execution answers), "declined", or "errors" (execution's
    answer has errors, and this one declined)."""
    document = prepared(source)
    assert document is not None, source
    expected = executed(document, operation, variables)
    read = answer(CORE, document, operation, variables)
    if expected is None:
        assert read is None, source
        return "errors"
    if read is None:
        return "declined"
    # Same keys in the same order, as the encoded response shows.
    assert json.dumps(read) == json.dumps(expected), source
    return "answered"


@pytest.mark.parametrize("source", INTROSPECTION_QUERIES, ids=["plain", "descriptions", "all"])
def test_the_standard_introspection_queries_are_read_from_the_schema(source: str) -> None:
    assert assert_answers_as_executed(source) == "answered"


@pytest.mark.parametrize(
    ("source", "variables"),
    [
        ("{ __typename __schema { queryType { name } } }", None),
        (
            '{ __type(name: "Post") { name kind fields { name type { kind ofType { name } } } } }',
            None,
        ),
        ('{ __type(name: "Nothing") { name } }', None),
        ("query ($n: String!) { __type(name: $n) { name } }", {"n": "User"}),
        ("query ($n: String!) { __type(name: $n) { name } }", {"n": "Missing"}),
        (
            'query ($d: Boolean = false) { __type(name: "Query") '
            "{ fields(includeDeprecated: $d) { name isDeprecated } } }",
            {"d": True},
        ),
        (
            "query ($s: Boolean!) { __schema { a: types @skip(if: $s) { name } "
            "b: queryType @include(if: $s) { name } } }",
            {"s": True},
        ),
        (
            "{ __schema { queryType { ...N d: description } ... on __Schema { queryType "
            "{ kind ...N } } } } fragment N on __Type { name __typename }",
            None,
        ),
    ],
)
def test_selections_variables_directives_and_fragments_answer_as_executed(
    source: str, variables: dict[str, Any] | None
) -> None:
    assert assert_answers_as_executed(source, variables=variables) == "answered"


@pytest.mark.parametrize(
    ("source", "variables"),
    [
        # Variables the executor refuses: it answers with errors, so this declines.
        ("query ($n: String!) { __type(name: $n) { name } }", {}),
        ("query ($n: String!) { __type(name: $n) { name } }", {"n": 5}),
        # A directive it does not read: the executor's.
        ("{ __schema @defer { queryType { name } } }", None),
    ],
)
def test_what_the_executor_refuses_or_it_does_not_read_is_declined(
    source: str, variables: dict[str, Any] | None
) -> None:
    document = parse_document(source, max_tokens=1000)
    assert answer(CORE, document, None, variables) is None


def test_a_field_of_the_app_is_declined() -> None:
    document = parse_document("{ __typename getPosts { id } }", max_tokens=1000)
    assert answer(CORE, document, None, None) is None


# Generated documents: random selections over the introspection types, with aliases,
# __typename, inline fragments, named fragments, @skip/@include and arguments as
# literals or variables, each checked against execution.

LISTS = {"fields", "interfaces", "possibleTypes", "enumValues", "inputFields", "args"}


def _selection(
    rng: random.Random, type_: GraphQLObjectType, depth: int, lists: int, fragments: list[str]
) -> str:
    parts = []
    names = list(type_.fields)
    for name in rng.sample(names, rng.randint(1, min(4, len(names)))):
        field = type_.fields[name]
        named = get_named_type(field.type)
        nested = lists + (name in LISTS)
        if not is_leaf_type(named) and (depth > 4 or nested > 2):
            continue
        alias = rng.choice(["", "", f"x{rng.randint(0, 3)}: "])
        arguments = ""
        if "includeDeprecated" in field.args:
            arguments = rng.choice(
                [
                    "",
                    "(includeDeprecated: true)",
                    "(includeDeprecated: false)",
                    "(includeDeprecated: $dep)",
                ]
            )
        directive = rng.choice(["", "", "", " @skip(if: $flag)", " @include(if: true)"])
        sub = ""
        if not is_leaf_type(named):
            assert isinstance(named, GraphQLObjectType)
            sub = " { " + _selection(rng, named, depth + 1, nested, fragments) + " }"
        parts.append(f"{alias}{name}{arguments}{directive}{sub}")
    if rng.random() < 0.3:
        parts.append("__typename")
    if rng.random() < 0.2:
        parts.append(f"... on {type_.name} {{ __typename }}")
    if type_.name == "__Type" and rng.random() < 0.3:
        fragments.append(f"fragment T{len(fragments)} on __Type {{ name kind }}")
        parts.append(f"...T{len(fragments) - 1}")
    rng.shuffle(parts)
    return " ".join(parts) or "__typename"


def _document(rng: random.Random) -> str:
    fragments: list[str] = []
    roots = []
    if rng.random() < 0.7:
        roots.append(
            "__schema { " + _selection(rng, introspection_types["__Schema"], 1, 0, fragments) + " }"
        )
    if rng.random() < 0.5 or not roots:
        name = rng.choice(['"Post"', '"User"', '"Query"', '"Missing"', '"String"', "$name"])
        roots.append(
            f"__type(name: {name}) {{ "
            + _selection(rng, introspection_types["__Type"], 1, 0, fragments)
            + " }"
        )
    if rng.random() < 0.3:
        roots.append("__typename")
    body = " { " + " ".join(roots) + " } " + " ".join(fragments)
    declared = {"dep": "Boolean = false", "flag": "Boolean = false", "name": 'String = "Post"'}
    used = [f"${name}: {type_}" for name, type_ in declared.items() if f"${name}" in body]
    return "query" + (f" ({', '.join(used)})" if used else "") + body


GENERATED = int(os.environ.get("INTROSPECTION_EXAMPLES", "300"))


def test_generated_documents_about_the_schema_answer_as_executed() -> None:
    rng = random.Random(20261125)
    outcomes: Counter[str] = Counter()
    for _ in range(GENERATED):
        source = _document(rng)
        if prepared(source) is None:
            continue  # invalid as generated (for instance too deep): not the point here
        variables = rng.choice(
            [None, {"dep": True}, {"flag": True, "name": "User"}, {"name": "Missing"}]
        )
        outcomes[assert_answers_as_executed(source, variables=variables)] += 1
    # Errors: isOneOf on a wrapping type fails in execution (Strawberry reads its
    # extensions), and so it does here.
    assert outcomes["answered"] >= GENERATED // 2, outcomes
    assert outcomes["declined"] == 0, outcomes


def test_the_lists_it_completes_are_lists_of_the_schema() -> None:
    # A guard on the generator above: it reaches every introspection type.
    seen = set()
    for type_ in introspection_types.values():
        if isinstance(type_, GraphQLObjectType):
            for field in type_.fields.values():
                inner = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
                if isinstance(inner, GraphQLList):
                    seen.add(get_named_type(inner).name)
    assert {"__Type", "__Field", "__InputValue", "__EnumValue", "__Directive"} <= seen
