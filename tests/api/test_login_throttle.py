"""Failed logins are throttled per account (and client address), across workers."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.test import Client
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from persistence.db import get_engine
from persistence.models import KnownAddress, LoginAttempt
from tests.conftest import PASSWORD, Api, error_code

LOGIN = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }"


@pytest.fixture
def limits(settings: pytest.FixtureRequest) -> None:
    settings.LOGIN_MAX_FAILURES = 3
    settings.LOGIN_MAX_FAILURES_PER_ACCOUNT = 5
    settings.LOGIN_WINDOW_SECONDS = 900


def _fail(api: Api, email: str, times: int) -> list[str]:
    return [error_code(api.login(email, "wrong password!")) for _ in range(times)]


@pytest.mark.usefixtures("limits")
def test_failed_logins_beyond_the_limit_are_rate_limited_even_with_the_right_password(
    api: Api,
) -> None:
    api.token_for("carol@example.com")
    assert _fail(api, "carol@example.com", 3) == ["UNAUTHENTICATED"] * 3
    throttled = api.login("carol@example.com")
    assert error_code(throttled) == "RATE_LIMITED"
    assert throttled["errors"][0]["extensions"]["retryAfterSeconds"] > 0
    assert error_code(api.login("CAROL@example.com ")) == "RATE_LIMITED"


@pytest.mark.usefixtures("limits")
def test_unknown_emails_are_throttled_alike(api: Api) -> None:
    assert _fail(api, "nobody@example.com", 4) == ["UNAUTHENTICATED"] * 3 + ["RATE_LIMITED"]


@pytest.mark.usefixtures("limits")
def test_a_successful_login_clears_the_failures(api: Api) -> None:
    api.token_for("dave@example.com")
    _fail(api, "dave@example.com", 2)
    assert "errors" not in api.login("dave@example.com")
    assert _fail(api, "dave@example.com", 3) == ["UNAUTHENTICATED"] * 3


def _recorded_attempts() -> int:
    with get_engine().connect() as conn:
        return int(conn.execute(text("SELECT COUNT(*) FROM login_attempts")).scalar_one())


@pytest.mark.usefixtures("limits")
@pytest.mark.parametrize("aliases", [2, 5, 200])
def test_aliased_login_attempts_in_one_document_do_not_run(api: Api, aliases: int) -> None:
    api.token_for("erin@example.com")
    fields = " ".join(
        f'a{i}: login(email: "erin@example.com", password: "guess-{i}-guess") {{ token }}'
        for i in range(aliases)
    )
    body = api.post(f"mutation {{ {fields} }}")
    assert body.get("data") is None
    assert {e["extensions"]["code"] for e in body["errors"]} == {"BAD_USER_INPUT"}
    assert _recorded_attempts() == 0
    assert "errors" not in api.login("erin@example.com")


@pytest.mark.usefixtures("limits")
def test_failures_from_another_address_do_not_lock_the_user_out(api: Api) -> None:
    api.token_for("frank@example.com")
    attacker = Api(Client(REMOTE_ADDR="203.0.113.9"))
    assert _fail(attacker, "frank@example.com", 3) == ["UNAUTHENTICATED"] * 3
    assert error_code(attacker.login("frank@example.com")) == "RATE_LIMITED"
    assert "errors" not in api.login("frank@example.com")


@pytest.mark.usefixtures("limits")
def test_failures_from_many_addresses_throttle_the_whole_account(api: Api) -> None:
    api.token_for("grace@example.com")
    for i in range(5):
        _fail(Api(Client(REMOTE_ADDR=f"198.51.100.{i}")), "grace@example.com", 1)
    assert error_code(api.login("grace@example.com")) == "RATE_LIMITED"


@pytest.mark.usefixtures("limits")
def test_the_throttle_lifts_once_failures_leave_the_window(api: Api) -> None:
    api.token_for("heidi@example.com")
    _fail(api, "heidi@example.com", 3)
    assert error_code(api.login("heidi@example.com")) == "RATE_LIMITED"
    # Age the recorded failures past the window, as time would.
    with Session(get_engine()) as session, session.begin():
        for attempt in session.scalars(select(LoginAttempt)):
            attempt.created_at -= timedelta(seconds=901)
    assert "errors" not in api.login("heidi@example.com")


@pytest.mark.usefixtures("limits")
def test_racing_failed_logins_never_exceed_the_limit(api: Api) -> None:
    api.token_for("ivan@example.com")
    threads = 12
    barrier = threading.Barrier(threads)
    codes: list[str] = []
    lock = threading.Lock()

    def attempt() -> None:
        client = Api(Client())
        barrier.wait()
        code = error_code(client.login("ivan@example.com", "wrong password!"))
        with lock:
            codes.append(code)

    workers = [threading.Thread(target=attempt) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert codes.count("UNAUTHENTICATED") <= 3
    assert codes.count("UNAUTHENTICATED") + codes.count("RATE_LIMITED") == threads
    assert error_code(api.login("ivan@example.com", PASSWORD)) == "RATE_LIMITED"


# Lockout resistance: the account-wide limit never locks a user out of an address
# from which the account logged in successfully in the last 30 days.


def _spread_failures(email: str, addresses: int, each: int = 1) -> None:
    for i in range(addresses):
        _fail(Api(Client(REMOTE_ADDR=f"198.51.100.{i + 1}")), email, each)


@pytest.mark.usefixtures("limits")
def test_the_account_wide_limit_does_not_lock_a_user_out_of_a_known_address() -> None:
    home = Api(Client(REMOTE_ADDR="192.0.2.10"))
    home.token_for("grace@example.com")  # signup is not a login: the address is not known yet
    assert "errors" not in home.login("grace@example.com")
    _spread_failures("grace@example.com", 5)
    # Past the account-wide limit: a new address is throttled, the known one is not.
    assert error_code(Api(Client(REMOTE_ADDR="192.0.2.99")).login("grace@example.com")) == (
        "RATE_LIMITED"
    )
    assert "errors" not in home.login("grace@example.com")
    assert "errors" not in home.login("grace@example.com")


@pytest.mark.usefixtures("limits")
def test_a_known_address_is_still_limited_by_its_own_failures() -> None:
    home = Api(Client(REMOTE_ADDR="192.0.2.10"))
    home.token_for("grace@example.com")
    assert "errors" not in home.login("grace@example.com")
    assert _fail(home, "grace@example.com", 4) == ["UNAUTHENTICATED"] * 3 + ["RATE_LIMITED"]
    assert error_code(home.login("grace@example.com")) == "RATE_LIMITED"


@pytest.mark.usefixtures("limits")
def test_an_address_known_more_than_30_days_ago_is_throttled_like_any_other() -> None:
    home = Api(Client(REMOTE_ADDR="192.0.2.10"))
    home.token_for("grace@example.com")
    assert "errors" not in home.login("grace@example.com")
    with Session(get_engine()) as session, session.begin():
        for known in session.scalars(select(KnownAddress)):
            known.last_login_at -= timedelta(days=31)
    _spread_failures("grace@example.com", 5)
    assert error_code(home.login("grace@example.com")) == "RATE_LIMITED"


@pytest.mark.usefixtures("limits")
def test_an_ipv6_device_is_known_by_its_slash_64() -> None:
    Api(Client(REMOTE_ADDR="2001:db8:5:6::10")).token_for("grace@example.com")
    assert "errors" not in Api(Client(REMOTE_ADDR="2001:db8:5:6::10")).login("grace@example.com")
    _spread_failures("grace@example.com", 5)
    # A new temporary address of the same /64 (privacy extensions) is the same device.
    assert "errors" not in Api(Client(REMOTE_ADDR="2001:db8:5:6:a:b:c:d")).login(
        "grace@example.com"
    )
    assert error_code(Api(Client(REMOTE_ADDR="2001:db8:5:7::10")).login("grace@example.com")) == (
        "RATE_LIMITED"
    )


@pytest.mark.usefixtures("limits")
def test_failures_from_every_address_of_one_ipv6_slash_64_count_as_one_address() -> None:
    Api(Client()).token_for("heidi@example.com")
    for n in range(3):
        _fail(Api(Client(REMOTE_ADDR=f"2001:db8:9:9::{n + 1:x}")), "heidi@example.com", 1)
    other = Api(Client(REMOTE_ADDR="2001:db8:9:9::ffff"))
    assert error_code(other.login("heidi@example.com")) == "RATE_LIMITED"
    assert "errors" not in Api(Client(REMOTE_ADDR="2001:db8:9:a::1")).login("heidi@example.com")
