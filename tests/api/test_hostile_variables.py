"""Variables a client sends are held to what the operation declares (issue 22): one
an operation does not declare is ignored and never kept, so it cannot grow the
response cache; a token given as a variable's default is a token given."""

from __future__ import annotations

import json

from config import bootstrap
from tests.conftest import Api, error_code

GET_POSTS = "{ getPosts { id } }"


def test_a_variable_the_operation_does_not_declare_is_never_kept(api: Api, alice: str) -> None:
    responses = bootstrap.pipeline().responses
    api.post(GET_POSTS, token=alice)
    one_entry = responses.current_bytes
    assert one_entry > 0
    for n in range(20):
        body = api.post(GET_POSTS, {"unused": f"{n}" + "x" * 1024 * 1024}, token=alice)
        assert body["data"] == {"getPosts": []}
    assert responses.current_bytes == one_entry


def test_a_token_given_as_a_variables_default_must_match_the_header(
    api: Api, alice: str, bob: str
) -> None:
    document = f'query($t: String = "{bob}") {{ viewer(token: $t) {{ email }} }}'
    mixed = api.post(document, token=alice)
    assert error_code(mixed) == "UNAUTHENTICATED"
    assert mixed.get("data") is None
    alone = api.post(document)
    assert alone["data"] == {"viewer": {"email": "bob@example.com"}}
    # A variable given explicitly replaces its default.
    given = api.post(document, {"t": alice}, token=alice)
    assert given["data"] == {"viewer": {"email": "alice@example.com"}}


def test_variables_sent_as_anything_but_an_object_are_refused(api: Api) -> None:
    response = api.client.post(
        "/graphql",
        json.dumps({"query": GET_POSTS, "variables": ["a"]}),
        content_type="application/json",
    )
    assert response.status_code == 400
