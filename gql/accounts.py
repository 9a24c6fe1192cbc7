"""Accounts and sessions: the user type, the payloads, signup, login, refresh, logout,
password change and account deletion."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from gql.common import EmailArg, GqlInfo, Node, TokenArg
from gql.ids import decode_cursor, encode_id
from gql.permissions import IsAuthenticated
from gql.post_types import PostConnection
from resolvers_services.accounts import (
    user_change_password,
    user_delete,
    user_login,
    user_signup,
)
from resolvers_services.sessions import session_end, session_end_all, session_refresh
from schemas.base import parse_input
from schemas.ids import USER_TYPE
from schemas.limits import PAGE_DEFAULT, PAGE_MAX
from schemas.posts import PostPageInput
from schemas.users import (
    AuthResult,
    ChangePasswordInput,
    DeleteAccountInput,
    LoginInput,
    Principal,
    SignupInput,
    UserOut,
)

NEW_PASSWORD_RULES = "8 to 128 characters, every one significant; common passwords are refused."


def user_id(value: int) -> strawberry.ID:
    """A user's global id as the API shows it (User.id, DeleteAccountPayload.deletedUserId)."""
    return strawberry.ID(encode_id(USER_TYPE, value))


@strawberry.type(description="A registered account.")
class User(Node):
    email: str = strawberry.field(
        description="The user's email: trimmed, NFKC-normalised and case-folded."
    )

    # Shown after this request added or deleted one of the caller's posts (a mutation
    # payload's viewer): posts { totalCount } is then read again, not taken from the start.
    after_write: strawberry.Private[bool] = False

    @classmethod
    def from_out(cls, user: UserOut) -> User:
        return cls(id=user_id(user.id), email=user.email)

    @classmethod
    def after_posts_write(cls, caller: Principal) -> User:
        """The caller as a mutation payload shows them, once their posts have changed."""
        return cls(id=user_id(caller.id), email=caller.email, after_write=True)

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
        return PostConnection(context=info.context, page_input=data, after_write=self.after_write)


@strawberry.type(description="Account queries.")
class AccountQueries:
    @strawberry.field(
        description="The caller (Relay's viewer). Requires a token.",
        permission_classes=[IsAuthenticated],
    )
    def viewer(self, info: GqlInfo, token: TokenArg = None) -> User:
        user = info.context.user
        return User.from_out(UserOut(id=user.id, email=user.email))


@strawberry.type(
    description=(
        "A new session's tokens: a short-lived access token for the Authorization header, "
        "and the refresh token that renews it."
    )
)
class AuthPayload:
    token: str = strawberry.field(
        description=(
            "A JWT to send as 'Authorization: Bearer <token>' (or as a token argument); "
            "it expires at tokenExpiresAt."
        )
    )
    refresh_token: str = strawberry.field(
        description=(
            "An opaque token for refreshToken, which returns new tokens. It works once; "
            "presenting it again ends the session. Keep it out of reach of other scripts."
        )
    )
    token_expires_at: datetime = strawberry.field(
        description="When token expires (ISO 8601, UTC); refresh before or when it does."
    )
    user: User = strawberry.field(description="The account the tokens are for.")

    @classmethod
    def from_out(cls, result: AuthResult) -> AuthPayload:
        return cls(
            token=result.token,
            refresh_token=result.refresh_token,
            token_expires_at=result.token_expires_at,
            user=User.from_out(result.user),
        )


@strawberry.type(description="The result of logout and logoutEverywhere.")
class LogoutPayload:
    ended_sessions: int = strawberry.field(
        description="How many sessions this ended; their access and refresh tokens no longer work."
    )


@strawberry.type(description="The result of deleteAccount.")
class DeleteAccountPayload:
    deleted_user_id: strawberry.ID = strawberry.field(
        description="The id the deleted account had; its posts and sessions are gone with it."
    )


@strawberry.type(description="Account operations.")
class AccountMutations:
    @strawberry.mutation(description="Create an account and start a session for it.")
    def signup(
        self,
        info: GqlInfo,
        email: EmailArg,
        password: Annotated[str, strawberry.argument(description=NEW_PASSWORD_RULES)],
    ) -> AuthPayload:
        data = parse_input(SignupInput, email=email, password=password)
        result = user_signup(
            uow=info.context.uow_factory(), data=data, source=info.context.client_address()
        )
        return AuthPayload.from_out(result)

    @strawberry.mutation(description="Exchange an email and password for a new session.")
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
        description=(
            "Exchange a refresh token for a new access token and a new refresh token. Each "
            "refresh token works once: presenting one that was already used ends its session."
        )
    )
    def refresh_token(
        self,
        info: GqlInfo,
        refresh_token: Annotated[
            str,
            strawberry.argument(
                description="The refreshToken from the latest signup, login or refreshToken."
            ),
        ],
    ) -> AuthPayload:
        result = session_refresh(
            uow=info.context.uow_factory(),
            refresh_token=refresh_token,
            source=info.context.client_address(),
        )
        return AuthPayload.from_out(result)

    @strawberry.mutation(
        description="End the caller's current session. Requires a token.",
        permission_classes=[IsAuthenticated],
    )
    def logout(self, info: GqlInfo, token: TokenArg = None) -> LogoutPayload:
        ended = session_end(uow=info.context.uow_factory(), user=info.context.user)
        return LogoutPayload(ended_sessions=ended)

    @strawberry.mutation(
        description="End every session of the caller, on every device. Requires a token.",
        permission_classes=[IsAuthenticated],
    )
    def logout_everywhere(self, info: GqlInfo, token: TokenArg = None) -> LogoutPayload:
        ended = session_end_all(uow=info.context.uow_factory(), user=info.context.user)
        return LogoutPayload(ended_sessions=ended)

    @strawberry.mutation(
        description=(
            "Change the caller's password: every session of theirs ends and a fresh one is "
            "returned. Requires a token."
        ),
        permission_classes=[IsAuthenticated],
    )
    def change_password(
        self,
        info: GqlInfo,
        current_password: Annotated[
            str,
            strawberry.argument(
                description="The password now; a wrong one counts as a failed login."
            ),
        ],
        new_password: Annotated[str, strawberry.argument(description=NEW_PASSWORD_RULES)],
        token: TokenArg = None,
    ) -> AuthPayload:
        data = parse_input(
            ChangePasswordInput, current_password=current_password, new_password=new_password
        )
        result = user_change_password(
            uow=info.context.uow_factory(),
            user=info.context.user,
            data=data,
            source=info.context.client_address(),
        )
        return AuthPayload.from_out(result)

    @strawberry.mutation(
        description=(
            "Delete the caller's account with all of its posts and sessions; the email may "
            "sign up again afterwards. Requires a token."
        ),
        permission_classes=[IsAuthenticated],
    )
    def delete_account(
        self,
        info: GqlInfo,
        password: Annotated[
            str,
            strawberry.argument(description="The account's password, to confirm."),
        ],
        token: TokenArg = None,
    ) -> DeleteAccountPayload:
        data = parse_input(DeleteAccountInput, password=password)
        deleted = user_delete(
            uow=info.context.uow_factory(),
            user=info.context.user,
            data=data,
            source=info.context.client_address(),
            posts_cache=info.context.posts_cache,
        )
        return DeleteAccountPayload(deleted_user_id=user_id(deleted))
