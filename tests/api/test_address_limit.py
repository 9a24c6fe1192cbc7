"""The per-address limit on password operations: login, signup, refreshToken, changePassword
and deleteAccount together, AUTH_MAX_PER_ADDRESS_PER_MINUTE per client address (IPv6 by
/64), checked before any bcrypt work, shared through the database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import bcrypt
import pytest
from django.conf import settings
from django.test import Client
from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from persistence.db import get_engine
from persistence.models import AuthRequestCount, LoginAttempt
from resolvers_services import passwords
from tests.conftest import PASSWORD, Api, error_code

LIMIT = 4


@pytest.fixture(autouse=True)
def _limit() -> None:
    settings.AUTH_MAX_PER_ADDRESS_PER_MINUTE = LIMIT


@pytest.fixture
def bcrypt_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every bcrypt hash or check the server makes (the real ones, counted)."""
    calls: list[str] = []

    def counted(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return real(*args, **kwargs)

        return call

    monkeypatch.setattr(passwords.bcrypt, "hashpw", counted("hashpw", bcrypt.hashpw))
    monkeypatch.setattr(passwords.bcrypt, "checkpw", counted("checkpw", bcrypt.checkpw))
    return calls


def client_at(address: str) -> Api:
    return Api(Client(REMOTE_ADDR=address))


def hits() -> dict[str, int]:
    with get_engine().connect() as conn:
        rows = conn.execute(
            text("SELECT address, SUM(hits) FROM auth_request_counts GROUP BY address")
        ).all()
    return {address: int(total) for address, total in rows}


def accounts_and_sessions() -> tuple[list[Any], ...]:
    """Every user (with its password hash), session (with its refresh hash) and attempt."""
    queries = (
        "SELECT id, email, password_hash FROM users ORDER BY id",
        "SELECT id, user_id, refresh_hash, generation, ended_at FROM sessions ORDER BY id",
        "SELECT email, source FROM login_attempts ORDER BY id",
    )
    with get_engine().connect() as conn:
        return tuple([tuple(row) for row in conn.execute(text(sql))] for sql in queries)


def assert_rate_limited(body: dict[str, Any]) -> int:
    assert error_code(body) == "RATE_LIMITED", body
    assert body["data"] is None
    retry_after = body["errors"][0]["extensions"]["retryAfterSeconds"]
    assert isinstance(retry_after, int)
    assert 1 <= retry_after <= 120
    return retry_after


# Each password operation, sent by alice's client with her own credentials: what it
# would do (and hash) if the per-address limit let it through.
OVER_THE_LIMIT: dict[str, Callable[[Api, dict[str, Any]], dict[str, Any]]] = {
    "login": lambda api, _alice: api.login("alice@example.com"),
    "login, wrong password": lambda api, _alice: api.login("alice@example.com", "a wrong one"),
    "login, unknown email": lambda api, _alice: api.login("nobody@example.com", "a wrong one"),
    "signup": lambda api, _alice: api.signup("bob@example.com"),
    "changePassword": lambda api, alice: api.change_password(
        PASSWORD, "a brand new passphrase", token=alice["token"]
    ),
    "changePassword, wrong password": lambda api, alice: api.change_password(
        "a wrong one", "a brand new passphrase", token=alice["token"]
    ),
    "deleteAccount": lambda api, alice: api.delete_account(PASSWORD, token=alice["token"]),
    "deleteAccount, wrong password": lambda api, alice: api.delete_account(
        "a wrong one", token=alice["token"]
    ),
    # No bcrypt here: what it must not do is rotate the refresh token (asserted below).
    "refreshToken": lambda api, alice: api.refresh(alice["refreshToken"]),
}


@pytest.mark.parametrize("operation", list(OVER_THE_LIMIT))
def test_the_request_over_the_limit_is_rate_limited_before_any_bcrypt_work(
    bcrypt_calls: list[str], operation: str
) -> None:
    api = client_at("203.0.113.7")
    alice = api.new_account("alice@example.com")
    for _ in range(LIMIT - 1):
        assert "errors" not in api.login("alice@example.com")
    done, before = len(bcrypt_calls), accounts_and_sessions()

    assert_rate_limited(OVER_THE_LIMIT[operation](api, alice))

    assert bcrypt_calls[done:] == [], "a refused request must not reach bcrypt"
    assert accounts_and_sessions() == before
    assert hits() == {"203.0.113.7": LIMIT}, "refused requests are not counted"
    # Nothing was spent: once the limit lifts, alice's password and tokens still work.
    with Session(get_engine()) as session, session.begin():
        session.execute(delete(AuthRequestCount))
    assert "errors" not in api.refresh(alice["refreshToken"])
    assert "errors" not in api.login("alice@example.com")


def test_all_five_password_operations_count_together() -> None:
    api = client_at("203.0.113.7")
    alice = api.new_account("alice@example.com")  # 1: signup
    assert "errors" not in api.login("alice@example.com")  # 2: login
    refreshed = api.refresh(alice["refreshToken"])  # 3: refreshToken
    assert "errors" not in refreshed, refreshed
    token = refreshed["data"]["refreshToken"]["token"]
    body = api.change_password("wrong password", "a brand new passphrase", token=token)  # 4
    assert error_code(body) == "UNAUTHENTICATED"
    assert_rate_limited(api.delete_account(PASSWORD, token=token))
    assert_rate_limited(api.refresh(refreshed["data"]["refreshToken"]["refreshToken"]))
    assert_rate_limited(api.change_password(PASSWORD, "a brand new passphrase", token=token))
    # The account is intact and its other operations unaffected.
    assert api.get_posts(token=token)["data"] == {"getPosts": []}
    assert "errors" not in api.add_post("still here", token=token)


def test_failed_and_successful_requests_both_count() -> None:
    api = client_at("203.0.113.7")
    api.token_for("alice@example.com")
    assert error_code(api.login("alice@example.com", "wrong password")) == "UNAUTHENTICATED"
    assert error_code(api.refresh("garbage")) == "UNAUTHENTICATED"
    assert "errors" not in api.login("alice@example.com")
    assert_rate_limited(api.login("alice@example.com"))


def test_other_addresses_are_not_limited_by_one_address_flooding() -> None:
    flooder, bystander = client_at("203.0.113.7"), client_at("203.0.113.8")
    bystander.token_for("bystander@example.com")
    for n in range(LIMIT):
        flooder.login(f"random{n}@example.com", "a wrong password")
    assert_rate_limited(flooder.login("random@example.com", "a wrong password"))
    assert "errors" not in bystander.login("bystander@example.com")


def test_an_ipv6_address_counts_with_its_whole_slash_64() -> None:
    same_net = [client_at(f"2001:db8:1:2::{n:x}") for n in range(1, LIMIT + 2)]
    other_net = client_at("2001:db8:1:3::1")
    for n, api in enumerate(same_net[:LIMIT]):
        api.login(f"random{n}@example.com", "a wrong password")
    assert_rate_limited(same_net[LIMIT].login("x@example.com", "a wrong password"))
    assert error_code(other_net.login("x@example.com", "a wrong password")) == "UNAUTHENTICATED"
    assert hits() == {"2001:db8:1:2::/64": LIMIT, "2001:db8:1:3::/64": 1}


def test_an_ipv4_mapped_ipv6_address_counts_as_its_ipv4_address() -> None:
    for _ in range(LIMIT):
        client_at("::ffff:203.0.113.9").login("x@example.com", "a wrong password")
    assert_rate_limited(client_at("203.0.113.9").login("x@example.com", "a wrong password"))


def test_the_limit_is_per_minute_and_lifts_once_the_minute_has_slid_out() -> None:
    api = client_at("203.0.113.7")
    for _ in range(LIMIT):
        api.login("x@example.com", "a wrong password")
    assert_rate_limited(api.login("x@example.com", "a wrong password"))
    # Two minutes pass (typed columns: SQLite keeps DATETIME as text in one format).
    with Session(get_engine()) as session, session.begin():
        for row in session.scalars(select(AuthRequestCount)):
            row.window_start -= timedelta(minutes=2)
        session.execute(delete(LoginAttempt))
    assert error_code(api.login("x@example.com", "a wrong password")) == "UNAUTHENTICATED"


def test_the_default_limit_is_twenty_a_minute() -> None:
    settings.AUTH_MAX_PER_ADDRESS_PER_MINUTE = 20
    api = client_at("203.0.113.7")
    codes = [error_code(api.login(f"x{n}@example.com", "a wrong password")) for n in range(21)]
    assert codes == ["UNAUTHENTICATED"] * 20 + ["RATE_LIMITED"]


def test_operations_without_a_password_are_not_limited(api: Api) -> None:
    token = api.token_for("alice@example.com")
    for _ in range(LIMIT * 2):
        assert "errors" not in api.add_post("hello", token=token)
        assert "errors" not in api.get_posts(token=token)
