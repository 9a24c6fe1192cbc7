"""Throttling failed password checks per account, shared by every worker through the database.

Helpers for the account services; none of them commits (the service that owns
the transaction does).

Every password check (login, changePassword, deleteAccount) is recorded *before*
the password is compared and forgotten when it succeeds, so what remains in the
window are failures (and attempts still in flight). Recording first, in its own
committed transaction, makes the limit exact under concurrency: racing
attempts all see each other's rows, so no more than the limit get through.

Two limits apply: per account and client address (LOGIN_MAX_FAILURES), and per
account from all addresses together (LOGIN_MAX_FAILURES_PER_ACCOUNT, higher).
Keying the first by address means an attacker elsewhere cannot lock a user out;
the second stops a distributed guesser. The second never applies from an
address where the account logged in successfully in the last
KNOWN_ADDRESS_DAYS days (OWASP's device cookie, for an API without cookies), so
failures spread over many addresses cannot lock a user out of their own devices
either. Throttled attempts are not recorded, so nobody can extend a lockout past
LOGIN_WINDOW_SECONDS after the last counted failure.

Addresses are keys (see ``address_limit.address_key``): an IPv6 client counts
with its whole /64.
"""

from __future__ import annotations

import math
import secrets
from datetime import datetime, timedelta

from django.conf import settings

from observability.metrics import record_throttled
from persistence.ports import AccountsUnitOfWork
from schemas.errors import DomainError, ErrorCode
from schemas.throttle import LoginAttempt

KNOWN_ADDRESS_DAYS = 30
# One attempt in this many also purges rows that have left every window.
_PURGE_ONE_IN = 100


def _window() -> timedelta:
    return timedelta(seconds=settings.LOGIN_WINDOW_SECONDS)


def _rate_limited(oldest: datetime | None, window: timedelta, now: datetime) -> DomainError:
    free_at = (oldest or now) + window
    retry_after = max(1, math.ceil((free_at - now).total_seconds()))
    record_throttled("login_failures")
    return DomainError(
        ErrorCode.RATE_LIMITED,
        "Too many failed logins for this account; try again later",
        extra={"retryAfterSeconds": retry_after},
    )


def is_known_address(uow: AccountsUnitOfWork, attempt: LoginAttempt) -> bool:
    """Whether the account logged in successfully from the attempt's address lately."""
    since = attempt.created_at - timedelta(days=KNOWN_ADDRESS_DAYS)
    return uow.known_addresses.is_known(email=attempt.email, address=attempt.source, since=since)


def record_attempt(uow: AccountsUnitOfWork, attempt: LoginAttempt) -> None:
    """Record ``attempt`` (in the caller's transaction), occasionally purging old ones."""
    # Write first, then count: a SQLite transaction that reads before it writes
    # cannot wait for the write lock (WAL refuses the upgrade at once).
    uow.login_attempts.add(attempt)
    if secrets.randbelow(_PURGE_ONE_IN) == 0:
        uow.login_attempts.purge_before(attempt.created_at - _window())


def check_attempts(uow: AccountsUnitOfWork, attempt: LoginAttempt, *, known_address: bool) -> None:
    """RATE_LIMITED if the account (from this address, or at all) is over its limit.

    ``attempt`` is already recorded, so it is among those counted.
    """
    window = _window()
    since = attempt.created_at - window
    limits: list[tuple[str | None, int]] = [(attempt.source, settings.LOGIN_MAX_FAILURES)]
    if not known_address:
        limits.append((None, settings.LOGIN_MAX_FAILURES_PER_ACCOUNT))
    for source, limit in limits:
        counted = uow.login_attempts.count_since(email=attempt.email, since=since, source=source)
        if counted > limit:
            oldest = uow.login_attempts.oldest_since(
                email=attempt.email, since=since, source=source
            )
            raise _rate_limited(oldest, window, attempt.created_at)


def forget_attempts(uow: AccountsUnitOfWork, attempt: LoginAttempt) -> None:
    """A successful check clears that account's failures from that address."""
    uow.login_attempts.delete_for(email=attempt.email, source=attempt.source)


def remember_address(uow: AccountsUnitOfWork, *, user_id: int, attempt: LoginAttempt) -> None:
    """Note that ``user_id`` logged in from the attempt's address (occasionally purging)."""
    uow.known_addresses.remember(user_id=user_id, address=attempt.source, now=attempt.created_at)
    if secrets.randbelow(_PURGE_ONE_IN) == 0:
        uow.known_addresses.purge_before(attempt.created_at - timedelta(days=KNOWN_ADDRESS_DAYS))


__all__ = [
    "KNOWN_ADDRESS_DAYS",
    "check_attempts",
    "forget_attempts",
    "is_known_address",
    "record_attempt",
    "remember_address",
]
