"""Throttling failed logins per account, shared by every worker through the database.

Every login attempt is recorded *before* the password is checked and forgotten
when it succeeds, so what remains in the window are failures (and attempts still
in flight). Recording first makes the limit exact under concurrency: racing
attempts all see each other's rows, so no more than the limit get through.

Two limits apply: per account and client address (LOGIN_MAX_FAILURES), and per
account from all addresses together (LOGIN_MAX_FAILURES_PER_ACCOUNT, higher).
Keying the first by address means an attacker elsewhere cannot lock a user out;
the second stops a distributed guesser. Throttled attempts are not recorded, so
nobody can extend a lockout past LOGIN_WINDOW_SECONDS after the last counted
failure: nobody can lock a real user out for good.
"""

from __future__ import annotations

import math
import secrets
from datetime import datetime, timedelta

from django.conf import settings

from observability.metrics import record_throttled
from persistence.uow import UnitOfWork
from schemas.errors import DomainError, ErrorCode
from schemas.throttle import LoginAttempt

# One attempt in this many also purges rows that have left every window.
_PURGE_ONE_IN = 100


def _check(uow: UnitOfWork, attempt: LoginAttempt) -> None:
    window = timedelta(seconds=settings.LOGIN_WINDOW_SECONDS)
    since = attempt.created_at - window
    limits: tuple[tuple[str | None, int], ...] = (
        (attempt.source, settings.LOGIN_MAX_FAILURES),
        (None, settings.LOGIN_MAX_FAILURES_PER_ACCOUNT),
    )
    for source, limit in limits:
        counted = uow.login_attempts.count_since(email=attempt.email, since=since, source=source)
        if counted > limit:  # the attempt itself is already among those counted
            oldest = uow.login_attempts.oldest_since(
                email=attempt.email, since=since, source=source
            )
            raise _rate_limited(oldest, window, attempt.created_at)


def _rate_limited(oldest: datetime | None, window: timedelta, now: datetime) -> DomainError:
    free_at = (oldest or now) + window
    retry_after = max(1, math.ceil((free_at - now).total_seconds()))
    record_throttled("login_failures")
    return DomainError(
        ErrorCode.RATE_LIMITED,
        "Too many failed logins for this account; try again later",
        extra={"retryAfterSeconds": retry_after},
    )


def begin_attempt(uow: UnitOfWork, attempt: LoginAttempt) -> None:
    """Record ``attempt`` unless the account is throttled (RATE_LIMITED, nothing recorded)."""
    # Write first, then count: a SQLite transaction that reads before it writes
    # cannot wait for the write lock (WAL refuses the upgrade at once). Raising
    # rolls the insert back, so a throttled attempt is not recorded.
    uow.login_attempts.add(attempt)
    _check(uow, attempt)
    if secrets.randbelow(_PURGE_ONE_IN) == 0:
        uow.login_attempts.purge_before(
            attempt.created_at - timedelta(seconds=settings.LOGIN_WINDOW_SECONDS)
        )
    uow.commit()


def confirm_attempt(uow: UnitOfWork, attempt: LoginAttempt) -> None:
    """After recording: RATE_LIMITED if racing attempts took the account over its limit."""
    _check(uow, attempt)


def forget_attempts(uow: UnitOfWork, attempt: LoginAttempt) -> None:
    """A successful login clears that account's failures from that address."""
    uow.login_attempts.delete_for(email=attempt.email, source=attempt.source)
    uow.commit()


__all__ = ["begin_attempt", "confirm_attempt", "forget_attempts"]
