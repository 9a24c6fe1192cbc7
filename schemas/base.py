"""Helpers to build pydantic models and turn validation failures into domain errors."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from schemas.errors import DomainError, ErrorCode

M = TypeVar("M", bound=BaseModel)


class Frozen(BaseModel):
    """Immutable, strict-by-default base for every schema."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)


def _field_name(loc: tuple[int | str, ...]) -> str:
    # Named as the GraphQL argument is (post_id -> postId).
    return ".".join(to_camel(str(part)) for part in loc) or "input"


def _reason(error: Any) -> str:
    # pydantic prefixes messages raised in validators with "Value error, ".
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def parse_input(model: type[M], **data: Any) -> M:
    """Validate ``data`` as ``model``, raising BAD_USER_INPUT that names the failing fields."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields: dict[str, str] = {}
        for error in exc.errors(include_url=False, include_input=False):
            fields.setdefault(_field_name(error["loc"]), _reason(error))
        raise DomainError(
            ErrorCode.BAD_USER_INPUT,
            "Invalid input: " + ", ".join(sorted(fields)),
            fields=fields,
        ) from None
