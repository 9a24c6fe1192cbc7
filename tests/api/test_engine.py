"""Strawberry is the engine: every operation the pipeline executes goes through
``strawberry.Schema.execute_sync`` (so schema extensions see it), and what runs is
the document the client sent, validated by graphql-core as sent."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from typing import ClassVar

import pytest
from strawberry.extensions import SchemaExtension

from gql.compat import core_schema
from gql.pipeline.prepared import PUBLIC_ROOT_FIELDS
from gql.pipeline.rules import INSTEAD, LISTINGS, ONCE_PER_DOCUMENT, SCHEMA_ROOT_FIELDS
from gql.schema import schema
from tests.conftest import Api, db_scalar


class Recorder(SchemaExtension):
    """A schema extension as anyone would write one: it records each operation."""

    seen: ClassVar[list[tuple[str | None, str]]] = []

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context
        Recorder.seen.append((context.operation_name, context.operation_type.value))


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str | None, str]]:
    Recorder.seen = []
    monkeypatch.setattr(schema, "extensions", [*schema.extensions, Recorder])
    return Recorder.seen


def test_a_schema_extension_sees_every_operation_the_pipeline_executes(
    api: Api, alice: str, recorder: list[tuple[str | None, str]]
) -> None:
    assert "errors" not in api.post("query Mine { getPosts { id } }", token=alice)
    api.post(
        "mutation Add($t: String!) { addPost(text: $t) { postId } }", {"t": "hello"}, token=alice
    )
    denied = api.post("query Anyone { getPosts { id } }")  # executes: the field refuses it
    assert denied["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    api.post("{ __schema { queryType { name } } }")
    assert recorder == [
        ("Mine", "query"),
        ("Add", "mutation"),
        ("Anyone", "query"),
        (None, "query"),
    ]


def test_a_response_cache_hit_does_not_execute_and_a_refused_document_runs_nothing(
    api: Api, alice: str, recorder: list[tuple[str | None, str]]
) -> None:
    for _ in range(3):
        assert "errors" not in api.post("query Mine { getPosts { id } }", token=alice)
    assert api.post("{ nosuchfield }")["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert recorder == [("Mine", "query")]


# The documents an attack on the retired hand-written engine found (issue 18): each is
# answered at once with a GraphQL error, nothing runs, and nothing is stored.
SPINNER = (
    "{ ... on User { ...F1 ...F1 } } fragment F0 on Query { node { ...F1 } } "
    "fragment F1 on Node { ...F0 id ...F0 }"
)
RECURSION = (
    "query Q { viewer { posts { ...F1 ...F1 } } } "
    "fragment F1 on PostConnection { edges { cursor } edges { cursor ...F1 } }"
)
JUNK = (
    "query Q { __typename } fragment Junk on Query { ...Junk nosuchfield(arg:1){x} viewer{nope} }"
)
CHAIN = (
    "{ ...A0 } "
    + " ".join(f"fragment A{n} on Query {{ __typename ...A{n + 1} }}" for n in range(105))
    + " fragment A105 on Query { __typename }"
)


@pytest.mark.parametrize(
    "document", [SPINNER, RECURSION, JUNK, CHAIN], ids=["spinner", "recursion", "junk", "chain"]
)
def test_the_documents_that_broke_the_old_engine_are_refused_and_never_stored(
    api: Api, alice: str, document: str
) -> None:
    digest = hashlib.sha256(document.encode()).hexdigest()
    done: list[dict[str, object]] = []
    # On a thread of its own, so that a document that never returned fails the test
    # instead of hanging it.
    thread = threading.Thread(
        target=lambda: done.append(
            api.send(
                {
                    "query": document,
                    "extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}},
                },
                token=alice,
            )
        ),
        daemon=True,
    )
    thread.start()
    thread.join(timeout=30)
    assert done, "the document was not answered"
    body = done[0]
    assert body["_status"] == 200
    assert body.get("data") is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]  # type: ignore[index]
    stored = db_scalar("SELECT COUNT(*) FROM persisted_queries WHERE sha256 = :d", d=digest)
    assert stored == 0


def test_every_field_the_document_rules_name_exists_in_the_schema() -> None:
    """A renamed field would silently switch a rule off."""
    core = core_schema(schema)
    assert core.query_type is not None
    assert core.mutation_type is not None
    root_fields = {*core.query_type.fields, *core.mutation_type.fields}
    root_fields |= {"__typename", *SCHEMA_ROOT_FIELDS}
    user_fields = set(core.get_type("User").fields)  # type: ignore[union-attr]
    assert root_fields >= ONCE_PER_DOCUMENT, ONCE_PER_DOCUMENT - root_fields
    assert root_fields >= PUBLIC_ROOT_FIELDS, PUBLIC_ROOT_FIELDS - root_fields
    assert root_fields | user_fields >= LISTINGS, LISTINGS - root_fields - user_fields
    assert set(INSTEAD) <= root_fields
    assert {value.split("(")[0] for value in INSTEAD.values()} <= root_fields
