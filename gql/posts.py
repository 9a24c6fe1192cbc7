"""Posts: the post node, its connection and payloads; getPosts, addPost and deletePost."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry import relay

from gql.common import GqlInfo, Node, TokenArg
from gql.extensions import MaxUtf8Bytes
from gql.ids import decode_id, encode_cursor, encode_id
from gql.permissions import IsAuthenticated
from resolvers_services.posts import post_create, post_delete, post_list
from schemas.base import parse_input
from schemas.ids import POST_TYPE, PostCursor
from schemas.limits import POST_MAX_BYTES
from schemas.posts import PostCreateInput, PostDeleteInput, PostOut, PostPage


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


@strawberry.type(description="A page of the caller's posts, newest first (a Relay connection).")
class PostConnection:
    edges: list[PostEdge] = strawberry.field(description="The posts of this page, newest first.")
    page_info: relay.PageInfo = strawberry.field(description="Where this page stands.")
    total_count: int = strawberry.field(description="How many posts the caller has in all.")

    @classmethod
    def from_page(cls, page: PostPage) -> PostConnection:
        edges = [
            PostEdge(
                cursor=encode_cursor(PostCursor(created_at=post.created_at, id=post.id)),
                node=Post.from_out(post),
            )
            for post in page.posts
        ]
        return cls(
            edges=edges,
            page_info=relay.PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            total_count=page.total_count,
        )


@strawberry.type(description="The result of addPost.")
class AddPostPayload:
    post_id: strawberry.ID = strawberry.field(description="The new post's global id.")
    post: Post = strawberry.field(description="The new post.")

    @classmethod
    def from_out(cls, post: PostOut) -> AddPostPayload:
        return cls(post_id=post_id(post.id), post=Post.from_out(post))


@strawberry.type(description="The result of deletePost.")
class DeletePostPayload:
    post_id: strawberry.ID = strawberry.field(description="The global id of the deleted post.")

    @classmethod
    def from_out(cls, deleted: int) -> DeletePostPayload:
        return cls(post_id=post_id(deleted))


@strawberry.type(description="Post queries.")
class PostQueries:
    @strawberry.field(
        description="Every post of the caller, newest first. Requires a token.",
        permission_classes=[IsAuthenticated],
    )
    def get_posts(self, info: GqlInfo, token: TokenArg = None) -> list[Post]:
        posts = post_list(uow=info.context.uow_factory(), user=info.context.user)
        return [Post.from_out(post) for post in posts]


@strawberry.type(description="Post operations.")
class PostMutations:
    @strawberry.mutation(
        description=(
            "Add a post for the caller. Requires a token. QUOTA_EXCEEDED past the caller's "
            "post count or byte quota."
        ),
        permission_classes=[IsAuthenticated],
        extensions=[MaxUtf8Bytes(argument="text", max_bytes=POST_MAX_BYTES)],
    )
    def add_post(
        self,
        info: GqlInfo,
        text: Annotated[
            str,
            strawberry.argument(
                description=(
                    "The post's text: at least one visible character, at most 1 MiB "
                    "(1,048,576 bytes) of UTF-8."
                )
            ),
        ],
        token: TokenArg = None,
    ) -> AddPostPayload:
        data = parse_input(PostCreateInput, text=text)
        post = post_create(uow=info.context.uow_factory(), user=info.context.user, data=data)
        return AddPostPayload.from_out(post)

    @strawberry.mutation(
        description="Delete one of the caller's own posts. Requires a token.",
        permission_classes=[IsAuthenticated],
    )
    def delete_post(
        self,
        info: GqlInfo,
        post_id: Annotated[
            strawberry.ID,
            strawberry.argument(description="The global id of the post to delete."),
        ],
        token: TokenArg = None,
    ) -> DeletePostPayload:
        data = PostDeleteInput(post=decode_id(post_id, argument="postId"))
        deleted = post_delete(uow=info.context.uow_factory(), user=info.context.user, data=data)
        return DeletePostPayload.from_out(deleted)
