"""The per-address limit on password operations (login, signup, refreshToken,
changePassword, deleteAccount): AUTH_MAX_PER_ADDRESS_PER_MINUTE per client address.

An IPv4 address counts alone; an IPv6 address counts with its whole /64 (one
subscriber usually holds a /64, so per-address counting would be no limit).

The count lives in the database, shared by every worker and instance, as a
sliding-window counter: hits per address and minute, and the estimate
``previous minute * (share of it still inside the last 60 s) + this minute``.
It has a fixed window's cost (one row per address and minute) without letting
a client burst twice the limit across a minute boundary.

Why not the ``limits`` package: its shared storages are Redis, Memcached and
MongoDB (its in-memory one is per process), while ``make run`` must work on
SQLite with no other service; this is one small table in the database that is
there anyway, and the same on MySQL/MariaDB.

The check runs before any bcrypt work. A refused request is not counted (its
increment is rolled back), so ``retryAfterSeconds`` is exact: a client that
waits that long gets in.
"""

from __future__ import annotations

import ipaddress
import math
import secrets
from datetime import datetime, timedelta

from django.conf import settings

from observability.metrics import record_throttled
from persistence.ports import AccountsUnitOfWork
from resolvers_services.clock import utcnow
from resolvers_services.transactions import retry_transaction
from schemas.errors import DomainError, ErrorCode
from schemas.limits import ADDRESS_KEY_MAX_CHARS

WINDOW = timedelta(minutes=1)
_WINDOW_SECONDS = WINDOW.total_seconds()
# One request in this many also deletes counts of minutes that no longer matter.
_PURGE_ONE_IN = 100
_UNKNOWN = "unknown"


def address_key(source: str) -> str:
    """What one client address counts as: an IPv4 address, or an IPv6 address's /64."""
    try:
        address = ipaddress.ip_address(source)
    except ValueError:
        # Not an address (a unix socket, a misconfigured proxy): all such share one key.
        return (source.strip() or _UNKNOWN)[:ADDRESS_KEY_MAX_CHARS]
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped
        if mapped is not None:
            return str(mapped)
        network = ipaddress.IPv6Network((int(address) >> 64 << 64, 64))
        return str(network)
    return str(address)


def _window_start(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)


def estimate(*, previous: int, current: int, elapsed: float) -> float:
    """Requests in the last minute, from the previous and current minutes' counts."""
    return previous * (_WINDOW_SECONDS - elapsed) / _WINDOW_SECONDS + current


def seconds_until_admitted(*, previous: int, current: int, elapsed: float, limit: int) -> int:
    """How long until one more request fits, given the counts without it."""
    if current + 1 <= limit:
        # Later in this minute, once enough of the previous minute has slid out.
        needed = _WINDOW_SECONDS - _WINDOW_SECONDS * (limit - current - 1) / previous
        wait = needed - elapsed
    else:
        # In the next minute, once enough of this one has slid out.
        needed = _WINDOW_SECONDS - _WINDOW_SECONDS * (limit - 1) / current
        wait = (_WINDOW_SECONDS - elapsed) + max(0.0, needed)
    # A hair over: at the exact boundary the estimate, in floating point, can still
    # come out a hair above the limit (200 * 3.9 / 60 + 1 is 14.00000000000002).
    return max(1, math.ceil(wait + 1e-6))


def _rate_limited(retry_after: int) -> DomainError:
    record_throttled("address")
    return DomainError(
        ErrorCode.RATE_LIMITED,
        "Too many sign-in and password requests from this address; try again later",
        extra={"retryAfterSeconds": retry_after},
    )


@retry_transaction
def auth_request_admit(*, uow: AccountsUnitOfWork, source: str) -> str:
    """Count one password operation from ``source``; RATE_LIMITED (uncounted) past the limit.

    Returns the address key, for the caller's own per-address bookkeeping.
    """
    key = address_key(source)
    now = utcnow()
    current_start = _window_start(now)
    previous_start = current_start - WINDOW
    elapsed = (now - current_start).total_seconds()
    limit = int(settings.AUTH_MAX_PER_ADDRESS_PER_MINUTE)
    with uow:
        # Write first (the row stays locked until the end of the transaction, so
        # racing requests from one address queue here and each sees the others).
        uow.auth_requests.hit(address=key, window_start=current_start)
        counts = uow.auth_requests.counts(address=key, windows=(previous_start, current_start))
        previous, current = counts.get(previous_start, 0), counts.get(current_start, 0)
        if estimate(previous=previous, current=current, elapsed=elapsed) > limit:
            # Leaving without commit rolls the hit back: refused requests do not count.
            raise _rate_limited(
                seconds_until_admitted(
                    previous=previous, current=current - 1, elapsed=elapsed, limit=limit
                )
            )
        if secrets.randbelow(_PURGE_ONE_IN) == 0:
            uow.auth_requests.purge_before(previous_start)
        uow.commit()
    return key
