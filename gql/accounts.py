"""Accounts: the user type, the auth payload, signup and login."""

from __future__ import annotations

from typing import Annotated

import strawberry

from gql.common import EmailArg, GqlInfo
from resolvers_services.accounts import user_login, user_signup
from schemas.base import parse_input
from schemas.users import AuthResult, LoginInput, SignupInput, UserOut


@strawberry.type(description="A registered account.")
class User:
    id: strawberry.ID = strawberry.field(description="The user's unique id.")
    email: str = strawberry.field(description="The user's email, trimmed and lower-cased.")

    @classmethod
    def from_out(cls, user: UserOut) -> User:
        return cls(id=strawberry.ID(str(user.id)), email=user.email)


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
