"""The account and session services against an in-memory unit of work.

These pin down where each transaction begins and commits (the login path runs
four: admit the address, record the attempt, confirm it and read the user,
start the session), that helpers never commit on a service's behalf, that a
deadlock reruns only the transaction it hit, and what every denial leaves
behind (nothing, or exactly the failed attempt it must count).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings

from persistence.errors import DatabaseUnavailable, TransientError
from resolvers_services import accounts, sessions
from resolvers_services.accounts import (
    user_authenticate,
    user_change_password,
    user_delete,
    user_login,
    user_signup,
)
from resolvers_services.post_cache import PostsCache
from resolvers_services.sessions import session_end, session_end_all, session_refresh
from resolvers_services.tokens import TokenVerifier
from schemas.errors import DomainError, ErrorCode
from schemas.users import (
    AuthResult,
    ChangePasswordInput,
    DeleteAccountInput,
    LoginInput,
    Principal,
    SignupInput,
)
from tests.unit.fakes import FakeUnitOfWork, snapshot

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a brand new passphrase 42"
HOME = "192.0.2.1"


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


def signup(uow: FakeUnitOfWork, email: str = "alice@example.com") -> AuthResult:
    data = SignupInput(email=email, password=PASSWORD)
    return user_signup(uow=uow, data=data, source=HOME)


def login(
    uow: FakeUnitOfWork,
    email: str = "alice@example.com",
    password: str = PASSWORD,
    source: str = HOME,
) -> AuthResult:
    return user_login(uow=uow, data=LoginInput(email=email, password=password), source=source)


def caller(uow: FakeUnitOfWork, result: AuthResult) -> Principal:
    return user_authenticate(uow=uow, token=result.token, tokens=TokenVerifier())


def refused(code: ErrorCode, call: Any, *args: Any, **kwargs: Any) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call(*args, **kwargs)
    assert caught.value.code is code, caught.value.message
    return caught.value


def counted(uow: FakeUnitOfWork) -> tuple[int, int]:
    """Transactions and commits so far, to measure one call."""
    return uow.transactions, uow.commits


# signup


def test_signup_runs_two_transactions_and_starts_a_session(uow: FakeUnitOfWork) -> None:
    result = signup(uow)
    assert counted(uow) == (2, 2)  # the address is admitted, then account and session
    [user] = uow.committed.users.values()
    [session] = uow.committed.sessions.values()
    assert (session.user_id, session.generation, session.ended_at) == (user.id, 0, None)
    assert caller(uow, result).session_id == session.id


def test_signup_of_a_taken_email_is_conflict_and_adds_nothing(uow: FakeUnitOfWork) -> None:
    signup(uow)
    before = snapshot(uow)
    refused(ErrorCode.CONFLICT, signup, uow, " ALICE@example.com")
    assert uow.committed.users == before.users
    assert uow.committed.sessions == before.sessions


# login


def test_login_runs_four_transactions_three_of_which_write(uow: FakeUnitOfWork) -> None:
    signup(uow)
    start = counted(uow)
    result = login(uow)
    transactions, commits = counted(uow)
    assert (transactions - start[0], commits - start[1]) == (4, 3)
    assert uow.committed.attempts == []  # recorded, then forgotten on success
    user = next(iter(uow.committed.users.values()))
    assert (user.id, HOME) in uow.committed.known
    assert caller(uow, result).id == user.id


def test_a_wrong_password_leaves_exactly_the_failed_attempt(uow: FakeUnitOfWork) -> None:
    signup(uow)
    before = snapshot(uow)
    error = refused(ErrorCode.UNAUTHENTICATED, login, uow, password="not the password")
    assert error.message == accounts.LOGIN_FAILED
    [attempt] = uow.committed.attempts
    assert (attempt.email, attempt.source) == ("alice@example.com", HOME)
    assert uow.committed.sessions == before.sessions
    assert uow.committed.known == before.known


def test_an_unknown_email_fails_like_a_wrong_password(uow: FakeUnitOfWork) -> None:
    signup(uow)
    wrong = refused(ErrorCode.UNAUTHENTICATED, login, uow, password="not the password")
    unknown = refused(ErrorCode.UNAUTHENTICATED, login, uow, email="nobody@example.com")
    assert (wrong.message, wrong.extensions()) == (unknown.message, unknown.extensions())


def test_a_throttled_login_records_nothing_and_checks_no_password(
    uow: FakeUnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.LOGIN_MAX_FAILURES = 2
    signup(uow)
    for _ in range(2):
        refused(ErrorCode.UNAUTHENTICATED, login, uow, password="not the password")
    checks: list[str] = []
    monkeypatch.setattr(accounts, "verify_password", lambda *a: checks.append("v") or True)
    before = snapshot(uow)
    refused(ErrorCode.RATE_LIMITED, login, uow)
    assert checks == []
    assert uow.committed.attempts == before.attempts
    assert uow.committed.sessions == before.sessions


def test_an_address_over_its_limit_is_refused_before_anything_else(
    uow: FakeUnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.AUTH_MAX_PER_ADDRESS_PER_MINUTE = 2
    signup(uow)
    login(uow)
    hashed: list[str] = []
    monkeypatch.setattr(accounts, "verify_password", lambda *a: hashed.append("v") or True)
    monkeypatch.setattr(accounts, "hash_password", lambda *a: hashed.append("h") or "")
    before, start = snapshot(uow), counted(uow)
    error = refused(ErrorCode.RATE_LIMITED, login, uow)
    refused(ErrorCode.RATE_LIMITED, signup, uow, "bob@example.com")
    assert error.extra["retryAfterSeconds"] >= 1
    assert hashed == []
    assert snapshot(uow) == before
    assert counted(uow) == (start[0] + 2, start[1])  # one transaction each, rolled back


def test_the_account_limit_does_not_apply_from_a_known_address(uow: FakeUnitOfWork) -> None:
    settings.LOGIN_MAX_FAILURES = 3
    settings.LOGIN_MAX_FAILURES_PER_ACCOUNT = 4
    signup(uow)
    login(uow)  # HOME is known now
    for n in range(4):
        refused(
            ErrorCode.UNAUTHENTICATED,
            login,
            uow,
            password="not the password",
            source=f"198.51.100.{n}",
        )
    refused(ErrorCode.RATE_LIMITED, login, uow, source="198.51.100.99")
    assert caller(uow, login(uow)).email == "alice@example.com"


# Retries: only the transaction that hit the deadlock runs again


def test_a_deadlock_reruns_only_the_transaction_it_hit(uow: FakeUnitOfWork) -> None:
    signup(uow)
    start = counted(uow)
    calls = uow.commit_calls
    # The login's commits: admit the address, record the attempt, start the session.
    # The third deadlocks once.
    uow.fail_commits = [None, None, TransientError]
    result = login(uow)
    assert uow.commit_calls - calls == 4  # the session's transaction ran twice
    assert counted(uow)[1] - start[1] == 3
    assert uow.committed.attempts == []  # recorded once, forgotten once
    assert sum(uow.committed.hits.values()) == 2  # signup and this login, counted once each
    assert len(uow.committed.sessions) == 2
    assert caller(uow, result).email == "alice@example.com"


def test_an_unreachable_database_is_a_retryable_internal_error(uow: FakeUnitOfWork) -> None:
    uow.fail_commits = [DatabaseUnavailable]
    error = refused(ErrorCode.INTERNAL_SERVER_ERROR, signup, uow)
    assert error.extra == {"retryable": True}
    assert snapshot(uow).users == {}


def test_a_deadlock_that_never_clears_gives_up(uow: FakeUnitOfWork) -> None:
    uow.fail_commits = [TransientError] * 10
    with pytest.raises(TransientError):
        signup(uow)
    assert snapshot(uow).users == {}


# Sessions


def test_refresh_rotates_and_reuse_ends_the_session(uow: FakeUnitOfWork) -> None:
    first = signup(uow)
    second = session_refresh(uow=uow, refresh_token=first.refresh_token, source=HOME)
    [session] = uow.committed.sessions.values()
    assert session.generation == 1
    refused(
        ErrorCode.UNAUTHENTICATED,
        session_refresh,
        uow=uow,
        refresh_token=first.refresh_token,
        source=HOME,
    )
    assert uow.committed.sessions[session.id].ended_at is not None
    refused(ErrorCode.UNAUTHENTICATED, caller, uow, second)


def test_a_token_that_is_not_of_the_sessions_family_ends_nothing(uow: FakeUnitOfWork) -> None:
    first = signup(uow)
    prefix, sid, _family, secret = first.refresh_token.split(".")
    forged = ".".join((prefix, sid, "A" * 43, secret))
    before = snapshot(uow).sessions
    refused(
        ErrorCode.UNAUTHENTICATED,
        session_refresh,
        uow=uow,
        refresh_token=forged,
        source=HOME,
    )
    assert uow.committed.sessions == before
    assert caller(uow, first).email == "alice@example.com"


def test_logout_and_logout_everywhere_commit_once_each(uow: FakeUnitOfWork) -> None:
    first, second, third = signup(uow), login(uow), login(uow)
    start = counted(uow)
    assert session_end(uow=uow, user=caller(uow, first)) == 1
    assert counted(uow)[1] - start[1] == 1
    refused(ErrorCode.UNAUTHENTICATED, caller, uow, first)
    assert session_end_all(uow=uow, user=caller(uow, second)) == 2
    refused(ErrorCode.UNAUTHENTICATED, caller, uow, third)


def test_the_oldest_session_ends_beyond_the_bound(uow: FakeUnitOfWork) -> None:
    settings.MAX_SESSIONS_PER_USER = 2
    first = signup(uow)
    second, third = login(uow), login(uow)
    refused(ErrorCode.UNAUTHENTICATED, caller, uow, first)
    assert caller(uow, second).session_id != caller(uow, third).session_id


def test_new_sessions_purge_dead_ones_in_bounded_batches(
    uow: FakeUnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = [signup(uow)] + [login(uow) for _ in range(4)]
    for result in results:
        session_end(uow=uow, user=caller(uow, result))
    monkeypatch.setattr(sessions, "_PURGE_ONE_IN", 1)
    monkeypatch.setattr(sessions, "_PURGE_BATCH", 3)
    login(uow)
    assert len(uow.committed.sessions) == 5 + 1 - 3


# changePassword and deleteAccount


def test_change_password_replaces_the_hash_ends_every_session_and_starts_one(
    uow: FakeUnitOfWork,
) -> None:
    first, second = signup(uow), login(uow)
    old_hash = next(iter(uow.committed.users.values())).password_hash
    fresh = user_change_password(
        uow=uow,
        user=caller(uow, first),
        data=ChangePasswordInput(current_password=PASSWORD, new_password=NEW_PASSWORD),
        source=HOME,
    )
    assert next(iter(uow.committed.users.values())).password_hash != old_hash
    for old in (first, second):
        refused(ErrorCode.UNAUTHENTICATED, caller, uow, old)
    assert caller(uow, fresh).email == "alice@example.com"
    refused(ErrorCode.UNAUTHENTICATED, login, uow)
    login(uow, password=NEW_PASSWORD)


def test_a_wrong_current_password_leaves_only_a_failed_attempt(uow: FakeUnitOfWork) -> None:
    first = signup(uow)
    before = snapshot(uow)
    refused(
        ErrorCode.UNAUTHENTICATED,
        user_change_password,
        uow=uow,
        user=caller(uow, first),
        data=ChangePasswordInput(current_password="not it", new_password=NEW_PASSWORD),
        source=HOME,
    )
    assert len(uow.committed.attempts) == 1
    assert uow.committed.users == before.users
    assert uow.committed.sessions == before.sessions


def test_delete_account_removes_everything_of_the_user_in_one_commit(
    uow: FakeUnitOfWork,
) -> None:
    first = signup(uow)
    other = signup(uow, "bob@example.com")
    user = caller(uow, first)
    uow.committed.posts = {100: user.id, 101: user.id, 102: caller(uow, other).id}
    posts_cache = PostsCache(ttl_seconds=60, max_bytes=1 << 20)
    posts_cache.put(user.id, 0, ())
    start = counted(uow)
    assert (
        user_delete(
            uow=uow,
            user=user,
            data=DeleteAccountInput(password=PASSWORD),
            source=HOME,
            posts_cache=posts_cache,
        )
        == user.id
    )
    assert counted(uow)[1] - start[1] == 3  # admit, record the attempt, delete
    assert user.id not in uow.committed.users
    assert all(s.user_id != user.id for s in uow.committed.sessions.values())
    assert set(uow.committed.posts) == {102}
    assert uow.committed.attempts == []
    assert posts_cache.get(user.id, 0) is None
    refused(ErrorCode.UNAUTHENTICATED, caller, uow, first)
    assert caller(uow, other).email == "bob@example.com"
    signup(uow)  # the address is free again


def test_delete_account_with_a_wrong_password_deletes_nothing(uow: FakeUnitOfWork) -> None:
    first = signup(uow)
    before = snapshot(uow)
    refused(
        ErrorCode.UNAUTHENTICATED,
        user_delete,
        uow=uow,
        user=caller(uow, first),
        data=DeleteAccountInput(password="not it"),
        source=HOME,
        posts_cache=PostsCache(ttl_seconds=60, max_bytes=1 << 20),
    )
    assert uow.committed.users == before.users
    assert uow.committed.sessions == before.sessions
