"""Every document within the caps is answered in bounded CPU: at most 25 times a getPosts
that executes, measured in the same process (the contract, Transport).

The documents are generated at the limit of each cap (fragments, spreads and
inline fragments, repeated fields, directives with variables, operations, unknown
fields, tokens in a long id list, the largest text, introspection), and each is
new in its structure (its operation's name varies), so no cache hides any part of
its cost: this is what a never-seen document costs, which the never-seen-document
budget then bounds in number.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.http.response import HttpResponseBase
from graphql import get_introspection_query

from config import bootstrap
from tests.conftest import Api, db_scalar, gid

pytestmark = pytest.mark.budget

BOUND = 25.0
ROUNDS = 3
PER_ROUND = 5
Build = Callable[[str, str], str]


def _name(tag: str) -> str:
    return "Q" + tag.replace("-", "_")


def _fragment_chain(_me: str, tag: str) -> str:
    """GRAPHQL_MAX_FRAGMENTS fragments on User, each selecting fields and spreading the
    next: validation's overlap check compares the chain pair by pair."""
    count = settings.GRAPHQL_MAX_FRAGMENTS
    chain = " ".join(f"fragment A{n} on User {{ id email ...A{n + 1} }}" for n in range(count - 1))
    return (
        f"query {_name(tag)} {{ viewer {{ ...A0 }} }} {chain} "
        f"fragment A{count - 1} on User {{ id }}"
    )


def _fragments_side_by_side(_me: str, tag: str) -> str:
    count = settings.GRAPHQL_MAX_FRAGMENTS
    spreads = " ".join(f"...F{n}" for n in range(count))
    fragments = " ".join(f"fragment F{n} on User {{ id email }}" for n in range(count))
    return f"query {_name(tag)} {{ viewer {{ {spreads} }} }} {fragments}"


def _nested_inline_fragments(_me: str, tag: str) -> str:
    count = settings.GRAPHQL_MAX_SPREADS
    return (
        f"query {_name(tag)} {{ "
        + "... on Query { " * count
        + "__typename viewer { id }"
        + " }" * count
        + " }"
    )


def _one_fragment_spread_everywhere(_me: str, tag: str) -> str:
    count = settings.GRAPHQL_MAX_SPREADS
    fragment = "fragment V on Query { viewer { id email posts(first: 1) { totalCount } } }"
    return f"query {_name(tag)} {{ " + "...V " * count + "} " + fragment


def _repeated_fields(_me: str, tag: str) -> str:
    """A response name selected as often as allowed, each with a selection to compare."""
    count = settings.GRAPHQL_MAX_REPEATED_FIELDS
    page = (
        "posts(first: 1) { totalCount edges { cursor node { id text createdAt } } "
        "pageInfo { hasNextPage endCursor } }"
    )
    return f"query {_name(tag)} {{ viewer {{ " + f"{page} " * count + "} }"


def _repeated_leaf(_me: str, tag: str) -> str:
    count = min(settings.GRAPHQL_MAX_REPEATED_FIELDS, settings.GRAPHQL_MAX_FIELDS)
    return f"query {_name(tag)} {{ " + "__typename " * count + "}"


def _directives_with_variables(_me: str, tag: str) -> str:
    count = settings.GRAPHQL_MAX_DIRECTIVES
    aliases = settings.GRAPHQL_MAX_ALIASES
    variables = " ".join(f"$v{n}: Boolean = true" for n in range(count))
    fields = " ".join(
        (f"t{n}: " if n < aliases else "") + f"__typename @include(if: $v{n})" for n in range(count)
    )
    return f"query {_name(tag)}({variables}) {{ {fields} }}"


def _operations(_me: str, tag: str) -> str:
    count = settings.GRAPHQL_MAX_OPERATIONS
    others = " ".join(f"query {_name(tag)}_{n} {{ viewer {{ id }} }}" for n in range(count - 1))
    return f"{others} query {_name(tag)} {{ getPosts {{ id }} }}"


def _unknown_fields(_me: str, tag: str) -> str:
    count = settings.GRAPHQL_MAX_FIELDS - 20
    return f"query {_name(tag)} {{ " + " ".join(f"nosuch{n}" for n in range(count)) + " }"


def _long_id_list(me: str, tag: str) -> str:
    count = (settings.GRAPHQL_MAX_TOKENS - 40) // 2
    ids = ", ".join(f'"{me}"' for _ in range(count))
    return f"query {_name(tag)} {{ nodes(ids: [{ids}]) {{ id }} }}"


def _largest_text(_me: str, tag: str) -> str:
    document = f"query {_name(tag)} {{ getPosts {{ id text createdAt }} }}"
    padding = settings.GRAPHQL_MAX_DOCUMENT_BYTES - len(document) - 3
    return f"#{'x' * padding}\n{document}"


def _introspection(_me: str, tag: str) -> str:
    query = get_introspection_query(descriptions=True)
    return query.replace("IntrospectionQuery", "IntrospectionQuery" + _name(tag), 1)


def _every_costly_root_field(me: str, tag: str) -> str:
    posts = [
        gid("Post", int(db_scalar(f"SELECT id FROM posts ORDER BY id LIMIT 1 OFFSET {n}")))  # noqa: S608 - a literal
        for n in range(10)
    ]
    ids = ", ".join(f'"{posts[n % 10] if n % 2 else me}"' for n in range(50))
    shown = "id ... on Post { text createdAt } ... on User { email }"
    return (
        f'query {_name(tag)} {{ __typename viewer {{ id email }} node(id: "{posts[0]}") '
        f"{{ {shown} }} nodes(ids: [{ids}]) {{ {shown} }} }}"
    )


AT_THE_CAPS: dict[str, Build] = {
    "a chain of fragments at the fragment cap": _fragment_chain,
    "fragments side by side at the fragment cap": _fragments_side_by_side,
    "nested inline fragments at the spread cap": _nested_inline_fragments,
    "one fragment spread at the spread cap": _one_fragment_spread_everywhere,
    "a field repeated at the repeat cap": _repeated_fields,
    "a leaf repeated at the repeat cap": _repeated_leaf,
    "variables with @include at the directive cap": _directives_with_variables,
    "operations at the operation cap": _operations,
    "unknown fields near the field cap": _unknown_fields,
    "a long id list at the token cap": _long_id_list,
    "the largest text": _largest_text,
    "the introspection query": _introspection,
    "every costly root field that may stand together": _every_costly_root_field,
}


def _cpu_per_request(
    api: Api, token: str, bodies: list[str], before_each: Callable[[], None] = lambda: None
) -> tuple[float, list[HttpResponseBase]]:
    """CPU per request of this process, the requests made on a fresh thread (as the
    server makes them), what start-up made frozen as in a worker (config/wsgi.py)."""
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    def requests() -> tuple[float, list[HttpResponseBase]]:
        responses = []
        started = time.process_time()
        for body in bodies:
            before_each()
            responses.append(
                api.client.post("/graphql", body, content_type="application/json", **headers)
            )
        return (time.process_time() - started) / len(bodies), responses

    gc.collect()
    gc.freeze()
    try:
        with ThreadPoolExecutor(max_workers=1) as thread:
            return thread.submit(requests).result()
    finally:
        gc.unfreeze()


def _request(document: str) -> str:
    operation = (
        document.split("query ", 1)[1].split(" ", 1)[0].split("(", 1)[0]
        if "query " in document
        else None
    )
    return json.dumps({"query": document, "operationName": operation})


@pytest.mark.parametrize("name", list(AT_THE_CAPS))
def test_a_never_seen_document_at_a_caps_limit_costs_at_most_25_getposts_that_execute(
    api: Api, alice: str, name: str
) -> None:
    """Baseline: the getPosts a client sends every time (prepared once), executed over
    the caller's 10 posts (the response cache cleared before each). CPU is this
    process's, the minimum over rounds that interleave baseline and document, so
    other processes on the machine do not count."""
    settings.GRAPHQL_NEW_DOCUMENTS_PER_ADDRESS_PER_MINUTE = 10**6  # the cost, not the budget
    for n in range(10):
        assert "errors" not in api.add_post(f"post {n} " + "x" * 90, token=alice)
    me = gid("User", int(db_scalar("SELECT id FROM users WHERE email = 'alice@example.com'")))
    normal = json.dumps({"query": "query { getPosts { id text createdAt } }"})
    responses = bootstrap.pipeline().responses
    build = AT_THE_CAPS[name]
    executed, worst = [], []
    for r in range(ROUNDS):
        cpu, _ = _cpu_per_request(api, alice, [normal] * PER_ROUND, before_each=responses.clear)
        executed.append(cpu)
        documents = [build(me, f"{r}_{i}") for i in range(PER_ROUND)]
        cpu, answers = _cpu_per_request(api, alice, [_request(d) for d in documents])
        worst.append(cpu)
        for document, answer in zip(documents, answers, strict=True):
            body = json.loads(answer.content)
            assert answer.status_code == 200, (document[:120], str(body)[:300])
            assert "data" in body or "errors" in body
            codes = {e["extensions"]["code"] for e in body.get("errors", [])}
            assert "INTERNAL_SERVER_ERROR" not in codes, str(body)[:300]
            assert "RATE_LIMITED" not in codes
    ratio = min(worst) / min(executed)
    summary = (
        f"{name}: {min(worst) * 1000:.1f} ms CPU = {ratio:.1f}x a getPosts that executes "
        f"({min(executed) * 1000:.2f} ms)"
    )
    print(summary)
    assert ratio <= BOUND, summary
