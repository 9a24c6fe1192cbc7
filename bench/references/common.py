"""What both references share: the token check and the answers they serve.

The answers are the app's own getPosts responses for the benchmark's readers,
captured by the harness into the file named by ``BENCH_REFERENCE_DATA``
(``{token subject: response JSON}``), so every server returns the same bytes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jwt

DATA_ENV = "BENCH_REFERENCE_DATA"
# Entries outlive any benchmark run: the references have no database to refill from.
CACHE_TTL_SECONDS = 24 * 3600
CACHE_MAX_ENTRIES = 100_000

_SECRET = os.environ.get("JWT_SECRET", "")
_ISSUER = os.environ.get("JWT_ISSUER", "posts-api")
_BEARER = "Bearer "

UNAUTHENTICATED = {
    "data": None,
    "errors": [{"message": "Invalid or expired token", "extensions": {"code": "UNAUTHENTICATED"}}],
}


def answers() -> dict[str, str]:
    """Token subject -> the app's getPosts response (JSON text)."""
    loaded: dict[str, str] = json.loads(Path(os.environ[DATA_ENV]).read_text(encoding="utf-8"))
    return loaded


def subject(authorization: str | None) -> str | None:
    """The ``sub`` of a valid token in an ``Authorization: Bearer`` header, else None.

    The same check as the app's: HS256 only, exp, iat, sub and iss required, issuer checked.
    """
    if not authorization or not authorization.startswith(_BEARER):
        return None
    try:
        claims: dict[str, Any] = jwt.decode(
            authorization[len(_BEARER) :],
            _SECRET,
            algorithms=["HS256"],
            issuer=_ISSUER,
            options={"require": ["exp", "iat", "sub", "iss"]},
        )
    except jwt.PyJWTError:
        return None
    return str(claims["sub"])
