"""Refresh tokens: opaque to clients, stored only as SHA-256, rotated on every use.

A refresh token reads ``v1.<session id>.<family secret>.<token secret>``; each
secret is 256 bits from ``secrets``. The family secret is the same for every
token of one session, the token secret new at each rotation. The database keeps
the SHA-256 of both, never either secret.

That is what reuse detection (RFC 9700 section 4.14.2) needs: a presented token
whose family matches its session but which is not the current one is a token
that was already rotated (a replay, or the loser of a race), and it ends the
session. A string that is not of the family ends nothing, so nobody can log
someone out by guessing session ids. The format (four dot-separated parts) is
never a JWT's (three), so neither kind of token is taken for the other.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

_PREFIX = "v1"
_SECRET_BYTES = 32  # 256 bits each
_SECRET_CHARS = 43  # token_urlsafe(32): base64url without padding
_URLSAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_MAX_CHARS = 200


def sha256_hex(secret: str) -> str:
    """The SHA-256 of ``secret`` in lower-case hex: what the database stores."""
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def same_hash(left: str, right: str) -> bool:
    """Compare two hashes in constant time."""
    return hmac.compare_digest(left.encode("ascii"), right.encode("ascii"))


def new_secret() -> str:
    """A fresh 256-bit secret, base64url."""
    return secrets.token_urlsafe(_SECRET_BYTES)


@dataclass(frozen=True, slots=True)
class RefreshToken:
    """A refresh token taken apart."""

    session_id: int
    family: str
    secret: str

    def __str__(self) -> str:
        return f"{_PREFIX}.{self.session_id}.{self.family}.{self.secret}"

    @property
    def family_hash(self) -> str:
        """What the session row stores for the family secret."""
        return sha256_hex(self.family)

    @property
    def secret_hash(self) -> str:
        """What the session row stores for the current token."""
        return sha256_hex(self.secret)

    def rotated(self) -> RefreshToken:
        """The successor: same session and family, a new secret."""
        return RefreshToken(session_id=self.session_id, family=self.family, secret=new_secret())


def _is_secret(part: str) -> bool:
    return len(part) == _SECRET_CHARS and set(part) <= _URLSAFE


def parse_refresh_token(value: object) -> RefreshToken | None:
    """The parts of a well-formed refresh token, or None for anything else."""
    if not isinstance(value, str) or len(value) > _MAX_CHARS or not value.isascii():
        return None
    parts = value.split(".")
    if len(parts) != 4 or parts[0] != _PREFIX:
        return None
    _, session_id, family, secret = parts
    if not (session_id.isdigit() and not session_id.startswith("0") and len(session_id) <= 19):
        return None
    if not (_is_secret(family) and _is_secret(secret)):
        return None
    number = int(session_id)
    if number >= 2**63:
        return None
    return RefreshToken(session_id=number, family=family, secret=secret)
