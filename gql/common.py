"""Argument annotations and the Info alias shared by every domain module of the schema."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from gql.context import Context

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
    str,
    strawberry.argument(
        description=(
            "Email address; trimmed, NFKC-normalised and case-folded before it is checked "
            "(so look-alikes such as fullwidth letters or 'ß' and 'ss' are one address)."
        )
    ),
]
