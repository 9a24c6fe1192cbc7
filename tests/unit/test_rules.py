"""The document rules the pipeline checks before validation: the measure (fields, aliases,
depth, operations, fragments, spreads, directives, cycles) and the expensive fields."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import parse, print_ast

from gql.pipeline.rules import (
    _field_key,
    measure,
    repeated_expensive_fields,
)


def test_measure_fields_counts_repeats_typename_and_every_spread() -> None:
    assert measure(parse("{ __typename __typename }"), 500).fields == 2
    spread = "query { ...F ...F } fragment F on Query { __typename viewer { id } }"
    # Two spreads of a 3-field fragment (a used fragment is counted per spread only).
    assert measure(parse(spread), 500).fields == 6


def test_measure_fields_stops_early_on_exponential_spreads() -> None:
    fragments = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(40))
    source = "query { ...F0 } " + fragments + " fragment F40 on Query { __typename }"
    assert measure(parse(source), 500).fields > 500


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


def test_expensive_fields_are_counted_through_fragments() -> None:
    source = "{ ...A ... on Query { getPosts { id } } } fragment A on Query { getPosts { id } }"
    assert repeated_expensive_fields(parse(source)) == ["getPosts"]
    assert repeated_expensive_fields(parse("{ viewer { id } a: viewer { id } }")) == ["viewer"]
    # Identical siblings are one field, as GraphQL runs them.
    assert repeated_expensive_fields(parse("{ getPosts { id } getPosts { text } }")) == []
    assert (
        repeated_expensive_fields(
            parse("query { ...A ...A } fragment A on Query { viewer { id } }")
        )
        == []
    )


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


def test_measure_counts_what_validation_grows_with_as_written() -> None:
    source = (
        "query A { ...F ... on Query { __typename @skip(if: false) } } "
        "query B { ...F } fragment F on Query { __typename @include(if: true) }"
    )
    shape = measure(parse(source), 500)
    assert (shape.operations, shape.fragments, shape.spreads, shape.directives) == (2, 1, 3, 2)
    assert shape.cycle is None


@pytest.mark.parametrize(
    "source",
    [
        "{ ...A } fragment A on Query { ...A }",
        "{ ...A } fragment A on Query { ...B } fragment B on Query { __typename ...A }",
        # Cycles no operation reaches are found too (validation would read them).
        "{ __typename } fragment A on Query { ...B } fragment B on Query { ...A }",
        "{ ... on User { ...F1 ...F1 } } fragment F0 on Query { node { ...F1 } } "
        "fragment F1 on Node { ...F0 id ...F0 }",
    ],
)
def test_measure_names_a_fragment_that_reaches_itself(source: str) -> None:
    assert measure(parse(source), 500).cycle in {"A", "B", "F0", "F1"}
