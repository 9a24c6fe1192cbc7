"""Session schemas: a session as stored (hashes only, never a token)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, NaiveDatetime, StringConstraints, model_validator

from schemas.base import Frozen
from schemas.limits import SHA256_HEX_CHARS

Sha256Hex = Annotated[
    str,
    StringConstraints(
        min_length=SHA256_HEX_CHARS, max_length=SHA256_HEX_CHARS, pattern=r"^[0-9a-f]+$"
    ),
]


class SessionIn(Frozen):
    """One session of one user: the SHA-256 of its refresh token family and current token.

    Times are naive UTC, as the database keeps them.
    """

    user_id: Annotated[int, Field(gt=0, lt=2**63)]
    family_hash: Sha256Hex
    refresh_hash: Sha256Hex
    generation: Annotated[int, Field(ge=0, lt=2**63)] = 0
    created_at: NaiveDatetime
    last_used_at: NaiveDatetime
    expires_at: NaiveDatetime
    ended_at: NaiveDatetime | None = None

    @model_validator(mode="after")
    def _times_in_order(self) -> SessionIn:
        if self.last_used_at < self.created_at:
            raise ValueError("last_used_at must not precede created_at")
        if self.expires_at <= self.created_at:
            raise ValueError("expires_at must follow created_at")
        if self.ended_at is not None and self.ended_at < self.created_at:
            raise ValueError("ended_at must not precede created_at")
        return self
