"""The post node, its edge and its connection: what viewer.posts, getPosts and the post
payloads show.

Apart from gql/posts.py so that imports run one way: the User type holds the
connection (gql/accounts.py imports this module) and the post payloads hold the
User (gql/posts.py imports gql/accounts.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property, lru_cache

import strawberry
from strawberry import relay

from gql.common import Node
from gql.context import Context
from gql.ids import encode_cursor, encode_id
from resolvers_services.posts import post_count, post_page
from schemas.ids import POST_TYPE, PostCursor
from schemas.posts import PostOut, PostPageInput


@lru_cache(maxsize=8192)  # a row id's global id never changes; a few bytes an entry
def post_id(value: int) -> strawberry.ID:
    """A post's global id as the API shows it (Post.id, the payloads' postId)."""
    return strawberry.ID(encode_id(POST_TYPE, value))


@strawberry.type(description="A text post written by the caller.")
class Post(Node):
    text: str = strawberry.field(description="The post's text, exactly as it was sent.")
    created_at: datetime = strawberry.field(description="When the post was created (UTC).")

    @classmethod
    def from_out(cls, post: PostOut) -> Post:
        # A JsonText stays one until the response is written (gql/pipeline/encoding.py).
        return cls(
            id=post_id(post.id),
            text=post.text,
            created_at=post.created_at,
        )


@strawberry.type(description="A post in a page of the caller's posts.")
class PostEdge:
    cursor: str = strawberry.field(
        description="Where this post stands: pass it as 'after' or 'before' to page on."
    )
    node: Post = strawberry.field(description="The post.")

    @classmethod
    def from_out(cls, post: PostOut) -> PostEdge:
        """The post's edge in viewer.posts: a page and addPost's postEdge both build it here,
        so the two give one post the same cursor."""
        return cls(
            cursor=encode_cursor(PostCursor(created_at=post.created_at, id=post.id)),
            node=Post.from_out(post),
        )


@dataclass(frozen=True, slots=True)
class _Shown:
    edges: list[PostEdge]
    page_info: relay.PageInfo


@strawberry.type(description="A page of the caller's posts, newest first (a Relay connection).")
class PostConnection:
    """Read as its fields are asked for: ``posts { totalCount }`` alone loads no page
    (nor takes the request's one page of posts: Context.take_posts_page)."""

    context: strawberry.Private[Context]
    page_input: strawberry.Private[PostPageInput]
    # Made after this request added or deleted one of the caller's posts: the caller's
    # count as read at the request's start is stale (a mutation payload's viewer).
    after_write: strawberry.Private[bool] = False

    @strawberry.field(description="The posts of this page, newest first.")
    def edges(self) -> list[PostEdge]:
        return self._shown.edges

    @strawberry.field(description="Where this page stands.")
    def page_info(self) -> relay.PageInfo:
        return self._shown.page_info

    @strawberry.field(
        description=(
            "How many posts the caller has in all; in a mutation payload's viewer, as it is "
            "after the write. Asking for it alone loads no page."
        )
    )
    def total_count(self) -> int:
        context = self.context
        return post_count(
            uow=context.uow_factory(), user=context.user, after_write=self.after_write
        )

    @cached_property
    def _shown(self) -> _Shown:
        # edges and pageInfo share one page, loaded by whichever is asked for first.
        context = self.context
        context.take_posts_page()
        page = post_page(uow=context.uow_factory(), user=context.user, data=self.page_input)
        edges = [PostEdge.from_out(post) for post in page.posts]
        return _Shown(
            edges=edges,
            page_info=relay.PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )
