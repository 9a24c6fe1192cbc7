"""The schema: queries and mutations are the routing layer; each resolver calls one service."""

from __future__ import annotations

from typing import Annotated

import strawberry
from graphql import GraphQLError
from strawberry.types import ExecutionContext, Info

from gql.context import Context
from gql.extensions import MaxUtf8Bytes
from gql.limits import QUERY_LIMIT_EXTENSIONS
from gql.permissions import IsAuthenticated
from gql.types import AddPostPayload, AuthPayload, DeletePostPayload, Post
from resolvers_services.accounts import user_login, user_signup
from resolvers_services.posts import post_create, post_delete, post_list
from schemas.base import parse_input
from schemas.limits import POST_MAX_BYTES
from schemas.posts import PostCreateInput, PostDeleteInput
from schemas.users import LoginInput, SignupInput

GqlInfo = Info[Context, None]

TokenArg = Annotated[
    str | None,
    strawberry.argument(
        description=(
            "The JWT from signup or login, for clients that cannot set the "
            "'Authorization: Bearer' header. If both are given they must be equal."
        )
    ),
]
EmailArg = Annotated[
    str, strawberry.argument(description="Email address; trimmed and lower-cased.")
]


@strawberry.type(description="Read operations.")
class Query:
    @strawberry.field(
        description="Every post of the caller, newest first. Requires a token.",
        permission_classes=[IsAuthenticated],
    )
    def get_posts(self, info: GqlInfo, token: TokenArg = None) -> list[Post]:
        posts = post_list(uow=info.context.uow_factory(), user=info.context.user)
        return [Post.from_out(post) for post in posts]


@strawberry.type(description="Write operations.")
class Mutation:
    @strawberry.mutation(description="Create an account and return a token for it.")
    def signup(
        self,
        info: GqlInfo,
        email: EmailArg,
        password: Annotated[
            str,
            strawberry.argument(
                description="8 to 128 characters, every one significant; common passwords are refused."
            ),
        ],
    ) -> AuthPayload:
        data = parse_input(SignupInput, email=email, password=password)
        return AuthPayload.from_out(user_signup(uow=info.context.uow_factory(), data=data))

    @strawberry.mutation(description="Exchange an email and password for a token.")
    def login(
        self,
        info: GqlInfo,
        email: EmailArg,
        password: Annotated[str, strawberry.argument(description="The account's password.")],
    ) -> AuthPayload:
        data = parse_input(LoginInput, email=email, password=password)
        result = user_login(
            uow=info.context.uow_factory(), data=data, source=info.context.client_address()
        )
        return AuthPayload.from_out(result)

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


class Schema(strawberry.Schema):
    """The schema, without Strawberry's error log (it prints documents, which may hold passwords)."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # gql.errors.shape_error logs the unexpected ones, with their tracebacks.
        return None


schema = Schema(query=Query, mutation=Mutation, extensions=list(QUERY_LIMIT_EXTENSIONS))
