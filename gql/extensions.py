"""Field extensions: reusable argument checks declared on a field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from strawberry.extensions import FieldExtension
from strawberry.types import Info

from schemas.errors import DomainError, ErrorCode
from schemas.posts import utf8_size


class MaxUtf8Bytes(FieldExtension):
    """Refuse with PAYLOAD_TOO_LARGE when a string argument's UTF-8 encoding exceeds a limit.

    Runs before the resolver, so an oversized value never reaches validation,
    the services or the database.
    """

    def __init__(self, *, argument: str, max_bytes: int) -> None:
        self.argument = argument
        self.max_bytes = max_bytes

    def resolve(
        self, next_: Callable[..., Any], source: Any, info: Info[Any, Any], **kwargs: Any
    ) -> Any:
        value = kwargs.get(self.argument)
        if isinstance(value, str) and utf8_size(value) > self.max_bytes:
            raise DomainError(
                ErrorCode.PAYLOAD_TOO_LARGE,
                f"'{self.argument}' is larger than {self.max_bytes} bytes of UTF-8",
                fields={self.argument: f"at most {self.max_bytes} bytes"},
                extra={"maxBytes": self.max_bytes},
            )
        return next_(source, info, **kwargs)
