"""Relay's Global Object Identification: node(id:) and nodes(ids:), scoped to the caller."""

from __future__ import annotations

from typing import Annotated

import strawberry

from gql.accounts import User
from gql.common import GqlInfo, Node, TokenArg
from gql.ids import decode_id
from gql.permissions import IsAuthenticated
from gql.post_types import Post
from resolvers_services.posts import node_lookup
from schemas.errors import DomainError, ErrorCode
from schemas.limits import NODES_MAX
from schemas.posts import PostOut
from schemas.users import UserOut


def _node(found: UserOut | PostOut | None) -> Node | None:
    if isinstance(found, PostOut):
        return Post.from_out(found)
    if isinstance(found, UserOut):
        return User.from_out(found)
    return None


@strawberry.type(description="Relay queries.")
class RelayQueries:
    @strawberry.field(
        description=(
            "The object with this global id if it is the caller or one of the caller's "
            "posts; null for anything else. Requires a token."
        ),
        permission_classes=[IsAuthenticated],
    )
    def node(
        self,
        info: GqlInfo,
        id: Annotated[strawberry.ID, strawberry.argument(description="A global id.")],
        token: TokenArg = None,
    ) -> Node | None:
        ref = decode_id(id, argument="id")
        [found] = node_lookup(uow=info.context.uow_factory(), user=info.context.user, refs=[ref])
        return _node(found)

    @strawberry.field(
        description=(
            "node(id:) for each id, in order (at most "
            f"{NODES_MAX}): null where it is not the caller or one of their posts."
        ),
        permission_classes=[IsAuthenticated],
    )
    def nodes(
        self,
        info: GqlInfo,
        ids: Annotated[list[strawberry.ID], strawberry.argument(description="Global ids.")],
        token: TokenArg = None,
    ) -> list[Node | None]:
        if len(ids) > NODES_MAX:
            raise DomainError(
                ErrorCode.BAD_USER_INPUT,
                f"At most {NODES_MAX} ids at once",
                fields={"ids": f"at most {NODES_MAX}"},
            )
        refs = [decode_id(value, argument="ids") for value in ids]
        found = node_lookup(uow=info.context.uow_factory(), user=info.context.user, refs=refs)
        return [_node(item) for item in found]
