"""Post events: what the postEvents subscription streams (a post added or deleted)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from schemas.posts import PostOut


class PostEventKind(StrEnum):
    """What happened to the post."""

    ADDED = "added"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class PostEventOut:
    """One committed change to a user's posts, read back from the outbox (trusted).

    ``post`` is the post as it was added (for ``ADDED``); ``post_id`` is its id
    either way.
    """

    id: int
    user_id: int
    kind: PostEventKind
    post_id: int
    post: PostOut | None = None
