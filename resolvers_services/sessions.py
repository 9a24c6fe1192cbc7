"""Session use cases: rotating a refresh token, logout, logout everywhere, housekeeping.

Also the helpers signup, login and changePassword use to start a session inside
their own transaction (they never commit).

A session is one row: the SHA-256 of its refresh-token family and of its current
token, a rotation counter, and when it was created, last refreshed, expires and
ended. Access tokens name their session, and every request checks it in the
same statement that reads the caller (``user_authenticate``), so an ended
session's tokens stop working on the very next request, on every worker and
instance.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from django.conf import settings

from persistence.ports import AccountsUnitOfWork, UserRecord
from resolvers_services.address_limit import auth_request_admit
from resolvers_services.clock import utcnow
from resolvers_services.refresh_tokens import (
    RefreshToken,
    new_secret,
    parse_refresh_token,
    same_hash,
)
from resolvers_services.tokens import issue_access_token
from resolvers_services.transactions import retry_transaction
from schemas.errors import DomainError, ErrorCode
from schemas.sessions import SessionIn
from schemas.users import AuthResult, Principal, UserOut

REFRESH_FAILED = "Invalid, expired or already used refresh token"
# One new session in this many also purges a batch of expired and ended ones:
# twice as many rows go as come, so the table stays bounded without a cron job.
_PURGE_ONE_IN = 50
_PURGE_BATCH = 100


def _lifetime() -> timedelta:
    return timedelta(seconds=settings.REFRESH_TOKEN_LIFETIME_SECONDS)


def start_session(uow: AccountsUnitOfWork, *, user_id: int, now: datetime) -> RefreshToken:
    """Add a session for ``user_id`` and end its oldest live ones beyond MAX_SESSIONS_PER_USER.

    Runs in the caller's transaction; returns the new session's refresh token.
    """
    family, secret = new_secret(), new_secret()
    token = RefreshToken(session_id=0, family=family, secret=secret)
    session_id = uow.sessions.add(
        SessionIn(
            user_id=user_id,
            family_hash=token.family_hash,
            refresh_hash=token.secret_hash,
            created_at=now,
            last_used_at=now,
            expires_at=now + _lifetime(),
        )
    )
    # Newest first, the new one left out (another instance's clock may run ahead).
    others = [
        sid for sid in uow.sessions.live_ids_for_user(user_id=user_id, now=now) if sid != session_id
    ]
    uow.sessions.end(
        user_id=user_id, session_ids=others[settings.MAX_SESSIONS_PER_USER - 1 :], now=now
    )
    if secrets.randbelow(_PURGE_ONE_IN) == 0:
        uow.sessions.purge(now=now, limit=_PURGE_BATCH)
    return RefreshToken(session_id=session_id, family=family, secret=secret)


def issue_tokens(user: UserRecord, refresh: RefreshToken, now: datetime) -> AuthResult:
    """The payload of signup, login, refreshToken and changePassword for a session."""
    token, expires_at = issue_access_token(user_id=user.id, session_id=refresh.session_id, now=now)
    return AuthResult(
        token=token,
        refresh_token=str(refresh),
        token_expires_at=expires_at,
        user=UserOut(id=user.id, email=user.email),
    )


def _refresh_failed() -> DomainError:
    return DomainError(ErrorCode.UNAUTHENTICATED, REFRESH_FAILED)


def session_refresh(*, uow: AccountsUnitOfWork, refresh_token: str, source: str) -> AuthResult:
    """Exchange the current refresh token of a session for new access and refresh tokens.

    Each refresh token works once. One that was already rotated ends its whole
    session (RFC 9700 section 4.14.2), however soon after the rotation it comes
    back. Unknown, expired, ended or garbage tokens are UNAUTHENTICATED.
    """
    auth_request_admit(uow=uow, source=source)
    presented = parse_refresh_token(refresh_token)
    if presented is None:
        raise _refresh_failed()
    result = _rotate(uow, presented)
    if result is None:
        raise _refresh_failed()
    return result


@retry_transaction
def _rotate(uow: AccountsUnitOfWork, presented: RefreshToken) -> AuthResult | None:
    """Rotate ``presented``; on a token of the family that is not current, end the session."""
    now = utcnow()
    successor = presented.rotated()
    with uow:
        # Write first: the conditional UPDATE is the whole race. Of two refreshes
        # of one token, exactly one matches the current hash.
        if uow.sessions.rotate(
            session_id=presented.session_id,
            family_hash=presented.family_hash,
            current_hash=presented.secret_hash,
            new_hash=successor.secret_hash,
            now=now,
            expires_at=now + _lifetime(),
        ):
            user = uow.sessions.owner(presented.session_id)
            uow.commit()
            if user is None:  # the row just updated references its user (foreign key)
                raise AssertionError("a session without its user")
            return issue_tokens(user, successor, now)
        session = uow.sessions.get(presented.session_id)
        if (
            session is not None
            and session.ended_at is None
            and same_hash(session.family_hash, presented.family_hash)
        ):
            # A real token of this session, but not its current one: it was rotated
            # already, so two parties hold the session. End it for both.
            uow.sessions.end(user_id=session.user_id, session_ids=[session.id], now=now)
            uow.commit()
    return None


@retry_transaction
def session_end(*, uow: AccountsUnitOfWork, user: Principal) -> int:
    """End the caller's current session (logout); how many ended (1, or 0 if it already had)."""
    with uow:
        ended = uow.sessions.end(user_id=user.id, session_ids=[user.session_id], now=utcnow())
        uow.commit()
    return ended


@retry_transaction
def session_end_all(*, uow: AccountsUnitOfWork, user: Principal) -> int:
    """End every session of the caller (logout everywhere); how many were live."""
    with uow:
        ended = uow.sessions.end_for_user(user_id=user.id, now=utcnow())
        uow.commit()
    return ended


@retry_transaction
def _purge_batch(*, uow: AccountsUnitOfWork, batch: int) -> int:
    with uow:
        purged = uow.sessions.purge(now=utcnow(), limit=batch)
        uow.commit()
    return purged


def session_purge(*, uow: AccountsUnitOfWork, batch: int = 1000) -> int:
    """Delete every expired or ended session, one short transaction per batch; how many went."""
    total = 0
    while True:
        purged = _purge_batch(uow=uow, batch=batch)
        total += purged
        if purged < batch:
            return total
