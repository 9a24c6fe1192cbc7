"""bcrypt hashes in which every character of a legal (up to 128-character) password counts."""

from __future__ import annotations

import pytest

from resolvers_services.passwords import hash_password, verify_password

EMOJI = "\N{GRINNING FACE}"  # 4 bytes of UTF-8


def test_hash_is_a_60_character_bcrypt_hash() -> None:
    password_hash = hash_password("correct horse battery staple")
    assert len(password_hash) == 60
    assert password_hash.startswith("$2")


def test_the_same_password_hashes_differently_each_time() -> None:
    assert hash_password("correct horse battery staple") != hash_password(
        "correct horse battery staple"
    )


def test_right_password_verifies() -> None:
    assert verify_password(
        "correct horse battery staple", hash_password("correct horse battery staple")
    )


def test_wrong_password_does_not_verify() -> None:
    password_hash = hash_password("correct horse battery staple")
    assert not verify_password("correct horse battery stapler", password_hash)
    assert not verify_password("Correct horse battery staple", password_hash)
    assert not verify_password("", password_hash)


def test_passwords_differing_only_beyond_bcrypts_72_bytes_do_not_match() -> None:
    password = "a" * 127 + "b"
    other = "a" * 127 + "c"
    assert len(password) == 128
    password_hash = hash_password(password)
    assert verify_password(password, password_hash)
    assert not verify_password(other, password_hash)
    assert not verify_password(password[:72], password_hash)
    assert not verify_password(password[:-1], password_hash)


def test_128_four_byte_characters_hash_and_verify() -> None:
    password = EMOJI * 128
    assert len(password.encode("utf-8")) == 512
    password_hash = hash_password(password)
    assert len(password_hash) == 60
    assert verify_password(password, password_hash)
    assert not verify_password(EMOJI * 127 + "x", password_hash)


def test_whitespace_in_a_password_is_significant() -> None:
    password_hash = hash_password("  spaced out password  ")
    assert verify_password("  spaced out password  ", password_hash)
    assert not verify_password("spaced out password", password_hash)


@pytest.mark.parametrize(
    "stored",
    ["", "not a hash", "$2b$04$tooshort", "x" * 60, "$2b$04$" + "!" * 53, "$1$md5$notbcrypt"],
)
def test_malformed_stored_hash_never_verifies(stored: str) -> None:
    assert verify_password("correct horse battery staple", stored) is False
