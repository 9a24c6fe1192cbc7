"""Accounts: the user type, the auth payload, signup and login."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import relay

from gql.common import EmailArg, GqlInfo, TokenArg
from gql.ids import decode_cursor
from gql.permissions import IsAuthenticated
from gql.posts import PostConnection
from resolvers_services.accounts import user_login, user_signup
from resolvers_services.posts import post_page
from schemas.base import parse_input
from schemas.limits import PAGE_DEFAULT, PAGE_MAX
from schemas.posts import PostPageInput
from schemas.users import AuthResult, LoginInput, SignupInput, UserOut


@strawberry.type(description="A registered account.")
class User(relay.Node):
    id: relay.NodeID[int]
    email: str = strawberry.field(description="The user's email, trimmed and lower-cased.")

    @classmethod
    def from_out(cls, user: UserOut) -> User:
        return cls(id=user.id, email=user.email)

    @strawberry.field(
        description=(
            "The caller's posts, newest first, as a Relay cursor connection "
            f"({PAGE_DEFAULT} by default, at most {PAGE_MAX} a page)."
        ),
        permission_classes=[IsAuthenticated],
    )
    def posts(
        self,
        info: GqlInfo,
        first: Annotated[
            int | None, strawberry.argument(description="How many posts after 'after'.")
        ] = None,
        after: Annotated[
            str | None, strawberry.argument(description="A cursor: page on from this post.")
        ] = None,
        last: Annotated[
            int | None, strawberry.argument(description="How many posts before 'before'.")
        ] = None,
        before: Annotated[
            str | None, strawberry.argument(description="A cursor: page back from this post.")
        ] = None,
    ) -> PostConnection:
        data = parse_input(
            PostPageInput,
            first=first,
            last=last,
            after=None if after is None else decode_cursor(after, argument="after"),
            before=None if before is None else decode_cursor(before, argument="before"),
        )
        page = post_page(uow=info.context.uow_factory(), user=info.context.user, data=data)
        return PostConnection.from_page(page)


@strawberry.type(description="Account queries.")
class AccountQueries:
    @strawberry.field(
        description="The caller (Relay's viewer). Requires a token.",
        permission_classes=[IsAuthenticated],
    )
    def viewer(self, info: GqlInfo, token: TokenArg = None) -> User:
        user = info.context.user
        return User.from_out(UserOut(id=user.id, email=user.email))


@strawberry.type(description="A token for the Authorization header, and the user it is for.")
class AuthPayload:
    token: str = strawberry.field(
        description="A JWT to send as 'Authorization: Bearer <token>' (or as a token argument)."
    )
    user: User = strawberry.field(description="The account the token is for.")

    @classmethod
    def from_out(cls, result: AuthResult) -> AuthPayload:
        return cls(token=result.token, user=User.from_out(result.user))


@strawberry.type(description="Account operations.")
class AccountMutations:
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
