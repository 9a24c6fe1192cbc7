"""Login throttling: one failed (or pending) login attempt."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import StringConstraints

from schemas.base import Frozen
from schemas.limits import EMAIL_MAX_CHARS, SOURCE_MAX_CHARS


class LoginAttempt(Frozen):
    """A login attempt for an (already normalised) email from a client address.

    ``source`` is the address's key: an IPv4 address, or an IPv6 address's /64.
    """

    email: Annotated[str, StringConstraints(min_length=3, max_length=EMAIL_MAX_CHARS)]
    source: Annotated[str, StringConstraints(min_length=1, max_length=SOURCE_MAX_CHARS)]
    created_at: datetime
