"""Typed references to objects, decoded from global ids at the edge.

The GraphQL type names are part of the wire format of every global id
(base64 of ``TypeName:key``), so they are named once, here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from schemas.base import Frozen

USER_TYPE = "User"
POST_TYPE = "Post"

RowId = Annotated[int, Field(gt=0, lt=2**63)]


class NodeRef(Frozen):
    """What a global id names: a GraphQL type name and the row's id in its table."""

    type_name: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    key: RowId


class PostCursor(Frozen):
    """A position in a user's posts, newest first: the keyset (created_at, id)."""

    created_at: datetime
    id: RowId
