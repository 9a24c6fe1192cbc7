"""Document caps: GRAPHQL_MAX_DOCUMENT_BYTES, GRAPHQL_MAX_FIELDS, operation choice, CPU bound.

Every refusal is BAD_USER_INPUT and runs nothing; the worst document that
passes every cap costs at most 10x a normal getPosts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from graphql import GraphQLError

from config import bootstrap
from gql.pipeline import prepared as prepared_module
from schemas.limits import NODES_MAX
from tests.conftest import PASSWORD, Api, db_scalar, error_code, gid

SIGNUP = 'mutation { signup(email: "padded@example.com", password: "' + PASSWORD + '") { token } }'
MIB = 1024 * 1024


def users() -> int:
    return int(db_scalar("SELECT COUNT(*) FROM users"))


def posts() -> int:
    return int(db_scalar("SELECT COUNT(*) FROM posts"))


def padded(document: str, size: int, filler: str = "x") -> str:
    """``document`` and a comment line making it exactly ``size`` UTF-8 bytes."""
    room = size - len(document.encode()) - 3  # "# " and the newline
    count, rest = divmod(room, len(filler.encode()))
    assert count > 0
    return "# " + filler * count + "x" * rest + "\n" + document


def assert_refused(body: dict[str, Any]) -> None:
    assert error_code(body) == "BAD_USER_INPUT"
    assert body.get("data") is None


def assert_too_large(body: dict[str, Any], limit: int) -> None:
    assert_refused(body)
    assert body["errors"][0]["extensions"]["maxBytes"] == limit


def assert_too_many_fields(body: dict[str, Any]) -> None:
    assert_refused(body)
    assert body["errors"][0]["extensions"]["maxFields"] == settings.GRAPHQL_MAX_FIELDS


# GRAPHQL_MAX_DOCUMENT_BYTES


@pytest.fixture
def cap_1024() -> int:
    settings.GRAPHQL_MAX_DOCUMENT_BYTES = 1024
    bootstrap.reset()  # it reads its limits once
    return 1024


def test_a_document_one_byte_over_the_cap_is_refused_and_runs_nothing(
    api: Api, cap_1024: int
) -> None:
    body = api.post(padded(SIGNUP, cap_1024 + 1))
    assert_too_large(body, cap_1024)
    assert users() == 0


def test_a_document_of_exactly_the_cap_runs(api: Api, cap_1024: int) -> None:
    document = padded(SIGNUP, cap_1024)
    assert len(document.encode()) == cap_1024
    body = api.post(document)
    assert "errors" not in body, body
    assert users() == 1


def test_the_cap_counts_utf8_bytes_not_characters(api: Api, cap_1024: int) -> None:
    # Under 1024 characters, over 1024 bytes: two-byte characters in a comment.
    document = padded(SIGNUP, cap_1024 + 2, filler="\N{LATIN SMALL LETTER E WITH ACUTE}")
    assert len(document) < cap_1024 < len(document.encode())
    assert_too_large(api.post(document), cap_1024)
    assert users() == 0


def test_the_cap_is_checked_before_the_document_is_parsed(api: Api, cap_1024: int) -> None:
    # Over the cap and not even GraphQL: the answer is the size refusal, not a syntax error.
    broken = "{ " * 600
    body = api.post(broken)
    assert_too_large(body, cap_1024)


def test_a_document_over_the_cap_by_apq_is_refused_and_not_stored(
    api: Api, alice: str, cap_1024: int
) -> None:

    document = padded('mutation { addPost(text: "padded") { postId } }', cap_1024 + 1)
    digest = hashlib.sha256(document.encode()).hexdigest()
    body = api.send(
        {"query": document, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}},
        token=alice,
    )
    assert_too_large(body, cap_1024)
    assert posts() == 0
    assert db_scalar("SELECT COUNT(*) FROM persisted_queries") == 0


@pytest.mark.parametrize(
    "document",
    [
        "# " + "x" * (7 * 1000 * 1000) + "\n" + SIGNUP,
        'mutation { signup(email: "' + "a" * (7 * 1000 * 1000) + '@example.com", password: "x") '
        "{ token } }",
        '{ node(id: """' + "a" * (7 * MIB) + '""") { id } }',
    ],
    ids=["7 MB comment", "7 MB string literal", "7 MiB block string"],
)
def test_a_megabytes_long_comment_or_string_is_refused(api: Api, document: str) -> None:
    # Under the body cap, so the pipeline (not the 413 guard) must refuse it.
    assert len(json.dumps({"query": document})) < settings.MAX_REQUEST_BYTES
    body = api.post(document)
    assert body["_status"] == 200
    assert_too_large(body, settings.GRAPHQL_MAX_DOCUMENT_BYTES)
    assert users() == 0


# GRAPHQL_MAX_FIELDS


# A field may be selected at most 20 times in one selection set (GRAPHQL_MAX_REPEATED_FIELDS):
# 500 fields are reached through a fragment of 20, spread 25 times.
TWENTY = "fragment Twenty on Query { " + "__typename " * 20 + "}"


def _typenames(count: int) -> str:
    spreads, rest = divmod(count, 20)
    return "{ " + "...Twenty " * spreads + "__typename " * rest + "} " + TWENTY


def test_500_typenames_are_at_the_limit_and_run(api: Api) -> None:
    assert settings.GRAPHQL_MAX_FIELDS == 500
    body = api.post(_typenames(500))
    assert body == {"data": {"__typename": "Query"}, "_status": 200}


def test_501_typenames_are_refused(api: Api) -> None:
    assert_too_many_fields(api.post(_typenames(501)))


def test_repeated_fields_in_nested_selections_count(api: Api, alice: str) -> None:
    # getPosts + 480 ids through a fragment + 19 ids = 500 fields; one more is over.
    ids = "fragment Ids on Post { " + "id " * 20 + "}"
    assert "errors" not in api.post(
        "{ getPosts { " + "...Ids " * 24 + "id " * 19 + "} } " + ids, token=alice
    )
    assert_too_many_fields(
        api.post("{ getPosts { " + "...Ids " * 24 + "id " * 20 + "} } " + ids, token=alice)
    )


def test_fields_in_inline_fragments_count(api: Api) -> None:
    inline = "... on Query { " + "...Twenty " * 12 + "__typename " * 10 + "} "
    assert api.post("{ " + inline * 2 + "} " + TWENTY)["data"] == {"__typename": "Query"}
    assert_too_many_fields(api.post("{ " + inline * 2 + "__typename } " + TWENTY))


def test_a_fragment_counts_once_for_each_spread(api: Api) -> None:
    fragment = "fragment Ten on Query { " + "__typename " * 10 + "}"
    at_limit = api.post("{ " + "...Ten " * 50 + "} " + fragment)
    assert at_limit == {"data": {"__typename": "Query"}, "_status": 200}
    assert_too_many_fields(api.post("{ " + "...Ten " * 60 + "} " + fragment))


def test_exponentially_nesting_fragments_are_counted_and_refused(api: Api) -> None:
    # F30 expands to 2**30 fields: counted without expanding, refused without hanging.
    fragments = ["fragment F0 on Query { __typename }"]
    fragments += [f"fragment F{n} on Query {{ ...F{n - 1} ...F{n - 1} }}" for n in range(1, 31)]
    assert_too_many_fields(api.post("{ ...F30 } " + " ".join(fragments)))
    # The same chain up to 2**8 = 256 fields is fine.
    assert api.post("{ ...F8 } " + " ".join(fragments[:9]))["data"] == {"__typename": "Query"}


def test_a_mutation_over_the_field_cap_runs_nothing(api: Api, alice: str) -> None:
    document = 'mutation { addPost(text: "x") { ' + "postId " * 500 + "} }"
    assert_too_many_fields(api.post(document, token=alice))
    assert posts() == 0


def test_the_field_cap_follows_the_setting(api: Api) -> None:
    settings.GRAPHQL_MAX_FIELDS = 20
    bootstrap.reset()  # it reads its limits once
    assert "errors" not in api.post("{ " + "__typename " * 20 + "}")
    assert_refused(api.post("{ " + "__typename " * 21 + "}"))


POST_IDS = "fragment PostIds on AddPostPayload { " + "postId " * 20 + "}"


def _add_post_selecting(text: str, fields: int) -> str:
    """``addPost(text: ...)`` and its ``postId`` repeated: ``fields`` fields in all
    (with POST_IDS in the document)."""
    spreads, rest = divmod(fields - 1, 20)
    return f'addPost(text: "{text}") {{ ' + "...PostIds " * spreads + "postId " * rest + "}"


def test_the_field_cap_counts_every_operation_of_the_document_not_just_the_one_run(
    api: Api, alice: str
) -> None:
    # 300 + 300 = 600 fields: over the cap, although each operation is under it.
    document = f"mutation A {{ {_add_post_selecting('a', 300)} }} " + (
        f"mutation B {{ {_add_post_selecting('b', 300)} }} {POST_IDS}"
    )
    for name in ("A", "B"):
        body = api.send({"query": document, "operationName": name}, token=alice)
        assert_too_many_fields(body)
    assert posts() == 0


def test_two_operations_of_250_fields_together_are_at_the_cap_and_the_named_one_runs(
    api: Api, alice: str
) -> None:
    document = f"mutation A {{ {_add_post_selecting('a', 250)} }} " + (
        f"mutation B {{ {_add_post_selecting('b', 250)} }} {POST_IDS}"
    )
    body = api.send({"query": document, "operationName": "A"}, token=alice)
    assert "errors" not in body, str(body)[:300]
    assert [p["text"] for p in api.posts(alice)] == ["a"]


# The caps are checked before validation: a refused document costs no validation

VALIDATION_RAN = "validation ran"


@pytest.fixture
def validation_answers_that_it_ran(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pipeline's validation, replaced by one that refuses every document, saying so."""

    def validate(*_args: Any, **_kwargs: Any) -> list[GraphQLError]:
        return [GraphQLError(VALIDATION_RAN)]

    monkeypatch.setattr(prepared_module, "validate", validate)


def _typenames_over_operations(per_operation: int) -> str:
    spreads, rest = divmod(per_operation, 20)
    operation = "{ " + "...Twenty " * spreads + "__typename " * rest + "}"
    return " ".join(f"query Q{n} {operation}" for n in range(2)) + " " + TWENTY


def _nested(depth: int) -> str:
    return "{ " + "a { " * depth + "b" + " }" * depth + " }"


def _aliases(count: int) -> str:
    return "{ " + " ".join(f"t{n}: __typename" for n in range(count)) + " }"


def _operations(count: int) -> str:
    return " ".join(f"query Q{n} {{ __typename }}" for n in range(count))


def _fragment_chain(count: int) -> str:
    """``count`` fragments, each spreading the next: what validation's overlap check
    walks again for every pair (quadratic in the chain's length)."""
    chain = " ".join(
        f"fragment A{n} on Query {{ __typename ...A{n + 1} }}" for n in range(count - 1)
    )
    return f"{{ ...A0 }} {chain} fragment A{count - 1} on Query {{ __typename }}"


def _inline_fragments(count: int) -> str:
    return "{ " + "... on Query { " * count + "__typename" + " }" * count + " }"


def _directives(count: int) -> str:
    return "{ __typename" + " @skip(if: false)" * count + " }"


# Each cap: a document over it (with the extension naming the cap, if any) and one at it.
CAPS: dict[str, tuple[str, str | None, str]] = {
    "fields": (_typenames(501), "maxFields", _typenames(500)),
    "fields over two operations": (
        _typenames_over_operations(251),
        "maxFields",
        _typenames_over_operations(250),
    ),
    "aliases": (_aliases(16), "maxAliases", _aliases(15)),
    "depth": (_nested(9), "maxDepth", _nested(8)),
    "expensive fields": ("{ a: getPosts { id } b: getPosts { id } }", None, "{ getPosts { id } }"),
    "bytes": (padded("{ __typename }", 16 * 1024 + 1), "maxBytes", padded("{ __typename }", 1000)),
    "operations": (_operations(11), "maxOperations", _operations(10)),
    "fragments": (_fragment_chain(31), "maxFragments", _fragment_chain(30)),
    "spreads": (_inline_fragments(61), "maxSpreads", _inline_fragments(60)),
    "directives": (_directives(31), "maxDirectives", _directives(30)),
    "a fragment cycle": (
        "{ ...A } fragment A on Query { ...B } fragment B on Query { __typename ...A }",
        None,
        "{ ...A } fragment A on Query { ...B } fragment B on Query { __typename }",
    ),
}


@pytest.mark.parametrize("cap", list(CAPS))
def test_a_document_over_a_cap_is_refused_without_being_validated(
    api: Api, alice: str, cap: str, validation_answers_that_it_ran: None
) -> None:
    over, extension, at = CAPS[cap]
    body = api.post(over, token=alice)
    assert_refused(body)
    assert body["errors"][0]["message"] != VALIDATION_RAN
    if extension is not None:
        assert extension in body["errors"][0]["extensions"], body
    # The same validation is reached by a document within the cap.
    body = api.post(at, token=alice)
    assert_refused(body)
    assert body["errors"][0]["message"] == VALIDATION_RAN


# Choosing the operation


TWO_MUTATIONS = (
    'mutation First { addPost(text: "first") { postId } } '
    'mutation Second { addPost(text: "second") { postId } }'
)


def test_several_operations_without_an_operation_name_run_nothing(api: Api, alice: str) -> None:
    body = api.send({"query": TWO_MUTATIONS}, token=alice)
    assert_refused(body)
    assert posts() == 0


def test_with_an_operation_name_only_the_named_operation_runs(api: Api, alice: str) -> None:
    body = api.send({"query": TWO_MUTATIONS, "operationName": "Second"}, token=alice)
    assert "errors" not in body, body
    assert [p["text"] for p in api.posts(alice)] == ["second"]


def test_an_unknown_operation_name_is_refused_and_runs_nothing(api: Api, alice: str) -> None:
    body = api.send({"query": TWO_MUTATIONS, "operationName": "Third"}, token=alice)
    assert_refused(body)
    single = api.send(
        {"query": 'mutation Only { addPost(text: "x") { postId } }', "operationName": "Other"},
        token=alice,
    )
    assert_refused(single)
    assert posts() == 0


def test_a_query_and_a_mutation_without_an_operation_name_run_nothing(api: Api, alice: str) -> None:
    document = 'query Q { getPosts { id } } mutation M { addPost(text: "x") { postId } }'
    assert_refused(api.send({"query": document}, token=alice))
    assert posts() == 0


# The CPU bound

CONNECTION = (
    "... on User { posts(first: 100) { edges { cursor node { id text createdAt } } "
    "pageInfo { hasNextPage hasPreviousPage startCursor endCursor } totalCount } }"
)


def _aliases_at_depth(me: str, tag: str) -> str:
    fields = " ".join(f'a{n}: node(id: "{me}") {{ {CONNECTION} }}' for n in range(15))
    return f"# {tag}\n{{ {fields} }}"


def _nodes(me: str, tag: str) -> str:
    ids = ", ".join(f'"{me}"' for _ in range(NODES_MAX))
    return f"# {tag}\n{{ nodes(ids: [{ids}]) {{ {CONNECTION} }} }}"


@pytest.mark.parametrize("build", [_aliases_at_depth, _nodes], ids=["aliases", "nodes"])
def test_a_document_that_would_page_posts_more_than_once_is_refused(
    api: Api, alice: str, build: Callable[[str, str], str]
) -> None:
    """node/nodes under aliases reach User.posts many times: one page per request."""
    assert "errors" not in api.add_post("one post", token=alice)
    me = gid("User", int(db_scalar("SELECT id FROM users WHERE email = 'alice@example.com'")))
    body = api.post(build(me, "once"), token=alice)
    codes = {error["extensions"]["code"] for error in body["errors"]}
    assert codes == {"BAD_USER_INPUT"}
    assert len(body["errors"]) >= 1
