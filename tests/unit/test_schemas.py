"""Input validation: signup and login inputs, and the BAD_USER_INPUT error that names fields."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from persistence.models import User
from schemas.base import parse_input
from schemas.emails import canonical_email
from schemas.errors import DomainError, ErrorCode
from schemas.ids import NodeRef
from schemas.posts import PostCreateInput, PostPageInput
from schemas.users import LoginInput, SignupInput
from tests.conftest import INVISIBLE_TEXTS, ONE_VISIBLE_AMONG_INVISIBLE

GOOD_PASSWORD = "correct horse battery staple"


def rejected(model: type[BaseModel], **data: Any) -> DomainError:
    with pytest.raises(DomainError) as caught:
        parse_input(model, **data)
    assert caught.value.code is ErrorCode.BAD_USER_INPUT
    return caught.value


def email_of_length(length: int) -> str:
    """A syntactically valid address of exactly ``length`` characters (64-char local part)."""
    local = "a" * 64
    labels: list[str] = []
    remaining = length - len(local) - 1 - len(".com")
    while remaining > 0:
        label = min(remaining, 63)
        if remaining - label == 1:  # never leave room for only the dot
            label -= 1
        labels.append("b" * label)
        remaining -= label + 1
    address = f"{local}@{'.'.join(labels)}.com"
    assert len(address) == length
    return address


@pytest.mark.parametrize("model", [SignupInput, LoginInput])
def test_email_is_trimmed_and_lower_cased(model: type[SignupInput | LoginInput]) -> None:
    data = parse_input(model, email="  Alice.Smith@Example.COM \t", password=GOOD_PASSWORD)
    assert data.email == "alice.smith@example.com"


@pytest.mark.parametrize(
    "email",
    [
        "",
        "   ",
        "alice",
        "alice@",
        "@example.com",
        "alice@@example.com",
        "alice@example",
        "alice example@example.com",
        "alice@exa mple.com",
        "a@b",
        "alice@-example.com",
        "alice@example..com",
    ],
)
@pytest.mark.parametrize("model", [SignupInput, LoginInput])
def test_invalid_email_is_bad_user_input_naming_email(
    model: type[SignupInput | LoginInput], email: str
) -> None:
    error = rejected(model, email=email, password=GOOD_PASSWORD)
    assert set(error.fields) == {"email"}


def test_email_of_254_characters_is_accepted() -> None:
    email = email_of_length(254)
    assert parse_input(SignupInput, email=email, password=GOOD_PASSWORD).email == email


def test_email_of_254_characters_is_accepted_with_whitespace_around_it() -> None:
    email = email_of_length(254)
    data = parse_input(SignupInput, email=f"  {email.upper()}\n", password=GOOD_PASSWORD)
    assert data.email == email


def test_email_over_254_characters_is_rejected() -> None:
    error = rejected(SignupInput, email=email_of_length(255), password=GOOD_PASSWORD)
    assert set(error.fields) == {"email"}


def test_password_of_7_characters_is_rejected() -> None:
    error = rejected(SignupInput, email="alice@example.com", password="Xk9#pQ2")
    assert set(error.fields) == {"password"}


def test_password_of_8_uncommon_characters_is_accepted() -> None:
    data = parse_input(SignupInput, email="alice@example.com", password="Xk9#pQ2!")
    assert data.password == "Xk9#pQ2!"


def test_password_of_128_characters_is_accepted() -> None:
    password = "Zq7!" * 32
    assert (
        parse_input(SignupInput, email="alice@example.com", password=password).password == password
    )


def test_password_of_129_characters_is_rejected() -> None:
    error = rejected(SignupInput, email="alice@example.com", password="Zq7!" * 32 + "x")
    assert set(error.fields) == {"password"}


def test_password_length_counts_characters_not_bytes() -> None:
    password = "\N{GRINNING FACE}" * 128  # 512 bytes, 128 characters
    assert (
        parse_input(SignupInput, email="alice@example.com", password=password).password == password
    )
    rejected(SignupInput, email="alice@example.com", password=password + "x")


@pytest.mark.parametrize("password", ["password123", "qwertyuiop", "PASSWORD123", "iloveyou1"])
def test_common_password_is_rejected_at_signup(password: str) -> None:
    error = rejected(SignupInput, email="alice@example.com", password=password)
    assert set(error.fields) == {"password"}
    assert "common" in error.fields["password"].lower()


def test_common_password_is_not_judged_at_login() -> None:
    # Login compares; refusing it there would only hide which passwords exist.
    assert parse_input(LoginInput, email="alice@example.com", password="password123")


def test_whitespace_in_a_password_is_kept() -> None:
    password = "  leading and trailing spaces \t"
    assert (
        parse_input(SignupInput, email="alice@example.com", password=password).password == password
    )
    assert (
        parse_input(LoginInput, email="alice@example.com", password=password).password == password
    )


def test_a_password_of_spaces_is_not_trimmed_to_nothing() -> None:
    # 8 spaces are 8 characters: not trimmed (whether strong enough is Django's call).
    data = parse_input(LoginInput, email="alice@example.com", password=" " * 8)
    assert data.password == " " * 8


@pytest.mark.parametrize("password", ["", "x" * 129])
def test_login_password_must_be_1_to_128_characters(password: str) -> None:
    error = rejected(LoginInput, email="alice@example.com", password=password)
    assert set(error.fields) == {"password"}


def test_every_failing_field_is_named_with_its_reason() -> None:
    error = rejected(SignupInput, email="not an email", password="short")
    assert set(error.fields) == {"email", "password"}
    assert all(reason for reason in error.fields.values())
    extensions = error.extensions()
    assert extensions["code"] == "BAD_USER_INPUT"
    assert extensions["fields"] == error.fields


@pytest.mark.parametrize("text", INVISIBLE_TEXTS.values(), ids=INVISIBLE_TEXTS.keys())
def test_post_text_with_no_visible_character_is_blank(text: str) -> None:
    error = rejected(PostCreateInput, text=text)
    assert set(error.fields) == {"text"}
    assert "blank" in error.fields["text"]


def test_post_text_with_one_visible_character_among_invisible_ones_is_kept_as_sent() -> None:
    data = parse_input(PostCreateInput, text=ONE_VISIBLE_AMONG_INVISIBLE)
    assert data.text.encode("utf-8") == ONE_VISIBLE_AMONG_INVISIBLE.encode("utf-8")


def test_failing_field_is_named_as_the_graphql_argument() -> None:
    error = rejected(PostPageInput, first=101)
    assert set(error.fields) == {"first"}


@pytest.mark.parametrize("key", ["0", "-1", str(2**63), "1.5", ""])
def test_a_node_reference_outside_the_id_range_is_refused(key: str) -> None:
    assert set(rejected(NodeRef, type_name="Post", key=key).fields) == {"key"}


def test_error_messages_carry_no_internals() -> None:
    error = rejected(SignupInput, email="bad", password="short")
    text = error.message + " ".join(error.fields.values())
    for leak in ("Traceback", "pydantic", "ValidationError", ".py", "https://"):
        assert leak not in text


# Canonical emails: trimmed, NFKC-normalised, case-folded; a fixed point everywhere


@given(st.text(max_size=80))
def test_the_canonical_form_of_an_email_is_its_own_canonical_form(value: str) -> None:
    canonical = canonical_email(value)
    assert canonical_email(canonical) == canonical


EMAILISH = st.one_of(
    st.emails(),
    st.builds(
        lambda local, domain: f"{local}@{domain}",
        st.text(min_size=1, max_size=20),
        st.sampled_from(
            [
                "example.com",
                "EXAMPLE.com",
                "例子.广告",
                "\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com",
                "straße.de",
            ]
        ),
    ),
)


@settings(max_examples=300, deadline=None)
@given(EMAILISH)
def test_a_validated_email_is_canonical_and_the_model_accepts_it(value: str) -> None:
    try:
        email = parse_input(LoginInput, email=value, password="x").email
    except DomainError:
        return
    assert canonical_email(email) == email
    assert parse_input(LoginInput, email=email, password="x").email == email
    User(email=email, password_hash="$2b$04$" + "a" * 53, created_at=datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("\uff4b\uff41\uff54\uff45@example.com", "kate@example.com"),
        ("\ufb01le@example.com", "file@example.com"),
        ("Stra\u00dfe@Example.com", "strasse@example.com"),
        (" \u212aelvin@example.com\u3000", "kelvin@example.com"),
    ],
)
def test_look_alikes_validate_to_one_address(sent: str, stored: str) -> None:
    assert parse_input(SignupInput, email=sent, password=GOOD_PASSWORD).email == stored


def test_a_huge_email_is_refused_without_normalising_it() -> None:
    # NFKC expands U+FDFA eighteen-fold; a long input is refused on length alone.
    huge = "\ufdfa" * 500_000 + "@example.com"
    assert canonical_email(huge) == huge
    assert set(rejected(LoginInput, email=huge, password="x").fields) == {"email"}
