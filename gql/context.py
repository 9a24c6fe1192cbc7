"""The typed per-request context: the request, the unit-of-work factory, the process's
posts cache, and the caller.

The caller is a fact of the request, resolved once by the pipeline before
execution (from the Authorization header or the operation's ``token``
argument). Fields that need it read ``context.user``; a permission checks it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.http import HttpRequest
from graphql import DocumentNode

from persistence.ports import UnitOfWorkFactory
from persistence.uow import SqlUnitOfWork
from resolvers_services.post_cache import PostsCache
from resolvers_services.post_events import Feed
from schemas.errors import DomainError, ErrorCode
from schemas.users import Principal

NOT_AUTHENTICATED = DomainError(ErrorCode.UNAUTHENTICATED, "Authentication required")


@dataclass(frozen=True, slots=True)
class Context:
    """What every resolver gets as ``info.context``."""

    request: HttpRequest
    # The process's cache of each user's posts (built at start-up, handed in by the pipeline).
    posts_cache: PostsCache
    # The caller, or why there is none (no token: NOT_AUTHENTICATED; a bad one: its reason).
    caller_or_error: Principal | DomainError = NOT_AUTHENTICATED
    uow_factory: UnitOfWorkFactory = SqlUnitOfWork
    # The document the pipeline prepared (parsed and validated) for this request.
    document: DocumentNode | None = None
    # A subscription's feed of the caller's post events, opened by the transport
    # (gql/streams.py) before the stream is acknowledged.
    events: Feed | None = None
    # Pages of posts served so far in this request (see take_posts_page).
    _pages: list[int] = field(default_factory=list)

    @property
    def user(self) -> Principal:
        """The authenticated caller; raises UNAUTHENTICATED (with the reason) otherwise."""
        if isinstance(self.caller_or_error, DomainError):
            raise self.caller_or_error
        return self.caller_or_error

    def take_posts_page(self) -> None:
        """Allow one page of posts per request: node/nodes/aliases cannot multiply them.

        ``nodes(ids: [me, me, ...]) { ... on User { posts(first: 100) } }`` would
        otherwise serve the caller's posts a hundred times in one response.
        """
        if self._pages:
            raise DomainError(
                ErrorCode.BAD_USER_INPUT,
                "At most one page of posts per request",
                fields={"posts": "at most one page per request"},
            )
        self._pages.append(1)

    def client_address(self) -> str:
        """The client's address as the server saw it (for per-address limits)."""
        address = str(self.request.META.get("REMOTE_ADDR") or "unknown")
        return address[:45]
