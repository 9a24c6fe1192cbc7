"""bcrypt password hashes in which every character of a 128-character password counts."""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache

import bcrypt
from django.conf import settings

# bcrypt reads at most 72 bytes (and bcrypt 5 raises beyond that), while a legal
# password is up to 128 characters, i.e. up to 512 bytes of UTF-8. So the password
# is first condensed with HMAC-SHA256 and base64 (44 ASCII bytes, no NUL), as
# passlib's bcrypt_sha256 does: nothing is truncated, nothing legal is refused.
_PREHASH_KEY = b"posts-api/bcrypt-sha256/v1"


def _prehash(password: str) -> bytes:
    digest = hmac.new(_PREHASH_KEY, password.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest)


def hash_password(password: str) -> str:
    """A bcrypt hash of ``password`` at settings.BCRYPT_ROUNDS."""
    salt = bcrypt.gensalt(rounds=settings.BCRYPT_ROUNDS)
    return bcrypt.hashpw(_prehash(password), salt).decode("ascii")


def verify_password(password: str, password_hash: str) -> bool:
    """True when ``password`` matches ``password_hash``."""
    try:
        return bcrypt.checkpw(_prehash(password), password_hash.encode("ascii"))
    except ValueError:  # a malformed stored hash never matches
        return False


@lru_cache(maxsize=4)
def _dummy_hash(rounds: int) -> str:
    return bcrypt.hashpw(b"posts-api/no-such-user", bcrypt.gensalt(rounds=rounds)).decode("ascii")


def burn_verification_time(password: str) -> None:
    """Spend what :func:`verify_password` spends, for a login whose email is unknown."""
    verify_password(password, _dummy_hash(settings.BCRYPT_ROUNDS))
