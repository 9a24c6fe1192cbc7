"""The typed per-request context: the request, the unit-of-work factory, the lazy current user."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.http import HttpRequest, HttpResponse

from persistence.uow import UnitOfWork, UnitOfWorkFactory
from resolvers_services.accounts import user_authenticate
from schemas.errors import DomainError, ErrorCode
from schemas.users import Principal

_BEARER = "bearer"


def _unauthenticated(message: str) -> DomainError:
    return DomainError(ErrorCode.UNAUTHENTICATED, message)


@dataclass
class Context:
    """What every resolver gets as ``info.context``."""

    request: HttpRequest
    response: HttpResponse
    uow_factory: UnitOfWorkFactory = UnitOfWork
    _principals: dict[str, Principal] = field(default_factory=dict)
    _current: Principal | None = None

    def header_token(self) -> str | None:
        """The token from ``Authorization: Bearer <token>``, None without the header."""
        header: str | None = self.request.headers.get("Authorization")
        if header is None:
            return None
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != _BEARER or not token or " " in token:
            raise _unauthenticated("Malformed Authorization header; expected 'Bearer <token>'")
        return token

    def authenticate(self, token_argument: str | None) -> Principal:
        """Resolve (once per token per request) the user from the header or the argument."""
        header = self.header_token()
        if header is not None and token_argument is not None and header != token_argument:
            raise _unauthenticated("The token argument and the Authorization header differ")
        token = header if header is not None else token_argument
        if not token:
            raise _unauthenticated("Authentication required")
        principal = self._principals.get(token)
        if principal is None:
            principal = user_authenticate(uow=self.uow_factory(), token=token)
            self._principals[token] = principal
        self._current = principal
        return principal

    def client_address(self) -> str:
        """The client's address as the server saw it (for throttling failed logins)."""
        address = str(self.request.META.get("REMOTE_ADDR") or "unknown")
        return address[:45]

    @property
    def user(self) -> Principal:
        """The authenticated caller; only on fields that declare IsAuthenticated."""
        if self._current is None:
            raise RuntimeError("context.user read on a field without IsAuthenticated")
        return self._current
