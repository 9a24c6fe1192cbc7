"""Access tokens: only an HS256 JWT signed with JWT_SECRET, unexpired (give or take the
leeway for clock skew), of type access and with its claims, is accepted."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from django.conf import settings

from resolvers_services.tokens import access_claims, issue_access_token
from schemas.errors import DomainError, ErrorCode


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(datetime.now(UTC).timestamp())
    base: dict[str, Any] = {
        "sub": "42",
        "sid": "7",
        "token_use": "access",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "iss": settings.JWT_ISSUER,
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def sign(payload: dict[str, Any], *, key: str | None = None, algorithm: str = "HS256") -> str:
    return jwt.encode(payload, key or settings.JWT_SECRET, algorithm=algorithm)


def issue(user_id: int = 42, session_id: int = 7, now: datetime | None = None) -> str:
    token, _ = issue_access_token(user_id=user_id, session_id=session_id, now=now)
    return token


def user_id_from_token(token: str) -> int:
    return access_claims(token).user_id


def assert_unauthenticated(token: str) -> None:
    with pytest.raises(DomainError) as caught:
        access_claims(token)
    assert caught.value.code is ErrorCode.UNAUTHENTICATED


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_issued_token_verifies_to_its_user_and_session() -> None:
    claims_of = access_claims(issue(user_id=42, session_id=9))
    assert (claims_of.user_id, claims_of.session_id) == (42, 9)


def test_issued_token_is_hs256_with_exp_iat_sub_and_its_session() -> None:
    token, expires_at = issue_access_token(user_id=7, session_id=3)
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    payload = jwt.decode(token, options={"verify_signature": False})
    assert payload["sub"] == "7"
    assert payload["sid"] == "3"
    assert payload["token_use"] == "access"
    assert payload["exp"] - payload["iat"] == settings.JWT_LIFETIME_SECONDS
    assert expires_at == datetime.fromtimestamp(payload["exp"], UTC)


def test_access_tokens_live_fifteen_minutes_by_default() -> None:
    assert settings.JWT_LIFETIME_SECONDS == 900


def test_a_hand_made_token_with_the_right_claims_verifies() -> None:
    assert user_id_from_token(sign(claims(sub="9"))) == 9


def test_expired_token_is_unauthenticated() -> None:
    issued = datetime.now(UTC) - timedelta(seconds=settings.JWT_LIFETIME_SECONDS + 60)
    assert_unauthenticated(issue(now=issued))


def test_a_token_expired_within_the_clock_skew_leeway_is_still_accepted() -> None:
    assert settings.JWT_LEEWAY_SECONDS == 30
    issued = datetime.now(UTC) - timedelta(seconds=settings.JWT_LIFETIME_SECONDS + 20)
    assert user_id_from_token(issue(now=issued)) == 42


def test_a_token_expired_beyond_the_leeway_is_unauthenticated() -> None:
    issued = datetime.now(UTC) - timedelta(seconds=settings.JWT_LIFETIME_SECONDS + 40)
    assert_unauthenticated(issue(now=issued))


def test_a_token_from_an_instance_whose_clock_runs_20_seconds_ahead_is_accepted() -> None:
    # iat and nbf in the near future: another instance's clock is a little ahead.
    assert user_id_from_token(issue(now=datetime.now(UTC) + timedelta(seconds=20))) == 42


def test_a_token_issued_further_in_the_future_than_the_leeway_is_unauthenticated() -> None:
    assert_unauthenticated(issue(now=datetime.now(UTC) + timedelta(seconds=45)))


def test_without_leeway_a_just_expired_token_is_unauthenticated() -> None:
    # Shows that the leeway, not slack elsewhere, accepted the tokens above.
    settings.JWT_LEEWAY_SECONDS = 0
    issued = datetime.now(UTC) - timedelta(seconds=settings.JWT_LIFETIME_SECONDS + 20)
    assert_unauthenticated(issue(now=issued))


def test_tampered_payload_is_unauthenticated() -> None:
    header, _payload, signature = issue().split(".")
    forged = _b64(claims(sub="1"))
    assert_unauthenticated(f"{header}.{forged}.{signature}")


def test_tampered_signature_is_unauthenticated() -> None:
    token = issue()
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


@pytest.mark.parametrize("missing", ["exp", "iat", "nbf", "sub", "sid", "token_use", "iss"])
def test_token_without_a_required_claim_is_unauthenticated(missing: str) -> None:
    payload = claims()
    del payload[missing]
    assert_unauthenticated(sign(payload))


def test_token_from_another_issuer_is_unauthenticated() -> None:
    assert_unauthenticated(sign(claims(iss="someone-else")))


@pytest.mark.parametrize("sub", ["abc", "1.5", "", "0", "-3", "1e3", "+4", " 4", "04", "\u0664"])
def test_token_whose_subject_is_not_a_positive_integer_is_unauthenticated(sub: str) -> None:
    assert_unauthenticated(sign(claims(sub=sub)))


@pytest.mark.parametrize("sid", ["abc", "", "0", "-1", str(2**63), 7])
def test_token_whose_session_is_not_a_positive_integer_string_is_unauthenticated(
    sid: object,
) -> None:
    assert_unauthenticated(sign(claims(sid=sid)))


@pytest.mark.parametrize("use", ["refresh", "id", "", "ACCESS"])
def test_a_token_that_is_not_an_access_token_is_unauthenticated(use: str) -> None:
    assert_unauthenticated(sign(claims(token_use=use)))


def test_a_refresh_token_is_never_taken_for_an_access_token() -> None:
    refresh = f"v1.7.{'a' * 43}.{'b' * 43}"
    assert_unauthenticated(refresh)


def test_token_not_yet_valid_is_unauthenticated() -> None:
    later = int(datetime.now(UTC).timestamp()) + 3600
    assert_unauthenticated(sign(claims(nbf=later, iat=later, exp=later + 3600)))


@pytest.mark.parametrize(
    "garbage",
    ["", "garbage", "a.b.c", "Bearer x", "...", "eyJhbGciOiJIUzI1NiJ9", "\N{GRINNING FACE}" * 10],
)
def test_garbage_string_is_unauthenticated(garbage: str) -> None:
    assert_unauthenticated(garbage)


# Only the canonical encoding: one spelling of each token (RFC 7515 base64url, unpadded).

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _spare_bits_set(segment: str) -> str:
    """``segment`` with its last character's unused bits set: the same bytes once decoded."""
    spare = {2: 0b1111, 3: 0b11}[len(segment) % 4]
    last = _ALPHABET.index(segment[-1])
    return segment[:-1] + _ALPHABET[last | spare]


def _with_segment(token: str, index: int, change: Any) -> str:
    segments = token.split(".")
    segments[index] = change(segments[index])
    return ".".join(segments)


def _token_with_spare_bits() -> str:
    """A valid token whose signature ends in a character with unused bits (43 chars)."""
    token = issue()
    assert len(token.rsplit(".", 1)[1]) % 4 == 3  # an HS256 signature: 32 bytes
    return token


@pytest.mark.parametrize(
    "variant",
    [
        lambda t: t + "=",
        lambda t: t + "==",
        lambda t: _with_segment(t, 0, lambda s: s + "=" * (-len(s) % 4 or 4)),
        lambda t: _with_segment(t, 1, lambda s: s + "="),
        lambda t: _with_segment(t, 2, _spare_bits_set),
        lambda t: _with_segment(t, 2, lambda s: s[:10] + "\n" + s[10:]),
        lambda t: _with_segment(t, 2, lambda s: s[:10] + "!" + s[10:]),
        lambda t: _with_segment(t, 1, lambda s: s.replace("-", "+").replace("_", "/") + "+/"),
    ],
    ids=[
        "padding",
        "two-paddings",
        "padded-header",
        "padded-payload",
        "spare-bits",
        "newline",
        "stray-character",
        "standard-alphabet",
    ],
)
def test_only_the_canonical_encoding_of_a_token_is_accepted(variant: Any) -> None:
    token = _token_with_spare_bits()
    assert user_id_from_token(token) == 42
    changed = variant(token)
    assert changed != token
    assert_unauthenticated(changed)
