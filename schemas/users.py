"""Account schemas: signup and login inputs, the user and the auth result."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Annotated

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

from schemas.base import Frozen
from schemas.limits import EMAIL_MAX_CHARS, PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS


def normalise_email(value: object) -> object:
    """Trim and lower-case an email before it is validated."""
    return value.strip().lower() if isinstance(value, str) else value


def _validate_email(value: str) -> str:
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from None
    return result.normalized.lower()


def _password_strength(value: str) -> str:
    # Django's own validators (minimum length, common-password list), as configured
    # in settings.AUTH_PASSWORD_VALIDATORS; an attribute-less user is enough for them.
    try:
        validate_password(value, user=SimpleNamespace())
    except DjangoValidationError as exc:
        raise ValueError(" ".join(str(m) for m in exc.messages)) from None
    return value


Email = Annotated[
    str,
    BeforeValidator(normalise_email),
    StringConstraints(min_length=3, max_length=EMAIL_MAX_CHARS),
    AfterValidator(_validate_email),
]
# Every character counts: 8..128 characters, no stripping, no truncation.
Password = Annotated[str, Field(min_length=PASSWORD_MIN_CHARS, max_length=PASSWORD_MAX_CHARS)]


class SignupInput(Frozen):
    """What signup takes: a new account's email and a strong password."""

    email: Email
    password: Annotated[Password, AfterValidator(_password_strength)]


class LoginInput(Frozen):
    """What login takes. The password is only length-checked: it is compared, not judged."""

    email: Email
    password: Annotated[str, Field(min_length=1, max_length=PASSWORD_MAX_CHARS)]


class UserOut(Frozen):
    """A user as the API shows it."""

    id: Annotated[int, Field(gt=0)]
    email: Annotated[str, StringConstraints(min_length=3, max_length=EMAIL_MAX_CHARS)]


class AuthResult(Frozen):
    """A fresh token and the user it is for."""

    token: Annotated[str, Field(min_length=1)]
    user: UserOut


class Principal(Frozen):
    """The authenticated caller, with the version stamp of their posts."""

    id: Annotated[int, Field(gt=0)]
    email: Annotated[str, StringConstraints(min_length=3, max_length=EMAIL_MAX_CHARS)]
    posts_version: Annotated[int, Field(ge=0)]
    posts_count: Annotated[int, Field(ge=0)] = 0
    posts_bytes: Annotated[int, Field(ge=0)] = 0
