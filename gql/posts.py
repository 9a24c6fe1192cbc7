"""Posts: getPosts, addPost and deletePost, and the payloads that Relay and Apollo apply
(the post node and its connection: gql/post_types.py)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from gql.accounts import User
from gql.common import GqlInfo, TokenArg
from gql.extensions import MaxUtf8Bytes
from gql.ids import decode_id
from gql.permissions import IsAuthenticated
from gql.post_types import Post, PostEdge, post_id
from resolvers_services.posts import post_create, post_delete, post_list
from schemas.base import parse_input
from schemas.limits import POST_MAX_BYTES
from schemas.posts import PostCreateInput, PostDeleteInput, PostOut
from schemas.users import Principal


@strawberry.type(
    description=(
        "The result of addPost, ready to apply: Relay's @prependEdge inserts postEdge into "
        "viewer.posts, and viewer carries the new totalCount."
    )
)
class AddPostPayload:
    post_id: strawberry.ID = strawberry.field(description="The new post's global id.")
    post: Post = strawberry.field(description="The new post.")
    post_edge: PostEdge = strawberry.field(
        description=(
            "The new post's edge in viewer.posts, its cursor the one a page of viewer.posts "
            "gives it: for Relay's @prependEdge(connections:)."
        )
    )
    viewer: User = strawberry.field(
        description="The caller, as they are after the write: posts { totalCount } counts the new post."
    )

    @classmethod
    def from_out(cls, post: PostOut, caller: Principal) -> AddPostPayload:
        return cls(
            post_id=post_id(post.id),
            post=Post.from_out(post),
            post_edge=PostEdge.from_out(post),
            viewer=User.after_posts_write(caller),
        )


@strawberry.type(
    description=(
        "The result of deletePost, ready to apply: Relay's @deleteEdge or @deleteRecord on "
        "postId, and viewer carries the new totalCount."
    )
)
class DeletePostPayload:
    post_id: strawberry.ID = strawberry.field(
        description=(
            "The global id of the deleted post (the id it had in Post.id): for Relay's "
            "@deleteEdge(connections:) or @deleteRecord."
        )
    )
    viewer: User = strawberry.field(
        description="The caller, as they are after the write: posts { totalCount } no longer counts the post."
    )

    @classmethod
    def from_out(cls, deleted: int, caller: Principal) -> DeletePostPayload:
        return cls(post_id=post_id(deleted), viewer=User.after_posts_write(caller))


@strawberry.type(description="Post queries.")
class PostQueries:
    @strawberry.field(
        description="Every post of the caller, newest first. Requires a token.",
        permission_classes=[IsAuthenticated],
    )
    def get_posts(self, info: GqlInfo, token: TokenArg = None) -> list[Post]:
        context = info.context
        posts = post_list(
            uow=context.uow_factory(), user=context.user, posts_cache=context.posts_cache
        )
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
        context = info.context
        post = post_create(
            uow=context.uow_factory(), user=context.user, data=data, posts_cache=context.posts_cache
        )
        return AddPostPayload.from_out(post, info.context.user)

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
        context = info.context
        deleted = post_delete(
            uow=context.uow_factory(), user=context.user, data=data, posts_cache=context.posts_cache
        )
        return DeletePostPayload.from_out(deleted, info.context.user)
