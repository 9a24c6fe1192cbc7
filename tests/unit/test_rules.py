"""The document rules the pipeline runs before validation: counting fields, inlining the
fragments that meet and merging repeats."""

from __future__ import annotations

import json
from typing import Any

import pytest
from graphql import (
    DocumentNode,
    GraphQLSchema,
    build_schema,
    execute,
    get_introspection_query,
    parse,
    print_ast,
    specified_rules,
    validate,
)
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from gql.compat import core_schema
from gql.rules import (
    _field_key,
    count_fields,
    measure,
    merge_identical_fields,
    repeated_expensive_fields,
    simplify_document,
    validation_rules,
)
from gql.schema import schema


def merged(source: str) -> str:
    return print_ast(merge_identical_fields(parse(source)))


def test_repeated_identical_leaf_fields_are_selected_once() -> None:
    assert merged("{ __typename __typename __typename }") == "{\n  __typename\n}"


def test_repeated_fields_with_selections_are_joined_into_one() -> None:
    source = "{ viewer { id } viewer { email } viewer { id } }"
    assert merged(source) == "{\n  viewer {\n    id\n    email\n  }\n}"


@pytest.mark.parametrize(
    "source",
    [
        "{ a: __typename b: __typename }",  # different response names
        "{ viewer { posts(first: 1) { totalCount } posts(first: 2) { totalCount } } }",
        "{ __typename @include(if: true) __typename @skip(if: true) }",
    ],
)
def test_fields_that_differ_are_kept_apart(source: str) -> None:
    assert merged(source) == print_ast(parse(source))


def test_merging_keeps_a_real_conflict_for_validation_to_refuse() -> None:
    document = merge_identical_fields(
        parse("{ viewer { posts(first: 1) { totalCount } posts(first: 2) { totalCount } } }")
    )
    errors = validate(core_schema(schema), document)
    assert any("conflict" in error.message for error in errors)


def test_fragment_definitions_are_merged_too() -> None:
    source = "query { ...F } fragment F on Query { __typename __typename }"
    assert "__typename\n  __typename" not in merged(source)


def test_count_fields_counts_repeats_typename_and_every_spread() -> None:
    assert count_fields(parse("{ __typename __typename }"), 500) == 2
    spread = "query { ...F ...F } fragment F on Query { __typename viewer { id } }"
    # Two spreads of a 3-field fragment (a used fragment is counted per spread only).
    assert count_fields(parse(spread), 500) == 6


def test_count_fields_stops_early_on_exponential_spreads() -> None:
    fragments = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(40))
    source = "query { ...F0 } " + fragments + " fragment F40 on Query { __typename }"
    assert count_fields(parse(source), 500) > 500


@pytest.mark.parametrize(
    ("source", "depth"),
    [
        ("{ __typename }", 0),
        ("{ viewer { id } }", 1),
        ("{ viewer { posts { edges { node { id } } } } }", 4),
        ("query { ...F } fragment F on Query { viewer { posts { totalCount } } }", 2),
        ("{ __schema { types { fields { name } } } }", 0),  # introspection is not counted
    ],
)
def test_measure_counts_depth_as_strawberrys_limiter_does(source: str, depth: int) -> None:
    assert measure(parse(source), 500).depth == depth


def test_measure_counts_aliases_per_spread() -> None:
    source = "query { ...F ...F } fragment F on Query { a: __typename b: __typename }"
    assert measure(parse(source), 500).aliases == 4


def test_measure_reads_nested_spreads_once_each() -> None:
    fragments = ["fragment F0 on Query { viewer { id } }"]
    fragments += [f"fragment F{n} on Query {{ ...F{n - 1} ...F{n - 1} }}" for n in range(1, 30)]
    shape = measure(parse("query { ...F29 } " + " ".join(fragments)), 10**12)
    assert shape.fields == 2 * 2**29  # counted without expanding 2**29 spreads
    assert shape.depth == 1


# Inlining the fragments that meet (simplify_document)

PETS = build_schema(
    """
    interface Named { name: String! }
    type Dog implements Named { name: String! barks: Boolean! friends: [Named!]! }
    type Cat implements Named { name: String! meows: Boolean! friends: [Named!]! }
    type Person { name: String! pet: Pet }
    union Pet = Dog | Cat
    type Query { pets: [Pet!]! named: [Named!]! me: Person greeting(name: String = "you"): String! }
    """
)
REX = {"__typename": "Dog", "name": "Rex", "barks": True, "friends": []}
TOM = {"__typename": "Cat", "name": "Tom", "meows": False, "friends": [REX]}
ROOT = {
    "pets": [REX, TOM],
    "named": [TOM, REX],
    "me": {"name": "Ann", "pet": TOM},
    "greeting": lambda _info, name="you": f"hello {name}",
}


def simplified(source: str, on: GraphQLSchema = PETS) -> str:
    return print_ast(simplify_document(parse(source), on))


def response(document: DocumentNode, variables: dict[str, Any] | None = None) -> str:
    """The response as JSON text, keys in the order GraphQL gives them."""
    assert validate(PETS, document) == []
    result = execute(PETS, document, root_value=ROOT, variable_values=variables)
    assert result.errors is None, result.errors
    return json.dumps(result.data)


FIFTY_FRAGMENTS = (
    "{ "
    + " ".join(f"...F{n}" for n in range(50))
    + " } "
    + " ".join(f"fragment F{n} on Query {{ " + "__typename " * 10 + "}" for n in range(50))
)


def test_fragments_spread_together_are_inlined_and_merged_into_one_field() -> None:
    assert simplified(FIFTY_FRAGMENTS, core_schema(schema)) == "{\n  __typename\n}"


def test_fragments_that_meet_through_joined_fields_are_inlined_too() -> None:
    source = (
        "{ me { ...P } me { ...Q } } "
        "fragment P on Person { name pet { ...D } } fragment Q on Person { pet { ...C } } "
        "fragment D on Dog { barks } fragment C on Cat { meows }"
    )
    assert simplified(source) == print_ast(
        parse("{ me { name pet { ... on Dog { barks } ... on Cat { meows } } } }")
    )


def test_spreads_on_another_type_become_inline_fragments_joined_when_adjacent() -> None:
    source = "{ pets { ...D ...E ...C } } " + (
        "fragment D on Dog { name } fragment E on Dog { barks name } fragment C on Cat { meows }"
    )
    assert simplified(source) == print_ast(
        parse("{ pets { ... on Dog { name barks } ... on Cat { meows } } }")
    )


def test_a_lone_spread_is_left_as_written() -> None:
    # One spread costs validation one comparison; inlining it would only copy it.
    source = (
        "{ me { ...P } pets { ...D } } fragment P on Person { name } fragment D on Dog { name }"
    )
    assert simplified(source) == print_ast(parse(source))
    introspection = parse(get_introspection_query(descriptions=True))
    assert simplify_document(introspection, PETS) == merge_identical_fields(introspection)


EQUIVALENT = [
    FIFTY_FRAGMENTS.replace("__typename", "greeting", 1),
    "{ greeting ...A me { name } ...B } fragment A on Query { pets { ...D ...C } } "
    "fragment B on Query { greeting named { name } } "
    "fragment D on Dog { barks name } fragment C on Cat { name meows }",
    "{ pets { __typename ...N ...D } named { ...N ... on Dog { barks } ...C } } "
    "fragment N on Named { name } fragment D on Dog { friends { ...N } } "
    "fragment C on Cat { meows friends { __typename ...N } }",
    "query($no: Boolean = false) { ...A @include(if: $no) ...B ...C } "
    "fragment A on Query { greeting } fragment B on Query { me { name } } "
    "fragment C on Query { me { pet { __typename } } }",
    '{ a: greeting(name: "a") ...A ...B } '
    'fragment A on Query { b: greeting(name: "b") a: greeting(name: "a") } '
    "fragment B on Query { c: me { name } }",
    "{ me { ...P } me { ...Q } } "
    "fragment P on Person { name pet { ...D } } fragment Q on Person { pet { ...C } } "
    "fragment D on Dog { barks } fragment C on Cat { meows }",
    "{ ... on Query { greeting } me { name } ... on Query { greeting me { pet { __typename } } } }",
    "{ ...A ...A } fragment A on Query { ...B ...C } "
    "fragment B on Query { me { name } } fragment C on Query { greeting }",
    "{ ...W0 ...W1 greeting } fragment W0 on Query { ...X0 } fragment W1 on Query { ...X1 } "
    "fragment X0 on Query { me { name } } fragment X1 on Query { named { name } }",
    '{ __schema { types { ...T ...K } } __type(name: "Dog") { ...T } } '
    "fragment T on __Type { name fields { name } } fragment K on __Type { kind name }",
]


@pytest.mark.parametrize("source", EQUIVALENT)
def test_a_simplified_document_validates_and_answers_exactly_as_written(source: str) -> None:
    document = parse(source)
    simpler = simplify_document(document, PETS)
    assert print_ast(simpler) != print_ast(merge_identical_fields(document))  # inlined
    assert response(simpler) == response(document)


INVALID = [
    "{ ...A ...B } fragment A on Query { greeting } fragment B on Query { nope }",
    "{ ...A ...B } fragment A on Query { greeting } fragment B on Query { greeting } "
    "fragment Unused on Query { greeting }",
    "{ ...A ...Missing } fragment A on Query { greeting }",
    "{ ...A ...B } fragment A on Query { ...B } fragment B on Query { ...A }",
    "{ ...A ...A } fragment A on Query { ...A }",
    "{ ...A ...A } fragment A on Query { greeting } fragment A on Query { me { name } }",
    "{ ...A ...B } fragment A on Query { greeting } fragment B on String { length }",
    "{ ...A ...B } fragment A on Query { greeting } fragment B on Nope { x }",
    "{ me { ...A ...B } } fragment A on Person { name } fragment B on Dog { barks }",
    '{ ...A ...B } fragment A on Query { x: greeting(name: "a") } '
    'fragment B on Query { x: greeting(name: "b") }',
    "{ ...A ...B } fragment A on Query { greeting(name: $n) } fragment B on Query { me { name } }",
    "query($n: String) { ...A ...B } fragment A on Query { greeting } "
    "fragment B on Query { me { name } }",
    "query($n: Int) { ...A ...B } fragment A on Query { greeting(name: $n) } "
    "fragment B on Query { me { name } }",
    "{ ...A ...B } fragment A on Query { me } fragment B on Query { greeting }",
    "{ ...A ...B } fragment A on Query { greeting @skip(if: true) @skip(if: false) } "
    "fragment B on Query { greeting }",
    "{ pets { ...D ...E } } fragment D on Dog { name } fragment E on Dog { name: barks }",
]


@pytest.mark.parametrize("source", INVALID)
def test_a_simplified_invalid_document_is_still_refused(source: str) -> None:
    document = parse(source)
    assert validate(PETS, document) != []
    assert validate(PETS, simplify_document(document, PETS)) != []


def test_a_document_nested_too_deeply_to_inline_is_merged_as_written() -> None:
    # Each fragment nests its successor 20 levels down, next to a second spread.
    count, levels = 15, 20
    fragments = [
        f"fragment F{n} on __Type {{ "
        + "ofType { " * levels
        + (f"...F{n + 1} ...K" if n + 1 < count else "name")
        + " }" * levels
        + " }"
        for n in range(count)
    ]
    source = "{ __schema { types { ...F0 ...K } } } fragment K on __Type { kind } " + " ".join(
        fragments
    )
    document = parse(source)
    assert simplify_document(document, PETS) == merge_identical_fields(document)


def test_expensive_fields_are_counted_through_fragments_before_inlining() -> None:
    source = "{ ...A ... on Query { getPosts { id } } } fragment A on Query { getPosts { id } }"
    assert repeated_expensive_fields(parse(source)) == ["getPosts"]
    assert repeated_expensive_fields(parse("{ viewer { id } a: viewer { id } }")) == ["viewer"]
    # Identical siblings are one field, as merging leaves them (and GraphQL runs them).
    assert repeated_expensive_fields(parse("{ getPosts { id } getPosts { text } }")) == []
    assert (
        repeated_expensive_fields(
            parse("query { ...A ...A } fragment A on Query { viewer { id } }")
        )
        == []
    )


# The rules skipped where they cannot find anything: a text without '$' has no
# variables, one without '@' no directives. Each document below breaks one of those
# rules, so each is refused by the rule set the pipeline picks for its text.
BREAKS_A_VARIABLE_OR_DIRECTIVE_RULE = [
    "query($a: Int) { __typename }",  # NoUnusedVariables
    "query { posts: getPosts(token: $t) { id } }",  # NoUndefinedVariables
    "query($a: Int, $a: Int) { x: __typename y: getPosts(token: $a) { id } }",
    "query($t: Int) { getPosts(token: $t) { id } }",  # VariablesInAllowedPosition
    "query($t: Post) { __typename }",  # VariablesAreInputTypes
    "{ __typename @unknown }",  # KnownDirectives
    "{ __typename @skip(if: true) @skip(if: false) }",  # UniqueDirectivesPerLocation
    "{ getPosts @stream { id } }",
]


@pytest.mark.parametrize("source", BREAKS_A_VARIABLE_OR_DIRECTIVE_RULE)
def test_the_rules_kept_for_a_text_still_refuse_what_they_must(source: str) -> None:
    rules = validation_rules(explorer=True, variables="$" in source, directives="@" in source)
    full = validation_rules(explorer=True)
    document = parse(source)
    assert validate(core_schema(schema), document, full), "meant to be invalid"
    assert [e.message for e in validate(core_schema(schema), document, rules)] == [
        e.message for e in validate(core_schema(schema), document, full)
    ]


def test_a_text_without_dollar_or_at_skips_exactly_the_rules_about_them() -> None:
    full = set(validation_rules(explorer=True))
    skipped = full - set(validation_rules(explorer=True, variables=False, directives=False))
    assert {rule.__name__ for rule in skipped} == {
        "UniqueVariableNamesRule",
        "VariablesAreInputTypesRule",
        "NoUndefinedVariablesRule",
        "NoUnusedVariablesRule",
        "VariablesInAllowedPositionRule",
        "KnownDirectivesRule",
        "UniqueDirectivesPerExecutableLocation",
        "VariableUsagesAlongVariables",
        "DeferStreamDirectiveOnRootField",
        "DeferStreamDirectiveOnValidOperationsRule",
        "DeferStreamDirectiveLabel",
        "StreamDirectiveOnListField",
    }
    # Without '$' or '@', no document can break a skipped rule: the valid and invalid
    # documents of the other rules are judged alike.
    for source in ["{ nope }", "{ getPosts }", "{ __typename ...F }", "{ getPosts { id } }"]:
        assert "$" not in source
        assert "@" not in source
        document = parse(source)
        reduced = validation_rules(explorer=True, variables=False, directives=False)
        assert [e.message for e in validate(core_schema(schema), document, reduced)] == [
            e.message for e in validate(core_schema(schema), document, list(full))
        ]


# The two rules replaced by cheaper ones (VariableUsagesAlongVariables gives the
# variable rules a walk along the variables only; UniqueDirectivesPerExecutableLocation
# enters only the nodes that carry directives): the same errors, in the same order,
# as graphql-core's rule set, on documents that break every rule about variables and
# directives, at every place a variable or a directive can stand.

GRAPHQL_CORE_RULES = (*specified_rules, MaybeNullValidationRule, OneOfInputValidationRule)

ABOUT_VARIABLES_AND_DIRECTIVES = [
    *BREAKS_A_VARIABLE_OR_DIRECTIVE_RULE,
    "query($a: Boolean, $b: ID!) { node(id: $b) @include(if: $a) { id } }",
    "query($a: Boolean) { node(id: $b) @include(if: $a) { id } }",
    "query($a: Boolean, $u: Int) { ...F @skip(if: $a) } fragment F on Query { nodes(ids: [$b]) { id } }",
    "query($a: Boolean) { ... on Query @skip(if: $a) @skip(if: $a) { __typename } }",
    "query($a: Boolean) @skip(if: $a) @skip(if: $a) { __typename }",
    "query($a: Boolean @skip(if: true) @skip(if: true)) { __typename @include(if: $a) }",
    "query { ...F } fragment F on Query @skip(if: true) @skip(if: false) { __typename }",
    "query { ...F @include(if: true) @include(if: true) } fragment F on Query { __typename }",
    "query($n: String!) { __type(name: $n) { fields(includeDeprecated: $d) { name } } }",
    'query($d: Boolean = true) { __type(name: "Post") { fields(includeDeprecated: $d) { name } } }',
    "query($i: [ID!]) { nodes(ids: $i) { id } }",
    'query($i: ID) { nodes(ids: [$i, "x"]) { id } a: node(id: $i) { id } }',
    "query Q1($a: Boolean) { __typename @skip(if: $a) } query Q2 { __typename @skip(if: $a) }",
    "query Q1 { ...F } query Q2($x: ID!) { ...F } fragment F on Query { node(id: $x) { id } }",
    "mutation($t: String!) { addPost(text: $t, token: $t) { postId } }",
    "mutation($t: Int) { addPost(text: $t) { postId } }",
    "{ getPosts @stream(initialCount: 1) { id } }",
    "query($a: Boolean!) { viewer { posts(first: 1) @include(if: $a) @include(if: $a) { totalCount } } }",
]


@pytest.mark.parametrize("source", ABOUT_VARIABLES_AND_DIRECTIVES)
def test_the_cheaper_rules_report_exactly_what_graphql_cores_rules_report(source: str) -> None:
    document = parse(source)
    ours = validate(core_schema(schema), document, validation_rules(explorer=True))
    theirs = validate(core_schema(schema), document, GRAPHQL_CORE_RULES)
    assert [(e.message, e.locations) for e in ours] == [(e.message, e.locations) for e in theirs]


def test_the_cheaper_rules_report_the_same_on_the_introspection_query_with_variables() -> None:
    query = get_introspection_query(descriptions=True).replace(
        "query IntrospectionQuery {\n  __schema {",
        "query IntrospectionQuery($all: Boolean = true, $x: Int) {\n"
        "  __schema @include(if: $all) @include(if: $y) {",
        1,
    )
    document = parse(query)
    ours = validate(core_schema(schema), document, validation_rules(explorer=True))
    theirs = validate(core_schema(schema), document, GRAPHQL_CORE_RULES)
    assert len(theirs) >= 3  # $y undefined, $x unused, @include twice
    assert [(e.message, e.locations) for e in ours] == [(e.message, e.locations) for e in theirs]


# Sibling fields are one field when graphql-core would print them the same: the key
# that compares them (without the printer) must agree with printing, both ways.
SPELLINGS = [
    "1",
    "2",
    "1.0",
    "1.00",
    "-0",
    '"x"',
    '"""x"""',
    '"y"',
    "true",
    "false",
    "null",
    "RED",
    "GREEN",
    "$v",
    "$w",
    "[]",
    "[1]",
    "[1, 2]",
    "[2, 1]",
    "[[1]]",
    '["x"]',
    "{a: 1}",
    "{a: 2}",
    "{b: 1}",
    "{a: 1, b: 2}",
    "{b: 2, a: 1}",
    "{a: [1]}",
    "{a: {b: null}}",
]


def _field(arguments: str) -> Any:
    document = parse(f"query($v: Int, $w: Int) {{ f{arguments} }}", no_location=True)
    return document.definitions[0].selection_set.selections[0]  # type: ignore[attr-defined]


@pytest.mark.parametrize("left", SPELLINGS)
def test_sibling_fields_are_the_same_field_exactly_when_they_print_the_same(left: str) -> None:
    for right in SPELLINGS:
        for template in ("(a: {})", "(a: {}, b: 1)", " @skip(if: {})"):
            one, other = _field(template.format(left)), _field(template.format(right))
            printed_alike = print_ast(one) == print_ast(other)
            assert (_field_key(one) == _field_key(other)) is printed_alike, (left, right)
    assert _field_key(_field(f"(a: {left})")) != _field_key(_field(f"(b: {left})"))
