"""Permissions that fields declare with ``permission_classes=[...]``."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from gql.context import Context
from schemas.errors import ErrorCode


class IsAuthenticated(BasePermission):
    """The caller presents a valid token (header or ``token`` argument) for an existing user."""

    message = "Authentication required"
    error_extensions = {"code": ErrorCode.UNAUTHENTICATED.value}  # noqa: RUF012 - as in BasePermission

    def has_permission(self, source: Any, info: Info[Context, None], **kwargs: Any) -> bool:
        # authenticate() raises UNAUTHENTICATED with the precise reason.
        info.context.authenticate(kwargs.get("token"))
        return True
