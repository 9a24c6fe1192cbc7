"""Browser frontends on another origin: CORS allow-list and security headers."""

from __future__ import annotations

import pytest
from django.test import Client

APP = "https://app.example.com"


@pytest.fixture
def cors(settings: pytest.FixtureRequest) -> None:
    settings.CORS_ALLOWED_ORIGINS = [APP, "http://localhost:3000"]


def _preflight(origin: str) -> dict[str, str]:
    response = Client().options(
        "/graphql",
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )
    assert response.status_code == 200
    return {k.lower(): v for k, v in response.items()}


@pytest.mark.usefixtures("cors")
def test_a_listed_origin_may_post_with_an_authorization_header() -> None:
    headers = _preflight(APP)
    assert headers["access-control-allow-origin"] == APP
    assert "POST" in headers["access-control-allow-methods"]
    allowed = headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed
    assert "content-type" in allowed
    assert "access-control-allow-credentials" not in headers


@pytest.mark.usefixtures("cors")
def test_an_unlisted_origin_is_not_echoed_back() -> None:
    headers = _preflight("https://evil.example.net")
    assert "access-control-allow-origin" not in headers


@pytest.mark.usefixtures("cors")
def test_an_actual_cross_origin_request_carries_the_allow_origin_header() -> None:
    response = Client().post(
        "/graphql", '{"query": "{ __typename }"}', content_type="application/json", HTTP_ORIGIN=APP
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == APP


def test_no_origin_is_allowed_by_default() -> None:
    assert "access-control-allow-origin" not in _preflight(APP)


def test_responses_carry_security_headers() -> None:
    response = Client().post(
        "/graphql", '{"query": "{ __typename }"}', content_type="application/json"
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


@pytest.mark.usefixtures("cors")
def test_graphql_answers_vary_on_origin_with_or_without_one() -> None:
    # A request without Origin skips django-cors-headers (gql/middleware.py); its
    # answer must still tell caches that a request with an Origin may get another.
    for origin in ({}, {"HTTP_ORIGIN": APP}):
        response = Client().post(
            "/graphql", '{"query": "{ __typename }"}', content_type="application/json", **origin
        )
        assert "origin" in response["Vary"].lower()
    assert not Client().get("/healthz").has_header("Vary")  # outside CORS_URLS_REGEX


@pytest.mark.usefixtures("cors")
def test_a_cross_origin_error_answer_is_readable_by_the_listed_origin() -> None:
    # A refusal (here 415) comes from deeper in the stack: the CORS headers still go on.
    response = Client().post("/graphql", "{}", content_type="text/plain", HTTP_ORIGIN=APP)
    assert response.status_code == 415
    assert response["Access-Control-Allow-Origin"] == APP
