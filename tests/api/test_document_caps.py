"""Document caps: GRAPHQL_MAX_DOCUMENT_BYTES, GRAPHQL_MAX_FIELDS, operation choice, CPU bound.

Every refusal is BAD_USER_INPUT and runs nothing; the worst document that
passes every cap costs at most 10x a normal getPosts.
"""

from __future__ import annotations

import gc
import hashlib
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.conf import settings
from django.http.response import HttpResponseBase
from graphql import GraphQLError, get_introspection_query

from gql import pipeline
from gql.pipeline import get_pipeline, reset_pipeline
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
    reset_pipeline()  # it reads its limits once
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


def test_500_typenames_are_at_the_limit_and_run(api: Api) -> None:
    assert settings.GRAPHQL_MAX_FIELDS == 500
    body = api.post("{ " + "__typename " * 500 + "}")
    assert body == {"data": {"__typename": "Query"}, "_status": 200}


def test_501_typenames_are_refused(api: Api) -> None:
    assert_too_many_fields(api.post("{ " + "__typename " * 501 + "}"))


def test_repeated_fields_in_nested_selections_count(api: Api, alice: str) -> None:
    # getPosts + 499 ids = 500 fields; one more is over.
    assert "errors" not in api.post("{ getPosts { " + "id " * 499 + "} }", token=alice)
    assert_too_many_fields(api.post("{ getPosts { " + "id " * 500 + "} }", token=alice))


def test_fields_in_inline_fragments_count(api: Api) -> None:
    inline = "... on Query { " + "__typename " * 250 + "} "
    assert api.post("{ " + inline * 2 + "}")["data"] == {"__typename": "Query"}
    assert_too_many_fields(api.post("{ " + inline * 2 + "__typename }"))


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
    reset_pipeline()  # it reads its limits once
    assert "errors" not in api.post("{ " + "__typename " * 20 + "}")
    assert_refused(api.post("{ " + "__typename " * 21 + "}"))


def _add_post_selecting(text: str, fields: int) -> str:
    """``addPost(text: ...)`` and its ``postId`` repeated: ``fields`` fields in all."""
    return f'addPost(text: "{text}") {{ ' + "postId " * (fields - 1) + "}"


def test_the_field_cap_counts_every_operation_of_the_document_not_just_the_one_run(
    api: Api, alice: str
) -> None:
    # 300 + 300 = 600 fields: over the cap, although each operation is under it.
    document = f"mutation A {{ {_add_post_selecting('a', 300)} }} " + (
        f"mutation B {{ {_add_post_selecting('b', 300)} }}"
    )
    for name in ("A", "B"):
        body = api.send({"query": document, "operationName": name}, token=alice)
        assert_too_many_fields(body)
    assert posts() == 0


def test_two_operations_of_250_fields_together_are_at_the_cap_and_the_named_one_runs(
    api: Api, alice: str
) -> None:
    document = f"mutation A {{ {_add_post_selecting('a', 250)} }} " + (
        f"mutation B {{ {_add_post_selecting('b', 250)} }}"
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

    monkeypatch.setattr(pipeline, "validate_document", validate)


def _typenames_over_operations(per_operation: int) -> str:
    return " ".join(f"query Q{n} {{ " + "__typename " * per_operation + "}" for n in range(2))


def _nested(depth: int) -> str:
    return "{ " + "a { " * depth + "b" + " }" * depth + " }"


def _aliases(count: int) -> str:
    return "{ " + " ".join(f"t{n}: __typename" for n in range(count)) + " }"


# Each cap: a document over it (with the extension naming the cap, if any) and one at it.
CAPS: dict[str, tuple[str, str | None, str]] = {
    "fields": ("{ " + "__typename " * 501 + "}", "maxFields", "{ " + "__typename " * 500 + "}"),
    "fields over two operations": (
        _typenames_over_operations(251),
        "maxFields",
        _typenames_over_operations(250),
    ),
    "aliases": (_aliases(16), "maxAliases", _aliases(15)),
    "depth": (_nested(9), "maxDepth", _nested(8)),
    "expensive fields": ("{ a: getPosts { id } b: getPosts { id } }", None, "{ getPosts { id } }"),
    "bytes": (padded("{ __typename }", 16 * 1024 + 1), "maxBytes", padded("{ __typename }", 1000)),
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

ROUNDS = 5
PER_ROUND = 10
BOUND = 10.0
CONNECTION = (
    "... on User { posts(first: 100) { edges { cursor node { id text createdAt } } "
    "pageInfo { hasNextPage hasPreviousPage startCursor endCursor } totalCount } }"
)


def _typenames(_me: str, tag: str) -> str:
    return f"# {tag}\n{{ " + "__typename " * 500 + "}"


def _aliases_at_depth(me: str, tag: str) -> str:
    fields = " ".join(f'a{n}: node(id: "{me}") {{ {CONNECTION} }}' for n in range(15))
    return f"# {tag}\n{{ {fields} }}"


def _nodes(me: str, tag: str) -> str:
    ids = ", ".join(f'"{me}"' for _ in range(NODES_MAX))
    return f"# {tag}\n{{ nodes(ids: [{ids}]) {{ {CONNECTION} }} }}"


def _one_fragment(_me: str, tag: str) -> str:
    fragment = "fragment Ten on Query { " + "__typename " * 10 + "}"
    return f"# {tag}\n{{ " + "...Ten " * 50 + "} " + fragment


def _many_fragments(_me: str, tag: str) -> str:
    fragments = " ".join(
        f"fragment F{n} on Query {{ " + "__typename " * 10 + "}" for n in range(50)
    )
    return f"# {tag}\n{{ " + " ".join(f"...F{n}" for n in range(50)) + " } " + fragments


def _nested_fragments(_me: str, tag: str) -> str:
    fragments = ["fragment F0 on Query { __typename }"]
    fragments += [f"fragment F{n} on Query {{ ...F{n - 1} ...F{n - 1} }}" for n in range(1, 9)]
    spreads = "...F8 ...F7 ...F6 ...F5 ...F3 ...F2 ...F1 ...F0"  # 495 fields
    return f"# {tag}\n{{ {spreads} }} " + " ".join(fragments)


def _largest(_me: str, tag: str) -> str:
    document = "query { getPosts { id text createdAt } }"
    return padded(document, settings.GRAPHQL_MAX_DOCUMENT_BYTES).replace("xxxx", tag[:4], 1)


def _introspection(_me: str, tag: str) -> str:
    # What GraphiQL sends on every load (introspection is on by default).
    return f"# {tag}\n" + get_introspection_query(descriptions=True)


def _introspection_with_variables(_me: str, tag: str) -> str:
    # A variable and a directive: every rule about them runs, and walks the document.
    return f"# {tag}\n" + get_introspection_query(descriptions=True).replace(
        "query IntrospectionQuery {\n  __schema {",
        "query IntrospectionQuery($all: Boolean = true) {\n  __schema @include(if: $all) {",
        1,
    )


def _alices_posts() -> list[str]:
    rows = [
        int(db_scalar(f"SELECT id FROM posts ORDER BY id LIMIT 1 OFFSET {n}"))  # noqa: S608 - a literal
        for n in range(10)
    ]
    return [gid("Post", row) for row in rows]


def _every_costly_root_field(me: str, tag: str) -> str:
    # One of each that may stand together: the viewer, a node, nodes of as many ids
    # as it takes (users and posts), __typename: every lookup the Relay fields allow.
    posts = _alices_posts()
    ids = ", ".join(f'"{posts[n % 10] if n % 2 else me}"' for n in range(NODES_MAX))
    shown = "id ... on Post { text createdAt } ... on User { email }"
    return (
        f'# {tag}\n{{ __typename viewer {{ id email }} node(id: "{posts[0]}") {{ {shown} }} '
        f"nodes(ids: [{ids}]) {{ {shown} }} }}"
    )


def _largest_page_beside_a_node(me: str, tag: str) -> str:
    posts = _alices_posts()
    return (
        f"# {tag}\n{{ viewer {{ id email {CONNECTION.removeprefix('... on User { ')} "
        f'node(id: "{posts[0]}") {{ id ... on Post {{ text createdAt }} }} }}'
    )


WORST: dict[str, Callable[[str, str], str]] = {
    "500 typenames": _typenames,
    "one fragment spread 50 times": _one_fragment,
    "50 fragments": _many_fragments,
    "nested fragments": _nested_fragments,
    "the largest document": _largest,
    "the standard introspection query": _introspection,
    "the introspection query with a variable": _introspection_with_variables,
    "every costly root field that may stand together": _every_costly_root_field,
    "the largest page beside a node": _largest_page_beside_a_node,
}


def _named(build: Callable[[str, str], str]) -> Callable[[str, str], str]:
    """``build``, its anonymous operation named after the tag."""

    def named(me: str, tag: str) -> str:
        comment, document = build(me, tag).split("\n", 1)
        return f"{comment}\nquery Q{tag.replace('-', '_')} {document}"

    return named


def _largest_named(_me: str, tag: str) -> str:
    document = f"query Q{tag.replace('-', '_')} {{ getPosts {{ id text createdAt }} }}"
    return padded(document, settings.GRAPHQL_MAX_DOCUMENT_BYTES)


def _named_introspection(build: Callable[[str, str], str]) -> Callable[[str, str], str]:
    def named(me: str, tag: str) -> str:
        return build(me, tag).replace(
            "IntrospectionQuery", "IntrospectionQuery" + tag.replace("-", "_"), 1
        )

    return named


def _introspection_renamed(_me: str, tag: str) -> str:
    name = "IntrospectionQuery" + tag.replace("-", "_")
    return get_introspection_query(descriptions=True).replace("IntrospectionQuery", name, 1)


# The worst documents again, each new in its structure too (the operation's name
# varies, which no comment or spacing can do): no cache keyed by the text, nor by its
# tokens, hides any part of their cost.
STRUCTURALLY_NEW: dict[str, Callable[[str, str], str]] = {
    "500 typenames": _named(_typenames),
    "one fragment spread 50 times": _named(_one_fragment),
    "50 fragments": _named(_many_fragments),
    "nested fragments": _named(_nested_fragments),
    "the largest document": _largest_named,
    "the standard introspection query": _introspection_renamed,
    "the introspection query with a variable": _named_introspection(_introspection_with_variables),
    "every costly root field that may stand together": _named(_every_costly_root_field),
    "the largest page beside a node": _named(_largest_page_beside_a_node),
}


def _cpu_per_request(
    api: Api, token: str, documents: list[str], before_each: Callable[[], None] = lambda: None
) -> float:
    """CPU per request, the requests made on a thread of their own, as the server makes
    them (config/bridge.py runs the app on a pool thread).

    Not on pytest's own thread: its stack is some hundred frames deep already, and
    CPython 3.11 keeps frames in 16 KiB chunks that it maps and unmaps as the stack
    crosses a chunk's end. A deep execution there crossed one back and forth: 770
    page faults and 8 ms of system time a request for the introspection query,
    against 10 faults and none on a fresh thread (26 in a worker of `make run`).
    """

    # The bodies encoded before and checked after: the client's JSON is not the server's
    # work (decoding the introspection query's answer alone cost this process 0.2 ms).
    bodies = [json.dumps({"query": document}) for document in documents]
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    def requests() -> tuple[float, list[HttpResponseBase]]:
        responses = []
        started = time.process_time()
        for body in bodies:
            before_each()
            responses.append(
                api.client.post("/graphql", body, content_type="application/json", **headers)
            )
        return (time.process_time() - started) / len(documents), responses

    # As in a worker, where what start-up made is frozen (config/wsgi.py): a full
    # collection then walks only what requests left, not this process's whole heap.
    gc.collect()
    gc.freeze()
    try:
        with ThreadPoolExecutor(max_workers=1) as thread:
            cpu, responses = thread.submit(requests).result()
    finally:
        gc.unfreeze()
    for document, response in zip(documents, responses, strict=True):
        body = json.loads(response.content)
        assert response.status_code == 200, (document[:120], str(body)[:300])
        assert "errors" not in body, (document[:120], str(body)[:300])
    return cpu


def _assert_at_most_10x_a_normal_get_posts(
    api: Api, alice: str, name: str, build: Callable[[str, str], str]
) -> None:
    """Alice's 10 posts, then the rounds: the ratio of the cheapest of each, printed."""
    for n in range(10):
        assert "errors" not in api.add_post(f"post {n} " + "x" * 90, token=alice)
    me = gid("User", int(db_scalar("SELECT id FROM users WHERE email = 'alice@example.com'")))
    normal = "query { getPosts { id text createdAt } }"
    assert "errors" not in api.post(normal, token=alice)  # validated, response cached
    responses = get_pipeline().responses
    executed, warm, cold, worst = [], [], [], []
    for r in range(ROUNDS):
        executed.append(
            _cpu_per_request(api, alice, [normal] * PER_ROUND, before_each=responses.clear)
        )
        warm.append(_cpu_per_request(api, alice, [normal] * PER_ROUND))
        cold.append(
            _cpu_per_request(api, alice, [f"# {r} {i}\n{normal}" for i in range(PER_ROUND)])
        )
        worst.append(
            _cpu_per_request(api, alice, [build(me, f"{r}-{i}") for i in range(PER_ROUND)])
        )
    ratio = min(worst) / min(executed)
    summary = (
        f"{name}: {min(worst) * 1000:.1f} ms CPU per request = {ratio:.1f}x a normal getPosts "
        f"({min(executed) * 1000:.2f} ms), {min(worst) / min(warm):.1f}x its cached answer "
        f"({min(warm) * 1000:.2f} ms), {min(worst) / min(cold):.1f}x a new text of it "
        f"({min(cold) * 1000:.2f} ms)"
    )
    print(summary)
    assert ratio <= BOUND, summary


@pytest.mark.slow
@pytest.mark.parametrize("name", list(WORST))
def test_the_worst_documents_within_the_caps_cost_at_most_10x_a_normal_get_posts(
    api: Api, alice: str, name: str
) -> None:
    """CPU of a document that passes every cap, relative to a normal getPosts of 10 posts.

    Baseline: the getPosts document a client sends every time (parsed and
    validated once), executed over the caller's 10 posts: the work a getPosts
    does, and what issue 12 measured a normal request by (its 70x of 200 ms was
    a request that executed). Its cached answer (a warm hit, no execution) and a
    new text of it (parse, validate, execute) are measured too and reported, not
    bounded: a hit is made cheaper by every optimisation of the hot path, and a
    bound on it would make each of those a regression of this test.

    CPU is this process's (time.process_time(): the test client serves the
    request in-process), the minimum over rounds that interleave the baseline and
    the document, so other processes on the machine do not count. Every worst
    request is a distinct text (a comment varies), so no cache keyed by the text
    hides its cost. A document about the schema alone (the introspection query) is
    validated, and its response cached, once per sequence of tokens, which a
    comment does not change: for it this bound measures what a new text of a known
    document costs (parsing, inlining, printing, a cache hit), as GraphiQL sends it.
    The test below measures every worst document new in its structure, uncached.
    """
    _assert_at_most_10x_a_normal_get_posts(api, alice, name, WORST[name])


@pytest.mark.slow
@pytest.mark.parametrize("name", list(STRUCTURALLY_NEW))
def test_the_worst_documents_cost_at_most_10x_a_normal_get_posts_when_each_is_new_in_structure(
    api: Api, alice: str, name: str
) -> None:
    """The same bound, each worst document new in its structure (its operation's name
    varies): its whole cost, parsing to execution, with no cache. The introspection
    query new in its structure is parsed by gql/fast_parser.py and answered from the
    schema by gql/introspection.py (it was 9.5-11.7x executed); validation is the
    larger part of what is left."""
    _assert_at_most_10x_a_normal_get_posts(api, alice, name, STRUCTURALLY_NEW[name])


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
