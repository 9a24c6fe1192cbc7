"""Account schemas: signup, login and password inputs, the user, the auth result, the caller."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Annotated

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, StringConstraints

from schemas.base import Frozen
from schemas.emails import canonical_email
from schemas.limits import EMAIL_MAX_CHARS, PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS


def normalise_email(value: object) -> object:
    """Trim, NFKC-normalise and case-fold an email before it is validated."""
    return canonical_email(value) if isinstance(value, str) else value


def _validate_email(value: str) -> str:
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from None
    # email_validator normalises too (NFC, IDNA): fold once more so that what is
    # stored is a fixed point of canonical_email, on every database alike.
    normalised = canonical_email(result.normalized)
    if len(normalised) > EMAIL_MAX_CHARS:
        raise ValueError(f"must be at most {EMAIL_MAX_CHARS} characters")
    return normalised


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
NewPassword = Annotated[Password, AfterValidator(_password_strength)]
# A password that is compared, not judged: only its length is checked.
GivenPassword = Annotated[str, Field(min_length=1, max_length=PASSWORD_MAX_CHARS)]
StoredEmail = Annotated[str, StringConstraints(min_length=3, max_length=EMAIL_MAX_CHARS)]
UserId = Annotated[int, Field(gt=0, lt=2**63)]
SessionId = Annotated[int, Field(gt=0, lt=2**63)]


class SignupInput(Frozen):
    """What signup takes: a new account's email and a strong password."""

    email: Email
    password: NewPassword


class LoginInput(Frozen):
    """What login takes. The password is only length-checked: it is compared, not judged."""

    email: Email
    password: GivenPassword


class ChangePasswordInput(Frozen):
    """What changePassword takes: the current password (compared) and a new one (judged)."""

    current_password: GivenPassword
    new_password: NewPassword


class DeleteAccountInput(Frozen):
    """What deleteAccount takes: the account's password."""

    password: GivenPassword


class UserOut(Frozen):
    """A user as the API shows it."""

    id: UserId
    email: StoredEmail


class AuthResult(Frozen):
    """A fresh access token, the refresh token of its session, and the user they are for."""

    token: Annotated[str, Field(min_length=1)]
    refresh_token: Annotated[str, Field(min_length=1)]
    token_expires_at: AwareDatetime
    user: UserOut


class Principal(Frozen):
    """The authenticated caller: their session and the state of their posts."""

    id: UserId
    email: StoredEmail
    session_id: SessionId
    posts_version: Annotated[int, Field(ge=0)]
    posts_count: Annotated[int, Field(ge=0)]
    posts_bytes: Annotated[int, Field(ge=0)]


class AccessClaims(Frozen):
    """What a verified access token says: whose it is, and which session it belongs to."""

    user_id: UserId
    session_id: SessionId
