"""The document rules the pipeline runs before validation: merging repeats, counting fields."""

from __future__ import annotations

import pytest
from graphql import parse, print_ast, validate

from gql.compat import core_schema
from gql.rules import count_fields, measure, merge_identical_fields
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
