"""The SQLAlchemy models refuse values the database would (or should) refuse."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from persistence.db import get_engine
from persistence.models import Post, User
from resolvers_services.passwords import hash_password
from tests.conftest import INVISIBLE_TEXTS

MIB = 1024 * 1024
EMOJI = "\N{GRINNING FACE}"
WHEN = datetime(2026, 1, 1, 12, 0, 0)
HASH = "$2b$04$" + "a" * 53


@pytest.mark.parametrize(
    "email",
    ["Alice@example.com", " alice@example.com", "alice@example.com ", "ALICE@EXAMPLE.COM"],
)
def test_user_refuses_a_non_normalised_email(email: str) -> None:
    with pytest.raises(ValueError, match="normalised"):
        User(email=email, password_hash=HASH, created_at=WHEN)


@pytest.mark.parametrize("email", ["", "ab", "no-at-sign.example.com", "a" * 250 + "@x.co"])
def test_user_refuses_an_email_that_is_not_an_address(email: str) -> None:
    with pytest.raises(ValueError, match="email"):
        User(email=email, password_hash=HASH, created_at=WHEN)


@pytest.mark.parametrize(
    "password_hash",
    ["correct horse battery staple", "", "x" * 60, "$2b$04$short", HASH + "a"],
)
def test_user_refuses_a_password_hash_that_is_not_bcrypt(password_hash: str) -> None:
    with pytest.raises(ValueError, match="bcrypt"):
        User(email="alice@example.com", password_hash=password_hash, created_at=WHEN)


def test_user_accepts_a_real_bcrypt_hash() -> None:
    user = User(
        email="alice@example.com", password_hash=hash_password("pw-123456"), created_at=WHEN
    )
    assert user.password_hash.startswith("$2")


@pytest.mark.parametrize("post_text", ["", " ", "\n\t  \r\n", "\u3000"])
def test_post_refuses_blank_text(post_text: str) -> None:
    with pytest.raises(ValueError, match="blank"):
        Post(user_id=1, text=post_text, created_at=WHEN)


@pytest.mark.parametrize("post_text", INVISIBLE_TEXTS.values(), ids=INVISIBLE_TEXTS.keys())
def test_post_refuses_text_with_no_visible_character(post_text: str) -> None:
    with pytest.raises(ValueError, match="blank"):
        Post(user_id=1, text=post_text, created_at=WHEN)


def test_post_refuses_text_over_1_mib_of_utf8() -> None:
    with pytest.raises(ValueError, match="1 MiB"):
        Post(user_id=1, text=EMOJI * (MIB // 4) + "x", created_at=WHEN)


def test_post_accepts_exactly_1_mib_of_four_byte_characters() -> None:
    post = Post(user_id=1, text=EMOJI * (MIB // 4), created_at=WHEN)
    assert len(post.text.encode("utf-8")) == MIB


@pytest.mark.parametrize("user_id", [0, -1])
def test_post_refuses_a_non_positive_user_id(user_id: int) -> None:
    with pytest.raises(ValueError, match="user_id"):
        Post(user_id=user_id, text="hello", created_at=WHEN)


def test_created_at_must_be_a_datetime() -> None:
    with pytest.raises(ValueError, match="created_at"):
        User(email="alice@example.com", password_hash=HASH, created_at="2026-01-01")  # type: ignore[arg-type]


def test_a_refused_assignment_leaves_nothing_to_flush() -> None:
    with Session(get_engine()) as session:
        user = User(email="alice@example.com", password_hash=HASH, created_at=WHEN)
        session.add(user)
        with pytest.raises(ValueError, match="blank"):
            session.add(Post(user_id=1, text="  ", created_at=WHEN))
        session.commit()
        assert session.scalars(select(Post)).all() == []
        assert session.scalars(select(User.email)).all() == ["alice@example.com"]


def test_valid_user_and_post_round_trip_through_the_database() -> None:
    with Session(get_engine(), expire_on_commit=False) as session:
        user = User(email="alice@example.com", password_hash=HASH, created_at=WHEN)
        session.add(user)
        session.flush()
        session.add(Post(user_id=user.id, text=EMOJI + " hi", created_at=WHEN))
        session.commit()
    with Session(get_engine()) as session:
        stored = session.scalars(select(Post)).one()
        assert stored.user_id == user.id
        assert stored.text == EMOJI + " hi"
        assert stored.created_at == WHEN
        assert session.get(User, user.id).posts_version == 0  # type: ignore[union-attr]
