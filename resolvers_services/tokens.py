"""Access tokens: JWTs (HS256, signed with settings.JWT_SECRET) that name their session.

Claims: ``sub`` (the user id), ``sid`` (the session id), ``iat``, ``nbf``,
``exp``, ``iss``, and ``token_use: "access"``. The session is checked in the
database on every request (see ``user_authenticate``), so ending it ends the
token at once; ``exp`` only bounds how long a token is worth stealing.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
import time
from datetime import UTC, datetime, timedelta

import jwt
from cachetools import LRUCache
from django.conf import settings
from pydantic import ValidationError

from schemas.errors import DomainError, ErrorCode
from schemas.users import AccessClaims

ALGORITHM = "HS256"
ACCESS = "access"
INVALID_TOKEN = "Invalid or expired token"
# A JWS compact serialisation: three base64url segments, unpadded (RFC 7515, section 2).
_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def issue_access_token(
    *, user_id: int, session_id: int, now: datetime | None = None
) -> tuple[str, datetime]:
    """A signed access token for ``session_id`` of ``user_id``, and when it expires (UTC)."""
    issued = (now or datetime.now(UTC)).replace(microsecond=0)
    if issued.tzinfo is None:
        issued = issued.replace(tzinfo=UTC)
    expires = issued + timedelta(seconds=settings.JWT_LIFETIME_SECONDS)
    claims = {
        "sub": str(user_id),
        "sid": str(session_id),
        "token_use": ACCESS,
        "iat": issued,
        "nbf": issued,
        "exp": expires,
        "iss": settings.JWT_ISSUER,
    }
    return jwt.encode(claims, settings.JWT_SECRET, algorithm=ALGORITHM), expires


class TokenVerifier:
    """Verifies access tokens, remembering those this process has verified already, with
    when each stops being valid.

    Verifying a JWT (parsing, HMAC, claim checks) costs more than the rest of a
    cached getPosts; a token is verified once and then only its expiry is checked
    again. Keyed by the token and the settings it was checked against, so a
    changed secret or issuer verifies afresh. Bounded; thread-safe. One per
    process, built at start-up (config/bootstrap.py).
    """

    def __init__(self, maxsize: int = 8192) -> None:
        self._lock = threading.Lock()
        self._claims: LRUCache[tuple[str, str, str, int], tuple[AccessClaims, float]] = LRUCache(
            maxsize=maxsize
        )

    def claims(self, token: str) -> AccessClaims:
        """The user and session a valid access token is for; UNAUTHENTICATED for any bad token."""
        key = (token, settings.JWT_SECRET, settings.JWT_ISSUER, settings.JWT_LEEWAY_SECONDS)
        with self._lock:
            found = self._claims.get(key)
        if found is not None and time.time() < found[1]:
            return found[0]
        verified, valid_until = _verify(token)
        with self._lock:
            self._claims[key] = (verified, valid_until)
        return verified


def access_claims(token: str) -> AccessClaims:
    """The user and session a valid access token is for; UNAUTHENTICATED for any bad token.

    Verified afresh each time: requests go through their process's TokenVerifier.
    """
    return _verify(token)[0]


def _canonical(token: str) -> bool:
    """Whether ``token`` is written as we write tokens: each segment the one unpadded
    base64url spelling of its bytes. PyJWT takes a signature with padding after it,
    and a decoder may take spare bits or stray characters: one token must not have
    several spellings that all verify (and each take an entry of the cache)."""
    if not _COMPACT.fullmatch(token):
        return False
    for segment in token.split("."):
        try:
            decoded = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        except binascii.Error:
            return False
        if base64.urlsafe_b64encode(decoded).rstrip(b"=") != segment.encode():
            return False
    return True


def _verify(token: str) -> tuple[AccessClaims, float]:
    try:
        if not _canonical(token):
            raise ValueError("not the canonical encoding")
        # The algorithm list is fixed, so alg:none and every other algorithm are refused
        # (RFC 8725 section 3.1), and the claims relied on are required. The leeway
        # absorbs clock skew between the instance that issued and the one checking.
        claims = jwt.decode(
            token,
            settings.JWT_SECRET,
            algorithms=[ALGORITHM],
            issuer=settings.JWT_ISSUER,
            leeway=settings.JWT_LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "nbf", "sub", "sid", "iss", "token_use"]},
        )
        if claims["token_use"] != ACCESS:
            raise ValueError("not an access token")
        verified = AccessClaims(
            user_id=_positive(claims["sub"]), session_id=_positive(claims["sid"])
        )
        valid_until = float(claims["exp"]) + settings.JWT_LEEWAY_SECONDS
    except (jwt.PyJWTError, ValueError, TypeError, ValidationError):
        raise DomainError(ErrorCode.UNAUTHENTICATED, INVALID_TOKEN) from None
    return verified, valid_until


def _positive(value: object) -> int:
    # Only a canonical decimal string: no "+1", " 1", "1_000" or "01" variants.
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        raise ValueError("not a decimal id")
    if value.startswith("0"):
        raise ValueError("not a canonical id")
    return int(value)


def access_token_expiry(token: str) -> float:
    """When a token that :func:`access_claims` accepted expires (``exp``, epoch seconds):
    a live stream ends then."""
    claims = jwt.decode(token, options={"verify_signature": False})
    return float(claims["exp"])
