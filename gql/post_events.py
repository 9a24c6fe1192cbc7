"""The postEvents subscription: the caller's posts as they are added and deleted.

The transport (gql/streams.py) resolves the caller once and opens the caller's
event feed before the stream is acknowledged; this resolver only maps each event
to its GraphQL type. Events are built with the very edge builder of
viewer.posts, so Relay's @prependEdge / @deleteEdge and Apollo's cache apply
them as they apply addPost's and deletePost's payloads.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from gql.common import GqlInfo, TokenArg
from gql.permissions import IsAuthenticated
from gql.post_types import Post, PostEdge, post_id
from schemas.errors import DomainError, ErrorCode
from schemas.post_events import PostEventKind, PostEventOut


@strawberry.type(description="One of the caller's posts was added (by any client).")
class PostAdded:
    post: Post = strawberry.field(description="The new post.")
    post_edge: PostEdge = strawberry.field(
        description=(
            "The new post's edge in viewer.posts, its cursor the one a page of viewer.posts "
            "gives it: for Relay's @prependEdge(connections:)."
        )
    )


@strawberry.type(description="One of the caller's posts was deleted (by any client).")
class PostDeleted:
    deleted_post_id: strawberry.ID = strawberry.field(
        description=(
            "The global id of the deleted post (the id it had in Post.id): for Relay's "
            "@deleteEdge(connections:) or @deleteRecord."
        )
    )


PostEvent = Annotated[
    PostAdded | PostDeleted,
    strawberry.union("PostEvent", description="A change to the caller's posts."),
]


def event_type(event: PostEventOut) -> PostAdded | PostDeleted:
    """The GraphQL shape of one event."""
    if event.kind is PostEventKind.ADDED and event.post is not None:
        return PostAdded(post=Post.from_out(event.post), post_edge=PostEdge.from_out(event.post))
    return PostDeleted(deleted_post_id=post_id(event.post_id))


@strawberry.type(description="Live updates.")
class Subscription:
    @strawberry.subscription(
        description=(
            "The caller's own posts as they are added and deleted, by any client, in commit "
            "order, from the moment the subscription is acknowledged. Requires a token; ends "
            "with UNAUTHENTICATED when the token expires or its session ends."
        ),
        permission_classes=[IsAuthenticated],
    )
    async def post_events(
        self, info: GqlInfo, token: TokenArg = None
    ) -> AsyncGenerator[PostEvent, None]:
        feed = info.context.events
        if feed is None:  # executed without a transport that opens feeds (a bare schema call)
            raise DomainError(ErrorCode.BAD_USER_INPUT, "Subscribe over SSE or WebSocket")
        async for event in feed:
            yield event_type(event)
