"""Post schemas: create and delete inputs, the post as shown."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field

from schemas.base import Frozen
from schemas.limits import POST_MAX_BYTES


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or blank")
    return value


def utf8_size(value: str) -> int:
    """Bytes in ``value``'s UTF-8 encoding (lone surrogates count as they would be refused)."""
    return len(value.encode("utf-8", errors="surrogatepass"))


def _fits(value: str) -> str:
    if utf8_size(value) > POST_MAX_BYTES:
        raise ValueError(f"must be at most {POST_MAX_BYTES} bytes of UTF-8")
    return value


def _encodable(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no lone surrogates)") from None
    return value


PostText = Annotated[
    str, AfterValidator(_encodable), AfterValidator(_not_blank), AfterValidator(_fits)
]
PostId = Annotated[int, Field(gt=0, lt=2**63)]


class PostCreateInput(Frozen):
    """What addPost takes."""

    text: PostText


class PostDeleteInput(Frozen):
    """What deletePost takes: the id of one of the caller's posts."""

    post_id: PostId


class PostOut(Frozen):
    """A post as the API shows it."""

    id: PostId
    text: PostText
    created_at: datetime
