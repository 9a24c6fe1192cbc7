"""Query shape limits: depth, aliases, tokens, expensive fields, introspection depth."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.conf import settings
from graphql import get_introspection_query
from sqlalchemy import text

from config import bootstrap
from gql import pipeline
from gql.pipeline import prepared as prepared_module
from persistence.db import get_engine
from tests.conftest import Api


def _codes(body: dict[str, object]) -> set[str]:
    errors = body["errors"]
    assert isinstance(errors, list)
    return {e["extensions"]["code"] for e in errors}


def _users() -> int:
    with get_engine().connect() as conn:
        return int(conn.execute(text("SELECT COUNT(*) FROM users")).scalar_one())


def test_aliased_signups_in_one_document_are_refused_before_any_runs(api: Api) -> None:
    fields = " ".join(
        f'a{i}: signup(email: "u{i}@example.com", password: "correct horse {i}") {{ token }}'
        for i in range(10)
    )
    body = api.post(f"mutation {{ {fields} }}")
    assert body.get("data") is None
    assert _codes(body) == {"BAD_USER_INPUT"}
    assert _users() == 0


def test_get_posts_twice_in_one_document_is_refused(api: Api) -> None:
    token = api.token_for("limits@example.com")
    body = api.post("{ a: getPosts { id } b: getPosts { id } }", token=token)
    assert _codes(body) == {"BAD_USER_INPUT"}


def test_node_twice_in_one_document_is_refused_with_nodes_as_the_way(api: Api) -> None:
    """Each node is a lookup of its own: aliases may not multiply them (fifteen cost
    as much as sixteen getPosts); nodes(ids:) looks many up in one query."""
    token = api.token_for("limits@example.com")
    post = api.add_post("mine", token=token)["data"]["addPost"]["postId"]
    document = f'{{ a: node(id: "{post}") {{ id }} b: node(id: "{post}") {{ id }} }}'
    body = api.post(document, token=token)
    assert _codes(body) == {"BAD_USER_INPUT"}
    assert body.get("data") is None
    assert body["errors"][0]["message"] == (
        "'node' may be selected at most once per document; use nodes(ids:) for several."
    )
    # One node beside the viewer, as a Relay page asks, and nodes for several: fine.
    body = api.post(
        f'{{ viewer {{ email }} node(id: "{post}") {{ id }} nodes(ids: ["{post}", "{post}"]) {{ id }} }}',
        token=token,
    )
    assert body["data"] == {
        "viewer": {"email": "limits@example.com"},
        "node": {"id": post},
        "nodes": [{"id": post}, {"id": post}],
    }


PAGE = "posts(first: 100) { edges { node { id text } } }"


@pytest.mark.parametrize(
    "document",
    [
        "{ getPosts { id } viewer { " + PAGE + " } }",
        '{ getPosts { id } nodes(ids: ["X"]) { id } }',
        '{ nodes(ids: ["X"]) { id } viewer { ' + PAGE + " } }",
        '{ node(id: "X") { ... on User { ...P } } getPosts { id } } '
        "fragment P on User { " + PAGE + " }",
    ],
    ids=["getPosts and a page", "getPosts and nodes", "nodes and a page", "a page in a fragment"],
)
def test_an_operation_that_lists_posts_twice_is_refused_and_runs_nothing(
    api: Api, document: str
) -> None:
    """Each listing alone costs a few getPosts; together they passed 11."""
    token = api.token_for("limits@example.com")
    body = api.post(document, token=token)
    assert _codes(body) == {"BAD_USER_INPUT"}
    assert body.get("data") is None
    assert body["errors"][0]["message"].startswith("An operation may list posts once")


def test_each_operation_may_list_posts_once(api: Api) -> None:
    token = api.token_for("limits@example.com")
    document = (
        "query A { getPosts { id } getPosts { id } __typename } "  # identical: merged, once
        "query B { viewer { " + PAGE + " } } "
        'query C { nodes(ids: []) { id } node(id: "VXNlcjox") { id } }'
    )
    for name in "ABC":
        body = api.send({"query": document, "operationName": name}, token=token)
        assert "errors" not in body, body


def test_get_posts_twice_through_fragments_is_refused(api: Api) -> None:
    token = api.token_for("limits@example.com")
    body = api.post(
        "query { ...A ... on Query { getPosts { id } } } fragment A on Query { getPosts { id } }",
        token=token,
    )
    assert _codes(body) == {"BAD_USER_INPUT"}


@pytest.mark.parametrize(
    "document",
    [
        "{ "
        + " ".join(f"a{i}: __schema {{ types {{ name fields {{ name }} }} }}" for i in range(15))
        + " }",
        '{ a: __type(name: "Query") { name } b: __type(name: "Post") { name } }',
        "{ __schema { queryType { name } } ... on Query { s: __schema { types { name } } } }",
    ],
    ids=["__schema under 15 aliases", "__type twice", "__schema twice through a fragment"],
)
def test_the_schema_is_introspected_once_per_document(api: Api, document: str) -> None:
    # Each __schema over the whole schema is a few ms: aliases must not multiply it.
    body = api.post(document)
    assert _codes(body) == {"BAD_USER_INPUT"}
    assert body.get("data") is None
    assert "at most once per document" in body["errors"][0]["message"]


def test_the_schema_introspected_once_still_runs(api: Api) -> None:
    body = api.post('{ __schema { queryType { name } } __type(name: "Post") { name } }')
    assert body["data"] == {
        "__schema": {"queryType": {"name": "Query"}},
        "__type": {"name": "Post"},
    }


def test_too_many_aliases_are_refused(api: Api) -> None:
    fields = " ".join(f"t{i}: __typename" for i in range(50))
    body = api.post(f"{{ {fields} }}")
    assert _codes(body) == {"BAD_USER_INPUT"}


def test_a_document_with_too_many_tokens_is_refused_quickly(api: Api) -> None:
    body = api.post("{ " + "a " * 1500 + "}")  # 3 KB: under the byte cap, over the token cap
    assert _codes(body) == {"BAD_USER_INPUT"}
    assert "token" in body["errors"][0]["message"].lower()


def test_a_deeply_nested_introspection_cycle_is_refused(api: Api) -> None:
    inner = "fields { type { fields { type { fields { type { name } } } } } }"
    body = api.post(f"{{ __schema {{ types {{ {inner} }} }} }}")
    assert _codes(body) == {"BAD_USER_INPUT"}


def test_validation_results_are_cached_across_requests(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[object] = []
    real = prepared_module.validate

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(prepared_module, "validate", counting)
    for _ in range(3):
        assert api.post("{ __typename }")["data"] == {"__typename": "Query"}
    assert len(calls) == 1


def test_hostile_documents_are_answered_without_working_for_seconds(api: Api) -> None:
    # Not a timing assertion on normal work: a guard that these are refused up front.
    hostile = [
        "{ " + "__typename " * 100_000 + "}",
        "query { " + "a: __typename " * 2000 + "}",
        "{" * 10_000,
        "query Q($a: String) { __typename }" * 500,
    ]
    for document in hostile:
        started = time.monotonic()
        body = api.post(document)
        assert _codes(body) == {"BAD_USER_INPUT"}
        assert time.monotonic() - started < 5


def test_fragments_spread_together_answer_exactly_as_the_fields_they_select(api: Api) -> None:
    token = api.token_for("limits@example.com")
    for n in range(3):
        assert "errors" not in api.add_post(f"post {n}", token=token)
    spread = (
        "{ getPosts { ...A ...B ...A } viewer { ...U ...V } } "
        "fragment A on Post { id text } fragment B on Post { createdAt id } "
        "fragment U on User { email } fragment V on User { id email }"
    )
    written = "{ getPosts { id text createdAt } viewer { email id } }"
    # Same keys, same order: the response is the same JSON text.
    assert json.dumps(api.post(spread, token=token)) == json.dumps(api.post(written, token=token))


@pytest.mark.parametrize(
    "document",
    [
        "{ ...A ...B } fragment A on Query { __typename } fragment B on Query { nope }",
        "{ ...A ...B } fragment A on Query { __typename } fragment B on Query { __typename } "
        "fragment C on Query { __typename }",
        "{ ...A ...B } fragment A on Query { ...B } fragment B on Query { ...A }",
        "{ ...A ...B } fragment A on Query { a: __typename } "
        'fragment B on Query { a: __type(name: "Post") { name } }',
        "{ viewer { ...A ...B } } fragment A on User { id } fragment B on Post { text }",
    ],
    ids=["unknown field", "unused fragment", "cycle", "conflict", "impossible spread"],
)
def test_an_invalid_document_is_refused_whether_or_not_its_fragments_are_inlined(
    api: Api, document: str
) -> None:
    body = api.post(document)
    assert _codes(body) == {"BAD_USER_INPUT"}
    assert body.get("data") is None


def test_the_introspection_query_is_run_once_whatever_its_comments(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Introspection's answer is everyone's: cached under the document as printed, so
    GraphiQL's new text on every load (a comment, spacing) is validated, not run."""
    validations: list[object] = []
    executions: list[object] = []
    validate, execute = prepared_module.validate, pipeline.execute

    def counting_validate(*args: Any, **kwargs: Any) -> Any:
        validations.append(args)
        return validate(*args, **kwargs)

    def counting_execute(*args: Any, **kwargs: Any) -> Any:
        executions.append(args)
        return execute(*args, **kwargs)

    monkeypatch.setattr(prepared_module, "validate", counting_validate)
    monkeypatch.setattr(pipeline, "execute", counting_execute)
    query = get_introspection_query(descriptions=True)
    # What GraphiQL sends on every load, here each time a new text.
    bodies = [api.post(f"# load {n}\n{query}") for n in range(3)]
    bodies.append(api.post(query.replace("\n", "\n  ")))  # spacing, too
    assert "errors" not in bodies[0]
    assert bodies[0]["data"]["__schema"]["queryType"]["name"] == "Query"
    assert all(body == bodies[0] for body in bodies)
    assert (len(validations), len(executions)) == (4, 1)
    # Another document (another operation name) is validated and run again.
    assert api.post(query.replace("IntrospectionQuery", "Other", 1)) == bodies[0]
    assert (len(validations), len(executions)) == (5, 2)


def test_a_shared_introspection_response_follows_the_variables(api: Api) -> None:
    document = "query($n: String!) { __type(name: $n) { name } }"
    post = api.post(f"# a\n{document}", {"n": "Post"})
    user = api.post(f"# b\n{document}", {"n": "User"})
    assert post["data"] == {"__type": {"name": "Post"}}
    assert user["data"] == {"__type": {"name": "User"}}
    assert api.post(f"# c\n{document}", {"n": "Post"}) == post


def test_introspection_is_refused_once_the_explorer_is_off_however_often_it_ran(
    api: Api,
) -> None:
    query = get_introspection_query()
    assert "errors" not in api.post(query)
    settings.GRAPHQL_EXPLORER = False
    bootstrap.reset()  # as a restart with the explorer off does (the pipeline reads it once)
    assert _codes(api.post(f"# again\n{query}")) == {"BAD_USER_INPUT"}
    assert _codes(api.post(query)) == {"BAD_USER_INPUT"}


@pytest.mark.parametrize(
    "document",
    [
        "{ __schema { queryType { name } } getPosts { id } }",
        '{ __type(name: "Post") { name } viewer { email } }',
        "query A { __schema { queryType { name } } } query B { getPosts { id } }",
    ],
    ids=["beside getPosts", "beside viewer", "in another operation"],
)
def test_introspection_beside_other_fields_is_refused_and_runs_nothing(
    api: Api, document: str
) -> None:
    """The schema is read alone (answered from the schema, cached for everyone);
    beside other fields it would be executed field by field, at up to 16 getPosts."""
    token = api.token_for("limits@example.com")
    body = api.send(
        {"query": document, "operationName": "A" if "query A" in document else None}, token=token
    )
    assert _codes(body) == {"BAD_USER_INPUT"}
    assert body.get("data") is None
    assert "selects nothing else" in body["errors"][0]["message"]
    assert api.post("{ __typename __schema { queryType { name } } }")["data"] == {
        "__typename": "Query",
        "__schema": {"queryType": {"name": "Query"}},
    }


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("query($a: Int) { __typename }", "Variable '$a' is never used."),
        ("query { getPosts(token: $t) { id } }", "Variable '$t' is not defined."),
        ("{ __typename @unknown }", "Unknown directive '@unknown'."),
    ],
)
def test_documents_breaking_the_rules_about_variables_and_directives_are_refused(
    api: Api, source: str, message: str
) -> None:
    body = api.post(source)
    assert [error["message"] for error in body["errors"]] == [message]
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_the_prepared_documents_cache_weighs_each_by_its_text(api: Api) -> None:
    """Bounded by weight, not count: a long document weighs more (documents are parsed
    without locations, so the weight cannot come from the parsed document's end)."""
    prepared = bootstrap.pipeline().prepared._entries
    before = prepared.currsize
    short = "{ __typename }"
    long = "# " + "x" * 4000 + "\n{ __typename }"
    for document in (short, long):
        assert "errors" not in api.post(document)
    assert prepared.currsize - before == (256 + 16 * len(short)) + (256 + 16 * len(long))


def test_a_count_of_posts_beside_a_page_lists_posts_once(api: Api) -> None:
    """``posts { totalCount }`` reads the caller's count, no page: beside a page (or
    getPosts) the operation still lists posts once; with edges or pageInfo it lists."""
    token = api.token_for("limits@example.com")
    api.add_post("one", token=token)
    counted = api.post("{ viewer { c: posts { totalCount } " + PAGE + " } }", token=token)
    assert counted["data"]["viewer"]["c"] == {"totalCount": 1}, counted
    assert api.post("{ getPosts { id } viewer { posts { totalCount } } }", token=token)["data"]
    paged = api.post(
        "{ viewer { a: posts { pageInfo { hasNextPage } } " + PAGE + " } }", token=token
    )
    assert _codes(paged) == {"BAD_USER_INPUT"}
    through = api.post(
        "{ viewer { a: posts { ...E } "
        + PAGE
        + " } } fragment E on PostConnection { edges { cursor } }",
        token=token,
    )
    assert _codes(through) == {"BAD_USER_INPUT"}
