"""signup and login through real GraphQL requests."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from django.test import Client
from sqlalchemy import text

from persistence.db import get_engine
from resolvers_services.tokens import access_claims
from tests.conftest import PASSWORD, Api, error_code, gid, row_id

SIGNUP = "mutation($e: String!, $p: String!) { signup(email: $e, password: $p) { token user { id email } } }"
LONG_PASSWORD = "Zq7!" * 32  # 128 characters


def users() -> list[tuple[int, str]]:
    with get_engine().connect() as conn:
        rows = conn.execute(text("SELECT id, email FROM users ORDER BY id")).all()
    return [(row.id, row.email) for row in rows]


def signed_up(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["signup"]
    return payload


def logged_in(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["login"]
    return payload


def bad_fields(body: dict[str, Any]) -> set[str]:
    assert error_code(body) == "BAD_USER_INPUT"
    fields: dict[str, str] = body["errors"][0]["extensions"]["fields"]
    assert all(fields.values()), "every failing field says why"
    return set(fields)


# signup


def test_signup_returns_a_token_for_the_new_user(api: Api) -> None:
    payload = signed_up(api.signup("alice@example.com"))
    assert payload["user"]["email"] == "alice@example.com"
    assert payload["token"]
    [(user_id, email)] = users()
    assert payload["user"]["id"] == gid("User", user_id)
    assert email == "alice@example.com"
    assert access_claims(payload["token"]).user_id == user_id


def test_signup_trims_and_lower_cases_the_email(api: Api) -> None:
    payload = signed_up(api.signup("  Alice.Smith@Example.COM\t"))
    assert payload["user"]["email"] == "alice.smith@example.com"
    assert [email for _, email in users()] == ["alice.smith@example.com"]


def test_signup_of_an_email_taken_in_another_letter_case_is_conflict(api: Api) -> None:
    signed_up(api.signup("alice@example.com"))
    before = users()
    body = api.signup(" ALICE@Example.com ", "a different password 42")
    assert error_code(body) == "CONFLICT"
    assert body["data"] is None
    assert users() == before
    assert len(before) == 1


def test_the_original_password_still_works_after_a_conflicting_signup(api: Api) -> None:
    signed_up(api.signup("alice@example.com"))
    assert error_code(api.signup("alice@example.com", "a different password 42")) == "CONFLICT"
    logged_in(api.login("alice@example.com"))
    assert (
        error_code(api.login("alice@example.com", "a different password 42")) == "UNAUTHENTICATED"
    )


def test_signup_with_an_invalid_email_names_the_email_field(api: Api) -> None:
    for email in ["not-an-email", "alice@", "", "a" * 250 + "@example.com"]:
        assert bad_fields(api.signup(email)) == {"email"}, email
    assert users() == []


def test_signup_with_a_short_password_names_the_password_field(api: Api) -> None:
    assert bad_fields(api.signup("alice@example.com", "Xk9#pQ2")) == {"password"}
    assert users() == []


def test_signup_with_a_password_over_128_characters_names_the_password_field(api: Api) -> None:
    assert bad_fields(api.signup("alice@example.com", LONG_PASSWORD + "x")) == {"password"}
    assert users() == []


def test_signup_with_a_common_password_names_the_password_field(api: Api) -> None:
    for password in ["password123", "qwertyuiop"]:
        assert bad_fields(api.signup("alice@example.com", password)) == {"password"}
    assert users() == []


def test_signup_with_a_bad_email_and_a_bad_password_names_both(api: Api) -> None:
    assert bad_fields(api.signup("nope", "short")) == {"email", "password"}
    assert users() == []


def test_signup_with_a_missing_argument_is_bad_user_input(api: Api) -> None:
    body = api.post('mutation { signup(email: "alice@example.com") { token } }')
    assert error_code(body) == "BAD_USER_INPUT"
    assert users() == []


def test_token_from_signup_works_on_get_posts(api: Api) -> None:
    token = signed_up(api.signup("alice@example.com"))["token"]
    assert api.posts(token) == []


# login


def test_login_returns_a_token_for_the_account(api: Api) -> None:
    user_id = row_id(signed_up(api.signup("alice@example.com"))["user"]["id"])
    payload = logged_in(api.login("alice@example.com"))
    assert payload["user"] == {"id": gid("User", user_id), "email": "alice@example.com"}
    assert access_claims(payload["token"]).user_id == user_id
    assert api.posts(payload["token"]) == []


def test_login_normalises_the_email_as_signup_does(api: Api) -> None:
    signed_up(api.signup("alice@example.com"))
    assert logged_in(api.login("  ALICE@example.COM "))["user"]["email"] == "alice@example.com"


def test_128_character_password_works_for_signup_and_login_and_every_character_counts(
    api: Api,
) -> None:
    assert len(LONG_PASSWORD) == 128
    signed_up(api.signup("alice@example.com", LONG_PASSWORD))
    logged_in(api.login("alice@example.com", LONG_PASSWORD))
    assert error_code(api.login("alice@example.com", LONG_PASSWORD[:-1])) == "UNAUTHENTICATED"


def test_password_of_four_byte_characters_works_for_signup_and_login(api: Api) -> None:
    password = "\N{GRINNING FACE}" * 128
    signed_up(api.signup("alice@example.com", password))
    logged_in(api.login("alice@example.com", password))


def test_whitespace_around_a_password_is_part_of_it(api: Api) -> None:
    signed_up(api.signup("alice@example.com", "  " + PASSWORD + "  "))
    logged_in(api.login("alice@example.com", "  " + PASSWORD + "  "))
    assert error_code(api.login("alice@example.com", PASSWORD)) == "UNAUTHENTICATED"


def test_wrong_password_and_unknown_email_are_indistinguishable(api: Api) -> None:
    signed_up(api.signup("alice@example.com"))
    wrong_password = api.login("alice@example.com", "not the password 42")
    unknown_email = api.login("nobody@example.com", "not the password 42")
    assert error_code(wrong_password) == "UNAUTHENTICATED"
    assert wrong_password == unknown_email
    assert "token" not in json.dumps(wrong_password["data"] or {})


def test_login_failure_message_names_neither_cause(api: Api) -> None:
    signed_up(api.signup("alice@example.com"))
    message = api.login("alice@example.com", "not the password 42")["errors"][0]["message"]
    lowered = message.lower()
    assert "exist" not in lowered
    assert "unknown" not in lowered
    assert "not found" not in lowered


def test_login_with_an_invalid_email_is_bad_user_input(api: Api) -> None:
    assert bad_fields(api.login("not-an-email")) == {"email"}


# racing signups


def test_racing_signups_for_one_email_give_one_account_and_conflicts(api: Api) -> None:
    racers = 8
    barrier = threading.Barrier(racers)
    codes: list[str] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def sign_up(index: int) -> None:
        client = Client()
        payload = json.dumps(
            {"query": SIGNUP, "variables": {"e": "Race@Example.com", "p": f"{PASSWORD} {index}"}}
        )
        try:
            barrier.wait(timeout=30)
            response = client.post("/graphql", payload, content_type="application/json")
            body = response.json()
            code = error_code(body) if body.get("errors") else "OK"
        except BaseException as exc:  # reported below, from the main thread
            with lock:
                failures.append(exc)
            return
        with lock:
            codes.append(code)

    threads = [threading.Thread(target=sign_up, args=(i,)) for i in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
    assert "INTERNAL_SERVER_ERROR" not in codes
    assert sorted(codes) == ["CONFLICT"] * (racers - 1) + ["OK"]
    assert [email for _, email in users()] == ["race@example.com"]


# Compatibility look-alikes are one address (NFKC and case folding), on every database


LOOK_ALIKES = [
    pytest.param(
        "\uff4b\uff41\uff54\uff45@example.com", "kate@example.com", id="fullwidth letters"
    ),
    pytest.param("KATE\uff20example.com", "kate@example.com", id="fullwidth at sign"),
    pytest.param("\ufb01le@example.com", "file@example.com", id="fi ligature"),
    pytest.param("stra\u00dfe@example.com", "strasse@example.com", id="sharp s"),
    pytest.param("STRASSE@example.com", "stra\u00dfe@example.com", id="sharp s, other way"),
    pytest.param("\u212aelvin@example.com", "kelvin@example.com", id="kelvin sign"),
    pytest.param("caf\u0065\u0301@example.com", "caf\u00e9@example.com", id="combining accent"),
]


@pytest.mark.parametrize(("first", "second"), LOOK_ALIKES)
def test_a_look_alike_of_a_registered_email_is_conflict(api: Api, first: str, second: str) -> None:
    signed_up(api.signup(first))
    before = users()
    body = api.signup(second, "a different password 42")
    assert error_code(body) == "CONFLICT", body
    assert users() == before
    assert len(before) == 1


@pytest.mark.parametrize(("first", "second"), LOOK_ALIKES)
def test_a_look_alike_logs_in_to_the_same_account(api: Api, first: str, second: str) -> None:
    user_id = signed_up(api.signup(first))["user"]["id"]
    assert logged_in(api.login(second))["user"]["id"] == user_id


# Addresses whose canonical forms differ are different accounts, on every database
# (a case- or accent-insensitive collation, as MySQL's *_ci ones, would equate them).

DISTINCT_ADDRESSES = [
    pytest.param("cafe@example.com", "caf\u00e9@example.com", id="accent"),
    pytest.param("caf\u00e9@example.com", "cafe@example.com", id="accent, other way"),
    pytest.param("resume@example.com", "r\u00e9sum\u00e9@example.com", id="two accents"),
    pytest.param("jurgen@example.com", "j\u00fcrgen@example.com", id="umlaut"),
    pytest.param("phoebe@example.com", "ph\u0153be@example.com", id="oe ligature"),
    pytest.param("tim@example.com", "t\u0131m@example.com", id="dotless i"),
]
OTHER_PASSWORD = "a different password 42"


@pytest.mark.parametrize(("first", "second"), DISTINCT_ADDRESSES)
def test_addresses_that_differ_in_a_letter_are_two_accounts_with_their_own_passwords(
    api: Api, first: str, second: str
) -> None:
    first_id = signed_up(api.signup(first))["user"]["id"]
    second_id = signed_up(api.signup(second, OTHER_PASSWORD))["user"]["id"]
    assert first_id != second_id
    stored = {gid("User", user_id): email.encode() for user_id, email in users()}
    assert stored == {first_id: first.encode(), second_id: second.encode()}
    for email, password, user_id in (
        (first, PASSWORD, first_id),
        (second, OTHER_PASSWORD, second_id),
    ):
        assert logged_in(api.login(email, password))["user"] == {"id": user_id, "email": email}
    before = users()
    assert error_code(api.login(first, OTHER_PASSWORD)) == "UNAUTHENTICATED"
    assert error_code(api.login(second, PASSWORD)) == "UNAUTHENTICATED"
    assert error_code(api.signup(second, "yet another password 7")) == "CONFLICT"
    assert users() == before


def test_emails_are_stored_in_their_canonical_form(api: Api) -> None:
    payload = signed_up(api.signup("  \uff2b\uff41\uff54\uff45.Stra\u00dfe@Example.COM "))
    assert payload["user"]["email"] == "kate.strasse@example.com"
    assert [email for _, email in users()] == ["kate.strasse@example.com"]


def test_an_email_that_only_becomes_too_long_when_case_folded_is_bad_user_input(
    api: Api,
) -> None:
    # Each "ß" folds to "ss": 228 characters as sent, 383 once folded (over 254).
    email = "a" * 64 + "@" + ".".join(["\u00df" * 31] * 5) + ".com"
    assert len(email) == 228
    assert bad_fields(api.signup(email)) == {"email"}
    assert users() == []
    # The same shape, short enough once folded, is accepted (and stored folded).
    shorter = "a" * 64 + "@" + ".".join(["\u00df" * 31] * 2) + ".com"
    stored = signed_up(api.signup(shorter))["user"]["email"]
    assert stored == "a" * 64 + "@" + ".".join(["s" * 62] * 2) + ".com"
