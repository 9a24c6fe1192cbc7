"""Every answer the service gives itself is JSON in the GraphQL error shape, never HTML."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import HttpResponse
from django.test import Client
from pytest_django import Settings

from tests.api.observability_urls import CRASH_MESSAGE
from tests.conftest import leaks_in

TEST_URLS = "tests.api.observability_urls"
REQUEST_ID = "json-errors-1"


@pytest.fixture
def lenient() -> Client:
    """A client that returns a 500 as the server would send it, instead of raising."""
    return Client(raise_request_exception=False)


def assert_json_error(response: HttpResponse, status: int, code: str) -> dict[str, Any]:
    """The contract's error shape, with the request id, and nothing an attacker could use."""
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json", response["Content-Type"]
    assert response["X-Request-ID"] == REQUEST_ID
    body: dict[str, Any] = response.json()
    assert set(body) == {"errors"}, body
    [error] = body["errors"]
    assert isinstance(error["message"], str)
    assert error["message"]
    assert error["extensions"]["code"] == code
    content = response.content.decode("utf-8")
    for html_or_debug in ("<html", "<!doctype", "DEBUG", "debug", "Django", "settings"):
        assert html_or_debug not in content, content
    assert not leaks_in(content, extra=(".py", CRASH_MESSAGE, "RuntimeError")), content
    return body


def get(client: Client, path: str, **extra: Any) -> HttpResponse:
    response: HttpResponse = client.get(path, HTTP_X_REQUEST_ID=REQUEST_ID, **extra)
    return response


def test_an_unknown_path_is_a_json_404(client: Client) -> None:
    response = get(client, "/no/such/page")
    body = assert_json_error(response, 404, "NOT_FOUND")
    assert "/no/such/page" not in str(body)


def test_a_post_to_an_unknown_path_is_a_json_404(client: Client) -> None:
    response = client.post("/wp-login.php", {"log": "x"}, HTTP_X_REQUEST_ID=REQUEST_ID)
    assert_json_error(response, 404, "NOT_FOUND")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_a_wrong_method_on_healthz_is_a_json_405(client: Client, method: str) -> None:
    response = client.generic(method, "/healthz", HTTP_X_REQUEST_ID=REQUEST_ID)
    assert_json_error(response, 405, "BAD_USER_INPUT")
    assert response["Allow"] == "GET, HEAD"


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_a_wrong_method_on_graphql_is_a_json_405(client: Client, method: str) -> None:
    response = client.generic(
        method, "/graphql", b"{}", content_type="application/json", HTTP_X_REQUEST_ID=REQUEST_ID
    )
    assert_json_error(response, 405, "BAD_USER_INPUT")


def test_head_on_healthz_works_like_get(client: Client) -> None:
    got = get(client, "/healthz")
    head = client.head("/healthz", HTTP_X_REQUEST_ID=REQUEST_ID)
    assert head.status_code == got.status_code == 200
    assert head["Content-Type"] == got["Content-Type"] == "application/json"
    assert head["X-Request-ID"] == REQUEST_ID
    assert head.content == b""


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1:8000@evil.example", "a b"])
def test_a_bad_host_is_a_json_400(client: Client, host: str) -> None:
    response = get(client, "/healthz", HTTP_HOST=host)
    body = assert_json_error(response, 400, "BAD_USER_INPUT")
    assert "evil" not in str(body)
    assert "ALLOWED_HOSTS" not in str(body)


def test_a_bad_host_on_graphql_is_a_json_400(client: Client) -> None:
    response = client.post(
        "/graphql",
        '{"query": "{ __typename }"}',
        content_type="application/json",
        HTTP_HOST="evil.example",
        HTTP_X_REQUEST_ID=REQUEST_ID,
    )
    assert_json_error(response, 400, "BAD_USER_INPUT")


@pytest.mark.urls(TEST_URLS)
def test_a_csrf_failure_is_a_json_403(settings: Settings) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/test/protected", {"a": "b"}, HTTP_X_REQUEST_ID=REQUEST_ID)
    body = assert_json_error(response, 403, "BAD_USER_INPUT")
    assert "CSRF" in body["errors"][0]["message"]


@pytest.mark.urls(TEST_URLS)
def test_a_crash_is_a_json_500_with_a_generic_message(lenient: Client) -> None:
    response = get(lenient, "/test/crash")
    body = assert_json_error(response, 500, "INTERNAL_SERVER_ERROR")
    assert body["errors"][0]["message"] == "Internal server error"


def test_the_explorer_page_is_not_served_when_off_and_the_answer_is_json(
    client: Client, settings: Settings
) -> None:
    settings.GRAPHQL_EXPLORER = False
    response = client.get("/graphql", HTTP_ACCEPT="text/html", HTTP_X_REQUEST_ID=REQUEST_ID)
    assert response.status_code in {400, 404, 405}
    assert response["Content-Type"].startswith("application/json")
    assert response["X-Request-ID"] == REQUEST_ID
