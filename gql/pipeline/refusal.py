"""A request refused before execution: nothing runs, and the client gets one error."""

from __future__ import annotations

from schemas.errors import DomainError, ErrorCode

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
# A refusal's status under the specification's media type (400 for any other code).
_STRICT_STATUS = {
    ErrorCode.PERSISTED_QUERY_NOT_FOUND: 404,
    ErrorCode.RATE_LIMITED: 429,
}


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

    def status_for(self, media_type: str) -> int:
        """The HTTP status: with application/json, 200 for a well-formed GraphQL
        response, as Apollo's links expect; with the specification's media type, what
        went wrong (GraphQL over HTTP, "application/graphql-response+json")."""
        if self.status >= 400 or media_type != GRAPHQL_RESPONSE_JSON:
            return self.status
        return _STRICT_STATUS.get(self.code, 400)

    @classmethod
    def of(cls, error: DomainError) -> Refusal:
        """A domain error (a limit, say) refusing the request before execution."""
        refusal = cls(error.code, error.message)
        refusal.extensions = {k: v for k, v in error.extensions().items() if k != "code"}
        return refusal


def bad_request(message: str) -> Refusal:
    """A body that is not a GraphQL request: HTTP 400."""
    return Refusal(ErrorCode.BAD_USER_INPUT, message, status=400)
