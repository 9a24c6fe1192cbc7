"""The HTTP surface: transport errors, the explorer switch, size cap, health, and the schema."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.http import HttpResponse
from django.test import Client
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    Undefined,
    get_introspection_query,
)
from graphql.type import specified_scalar_types
from pytest_django import Settings
from sqlalchemy import text

from gql.export import sdl
from gql.schema import schema
from persistence.db import get_engine, reset_engine
from tests.conftest import IS_MYSQL, Api, error_code, leaks_in

MIB = 1024 * 1024
SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"
MISSPELLED = "{ getPost { id } }"


def assert_clean(response: HttpResponse) -> None:
    """No stack trace, SQL library or file path anywhere in the response."""
    content = response.content.decode("utf-8", errors="replace")
    assert not leaks_in(content, extra=(".py",)), content[:500]


def assert_body_clean(body: dict[str, Any]) -> None:
    text_ = json.dumps(body)
    assert not leaks_in(text_, extra=(".py",)), text_[:500]


def send(client: Client, body: str | bytes, **extra: Any) -> HttpResponse:
    response: HttpResponse = client.post("/graphql", body, content_type="application/json", **extra)
    return response


def graphql(client: Client, query: str, **variables: Any) -> HttpResponse:
    return send(client, json.dumps({"query": query, "variables": variables}))


def json_error_code(response: HttpResponse) -> str:
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    assert_clean(response)
    code: str = response.json()["errors"][0]["extensions"]["code"]
    return code


def post_count() -> int:
    with get_engine().connect() as conn:
        rows: int = conn.execute(text("SELECT COUNT(*) FROM posts")).scalar_one()
    return rows


# Transport errors


@pytest.fixture
def lenient_client() -> Client:
    """A client that returns a 500 as the server would send it, instead of raising."""
    return Client(raise_request_exception=False)


@pytest.mark.parametrize(
    "body",
    ["{not json", '{"query": "{ __typename }"', "", "{'query': '{ __typename }'}", "\xff\xfe"],
)
def test_malformed_json_body_is_a_4xx_with_a_json_error(lenient_client: Client, body: str) -> None:
    response = send(lenient_client, body)
    assert 400 <= response.status_code < 500
    assert json_error_code(response) == "BAD_USER_INPUT"


@pytest.mark.parametrize("body", ["null", '"a string"', "42", "true"])
def test_json_body_that_is_not_an_object_is_a_4xx_with_a_json_error(
    lenient_client: Client, body: str
) -> None:
    response = send(lenient_client, body)
    assert 400 <= response.status_code < 500, response.content[:200]
    assert json_error_code(response) == "BAD_USER_INPUT"


@pytest.mark.parametrize("body", [b'{"query": "\xff\xfe"}', b"\xff\xfe{}", b"\xc3\x28"])
def test_body_that_is_not_utf8_is_a_4xx_with_a_json_error(
    lenient_client: Client, body: bytes
) -> None:
    response = send(lenient_client, body)
    assert 400 <= response.status_code < 500, response.content[:200]
    assert json_error_code(response) == "BAD_USER_INPUT"


@pytest.mark.parametrize(
    "body", ["[]", json.dumps([{"query": "{ __typename }"}, {"query": "{ __typename }"}])]
)
def test_batched_requests_are_refused_with_a_json_error(lenient_client: Client, body: str) -> None:
    response = send(lenient_client, body)
    assert 400 <= response.status_code < 500
    assert json_error_code(response) == "BAD_USER_INPUT"


def test_body_without_a_query_is_a_4xx_with_a_json_error(client: Client) -> None:
    response = send(client, json.dumps({"variables": {}}))
    assert 400 <= response.status_code < 500
    assert json_error_code(response) == "BAD_USER_INPUT"


def test_non_json_content_type_is_a_4xx_with_a_json_error(client: Client) -> None:
    response = client.post("/graphql", "query=%7B__typename%7D", content_type="text/plain")
    assert 400 <= response.status_code < 500
    assert json_error_code(response) == "BAD_USER_INPUT"


def test_a_query_over_get_runs_and_a_mutation_over_get_is_405(client: Client) -> None:
    response = client.get("/graphql", {"query": "{ __typename }"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}
    mutation = 'mutation { login(email: "a@example.com", password: "whatever-it-is") { token } }'
    response = client.get("/graphql", {"query": mutation}, HTTP_ACCEPT="application/json")
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert json_error_code(response) == "BAD_USER_INPUT"


def test_graphql_syntax_error_is_bad_user_input(client: Client) -> None:
    response = graphql(client, "{ getPosts { id ")
    assert response.status_code < 500
    assert json_error_code(response) == "BAD_USER_INPUT"


def test_variables_of_the_wrong_type_are_bad_user_input(api: Api) -> None:
    body = api.post(
        "mutation($e: String!, $p: String!) { signup(email: $e, password: $p) { token } }",
        {"e": 42, "p": ["not", "a", "string"]},
    )
    assert "data" not in body  # a request error: nothing ran (GraphQL over HTTP)
    assert body["errors"]
    assert {error["extensions"]["code"] for error in body["errors"]} == {"BAD_USER_INPUT"}
    assert_body_clean(body)


# The explorer switch: GraphiQL and introspection together


def test_browser_get_serves_graphiql_when_the_explorer_is_on(
    client: Client, settings: Settings
) -> None:
    settings.GRAPHQL_EXPLORER = True
    response = client.get("/graphql", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"graphiql" in response.content.lower()


def test_browser_get_does_not_serve_graphiql_when_the_explorer_is_off(
    client: Client, settings: Settings
) -> None:
    settings.GRAPHQL_EXPLORER = False
    response = client.get("/graphql", HTTP_ACCEPT="text/html")
    assert not (response.status_code == 200 and response["Content-Type"].startswith("text/html"))
    assert b"graphiql" not in response.content.lower()
    assert_clean(response)


def test_introspection_works_when_the_explorer_is_on(client: Client, settings: Settings) -> None:
    settings.GRAPHQL_EXPLORER = True
    # The query GraphiQL itself sends.
    response = graphql(client, get_introspection_query(descriptions=True))
    body = response.json()
    assert "errors" not in body, str(body)[:500]
    names = {item["name"] for item in body["data"]["__schema"]["types"]}
    assert {"Query", "Mutation", "Post", "User", "AuthPayload"} <= names


@pytest.mark.parametrize(
    "query",
    [
        get_introspection_query(descriptions=True),
        "{ __schema { types { name } } }",
        '{ __type(name: "Post") { fields { name } } }',
    ],
)
def test_introspection_is_refused_when_the_explorer_is_off(
    client: Client, settings: Settings, query: str
) -> None:
    settings.GRAPHQL_EXPLORER = False
    response = graphql(client, query)
    body = response.json()
    assert body.get("data") is None
    assert body["errors"]
    assert {error["extensions"]["code"] for error in body["errors"]} == {"BAD_USER_INPUT"}
    for type_name in ("AuthPayload", "AddPostPayload", "DeletePostPayload", "DateTime"):
        assert type_name not in response.content.decode()
    assert_clean(response)


def test_explorer_can_be_switched_back_on_in_one_process(
    client: Client, settings: Settings
) -> None:
    settings.GRAPHQL_EXPLORER = False
    assert graphql(client, "{ __schema { queryType { name } } }").json()["errors"]
    settings.GRAPHQL_EXPLORER = True
    body = graphql(client, "{ __schema { queryType { name } } }").json()
    assert body == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


def test_misspelled_field_gets_a_suggestion_when_the_explorer_is_on(
    client: Client, settings: Settings
) -> None:
    settings.GRAPHQL_EXPLORER = True
    response = graphql(client, MISSPELLED)
    assert "Did you mean" in response.json()["errors"][0]["message"]
    assert_clean(response)


@pytest.mark.parametrize(
    "query",
    [
        MISSPELLED,
        'mutation { sigup(email: "a@example.com", password: "x") { token } }',
        'mutation { signup(emial: "a@example.com", password: "x") { token } }',
        "{ getPosts { txt } }",
    ],
)
def test_misspelled_names_get_no_suggestion_when_the_explorer_is_off(
    client: Client, settings: Settings, query: str
) -> None:
    settings.GRAPHQL_EXPLORER = False
    response = graphql(client, query)
    body = response.json()
    assert body["errors"]
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "Did you mean" not in response.content.decode()
    assert_clean(response)


def test_the_api_still_works_when_the_explorer_is_off(api: Api, settings: Settings) -> None:
    settings.GRAPHQL_EXPLORER = False
    token = api.token_for("alice@example.com")
    assert api.posts(token) == []


# Request size cap


def test_body_over_the_cap_is_refused_with_413(client: Client, settings: Settings) -> None:
    settings.MAX_REQUEST_BYTES = 1024
    body = json.dumps({"query": "{ __typename }", "variables": {"pad": "x" * 2000}})
    response = send(client, body)
    assert response.status_code == 413
    assert json_error_code(response) == "PAYLOAD_TOO_LARGE"
    assert response.json()["errors"][0]["message"]


def test_body_at_the_cap_is_served(client: Client, settings: Settings) -> None:
    settings.MAX_REQUEST_BYTES = 1024
    prefix = '{"query": "{ __typename }", "variables": {"pad": "'
    suffix = '"}}'
    body = prefix + "x" * (1024 - len(prefix) - len(suffix)) + suffix
    assert len(body) == 1024
    response = send(client, body)
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


def test_declared_length_over_the_cap_is_refused_before_the_body_is_read(
    api: Api, settings: Settings
) -> None:
    settings.MAX_REQUEST_BYTES = 1024
    token = api.token_for("alice@example.com")
    # The body itself is small and valid: only the declared length can cause the 413.
    body = json.dumps({"query": 'mutation { addPost(text: "hi") { postId } }', "variables": {}})
    response = send(api.client, body, CONTENT_LENGTH="1025", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 413
    assert json_error_code(response) == "PAYLOAD_TOO_LARGE"
    assert post_count() == 0


def test_non_numeric_content_length_is_a_4xx(client: Client) -> None:
    response = send(client, json.dumps({"query": "{ __typename }"}), CONTENT_LENGTH="lots")
    assert 400 <= response.status_code < 500
    assert json_error_code(response) == "BAD_USER_INPUT"


@pytest.mark.parametrize(
    ("name", "post_text"),
    [
        ("quotes", '"' * MIB),
        ("backslashes", "\\" * MIB),
        ("newlines", "x" + "\n" * (MIB - 1)),
        ("control characters", "x" + "\x01" * (MIB - 1)),
        ("four-byte emoji", "\N{GRINNING FACE}" * (MIB // 4)),
    ],
)
def test_a_legal_1_mib_post_needing_json_escapes_fits_under_the_default_cap(
    api: Api, name: str, post_text: str
) -> None:
    assert len(post_text.encode("utf-8")) == MIB, name
    token = api.token_for("alice@example.com")
    body = api.add_post(post_text, token=token)
    assert body["_status"] == 200
    assert "errors" not in body, str(body)[:300]
    assert body["data"]["addPost"]["post"]["text"] == post_text
    assert post_count() == 1


# Health


def test_healthz_is_200_with_json_when_the_database_is_up(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["status"] == "ok"


@pytest.fixture
def unreachable_database(settings: Settings, tmp_path: Path) -> Iterator[None]:
    if IS_MYSQL:
        settings.DATABASE_URL = "mysql+mysqldb://root@127.0.0.1:1/posts_api_nowhere"
    else:
        settings.DATABASE_URL = f"sqlite:///{tmp_path / 'no-such-directory' / 'db.sqlite3'}"
    settings.DATABASE_TIMEOUT_SECONDS = 1
    reset_engine()
    yield
    reset_engine()  # the next engine reads the restored settings


@pytest.mark.usefixtures("unreachable_database")
def test_healthz_is_not_200_when_the_database_is_unreachable(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code != 200
    assert response.status_code >= 500
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["status"] != "ok"
    assert_clean(response)


@pytest.mark.usefixtures("unreachable_database")
def test_requests_while_the_database_is_unreachable_fail_without_leaking(api: Api) -> None:
    for body in (api.signup("alice@example.com"), api.login("alice@example.com")):
        assert error_code(body) == "INTERNAL_SERVER_ERROR"
        assert_body_clean(body)
        text_ = json.dumps(body)
        for leak in ("OperationalError", "unable to open", "SELECT", "INSERT", "2003"):
            assert leak not in text_, text_


# The schema


def test_schema_graphql_on_disk_is_up_to_date() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == sdl(), (
        "schema.graphql is stale: run `make schema` and commit the result"
    )


CONTRACT = {
    "Query": {"getPosts": ("[Post!]!", {"token": "String"})},
    "Mutation": {
        "signup": ("AuthPayload!", {"email": "String!", "password": "String!"}),
        "login": ("AuthPayload!", {"email": "String!", "password": "String!"}),
        "addPost": ("AddPostPayload!", {"text": "String!", "token": "String"}),
        "deletePost": ("DeletePostPayload!", {"postId": "ID!", "token": "String"}),
        "refreshToken": ("AuthPayload!", {"refreshToken": "String!"}),
        "logout": ("LogoutPayload!", {"token": "String"}),
        "logoutEverywhere": ("LogoutPayload!", {"token": "String"}),
        "changePassword": (
            "AuthPayload!",
            {"currentPassword": "String!", "newPassword": "String!", "token": "String"},
        ),
        "deleteAccount": ("DeleteAccountPayload!", {"password": "String!", "token": "String"}),
    },
    "AuthPayload": {
        "token": ("String!", {}),
        "refreshToken": ("String!", {}),
        "tokenExpiresAt": ("DateTime!", {}),
        "user": ("User!", {}),
    },
    "User": {"id": ("ID!", {}), "email": ("String!", {})},
    "AddPostPayload": {
        "postId": ("ID!", {}),
        "post": ("Post!", {}),
        "postEdge": ("PostEdge!", {}),
        "viewer": ("User!", {}),
    },
    "DeletePostPayload": {"postId": ("ID!", {}), "viewer": ("User!", {})},
    "Post": {"id": ("ID!", {}), "text": ("String!", {}), "createdAt": ("DateTime!", {})},
}


def test_schema_keeps_every_type_field_and_argument_of_the_contract() -> None:
    graphql_schema = schema._schema
    for type_name, fields in CONTRACT.items():
        named = graphql_schema.get_type(type_name)
        assert isinstance(named, GraphQLObjectType), type_name
        for field_name, (field_type, arguments) in fields.items():
            field = named.fields.get(field_name)
            assert field is not None, f"{type_name}.{field_name} is missing"
            assert str(field.type) == field_type, f"{type_name}.{field_name}"
            actual = {name: str(arg.type) for name, arg in field.args.items()}
            assert actual.items() >= arguments.items(), f"{type_name}.{field_name} arguments"
            for name, arg in field.args.items():
                if name not in arguments:  # an added argument must not break old queries
                    assert (
                        not isinstance(arg.type, GraphQLNonNull)
                        or arg.default_value is not Undefined
                    ), f"{type_name}.{field_name}({name}) is a new required argument"


def _user_types() -> list[GraphQLNamedType]:
    return [
        named
        for name, named in schema._schema.type_map.items()
        if not name.startswith("__") and name not in specified_scalar_types
    ]


def _documented_things() -> Iterator[tuple[str, str | None]]:
    """(path, description) of every type, field, argument and enum value we define."""
    for named in _user_types():
        yield named.name, named.description
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in named.fields.items():
                yield f"{named.name}.{field_name}", field.description
                for arg_name, arg in field.args.items():
                    yield f"{named.name}.{field_name}({arg_name})", arg.description
        elif isinstance(named, GraphQLInputObjectType):
            for field_name, input_field in named.fields.items():
                yield f"{named.name}.{field_name}", input_field.description
        elif isinstance(named, GraphQLEnumType):
            for value_name, value in named.values.items():
                yield f"{named.name}.{value_name}", value.description


def test_every_type_field_and_argument_has_a_description() -> None:
    documented = dict(_documented_things())
    undocumented = [
        path for path, description in documented.items() if not (description or "").strip()
    ]
    assert undocumented == [], f"add description= to: {', '.join(undocumented)}"
    assert set(CONTRACT) | {"DateTime"} <= {named.name for named in _user_types()}
    assert "Mutation.deletePost(postId)" in documented
