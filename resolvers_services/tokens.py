"""JWT access tokens: HS256, signed with settings.JWT_SECRET, with exp, iat and sub."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
from django.conf import settings

from schemas.errors import DomainError, ErrorCode

ALGORITHM = "HS256"


def issue_token(*, user_id: int, now: datetime | None = None) -> str:
    """A signed token for ``user_id``, valid for settings.JWT_LIFETIME_SECONDS."""
    issued = now or datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "iat": issued,
        "nbf": issued,
        "exp": issued + timedelta(seconds=settings.JWT_LIFETIME_SECONDS),
        "iss": settings.JWT_ISSUER,
    }
    return jwt.encode(claims, settings.JWT_SECRET, algorithm=ALGORITHM)


def user_id_from_token(token: str) -> int:
    """The user id a valid token is for; UNAUTHENTICATED for any bad token."""
    try:
        # The algorithm list is fixed, so alg:none and every other algorithm are refused
        # (RFC 8725 section 3.1), and the claims we rely on are required.
        claims = jwt.decode(
            token,
            settings.JWT_SECRET,
            algorithms=[ALGORITHM],
            issuer=settings.JWT_ISSUER,
            options={"require": ["exp", "iat", "sub", "iss"]},
        )
        user_id = int(claims["sub"])
    except (jwt.PyJWTError, ValueError, TypeError):
        raise DomainError(ErrorCode.UNAUTHENTICATED, "Invalid or expired token") from None
    if user_id <= 0:
        raise DomainError(ErrorCode.UNAUTHENTICATED, "Invalid or expired token")
    return user_id
