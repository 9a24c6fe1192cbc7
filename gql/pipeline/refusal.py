"""A request refused before execution: nothing runs, and the client gets one error."""

from __future__ import annotations

from schemas.errors import DomainError, ErrorCode


class Refusal(Exception):
    """A request refused before execution: nothing runs; the client gets this error."""

    def __init__(
        self, code: ErrorCode, message: str, *, status: int = 200, **extensions: object
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.extensions = extensions

    @classmethod
    def of(cls, error: DomainError) -> Refusal:
        """A domain error (a limit, say) refusing the request before execution."""
        refusal = cls(error.code, error.message)
        refusal.extensions = {k: v for k, v in error.extensions().items() if k != "code"}
        return refusal


def bad_request(message: str) -> Refusal:
    """A body that is not a GraphQL request: HTTP 400."""
    return Refusal(ErrorCode.BAD_USER_INPUT, message, status=400)
