"""Posts: the post type and payloads, getPosts, addPost and deletePost."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from gql.common import GqlInfo, TokenArg
from gql.extensions import MaxUtf8Bytes
from gql.permissions import IsAuthenticated
from resolvers_services.posts import post_create, post_delete, post_list
from schemas.base import parse_input
from schemas.limits import POST_MAX_BYTES
from schemas.posts import PostCreateInput, PostDeleteInput, PostOut


@strawberry.type(description="A text post written by the caller.")
class Post:
    id: strawberry.ID = strawberry.field(description="The post's unique id.")
    text: str = strawberry.field(description="The post's text, exactly as it was sent.")
    created_at: datetime = strawberry.field(description="When the post was created (UTC).")

    @classmethod
    def from_out(cls, post: PostOut) -> Post:
        return cls(id=strawberry.ID(str(post.id)), text=post.text, created_at=post.created_at)


@strawberry.type(description="The result of addPost.")
class AddPostPayload:
    post_id: strawberry.ID = strawberry.field(description="The new post's id.")
    post: Post = strawberry.field(description="The new post.")


@strawberry.type(description="The result of deletePost.")
class DeletePostPayload:
    post_id: strawberry.ID = strawberry.field(description="The id of the deleted post.")


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
        description="Add a post for the caller. Requires a token.",
        permission_classes=[IsAuthenticated],
        extensions=[MaxUtf8Bytes(argument="text", max_bytes=POST_MAX_BYTES)],
    )
    def add_post(
        self,
        info: GqlInfo,
        text: Annotated[
            str,
            strawberry.argument(
                description="The post's text: not blank, at most 1 MiB (1,048,576 bytes) of UTF-8."
            ),
        ],
        token: TokenArg = None,
    ) -> AddPostPayload:
        data = parse_input(PostCreateInput, text=text)
        post = post_create(uow=info.context.uow_factory(), user=info.context.user, data=data)
        return AddPostPayload(post_id=strawberry.ID(str(post.id)), post=Post.from_out(post))

    @strawberry.mutation(
        description="Delete one of the caller's own posts. Requires a token.",
        permission_classes=[IsAuthenticated],
    )
    def delete_post(
        self,
        info: GqlInfo,
        post_id: Annotated[
            strawberry.ID, strawberry.argument(description="The id of the post to delete.")
        ],
        token: TokenArg = None,
    ) -> DeletePostPayload:
        data = parse_input(PostDeleteInput, post_id=post_id)
        deleted = post_delete(uow=info.context.uow_factory(), user=info.context.user, data=data)
        return DeletePostPayload(post_id=strawberry.ID(str(deleted)))
