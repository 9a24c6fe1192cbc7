"""Argument annotations and the Info alias shared by every domain module of the schema."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from gql.context import Context

GqlInfo = Info[Context, None]


@strawberry.interface(name="Node", description="An object with a Globally Unique ID")
class Node:
    """Relay's Node interface, as ``strawberry.relay.Node`` declares it in the schema.

    Its ``id`` is a plain field holding the global id (gql/ids.py encodes it, as
    Strawberry's relay.GlobalID does), not relay.Node's resolver: read per object,
    that resolver cost a fifth of listing ten posts, and it keeps the object's
    selection out of the execution's leaf loop (gql/compat.py). node(id:) and
    nodes(ids:) are the app's own (gql/relay.py), so nothing else of relay.Node is used.
    """

    id: strawberry.ID = strawberry.field(description="The Globally Unique ID of this object")


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
    str,
    strawberry.argument(
        description=(
            "Email address; trimmed, NFKC-normalised and case-folded before it is checked "
            "(so look-alikes such as fullwidth letters or 'ß' and 'ss' are one address)."
        )
    ),
]
