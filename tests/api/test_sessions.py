"""Sessions through real GraphQL requests: refresh-token rotation and reuse detection,
logout, logout everywhere, password change, account deletion, the per-user bound.

After every denial the test checks that nothing changed (sessions, password, posts).
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from sqlalchemy import text

from config import bootstrap
from persistence.db import get_engine
from resolvers_services import sessions as sessions_service
from tests.conftest import PASSWORD, Api, error_code, row_id

NEW_PASSWORD = "a brand new passphrase 42"
TOKEN_FORMAT = re.compile(r"^v1\.[1-9][0-9]*\.[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$")


# Reading the database behind the API's back


def session_rows(email: str | None = None) -> list[dict[str, Any]]:
    query = (
        "SELECT s.id, s.user_id, s.family_hash, s.refresh_hash, s.generation, s.created_at,"
        " s.last_used_at, s.expires_at, s.ended_at FROM sessions s JOIN users u ON u.id = s.user_id"
    )
    params: dict[str, Any] = {}
    if email is not None:
        query += " WHERE u.email = :e"
        params["e"] = email
    with get_engine().connect() as conn:
        rows = conn.execute(text(query + " ORDER BY s.id"), params).mappings().all()
    return [{key: _as_datetime(key, value) for key, value in row.items()} for row in rows]


def _as_datetime(key: str, value: Any) -> Any:
    # Raw SQL on SQLite returns DATETIME columns as text.
    if key.endswith("_at") and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


def expire(session_id: int | None = None) -> None:
    """Move sessions (all, or one) into the past, so that they have expired."""
    created = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=40)
    query = "UPDATE sessions SET created_at = :c, last_used_at = :c, expires_at = :x"
    params: dict[str, Any] = {"c": created, "x": created + timedelta(days=30)}
    if session_id is not None:
        query += " WHERE id = :id"
        params["id"] = session_id
    with get_engine().begin() as conn:
        conn.execute(text(query), params)


def live_session_ids(email: str) -> list[int]:
    return [row["id"] for row in session_rows(email) if row["ended_at"] is None]


def password_hash(email: str) -> str | None:
    with get_engine().connect() as conn:
        value: str | None = conn.execute(
            text("SELECT password_hash FROM users WHERE email = :e"), {"e": email}
        ).scalar()
    return value


def count(table: str) -> int:
    with get_engine().connect() as conn:
        return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())  # noqa: S608 - fixed names


def session_id_of(access_token: str) -> int:
    return int(jwt.decode(access_token, options={"verify_signature": False})["sid"])


def ok(body: dict[str, Any], field: str) -> dict[str, Any]:
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"][field]
    return payload


def works(api: Api, access_token: str) -> bool:
    """Whether ``access_token`` is accepted (getPosts answers without an error)."""
    body = api.get_posts(token=access_token)
    if body.get("errors"):
        assert error_code(body) == "UNAUTHENTICATED", body
        return False
    return True


def denied(body: dict[str, Any], code: str = "UNAUTHENTICATED") -> None:
    assert error_code(body) == code, body
    assert body["data"] is None, body


# What signup and login return


def test_signup_returns_an_access_token_a_refresh_token_and_when_the_access_token_expires(
    api: Api,
) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    payload = api.new_account("alice@example.com")
    after = datetime.now(UTC)
    assert TOKEN_FORMAT.match(payload["refreshToken"]), payload["refreshToken"]
    expires_at = datetime.fromisoformat(payload["tokenExpiresAt"])
    assert expires_at.utcoffset() == timedelta(0)
    assert payload["tokenExpiresAt"].endswith("+00:00")
    lifetime = timedelta(seconds=settings.JWT_LIFETIME_SECONDS)
    assert before + lifetime <= expires_at <= after + lifetime
    claims = jwt.decode(payload["token"], options={"verify_signature": False})
    assert datetime.fromtimestamp(claims["exp"], UTC) == expires_at
    [row] = session_rows("alice@example.com")
    assert claims["sid"] == str(row["id"])
    assert row["ended_at"] is None
    assert row["generation"] == 0


def test_every_login_starts_a_session_of_its_own(api: Api) -> None:
    first = api.new_account("alice@example.com")
    second = api.new_session("alice@example.com")
    third = api.new_session("alice@example.com")
    sids = {session_id_of(p["token"]) for p in (first, second, third)}
    assert len(sids) == 3
    assert set(live_session_ids("alice@example.com")) == sids
    assert all(works(api, p["token"]) for p in (first, second, third))


def test_the_database_keeps_only_hashes_of_refresh_tokens(api: Api) -> None:
    refresh = api.new_account("alice@example.com")["refreshToken"]
    _, _, family, secret = refresh.split(".")
    with get_engine().connect() as conn:
        dump = " ".join(str(v) for row in conn.execute(text("SELECT * FROM sessions")) for v in row)
    for part in (refresh, family, secret):
        assert part not in dump
    [row] = session_rows()
    assert re.fullmatch(r"[0-9a-f]{64}", row["family_hash"])
    assert re.fullmatch(r"[0-9a-f]{64}", row["refresh_hash"])


def test_refresh_tokens_carry_at_least_256_bits_of_fresh_randomness(api: Api) -> None:
    tokens = [api.new_account(f"user{n}@example.com")["refreshToken"] for n in range(3)]
    secrets_seen = [part for token in tokens for part in token.split(".")[2:]]
    assert len(set(secrets_seen)) == len(secrets_seen)
    for secret in secrets_seen:
        assert len(secret) * 6 >= 256  # base64url: 6 bits a character


# refreshToken: rotation


def test_refresh_returns_new_tokens_that_work(api: Api) -> None:
    first = api.new_account("alice@example.com")
    second = ok(api.refresh(first["refreshToken"]), "refreshToken")
    assert second["refreshToken"] != first["refreshToken"]
    assert second["user"] == first["user"]
    assert session_id_of(second["token"]) == session_id_of(first["token"])
    assert works(api, second["token"])
    third = ok(api.refresh(second["refreshToken"]), "refreshToken")
    assert works(api, third["token"])
    [row] = session_rows()
    assert row["generation"] == 2
    assert row["ended_at"] is None


def test_refresh_extends_the_session(api: Api) -> None:
    first = api.new_account("alice@example.com")
    [before] = session_rows()
    with get_engine().begin() as conn:  # the session is about to expire
        conn.execute(
            text("UPDATE sessions SET expires_at = :x"),
            {"x": datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=30)},
        )
    ok(api.refresh(first["refreshToken"]), "refreshToken")
    [after] = session_rows()
    lifetime = timedelta(seconds=settings.REFRESH_TOKEN_LIFETIME_SECONDS)
    assert after["expires_at"] >= datetime.now(UTC).replace(tzinfo=None) + lifetime - timedelta(
        minutes=1
    )
    assert after["last_used_at"] >= before["last_used_at"]


def test_an_access_token_issued_before_a_refresh_keeps_working_until_it_expires(
    api: Api,
) -> None:
    # Rotation renews the refresh token; the session, and so its access tokens, go on.
    first = api.new_account("alice@example.com")
    ok(api.refresh(first["refreshToken"]), "refreshToken")
    assert works(api, first["token"])


# refreshToken: reuse detection (RFC 9700 section 4.14.2)


def test_presenting_a_rotated_refresh_token_ends_the_session_for_everyone(
    api: Api, bob: str
) -> None:
    first = api.new_account("alice@example.com")
    other = api.new_session("alice@example.com")  # another device of alice
    second = ok(api.refresh(first["refreshToken"]), "refreshToken")

    denied(api.refresh(first["refreshToken"]))  # a moment later: no grace period

    denied(api.refresh(second["refreshToken"]))  # the successor is dead too
    assert not works(api, first["token"])
    assert not works(api, second["token"])
    [reused] = [row for row in session_rows() if row["id"] == session_id_of(first["token"])]
    assert reused["ended_at"] is not None
    # Nothing else changed: alice's other device and bob are still signed in.
    assert works(api, other["token"])
    assert works(api, bob)
    assert live_session_ids("alice@example.com") == [session_id_of(other["token"])]


def test_reuse_of_a_token_rotated_long_ago_ends_the_session_too(api: Api) -> None:
    # The attacker refreshed twice with a stolen token; the victim then presents
    # the original, rotated two generations ago: the attacker's session must end.
    stolen = api.new_account("alice@example.com")
    attacker = ok(api.refresh(stolen["refreshToken"]), "refreshToken")
    attacker = ok(api.refresh(attacker["refreshToken"]), "refreshToken")
    denied(api.refresh(stolen["refreshToken"]))
    denied(api.refresh(attacker["refreshToken"]))
    assert not works(api, attacker["token"])
    assert live_session_ids("alice@example.com") == []


def test_a_refresh_token_of_an_ended_session_is_unauthenticated(api: Api) -> None:
    payload = api.new_account("alice@example.com")
    ok(api.logout(token=payload["token"]), "logout")
    denied(api.refresh(payload["refreshToken"]))


def test_a_refresh_token_of_an_expired_session_is_unauthenticated(api: Api) -> None:
    payload = api.new_account("alice@example.com")
    expire()
    denied(api.refresh(payload["refreshToken"]))
    assert not works(api, payload["token"])
    [row] = session_rows()
    assert row["generation"] == 0


def _forge(refresh_token: str, *, family: str | None = None, secret: str | None = None) -> str:
    prefix, sid, real_family, real_secret = refresh_token.split(".")
    return ".".join((prefix, sid, family or real_family, secret or real_secret))


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda _t: "", id="empty"),
        pytest.param(lambda _t: "garbage", id="garbage"),
        pytest.param(lambda t: t[:-1], id="truncated"),
        pytest.param(lambda t: t + "A", id="extended"),
        pytest.param(lambda t: t.upper(), id="upper-cased"),
        pytest.param(lambda t: " " + t, id="padded"),
        pytest.param(lambda t: "v2" + t[2:], id="other version"),
        pytest.param(lambda t: _forge(t, family="A" * 43), id="foreign family"),
        pytest.param(lambda t: _forge(t, family="A" * 43, secret="B" * 43), id="guessed"),
        pytest.param(lambda t: "v1.999999." + ".".join(t.split(".")[2:]), id="unknown session"),
        pytest.param(lambda t: "v1.0." + ".".join(t.split(".")[2:]), id="session zero"),
        pytest.param(lambda t: "v1.01." + ".".join(t.split(".")[2:]), id="leading zero"),
        pytest.param(lambda t: "v1." + "9" * 30 + "." + ".".join(t.split(".")[2:]), id="huge"),
        pytest.param(lambda t: t * 1000, id="repeated"),
        pytest.param(lambda t: t.replace(".", "\N{FULLWIDTH FULL STOP}"), id="fullwidth dots"),
    ],
)
def test_bad_refresh_tokens_are_unauthenticated_and_end_nothing(api: Api, make: Any) -> None:
    payload = api.new_account("alice@example.com")
    before = session_rows()
    denied(api.refresh(make(payload["refreshToken"])))
    assert session_rows() == before
    assert works(api, payload["token"])
    ok(api.refresh(payload["refreshToken"]), "refreshToken")


def test_an_access_token_is_never_taken_as_a_refresh_token(api: Api) -> None:
    payload = api.new_account("alice@example.com")
    before = session_rows()
    denied(api.refresh(payload["token"]))
    assert session_rows() == before


def test_a_refresh_token_is_never_taken_as_an_access_token(api: Api) -> None:
    payload = api.new_account("alice@example.com")
    denied(api.get_posts(token=payload["refreshToken"]))
    denied(api.add_post("sneaky", token_arg=payload["refreshToken"]))
    assert count("posts") == 0


def test_refresh_token_of_the_wrong_type_is_bad_user_input(api: Api) -> None:
    body = api.post("mutation { refreshToken(refreshToken: 42) { token } }")
    assert error_code(body) == "BAD_USER_INPUT"


# logout and logoutEverywhere


def test_logout_ends_the_current_session_only(api: Api) -> None:
    here = api.new_account("alice@example.com")
    there = api.new_session("alice@example.com")
    assert ok(api.logout(token=here["token"]), "logout") == {"endedSessions": 1}
    assert not works(api, here["token"])
    denied(api.refresh(here["refreshToken"]))
    assert works(api, there["token"])
    ok(api.refresh(there["refreshToken"]), "refreshToken")


def test_logout_with_the_token_argument(api: Api) -> None:
    payload = api.new_account("alice@example.com")
    assert ok(api.logout(token_arg=payload["token"]), "logout") == {"endedSessions": 1}
    assert not works(api, payload["token"])


def test_logout_twice_is_unauthenticated_the_second_time(api: Api) -> None:
    payload = api.new_account("alice@example.com")
    ok(api.logout(token=payload["token"]), "logout")
    before = session_rows()
    denied(api.logout(token=payload["token"]))
    assert session_rows() == before


def test_logout_everywhere_ends_every_session_of_the_caller_and_no_one_elses(
    api: Api, bob: str
) -> None:
    sessions = [api.new_account("alice@example.com")] + [
        api.new_session("alice@example.com") for _ in range(2)
    ]
    body = api.logout_everywhere(token=sessions[1]["token"])
    assert ok(body, "logoutEverywhere") == {"endedSessions": 3}
    for payload in sessions:
        assert not works(api, payload["token"])
        denied(api.refresh(payload["refreshToken"]))
    assert live_session_ids("alice@example.com") == []
    assert works(api, bob)
    # Signing in again works as before.
    assert works(api, api.new_session("alice@example.com")["token"])


@pytest.mark.parametrize("operation", ["logout", "logout_everywhere"])
def test_logging_out_without_a_valid_token_is_unauthenticated_and_ends_nothing(
    api: Api, operation: str
) -> None:
    payload = api.new_account("alice@example.com")
    before = session_rows()
    for token in (None, "garbage", payload["refreshToken"]):
        denied(getattr(api, operation)(token=token))
    assert session_rows() == before
    assert works(api, payload["token"])


# changePassword


def test_change_password_ends_every_session_and_returns_a_fresh_one(api: Api, bob: str) -> None:
    here = api.new_account("alice@example.com")
    there = api.new_session("alice@example.com")
    fresh = ok(api.change_password(PASSWORD, NEW_PASSWORD, token=here["token"]), "changePassword")

    assert works(api, fresh["token"])
    ok(api.refresh(fresh["refreshToken"]), "refreshToken")
    for old in (here, there):
        assert not works(api, old["token"])
        denied(api.refresh(old["refreshToken"]))
    assert live_session_ids("alice@example.com") == [session_id_of(fresh["token"])]
    assert error_code(api.login("alice@example.com", PASSWORD)) == "UNAUTHENTICATED"
    ok(api.login("alice@example.com", NEW_PASSWORD), "login")
    assert works(api, bob)


def test_change_password_with_a_wrong_current_password_changes_nothing(api: Api) -> None:
    payload = api.new_account("alice@example.com")
    other = api.new_session("alice@example.com")
    stored, sessions = password_hash("alice@example.com"), session_rows()
    denied(api.change_password("not the password", NEW_PASSWORD, token=payload["token"]))
    assert password_hash("alice@example.com") == stored
    assert session_rows() == sessions
    assert works(api, payload["token"])
    assert works(api, other["token"])
    ok(api.login("alice@example.com", PASSWORD), "login")


def test_a_wrong_current_password_counts_as_a_failed_login(api: Api) -> None:
    settings.LOGIN_MAX_FAILURES = 3
    payload = api.new_account("alice@example.com")
    for _ in range(3):
        denied(api.change_password("not the password", NEW_PASSWORD, token=payload["token"]))
    assert error_code(api.login("alice@example.com", PASSWORD)) == "RATE_LIMITED"
    body = api.change_password(PASSWORD, NEW_PASSWORD, token=payload["token"])
    assert error_code(body) == "RATE_LIMITED"
    assert works(api, payload["token"])


@pytest.mark.parametrize(
    ("new_password", "reason"),
    [("short", "short"), ("password123", "common"), ("x" * 129, "long"), ("", "empty")],
)
def test_the_new_password_must_pass_signups_rules(api: Api, new_password: str, reason: str) -> None:
    payload = api.new_account("alice@example.com")
    stored, sessions = password_hash("alice@example.com"), session_rows()
    body = api.change_password(PASSWORD, new_password, token=payload["token"])
    assert error_code(body) == "BAD_USER_INPUT", reason
    assert set(body["errors"][0]["extensions"]["fields"]) == {"newPassword"}
    assert password_hash("alice@example.com") == stored
    assert session_rows() == sessions


def test_change_password_without_a_valid_token_changes_nothing(api: Api) -> None:
    payload = api.new_account("alice@example.com")
    stored = password_hash("alice@example.com")
    denied(api.change_password(PASSWORD, NEW_PASSWORD))
    denied(api.change_password(PASSWORD, NEW_PASSWORD, token=payload["refreshToken"]))
    assert password_hash("alice@example.com") == stored


def test_change_password_with_the_token_argument(api: Api) -> None:
    payload = api.new_account("alice@example.com")
    fresh = ok(
        api.change_password(PASSWORD, NEW_PASSWORD, token_arg=payload["token"]), "changePassword"
    )
    assert works(api, fresh["token"])


# deleteAccount


def test_delete_account_removes_the_user_their_posts_and_sessions(api: Api, bob: str) -> None:
    payload = api.new_account("alice@example.com")
    other = api.new_session("alice@example.com")
    for n in range(3):
        ok(api.add_post(f"post {n}", token=payload["token"]), "addPost")
    ok(api.add_post("bob's", token=bob), "addPost")
    user_id = row_id(payload["user"]["id"])
    assert len(api.posts(payload["token"])) == 3  # fills the cache
    assert bootstrap.current().posts_cache.get(user_id, 3) is not None

    body = api.delete_account(PASSWORD, token=payload["token"])
    assert ok(body, "deleteAccount") == {"deletedUserId": payload["user"]["id"]}

    assert password_hash("alice@example.com") is None
    assert session_rows("alice@example.com") == []
    with get_engine().connect() as conn:
        left = conn.execute(
            text("SELECT COUNT(*) FROM posts WHERE user_id = :u"), {"u": user_id}
        ).scalar_one()
        orphans = conn.execute(
            text("SELECT COUNT(*) FROM sessions WHERE user_id = :u"), {"u": user_id}
        ).scalar_one()
    assert (left, orphans) == (0, 0)
    assert bootstrap.current().posts_cache.get(user_id, 3) is None
    for old in (payload, other):
        assert not works(api, old["token"])
        denied(api.refresh(old["refreshToken"]))
    assert [p["text"] for p in api.posts(bob)] == ["bob's"]


def test_a_deleted_accounts_email_can_sign_up_again(api: Api) -> None:
    payload = api.new_account("alice@example.com")
    ok(api.delete_account(PASSWORD, token=payload["token"]), "deleteAccount")
    again = api.new_account("alice@example.com", NEW_PASSWORD)
    assert row_id(again["user"]["id"]) > row_id(payload["user"]["id"])
    assert api.posts(again["token"]) == []
    assert error_code(api.login("alice@example.com", PASSWORD)) == "UNAUTHENTICATED"


def test_delete_account_with_a_wrong_password_deletes_nothing(api: Api) -> None:
    payload = api.new_account("alice@example.com")
    ok(api.add_post("keep me", token=payload["token"]), "addPost")
    before = (password_hash("alice@example.com"), session_rows(), count("posts"))
    denied(api.delete_account("not the password", token=payload["token"]))
    assert (password_hash("alice@example.com"), session_rows(), count("posts")) == before
    assert [p["text"] for p in api.posts(payload["token"])] == ["keep me"]


def test_a_wrong_password_for_delete_account_counts_as_a_failed_login(api: Api) -> None:
    settings.LOGIN_MAX_FAILURES = 2
    payload = api.new_account("alice@example.com")
    for _ in range(2):
        denied(api.delete_account("not the password", token=payload["token"]))
    denied(api.delete_account(PASSWORD, token=payload["token"]), "RATE_LIMITED")
    assert password_hash("alice@example.com") is not None


def test_delete_account_without_a_valid_token_deletes_nothing(api: Api) -> None:
    payload = api.new_account("alice@example.com")
    denied(api.delete_account(PASSWORD))
    denied(api.delete_account(PASSWORD, token=payload["refreshToken"]))
    assert password_hash("alice@example.com") is not None


def test_one_user_cannot_delete_another_with_their_password(api: Api, bob: str) -> None:
    api.new_account("alice@example.com")
    # bob's token, alice's password: the password is checked against bob's account.
    denied(api.delete_account(PASSWORD + " not bobs", token=bob))
    assert password_hash("alice@example.com") is not None
    assert password_hash("bob@example.com") is not None


# The per-user bound


def test_a_new_session_beyond_the_bound_ends_the_oldest(api: Api) -> None:
    settings.MAX_SESSIONS_PER_USER = 3
    sessions = [api.new_account("alice@example.com")] + [
        api.new_session("alice@example.com") for _ in range(3)
    ]
    assert not works(api, sessions[0]["token"])
    denied(api.refresh(sessions[0]["refreshToken"]))
    assert all(works(api, payload["token"]) for payload in sessions[1:])
    assert live_session_ids("alice@example.com") == [
        session_id_of(p["token"]) for p in sessions[1:]
    ]
    sessions.append(api.new_session("alice@example.com"))
    assert not works(api, sessions[1]["token"])
    assert len(live_session_ids("alice@example.com")) == 3


def test_the_bound_defaults_to_fifty() -> None:
    assert settings.MAX_SESSIONS_PER_USER == 50
    assert settings.REFRESH_TOKEN_LIFETIME_SECONDS == 30 * 24 * 3600


# Housekeeping


def _end_and_expire(api: Api, email: str, ended: int, expired: int) -> list[dict[str, Any]]:
    """Start sessions for ``email``: ``ended`` logged out, ``expired`` past their expiry."""
    payloads = [api.new_session(email) for _ in range(ended + expired)]
    for payload in payloads[:ended]:
        ok(api.logout(token=payload["token"]), "logout")
    for payload in payloads[ended:]:
        expire(session_id_of(payload["token"]))
    return payloads


def test_purge_sessions_deletes_expired_and_ended_sessions_only(api: Api) -> None:
    live = api.new_account("alice@example.com")
    _end_and_expire(api, "alice@example.com", ended=3, expired=2)
    assert len(session_rows()) == 6
    out = io.StringIO()
    call_command("purge_sessions", "--batch", "2", stdout=out)
    assert out.getvalue().strip() == "purged 5 sessions"
    assert [row["id"] for row in session_rows()] == [session_id_of(live["token"])]
    assert works(api, live["token"])


def test_new_sessions_purge_a_bounded_batch_of_dead_ones(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.new_account("alice@example.com")
    _end_and_expire(api, "alice@example.com", ended=3, expired=2)
    assert len(session_rows()) == 6
    monkeypatch.setattr(sessions_service, "_PURGE_ONE_IN", 1)
    monkeypatch.setattr(sessions_service, "_PURGE_BATCH", 2)
    api.new_session("alice@example.com")  # 7 rows, then at most 2 purged
    assert len(session_rows()) == 5
    api.new_session("alice@example.com")  # 6 rows, 2 purged
    api.new_session("alice@example.com")  # 5 rows, the last dead one purged
    rows = session_rows()
    assert len(rows) == 4
    assert all(row["ended_at"] is None for row in rows)


# Sessions of other users and clients


def test_a_session_from_another_client_is_the_same_session(api: Api) -> None:
    payload = api.new_account("alice@example.com")
    other_client = Api(Client())
    assert works(other_client, payload["token"])
    ok(other_client.logout(token=payload["token"]), "logout")
    assert not works(api, payload["token"])
