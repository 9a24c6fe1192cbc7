"""gql.fast_parser builds exactly graphql-core's AST, or leaves the text to graphql-core.

The rule under test: for every text, ``parse_executable`` either returns the very
document ``graphql.parse(..., no_location=True, allow_empty_selection_sets=False)``
returns, or raises ``Unparsed``; it never returns a document for a text graphql-core
refuses, and never a different one. ``parse_document`` (what the pipeline calls) then
always agrees with graphql-core, errors included.
"""

from __future__ import annotations

import os
import random

import pytest
from graphql import GraphQLSyntaxError, parse
from graphql.language.ast import DocumentNode
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from gql.compat import parse_document
from gql.fast_parser import Unparsed, parse_executable, token_key
from tests.documents import GRAMMAR_CORPUS

MAX_TOKENS = 1000


def core(source: str, max_tokens: int = MAX_TOKENS) -> DocumentNode | str:
    """graphql-core's document, or its error as text."""
    try:
        return parse(
            source, no_location=True, max_tokens=max_tokens, allow_empty_selection_sets=False
        )
    except GraphQLSyntaxError as error:
        return f"{error.message} {error.positions}"


def fast(source: str, max_tokens: int = MAX_TOKENS) -> DocumentNode | None:
    try:
        return parse_executable(source, max_tokens=max_tokens)
    except Unparsed:
        return None


def ours(source: str, max_tokens: int = MAX_TOKENS) -> DocumentNode | str:
    try:
        return parse_document(source, max_tokens=max_tokens)
    except GraphQLSyntaxError as error:
        return f"{error.message} {error.positions}"


def assert_agrees(source: str, max_tokens: int = MAX_TOKENS) -> DocumentNode | None:
    """The fast parser's document is graphql-core's, or it declined; and
    parse_document answers exactly as graphql-core does."""
    expected = core(source, max_tokens)
    quick = fast(source, max_tokens)
    if isinstance(expected, str):
        assert quick is None, (source, expected)
    elif quick is not None:
        assert quick == expected, source
        assert quick.token_count == expected.token_count, source
    assert ours(source, max_tokens) == expected, source
    return quick


FRAGMENTS = " ".join(f"fragment F{n} on Query {{ " + "__typename " * 10 + "}" for n in range(50))

# Documents the fast parser must parse itself (and parse as graphql-core does).
PARSED = [
    *GRAMMAR_CORPUS,
    "query { getPosts { id text createdAt } }",
    "{ " + " ".join(f"...F{n}" for n in range(50)) + " } " + FRAGMENTS,
    # Keywords are names wherever a name may stand.
    "{ query mutation subscription fragment on true false null type schema extend }",
    "query query { on: fragment(on: on, true: true, null: null) @on { query } }",
    "fragment query on on { on }",
    # Values of every kind, empty lists and objects, nesting.
    "{ a(i: 0, j: -0, k: 12, f: 1.5, g: -0.0, h: 1e3, m: 1E+3, n: 2.5e-3, o: [], p: {},"
    ' q: [[1], [[]], {x: [{y: {}}]}], r: ENUM, s: "", t: """""", u: $v, w: {x: $v}) }',
    "{ a(x: [1-2 3e-2-1 0,-0]) }",  # numbers that end where a minus begins the next
    'query ($v: [[Int!]]! = [[1, 2], []] @d(x: {a: "b"}), $w: In = {a: [null]}) { a(x: $v) }',
    # Strings: escapes, block strings with indentation, \r\n, escaped triple quotes.
    '{ a(s: "\\\\ \\/ \\b \\f \\n \\r \\t \\" \\u0041\\u00e9\\uFFFF \\u0000") }',
    '{ a(s: """\r\n    first\r\n      second\r    third\n\n  """) }',
    '{ a(s: """ quote \\""" inside \\\\""" and \\ alone""") }',
    '{ a(s: """ "" " \'""") }',
    '{ a(s: "#not a comment") } # a comment "with quotes"',
    '{ a(s: "é😀\\u2028\x01\x7f") }',
    # Descriptions on operations, fragments and variable definitions (graphql-core 3.3).
    '"described" query Q("the variable" $a: Int) { a } """block""" fragment G on Q { b }',
    # Spacing: commas, BOM, tabs, no spaces at all, comments everywhere.
    "\ufeff{a,b,,,c\t}",
    "query Q($a:Int=1)@x{a:b(c:$a){...F...on T{d}...@y{e}}}fragment F on T{f}",
    "# leading\n{ # inside\n a # after\n}\n# trailing",
    "{ a }\n",
    "{ a }   ",
    "{ a } #",
]

# Texts graphql-core parses but the fast parser leaves to it (and that is all).
DECLINED = [
    '{ a(s: "\\u{1F600}") }',  # variable-width escape
    '{ a(s: "\\uD83D\\uDE00") }',  # a surrogate pair, escaped
    "type Query { a: Int }",  # type system definitions
    "extend type Query { b: Int }",
    "{ a } type Query { a: Int }",
]

# Texts graphql-core refuses: the fast parser must never return a document for them.
REFUSED = [
    "",
    "   ",
    "# only a comment",
    "{ }",
    "{ a ",
    "{ a } }",
    "query",
    "query Q",
    "query Q { }",
    "fragment on on T { a }",
    "{ ...on }",
    "fragment F T { a }",
    "fragment F on { a }",
    "{ ...F(x: 1) }",
    "query ($a: Int = $b) { a }",
    "query ($a: Int @d(x: $b)) { a }",
    "query ($a Int) { a }",
    "query ($a: [Int) { a }",
    "query () { a }",
    "{ a() }",
    "{ a(x:) }",
    "{ a(x: 1 }",
    "{ a: }",
    "{ a @ }",
    "{ a(x: 01) }",
    "{ a(x: 1.) }",
    "{ a(x: .5) }",
    "{ a(x: 1e) }",
    "{ a(x: 1.5.3) }",
    "{ a(x: 1a) }",
    "{ a(x: 0x1) }",
    "{ a(x: 1...) }",
    "{ a(x: -) }",
    "{ a(x: - 1) }",
    "{ a(x: {b}) }",
    "{ a(x: [1, ) }",
    "{ a.b }",
    "{ ..F }",
    "{ ....F }",
    "{ a(x: 'single') }",
    '{ a(x: "unterminated) }',
    '{ a(x: "line\nbreak") }',
    '{ a(x: """unterminated) }',
    '{ a(x: """ "" "" ") }',  # three quotes open a block string, never an empty string
    '{ a(x: [""" "" "" "]) }',
    '{ a(x: """") }',
    '{ a(x: "\\q") }',
    '{ a(x: "\\u12") }',
    '{ a(x: "\\uD800") }',
    '{ a(x: "\\") }',
    "{ a\u00e9 }",
    "{ a\u00a0b }",
    "{ a\x0bb }",
    "{ a & b }",
    "{ a | b }",
    '"description" { a }',
    '"description" extend type Q { a: Int }',
    "query Q { a } 1",
    "{ a } ]",
    "{ a " + " { a" * 300 + " }" * 301,  # nested too deeply
    "{ a(x: " + "[" * 300 + "]" * 300 + ") }",
    "{ a(x: \ud800) }",
    "{ a } # \ud800",
]


@pytest.mark.parametrize("source", PARSED)
def test_documents_are_parsed_here_exactly_as_graphql_core_parses_them(source: str) -> None:
    assert not isinstance(core(source), str), core(source)
    assert assert_agrees(source) is not None, "declined a document it should parse"


@pytest.mark.parametrize("source", DECLINED)
def test_what_it_does_not_parse_graphql_core_parses(source: str) -> None:
    assert not isinstance(core(source), str)
    assert fast(source) is None
    assert_agrees(source)


@pytest.mark.parametrize("source", REFUSED)
def test_a_text_graphql_core_refuses_is_never_parsed_here(source: str) -> None:
    assert isinstance(core(source), str), "the case is meant to be an error"
    assert_agrees(source)


@pytest.mark.parametrize("extra", [0, 1])
def test_the_token_cap_counts_comments_as_graphql_core_does(extra: int) -> None:
    # 10 tokens and 3 comments: 13 counted, at the cap, then one over it.
    source = "# one\n{ a b c d e f g h } # two\n# three"
    assert_agrees(source, max_tokens=13 - extra)
    assert (fast(source, max_tokens=13 - extra) is None) == bool(extra)


def test_a_huge_comment_or_string_is_one_token() -> None:
    assert_agrees("# " + "x" * 100_000 + "\n{ a }", max_tokens=4)
    assert_agrees('{ a(s: "' + "x" * 100_000 + '") }', max_tokens=8)


# Generated texts: documents built from the grammar, and the same texts cut and
# spliced, so that most are errors close to a valid document.

NAMES = ["a", "b", "on", "query", "fragment", "true", "null", "_x9", "F", "T"]
FRAGMENT_NAMES = [name for name in NAMES if name != "on"]
VALUES = [
    "1", "-0", "1.5e3", "0.0", '"s"', '"\\n\\u0041"', '""', '""""""', '"""b\n  c"""',
    "true", "null", "E", "$v", "[]", "[1, [2]]", "{}", "{a: 1, b: [$v]}",
]  # fmt: skip
SOUP = [
    "{", "}", "(", ")", "[", "]", ":", "!", "$", "@", "=", "...", ".", "..", "-", ",",
    " ", "\n", "\r\n", "\t", "#c\n", '"', '""', '"""', "\\", "'", "0", "01", "1.", "e",
    "on", "a", "query", "fragment", '"x"', "\u00e9", "\ufeff", "&", "|",
]  # fmt: skip


def _value(rng: random.Random, depth: int = 0) -> str:
    value = rng.choice(VALUES)
    if depth < 2 and rng.random() < 0.2:
        count = rng.randint(0, 2)
        if rng.random() < 0.5:
            return "[" + ", ".join(_value(rng, depth + 1) for _ in range(count)) + "]"
        names = rng.sample(NAMES, count)
        return "{" + " ".join(f"{name}: {_value(rng, depth + 1)}" for name in names) + "}"
    return value


def _arguments(rng: random.Random) -> str:
    if rng.random() < 0.6:
        return ""
    names = rng.sample(NAMES, rng.randint(1, 3))
    return "(" + ", ".join(f"{name}: {_value(rng)}" for name in names) + ")"


def _directives(rng: random.Random) -> str:
    return "".join(f" @{rng.choice(NAMES)}{_arguments(rng)}" for _ in range(rng.randint(0, 1)))


def _selections(rng: random.Random, depth: int = 0) -> str:
    parts = []
    for _ in range(rng.randint(1, 3)):
        kind = rng.random()
        if kind < 0.15:
            parts.append(f"...{rng.choice(FRAGMENT_NAMES)}{_directives(rng)}")
        elif kind < 0.3 and depth < 3:
            condition = rng.choice(["", f"on {rng.choice(NAMES)} "])
            parts.append(f"... {condition}{_directives(rng)}{_selections(rng, depth + 1)}")
        else:
            alias = rng.choice(["", f"{rng.choice(NAMES)}: "])
            field = f"{alias}{rng.choice(NAMES)}{_arguments(rng)}{_directives(rng)}"
            if depth < 3 and rng.random() < 0.3:
                field += " " + _selections(rng, depth + 1)
            parts.append(field)
    return "{ " + rng.choice([" ", ", ", "\n"]).join(parts) + " }"


def _variable(rng: random.Random, name: str) -> str:
    description = rng.choice(["", '"v" '])
    type_ = rng.choice(["Int", "[ID!]!", "T!"])
    default = rng.choice(["", " = " + _value(rng).replace("$v", "1")])
    return f"{description}${name}: {type_}{default}"


def _document(rng: random.Random) -> str:
    definitions = []
    for _ in range(rng.randint(1, 3)):
        kind = rng.random()
        description = rng.choice(["", "", '"d" ', '"""d""" '])
        if kind < 0.3:
            definitions.append(_selections(rng))
        elif kind < 0.7:
            variables = ""
            if rng.random() < 0.4:
                variables = (
                    "(" + " ".join(_variable(rng, name) for name in rng.sample(NAMES, 2)) + ")"
                )
            operation = rng.choice(["query", "mutation", "subscription"])
            name = rng.choice(["", f" {rng.choice(NAMES)}"])
            definitions.append(
                f"{description}{operation}{name}{variables}{_directives(rng)} {_selections(rng)}"
            )
        else:
            definitions.append(
                f"{description}fragment {rng.choice(FRAGMENT_NAMES)} on {rng.choice(NAMES)}"
                f"{_directives(rng)} {_selections(rng)}"
            )
    return rng.choice([" ", "\n", "# c\n"]).join(definitions)


def _mutated(rng: random.Random, source: str) -> str:
    for _ in range(rng.randint(1, 3)):
        at = rng.randint(0, len(source))
        if rng.random() < 0.5 and source:
            source = source[:at] + source[at + rng.randint(1, 3) :]
        else:
            source = source[:at] + rng.choice(SOUP) + source[at:]
    return source


GENERATED = int(os.environ.get("PARSER_EXAMPLES", "3000"))


def test_generated_documents_and_their_mutations_agree() -> None:
    rng = random.Random(20261125)
    parsed = declined = refused = 0
    for _ in range(GENERATED):
        source = _document(rng)
        for text in (source, _mutated(rng, source)):
            expected = core(text)
            quick = assert_agrees(text)
            if isinstance(expected, str):
                refused += 1
            elif quick is None:
                declined += 1
            else:
                parsed += 1
    # Valid documents are parsed here (only \u{...} escapes and the like go to
    # graphql-core): the fast path is the path, not an exception to it.
    print(f"{parsed} parsed here, {declined} by graphql-core, {refused} refused")
    assert declined <= parsed // 50, (parsed, declined, refused)
    assert refused >= GENERATED // 4, (parsed, declined, refused)  # the mutations


@hsettings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "300")), deadline=None)
@given(st.lists(st.sampled_from(SOUP + NAMES + VALUES), max_size=40).map("".join))
def test_token_soups_agree(source: str) -> None:
    assert_agrees(source)


@hsettings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "300")), deadline=None)
@given(st.text(max_size=60))
def test_any_text_agrees(source: str) -> None:
    assert_agrees(source)


def test_the_token_key_ignores_comments_and_spacing_only() -> None:
    key = token_key("query Q { a(x: 1) }")
    assert token_key("# c\nquery   Q{a(x:1)},,\n# d") == key
    assert token_key("query Q { a(x: 2) }") != key
    assert token_key("query R { a(x: 1) }") != key
    # One-to-one: tokens are not run together, nor split at a separator.
    assert token_key("{ ab }") != token_key("{ a b }")
    assert token_key('{ a(x: "b c") }') != token_key('{ a(x: "b" c) }')
    assert token_key('{ a(x: "#") }') != token_key("{ a(x: ) }")
