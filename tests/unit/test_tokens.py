"""JWTs: only an HS256 token signed with JWT_SECRET, unexpired and with its claims, is accepted."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from django.conf import settings

from resolvers_services.tokens import issue_token, user_id_from_token
from schemas.errors import DomainError, ErrorCode


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(datetime.now(UTC).timestamp())
    base: dict[str, Any] = {
        "sub": "42",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "iss": settings.JWT_ISSUER,
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def sign(payload: dict[str, Any], *, key: str | None = None, algorithm: str = "HS256") -> str:
    return jwt.encode(payload, key or settings.JWT_SECRET, algorithm=algorithm)


def assert_unauthenticated(token: str) -> None:
    with pytest.raises(DomainError) as caught:
        user_id_from_token(token)
    assert caught.value.code is ErrorCode.UNAUTHENTICATED


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_issued_token_verifies_to_its_user() -> None:
    assert user_id_from_token(issue_token(user_id=42)) == 42


def test_issued_token_is_hs256_with_exp_iat_and_sub() -> None:
    token = issue_token(user_id=7)
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    payload = jwt.decode(token, options={"verify_signature": False})
    assert payload["sub"] == "7"
    assert payload["exp"] - payload["iat"] == settings.JWT_LIFETIME_SECONDS


def test_a_hand_made_token_with_the_right_claims_verifies() -> None:
    assert user_id_from_token(sign(claims(sub="9"))) == 9


def test_expired_token_is_unauthenticated() -> None:
    issued = datetime.now(UTC) - timedelta(seconds=settings.JWT_LIFETIME_SECONDS + 60)
    assert_unauthenticated(issue_token(user_id=42, now=issued))


def test_tampered_payload_is_unauthenticated() -> None:
    header, _payload, signature = issue_token(user_id=42).split(".")
    forged = _b64(claims(sub="1"))
    assert_unauthenticated(f"{header}.{forged}.{signature}")


def test_tampered_signature_is_unauthenticated() -> None:
    token = issue_token(user_id=42)
    flipped = "A" if token[-2] != "A" else "B"
    assert_unauthenticated(token[:-2] + flipped + token[-1])


def test_token_signed_with_another_key_is_unauthenticated() -> None:
    assert_unauthenticated(sign(claims(), key="another-secret-of-at-least-32-bytes!!"))


def test_alg_none_token_is_unauthenticated() -> None:
    unsigned = jwt.encode(claims(), None, algorithm="none")
    assert jwt.get_unverified_header(unsigned)["alg"] == "none"
    assert_unauthenticated(unsigned)
    # The same, written by hand with an empty signature (and alg spelt differently).
    header = _b64({"alg": "None", "typ": "JWT"})
    assert_unauthenticated(f"{header}.{_b64(claims())}.")


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_token_with_another_algorithm_and_the_same_secret_is_unauthenticated(
    algorithm: str,
) -> None:
    assert_unauthenticated(sign(claims(), algorithm=algorithm))


@pytest.mark.parametrize("missing", ["exp", "iat", "sub"])
def test_token_without_a_required_claim_is_unauthenticated(missing: str) -> None:
    payload = claims()
    del payload[missing]
    assert_unauthenticated(sign(payload))


def test_token_from_another_issuer_is_unauthenticated() -> None:
    assert_unauthenticated(sign(claims(iss="someone-else")))


@pytest.mark.parametrize("sub", ["abc", "1.5", "", "0", "-3", "1e3"])
def test_token_whose_subject_is_not_a_positive_integer_is_unauthenticated(sub: str) -> None:
    assert_unauthenticated(sign(claims(sub=sub)))


def test_token_not_yet_valid_is_unauthenticated() -> None:
    later = int(datetime.now(UTC).timestamp()) + 3600
    assert_unauthenticated(sign(claims(nbf=later, iat=later, exp=later + 3600)))


@pytest.mark.parametrize(
    "garbage",
    ["", "garbage", "a.b.c", "Bearer x", "...", "eyJhbGciOiJIUzI1NiJ9", "\N{GRINNING FACE}" * 10],
)
def test_garbage_string_is_unauthenticated(garbage: str) -> None:
    assert_unauthenticated(garbage)
