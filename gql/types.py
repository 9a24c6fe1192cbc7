"""GraphQL object types, each with a description on every field."""

from __future__ import annotations

from datetime import datetime

import strawberry

from schemas.posts import PostOut
from schemas.users import AuthResult, UserOut


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
