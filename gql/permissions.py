"""Permissions that fields declare with ``permission_classes=[...]``."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from gql.context import Context
from schemas.errors import ErrorCode


class IsAuthenticated(BasePermission):
    """The request's caller (resolved once, before execution) is a live, valid session."""

    message = "Authentication required"
    error_extensions = {"code": ErrorCode.UNAUTHENTICATED.value}  # noqa: RUF012 - as in BasePermission

    def has_permission(self, source: Any, info: Info[Context, None], **kwargs: Any) -> bool:
        # Reading the caller raises UNAUTHENTICATED with the precise reason.
        info.context.user  # noqa: B018 - the read is the check
        return True
