"""Hostile-client fuzzing: random values at every argument, random documents, random bodies.

Whatever a client sends, the answer must be a clean one: HTTP status below 500,
a JSON body, every error with a message and a code from the contract (never
INTERNAL_SERVER_ERROR, which only a bug may cause), and nothing in the response
that looks like a stack trace, SQL driver or file path.
"""

from __future__ import annotations

import base64
import ipaddress
import itertools
import json
import os
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from django.conf import settings
from django.test import Client
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from persistence.db import get_engine
from persistence.models import LoginAttempt
from resolvers_services.tokens import issue_access_token
from schemas.limits import POST_MAX_BYTES
from tests.conftest import (
    INVISIBLE_TEXTS,
    ONE_VISIBLE_AMONG_INVISIBLE,
    PASSWORD,
    Api,
    db_scalar,
    error_code,
    gid,
    leaks_in,
    row_id,
)

# Every code a client may cause (the contract's table minus INTERNAL_SERVER_ERROR).
CLIENT_CODES = {
    "BAD_USER_INPUT",
    "UNAUTHENTICATED",
    "CONFLICT",
    "NOT_FOUND",
    "PAYLOAD_TOO_LARGE",
    "RATE_LIMITED",
    "QUOTA_EXCEEDED",
}

# FUZZ_EXAMPLES=2000 for a deeper run than the suite's default.
FUZZ = hsettings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")),
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)

# ---------------------------------------------------------------------------
# Sending and checking
# ---------------------------------------------------------------------------


def encode_payload(payload: Any, *, raw_utf8: bool) -> bytes:
    """JSON as a client would send it: ASCII with escapes, or raw UTF-8 when encodable."""
    if raw_utf8:
        try:
            return json.dumps(payload, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate only travels as an escape
            pass
    return json.dumps(payload).encode("ascii")


def send(
    client: Client,
    body: bytes,
    *,
    content_type: str = "application/json",
    authorization: str | None = None,
    sent: str = "",
) -> dict[str, Any]:
    """POST ``body`` to /graphql and check the answer is clean; return the decoded body.

    ``sent`` is everything the client put in (for the leak check: a marker the
    client sent may be echoed back in a validation message).
    """
    extra = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    response = client.generic("POST", "/graphql", body, content_type=content_type, **extra)
    return check_response(response, sent=sent + body.decode("utf-8", "replace"))


def check_response(response: Any, *, sent: str) -> dict[str, Any]:
    status = response.status_code
    content: bytes = response.content
    preview = content[:600]
    assert status < 500, f"HTTP {status}: {preview!r}"
    assert "json" in response.get("Content-Type", ""), (response.get("Content-Type"), preview)
    try:
        body = json.loads(content)
    except ValueError as exc:
        raise AssertionError(f"response body is not JSON ({exc}): {preview!r}") from None
    assert isinstance(body, dict), preview
    if status >= 400:
        assert body.get("errors"), f"HTTP {status} without errors: {preview!r}"
    if "errors" in body:
        errors = body["errors"]
        assert isinstance(errors, list), preview
        assert errors, preview
        for error in errors:
            assert isinstance(error, dict), preview
            assert isinstance(error.get("message"), str), preview
            extensions = error.get("extensions")
            assert isinstance(extensions, dict), f"error without extensions: {error!r}"
            assert extensions.get("code") in CLIENT_CODES, f"code not a client code: {error!r}"
    else:
        assert "data" in body, preview
    if (
        currently_in_test_context()
    ):  # what answers the fuzzing reached (--hypothesis-show-statistics)
        codes = sorted({e["extensions"]["code"] for e in body.get("errors") or []})
        event(f"HTTP {status} {'+'.join(codes) or 'ok'}")
    leaked = leaks_in(content.decode("utf-8", "replace"), sent=sent)
    assert not leaked, f"response leaks {leaked}: {preview!r}"
    return body


# ---------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------

# Every code point, lone surrogates included.
ANY_CHAR = st.characters(codec=None, exclude_categories=())
CONTROL_CHAR = st.characters(max_codepoint=0x1F) | st.sampled_from(
    ["\x7f", "\x85", "\u2028", "\u2029", "\ufeff", "\u200b", "\u202e", "\ud800", "\udfff"]
)
INTERESTING_STRINGS = [
    "",
    " ",
    "\t\n\r ",
    "\x00",
    "null",
    "0",
    "-1",
    "1e309",
    "9" * 40,
    "' OR 1=1 --",
    "Robert'); DROP TABLE users;--",
    "%s%s%n%x",
    "{{7*7}}",
    "<script>alert(1)</script>",
    "../../../../etc/passwd",
    "a@b.co",
    "  MiXeD@Example.COM ",
    "user@[127.0.0.1]",
    '"quoted local"@example.com',
    "用户@例子.广告",
    "a" * 64 + "@" + "b" * 63 + ".com",
    "a" * 250 + "@x.co",
    "p" * 72,
    "p" * 72 + "X",
    "p" * 128,
    "p" * 129,
    "\U0001f600" * 300,
    "\u202eevil",
    "Bearer x",
    "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.",
    "a.b.c",
    "...",
]


def _repeat(unit: str, length: int) -> str:
    return (unit * (length // len(unit) + 1))[:length]


# ~1 to ~2.1 million characters: around the 1 MiB post limit and the 8 MiB body cap.
HUGE_TEXT = st.builds(
    _repeat,
    st.sampled_from(["a", " ", "\x01", "é", "\U0001f600", "ab\u0000", "\ud800", "x\n"]),
    st.one_of(
        st.integers(min_value=1_000_000, max_value=2_100_000),
        st.sampled_from([1_048_575, 1_048_576, 1_048_577, 262_144, 262_145]),
    ),
)
NASTY_TEXT = st.one_of(
    st.text(alphabet=ANY_CHAR, max_size=40),
    st.text(alphabet=CONTROL_CHAR, max_size=20),
    st.sampled_from(INTERESTING_STRINGS),
)
BIG_INTS = st.sampled_from(
    [2**31, -(2**31) - 1, 2**53 + 1, 2**63 - 1, 2**63, -(2**63), 2**64, 10**100, -(10**300)]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    BIG_INTS,
    st.floats(),  # NaN and infinities too: json.dumps writes them, Python's json reads them
    NASTY_TEXT,
)
ANY_JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(alphabet=ANY_CHAR, max_size=8), children, max_size=4)
    ),
    max_leaves=8,
)


def arg(*specific: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A value for one argument: half plausible ones, else any JSON or a huge string."""
    plausible = st.one_of(*specific)
    return st.one_of(plausible, plausible, ANY_JSON, HUGE_TEXT)


EMAILS = st.one_of(
    st.emails(),
    st.emails().map(lambda e: f"  {e.upper()} "),
    st.builds(lambda local, d: f"{local}@{d}", NASTY_TEXT, st.sampled_from(["x.co", "例子.广告"])),
)
PASSWORDS = st.one_of(
    st.text(alphabet=ANY_CHAR, min_size=8, max_size=130),
    st.text(min_size=8, max_size=128),
    st.sampled_from(["password", "12345678", "correct horse battery staple", "p" * 129]),
)
IDS = st.one_of(
    st.integers(),
    st.integers().map(str),
    st.sampled_from(["1", " 1", "1 ", "+1", "01", "1.0", "0x1", "1e3", "1_000", "٣", "-0", "0"]),
)
# Header values as a WSGI server delivers them: latin-1 text without CR, LF or NUL.
HEADER_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x01, max_codepoint=0xFF, exclude_characters="\r\n"),
    max_size=80,
)


def _latin1(value: str) -> str:
    text = value.encode("utf-8", "surrogatepass").decode("latin-1")
    return text.replace("\r", "").replace("\n", "").replace("\x00", "")


@dataclass(frozen=True)
class Victims:
    """Two real accounts, with good tokens, forged ones, refresh tokens and one post each."""

    tokens: tuple[str, ...]
    forged: tuple[str, ...]
    post_ids: tuple[str, ...]
    refresh_tokens: tuple[str, ...]

    def token_values(self) -> st.SearchStrategy[str]:
        good = st.sampled_from(self.tokens)
        return st.one_of(
            good,
            st.builds(_tamper, good, st.integers(min_value=0, max_value=10_000), ANY_CHAR),
            st.sampled_from(self.forged),
            st.sampled_from(self.refresh_tokens),  # never an access token
            NASTY_TEXT,
        )

    def refresh_values(self) -> st.SearchStrategy[str]:
        good = st.sampled_from(self.refresh_tokens)
        return st.one_of(
            good,
            st.builds(_tamper, good, st.integers(min_value=0, max_value=10_000), ANY_CHAR),
            st.sampled_from(self.tokens),  # an access token is never a refresh token
            good.map(lambda t: ".".join([*t.split(".")[:2], "A" * 43, t.split(".")[3]])),
            good.map(lambda t: "v1.1" + t[t.index(".", 3) :]),
            NASTY_TEXT,
        )

    def token_args(self) -> st.SearchStrategy[Any]:
        return arg(self.token_values())

    def headers(self) -> st.SearchStrategy[str | None]:
        return st.one_of(
            st.none(),
            self.token_values().map(lambda t: _latin1(f"Bearer {t}")),
            st.sampled_from(self.tokens).map(lambda t: f"  bearer   {t}  "),
            HEADER_TEXT,
            st.sampled_from(["Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer a b", "Token x"]),
        )

    def is_valid(self, value: object) -> bool:
        return isinstance(value, str) and value in self.tokens

    def presented_valid_token(self, header: str | None, token_arg: object) -> bool:
        """Whether the request carried a real token (header or argument)."""
        if self.is_valid(token_arg):
            return True
        return header is not None and any(token in header for token in self.tokens)


def _tamper(token: str, position: int, char: str) -> str:
    index = position % len(token)
    variants = (
        token[:index] + char + token[index + 1 :],
        token[:index],
        token + char,
        token.swapcase(),
        ".".join(reversed(token.split("."))),
    )
    return variants[position % len(variants)]


def _forged_tokens(user_id: int, session_id: int) -> tuple[str, ...]:
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "sid": str(session_id),
        "token_use": "access",
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(hours=1),
        "iss": settings.JWT_ISSUER,
    }
    unsigned = jwt.encode(claims, key="", algorithm="none")  # type: ignore[arg-type]
    expired, _ = issue_access_token(
        user_id=user_id, session_id=session_id, now=now - timedelta(days=2)
    )
    return (
        unsigned,
        unsigned + "AAAA",
        jwt.encode(claims, "x" * 64, algorithm="HS256"),  # wrong secret
        jwt.encode(claims, settings.JWT_SECRET, algorithm="HS512"),  # algorithm not allowed
        expired,
        issue_access_token(user_id=user_id + 10_000, session_id=session_id)[0],  # no such user
        issue_access_token(user_id=user_id, session_id=session_id + 10_000)[0],  # no such session
        jwt.encode({**claims, "token_use": "refresh"}, settings.JWT_SECRET),  # not an access token
    )


@pytest.fixture
def victims(api: Api) -> Victims:
    tokens: list[str] = []
    post_ids: list[str] = []
    forged: list[str] = []
    refresh_tokens: list[str] = []
    for email in ("victim-a@example.com", "victim-b@example.com"):
        body = {"data": {"signup": api.new_account(email)}}
        token = body["data"]["signup"]["token"]
        tokens.append(token)
        refresh_tokens.append(body["data"]["signup"]["refreshToken"])
        session_id = int(jwt.decode(token, options={"verify_signature": False})["sid"])
        forged.extend(_forged_tokens(row_id(body["data"]["signup"]["user"]["id"]), session_id))
        post = api.add_post("hello", token=token)
        post_ids.append(post["data"]["addPost"]["postId"])
    return Victims(
        tokens=tuple(tokens),
        forged=tuple(forged),
        post_ids=tuple(post_ids),
        refresh_tokens=tuple(refresh_tokens),
    )


@pytest.fixture(autouse=True)
def _no_address_limit() -> None:
    # Every example is a request from 127.0.0.1: the per-address limit would soon
    # answer them all with RATE_LIMITED, and the fuzzing would reach nothing else.
    # (The limit itself is fuzzed below, with its default.)
    settings.AUTH_MAX_PER_ADDRESS_PER_MINUTE = 1_000_000


@pytest.fixture
def client() -> Client:
    # Unhandled exceptions become the 500 a real client would see, not a test crash.
    return Client(raise_request_exception=False)


def variables_of(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Usually every variable, sometimes any may be missing; sometimes an undeclared one."""
    return st.one_of(
        st.fixed_dictionaries(fields, optional={"zz": ANY_JSON}),
        st.fixed_dictionaries({}, optional={**fields, "zz": ANY_JSON}),
    )


def call(
    client: Client,
    query: str,
    variables: dict[str, Any],
    *,
    header: str | None,
    raw_utf8: bool,
) -> dict[str, Any]:
    payload = {"query": query, "variables": variables}
    return send(
        client,
        encode_payload(payload, raw_utf8=raw_utf8),
        authorization=header,
        sent=f"{header or ''}{variables!r}",
    )


# ---------------------------------------------------------------------------
# Every operation, every argument
# ---------------------------------------------------------------------------

SIGNUP_DOCS = [
    "mutation($e: String!, $p: String!) { signup(email: $e, password: $p) { token user { id email } } }",
    "mutation($e: String, $p: String) { signup(email: $e, password: $p) { token } }",
    "mutation($e: [String!]!, $p: Int!) { signup(email: $e, password: $p) { token } }",
]
LOGIN_DOCS = [
    "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token user { id email } } }",
    "mutation($e: String, $p: String) { login(email: $e, password: $p) { token } }",
]
ADD_POST_DOCS = [
    "mutation($t: String!, $k: String) { addPost(text: $t, token: $k) { postId post { id text createdAt } } }",
    "mutation($t: String, $k: String!) { addPost(text: $t, token: $k) { postId } }",
    "mutation($t: String!) { addPost(text: $t) { postId } }",
]
GET_POSTS_DOCS = [
    "query($k: String) { getPosts(token: $k) { id text createdAt } }",
    "query($k: String!) { getPosts(token: $k) { id } }",
    "query($k: ID) { getPosts(token: $k) { id } }",
]
DELETE_POST_DOCS = [
    "mutation($id: ID!, $k: String) { deletePost(postId: $id, token: $k) { postId } }",
    "mutation($id: String!, $k: String) { deletePost(postId: $id, token: $k) { postId } }",
    "mutation($id: Int, $k: String) { deletePost(postId: $id, token: $k) { postId } }",
]


REFRESH_DOCS = [
    "mutation($r: String!) { refreshToken(refreshToken: $r) { token refreshToken tokenExpiresAt user { id email } } }",
    "mutation($r: String) { refreshToken(refreshToken: $r) { token } }",
    "mutation($r: ID!) { refreshToken(refreshToken: $r) { token } }",
    "mutation($r: [String!]!) { refreshToken(refreshToken: $r) { token } }",
]
LOGOUT_DOCS = [
    "mutation($k: String) { logout(token: $k) { endedSessions } }",
    "mutation($k: String) { logoutEverywhere(token: $k) { endedSessions } }",
    "mutation($k: String!) { logout(token: $k) { endedSessions } }",
    "mutation($k: Int) { logoutEverywhere(token: $k) { endedSessions } }",
]
CHANGE_PASSWORD_DOCS = [
    "mutation($c: String!, $n: String!, $k: String) { changePassword(currentPassword: $c, newPassword: $n, token: $k) { token refreshToken tokenExpiresAt user { id email } } }",
    "mutation($c: String, $n: String, $k: String) { changePassword(currentPassword: $c, newPassword: $n, token: $k) { token } }",
    "mutation($c: Int!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) { token } }",
]
DELETE_ACCOUNT_DOCS = [
    "mutation($p: String!, $k: String) { deleteAccount(password: $p, token: $k) { deletedUserId } }",
    "mutation($p: String, $k: String) { deleteAccount(password: $p, token: $k) { deletedUserId } }",
    "mutation($p: [String], $k: ID) { deleteAccount(password: $p, token: $k) { deletedUserId } }",
]


def docs(variants: list[str]) -> st.SearchStrategy[str]:
    """The well-typed document (the first) half the time, else an ill-typed variant."""
    return st.one_of(st.just(variants[0]), st.sampled_from(variants))


@dataclass(frozen=True)
class Operation:
    """One operation to fuzz: its documents, its variables, and who may get data from it."""

    name: str
    documents: list[str]
    variables: Callable[[Victims], st.SearchStrategy[dict[str, Any]]]
    # Whether a request with data presented what the operation requires (None: anyone).
    entitled: Callable[[Victims, str | None, dict[str, Any]], bool] | None


def _presented_a_valid_token(
    victims: Victims, header: str | None, variables: dict[str, Any]
) -> bool:
    return victims.presented_valid_token(header, variables.get("k"))


def _presented_a_refresh_token(
    victims: Victims, _header: str | None, variables: dict[str, Any]
) -> bool:
    return variables.get("r") in victims.refresh_tokens


OPERATIONS = [
    Operation(
        "signup",
        SIGNUP_DOCS,
        lambda _v: variables_of(e=arg(EMAILS, NASTY_TEXT), p=arg(PASSWORDS, NASTY_TEXT)),
        None,
    ),
    Operation(
        "login",
        LOGIN_DOCS,
        lambda _v: variables_of(
            e=arg(EMAILS, NASTY_TEXT, st.just("victim-a@example.com")),
            p=arg(PASSWORDS, NASTY_TEXT, st.just("correct horse battery staple")),
        ),
        None,
    ),
    Operation(
        "addPost",
        ADD_POST_DOCS,
        lambda v: variables_of(t=arg(NASTY_TEXT, st.text(min_size=1)), k=v.token_args()),
        _presented_a_valid_token,
    ),
    Operation(
        "getPosts",
        GET_POSTS_DOCS,
        lambda v: variables_of(k=v.token_args()),
        _presented_a_valid_token,
    ),
    Operation(
        "deletePost",
        DELETE_POST_DOCS,
        lambda v: variables_of(id=arg(IDS, st.sampled_from(v.post_ids)), k=v.token_args()),
        _presented_a_valid_token,
    ),
    Operation(
        "refreshToken",
        REFRESH_DOCS,
        lambda v: variables_of(r=arg(v.refresh_values())),
        _presented_a_refresh_token,
    ),
    Operation(
        "logout and logoutEverywhere",
        LOGOUT_DOCS,
        lambda v: variables_of(k=v.token_args()),
        _presented_a_valid_token,
    ),
    Operation(
        "changePassword",
        CHANGE_PASSWORD_DOCS,
        lambda v: variables_of(
            c=arg(PASSWORDS, NASTY_TEXT, st.just("correct horse battery staple")),
            n=arg(PASSWORDS, NASTY_TEXT),
            k=v.token_args(),
        ),
        _presented_a_valid_token,
    ),
    Operation(
        "deleteAccount",
        DELETE_ACCOUNT_DOCS,
        lambda v: variables_of(
            p=arg(PASSWORDS, NASTY_TEXT, st.just("not the password at all")), k=v.token_args()
        ),
        _presented_a_valid_token,
    ),
]


@pytest.mark.fuzz
@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.name for op in OPERATIONS])
@FUZZ
@given(raw_utf8=st.booleans(), data=st.data())
def test_every_operation_survives_any_variables(
    client: Client, victims: Victims, operation: Operation, raw_utf8: bool, data: st.DataObject
) -> None:
    query = data.draw(docs(operation.documents), label="query")
    variables = data.draw(operation.variables(victims), label="variables")
    header = data.draw(victims.headers(), label="authorization")
    body = call(client, query, variables, header=header, raw_utf8=raw_utf8)
    answered = [value for value in (body.get("data") or {}).values() if value is not None]
    if answered and operation.entitled is not None:
        assert operation.entitled(victims, header, variables), body


@pytest.mark.fuzz
@FUZZ
@given(
    operations=st.lists(
        st.sampled_from(["login", "signup", "refresh", "change", "delete"]), max_size=30
    ),
    address=st.one_of(
        st.ip_addresses(v=4).map(str),
        st.ip_addresses(v=6).map(str),
        st.sampled_from(["", "unknown", "::ffff:10.0.0.1", "fe80::1%eth0", "x" * 60]),
    ),
)
def test_the_address_limit_answers_cleanly_whatever_the_mix(
    victims: Victims, operations: list[str], address: str
) -> None:
    settings.AUTH_MAX_PER_ADDRESS_PER_MINUTE = 5
    client = Client(raise_request_exception=False, REMOTE_ADDR=address)
    documents = {
        "login": (LOGIN_DOCS[0], {"e": "victim-a@example.com", "p": "wrong password!"}),
        "signup": (SIGNUP_DOCS[0], {"e": "new@example.com", "p": "x"}),
        "refresh": (REFRESH_DOCS[0], {"r": "v1.1." + "A" * 43 + "." + "B" * 43}),
        "change": (CHANGE_PASSWORD_DOCS[0], {"c": "wrong", "n": "wrong", "k": victims.tokens[0]}),
        "delete": (DELETE_ACCOUNT_DOCS[0], {"p": "wrong", "k": victims.tokens[1]}),
    }
    for operation in operations:
        query, variables = documents[operation]
        body = call(client, query, variables, header=None, raw_utf8=False)
        for error in body.get("errors") or []:
            if error["extensions"]["code"] == "RATE_LIMITED":
                assert error["extensions"].get("retryAfterSeconds", 0) >= 1, body


# ---------------------------------------------------------------------------
# Quotas: random adds, deletes and lists against a model of the user's posts
# ---------------------------------------------------------------------------

# Small enough that most sequences reach both limits.
QUOTA_POSTS, QUOTA_BYTES = 5, 120
# Each example is a sequence of tens of requests: fewer examples than FUZZ, as
# many steps each as reach both quotas and back. FUZZ_EXAMPLES scales them too.
SEQUENCES = hsettings(FUZZ, max_examples=max(10, FUZZ.max_examples // 5), stateful_step_count=40)
_accounts = itertools.count()

# Around the 1 MiB cap (built once): over it by one byte, and exactly at it (legal,
# but far past the byte quota).
OVER_THE_CAP = ("x" * POST_MAX_BYTES + "!", "\U0001f600" * (POST_MAX_BYTES // 4) + "!")
AT_THE_CAP = "\U0001f600" * (POST_MAX_BYTES // 4)
QUOTA_TEXTS = st.one_of(
    st.text(st.characters(codec="ascii"), max_size=80),
    st.text(st.sampled_from("é€ß中文кириллица\u0301"), max_size=60),  # 2 and 3 bytes
    st.text(st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF), max_size=30),  # 4
    st.text(max_size=40),  # any code point but surrogates
    st.text(alphabet=ANY_CHAR, max_size=10),  # lone surrogates too
    st.sampled_from(["", " ", "\t\n\r ", *INVISIBLE_TEXTS.values(), ONE_VISIBLE_AMONG_INVISIBLE]),
    st.sampled_from([*OVER_THE_CAP, AT_THE_CAP]),
)
# Visible texts of 10 to 120 bytes: three to five of them fill the byte quota.
ORDINARY_TEXTS = st.one_of(
    st.text(st.characters(codec="ascii", categories=["L", "N", "P"]), min_size=10, max_size=60),
    st.text(st.sampled_from("é€中😀"), min_size=5, max_size=30),
)
MALFORMED_POST_IDS = [
    "",
    " ",
    "1",
    "-1",
    "not an id",
    "%%%",
    "UG9zdA==",  # "Post", no key
    gid("Post", 1) + " ",
    gid("Post", 1).rstrip("=") + "=" * 3,
    base64.b64encode(b"Post:abc").decode(),
    base64.b64encode(b"Post:-1").decode(),
    base64.b64encode(f"Post:{2**64}".encode()).decode(),
    base64.b64encode(b"\xff\xfe:1").decode(),
]


def _utf8_size(text: str) -> int | None:
    """Bytes in the UTF-8 encoding of ``text``; None if it has a lone surrogate."""
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return None


def _is_blank(text: str) -> bool:
    # The contract's "empty or blank": nothing visible (white space, format and
    # control characters, and the fillers of tests/conftest.py INVISIBLE_TEXTS).
    fillers = set("".join(INVISIBLE_TEXTS.values()))
    return all(
        c.isspace() or c in fillers or unicodedata.category(c) in {"Cc", "Cf", "Zs", "Zl", "Zp"}
        for c in text
    )


def stored_posts(user_id: int) -> list[tuple[int, str]]:
    """The posts table's rows of ``user_id``, by id, read behind the API's back."""
    with get_engine().connect() as conn:
        rows = conn.execute(
            sql_text("SELECT id, text FROM posts WHERE user_id = :u ORDER BY id"), {"u": user_id}
        )
        return [(int(row[0]), str(row[1])) for row in rows]


@dataclass(frozen=True)
class Neighbour:
    """Another user with one post, whose totals nothing the fuzzed user does may change."""

    user_id: int
    post_id: str
    totals: tuple[int, int]


class PostQuotasMachine(RuleBasedStateMachine):
    """One fresh user per example; ``self.posts`` is what they should hold, newest first."""

    def __init__(self, client: Client, neighbour: Neighbour) -> None:
        super().__init__()
        self.client = client
        self.neighbour = neighbour
        email = f"quota-{next(_accounts)}@example.com"
        body = call(client, SIGNUP_DOCS[0], {"e": email, "p": PASSWORD}, header=None, raw_utf8=True)
        assert "errors" not in body, body
        self.token = body["data"]["signup"]["token"]
        self.user_id = row_id(body["data"]["signup"]["user"]["id"])
        self.posts: list[tuple[str, str]] = []  # (global id, text), newest first
        self.deleted: list[str] = []

    def request(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        return call(self.client, query, variables, header=f"Bearer {self.token}", raw_utf8=True)

    def used(self) -> tuple[int, int]:
        return len(self.posts), sum(len(text.encode()) for _, text in self.posts)

    def expected_add_error(self, text: str) -> tuple[str, set[str]] | None:
        """The code (and for QUOTA_EXCEEDED the limits it may name) of a refused add."""
        size = _utf8_size(text)
        if size is not None and size > POST_MAX_BYTES:
            return "PAYLOAD_TOO_LARGE", set()
        if size is None or _is_blank(text):
            return "BAD_USER_INPUT", set()
        count, used = self.used()
        limits = set()
        if count + 1 > QUOTA_POSTS:
            limits.add("POSTS_MAX_PER_USER")
        if used + size > QUOTA_BYTES:
            limits.add("POSTS_MAX_BYTES_PER_USER")
        return ("QUOTA_EXCEEDED", limits) if limits else None

    @rule(text=QUOTA_TEXTS)
    def add_post(self, text: str) -> None:
        self.add(text)

    @rule(text=ORDINARY_TEXTS)
    def add_an_ordinary_post(self, text: str) -> None:
        # The posts that fill the quotas (Hypothesis enables a random subset of the
        # rules in each example: two that add make sequences without adds rare).
        self.add(text)

    def add(self, text: str) -> None:
        body = self.request(ADD_POST_DOCS[0], {"t": text})
        expected = self.expected_add_error(text)
        if expected is None:
            assert "errors" not in body, (body, self.used(), len(text.encode()))
            added = body["data"]["addPost"]
            assert added["post"]["text"] == text
            assert added["postId"] == added["post"]["id"]
            self.posts.insert(0, (added["postId"], text))
            return
        code, limits = expected
        assert error_code(body) == code, (body, self.used(), _utf8_size(text))
        assert body.get("data") is None, body
        if code == "QUOTA_EXCEEDED":
            extensions = body["errors"][0]["extensions"]
            assert extensions.get("limit") in limits, (body, self.used())
            maximum = {"POSTS_MAX_PER_USER": QUOTA_POSTS, "POSTS_MAX_BYTES_PER_USER": QUOTA_BYTES}
            assert (
                extensions.get("maximum", maximum[extensions["limit"]])
                == maximum[extensions["limit"]]
            ), body

    @rule(
        which=st.sampled_from(["own", "deleted", "someone else's", "never existed", "malformed"]),
        index=st.integers(min_value=0),
        missing=st.tuples(
            st.sampled_from(["Post", "User", "Nope"]),
            st.integers(min_value=10**12, max_value=2**63 - 1),
        ),
        malformed=st.sampled_from(MALFORMED_POST_IDS),
    )
    def delete_post(self, which: str, index: int, missing: tuple[str, int], malformed: str) -> None:
        if which == "own" and self.posts:
            post_id, _ = self.posts.pop(index % len(self.posts))
            body = self.request(DELETE_POST_DOCS[0], {"id": post_id})
            assert "errors" not in body, body
            assert body["data"]["deletePost"]["postId"] == post_id
            self.deleted.append(post_id)
            return
        expected = "NOT_FOUND"
        if which == "deleted" and self.deleted:
            post_id = self.deleted[index % len(self.deleted)]
        elif which == "someone else's":
            post_id = self.neighbour.post_id
        elif which == "malformed":
            post_id, expected = malformed, "BAD_USER_INPUT"
        else:
            post_id = gid(*missing)
        body = self.request(DELETE_POST_DOCS[0], {"id": post_id})
        assert error_code(body) == expected, (which, post_id, body)
        assert body.get("data") is None, body

    @rule()
    def get_posts(self) -> None:
        body = self.request(GET_POSTS_DOCS[0], {})
        assert "errors" not in body, body
        listed = [(post["id"], post["text"]) for post in body["data"]["getPosts"]]
        assert listed == self.posts

    @invariant()
    def totals_are_the_posts_and_within_the_quotas(self) -> None:
        stored = stored_posts(self.user_id)
        assert sorted(text for _, text in stored) == sorted(text for _, text in self.posts)
        assert {gid("Post", key) for key, _ in stored} == {post_id for post_id, _ in self.posts}
        real = (len(stored), sum(len(text.encode()) for _, text in stored))
        where = {"u": self.user_id}
        totals = (
            db_scalar("SELECT posts_count FROM users WHERE id = :u", **where),
            db_scalar("SELECT posts_bytes FROM users WHERE id = :u", **where),
        )
        assert db_scalar("SELECT COUNT(*) FROM posts WHERE user_id = :u", **where) == real[0]
        assert tuple(int(value) for value in totals) == real == self.used()
        assert real[0] <= QUOTA_POSTS
        assert real[1] <= QUOTA_BYTES
        neighbour = self.neighbour.user_id
        assert len(stored_posts(neighbour)) == self.neighbour.totals[0]
        assert (
            int(db_scalar("SELECT posts_count FROM users WHERE id = :u", u=neighbour)),
            int(db_scalar("SELECT posts_bytes FROM users WHERE id = :u", u=neighbour)),
        ) == self.neighbour.totals


@pytest.mark.fuzz
def test_random_adds_deletes_and_lists_keep_the_quotas_and_totals_exact(
    client: Client, api: Api
) -> None:
    settings.POSTS_MAX_PER_USER = QUOTA_POSTS
    settings.POSTS_MAX_BYTES_PER_USER = QUOTA_BYTES
    payload = api.new_account("neighbour@example.com")
    post = api.add_post("the neighbour's post", token=payload["token"])
    neighbour = Neighbour(
        user_id=row_id(payload["user"]["id"]),
        post_id=post["data"]["addPost"]["postId"],
        totals=(1, len(b"the neighbour's post")),
    )
    run_state_machine_as_test(lambda: PostQuotasMachine(client, neighbour), settings=SEQUENCES)


# ---------------------------------------------------------------------------
# Failed-login limits: random logins from a few addresses against a model
# ---------------------------------------------------------------------------

LOGIN_MAX_FAILURES, LOGIN_MAX_FAILURES_PER_ACCOUNT, LOGIN_WINDOW_SECONDS = 2, 4, 900
HOME = "192.0.2.10"  # where the user logged in before the sequence starts
LOGIN_ADDRESSES = (
    HOME,
    "198.51.100.7",
    "203.0.113.5",
    "2001:db8:1:2::a",  # these two are one client: an IPv6 address counts by its /64
    "2001:db8:1:2:ffff::b",
)
SIGNUP_ADDRESS = "192.0.2.200"  # a signup is not a login: this address is never known
SPELLINGS = {
    "as typed": lambda email: email,
    "upper case": str.upper,
    "padded": lambda email: f"  {email}\t",
    "fullwidth at sign": lambda email: email.replace("@", "\uff20"),
}
_LOGIN = st.tuples(
    st.just("login"),
    st.sampled_from(LOGIN_ADDRESSES),
    st.sampled_from(["user", "user", "nobody"]),
    st.sampled_from(["wrong", "wrong", "right"]),
    st.sampled_from(list(SPELLINGS)),
)
# Mostly logins, mostly failing, sometimes the window passes: long enough to reach
# both limits, lift them, and reach them again.
LOGIN_STEPS = st.lists(
    st.one_of(_LOGIN, _LOGIN, _LOGIN, _LOGIN, _LOGIN, _LOGIN, st.just(("the window passes",))),
    min_size=15,
    max_size=40,
)


def _client_key(address: str) -> str:
    """The model's own idea of one client: an IPv4 address, an IPv6 /64."""
    parsed = ipaddress.ip_address(address)
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return address


@dataclass
class LoginModel:
    """Failed logins in the window per (account, client); clients with a past success."""

    failures: dict[tuple[str, str], int]
    known: set[tuple[str, str]]

    def outcome(self, account: str, client: str, *, right: bool, exists: bool) -> str:
        """RATE_LIMITED, UNAUTHENTICATED or TOKEN, and the model updated accordingly."""
        mine = self.failures.get((account, client), 0)
        everywhere = sum(n for (a, _), n in self.failures.items() if a == account)
        if mine >= LOGIN_MAX_FAILURES:
            return "RATE_LIMITED"
        if (account, client) not in self.known and everywhere >= LOGIN_MAX_FAILURES_PER_ACCOUNT:
            return "RATE_LIMITED"
        if not (right and exists):
            self.failures[(account, client)] = mine + 1
            return "UNAUTHENTICATED"
        # A success forgets that client's failures (not the other clients').
        self.failures.pop((account, client), None)
        self.known.add((account, client))
        return "TOKEN"


def _the_window_passes() -> None:
    # Age every recorded failure past the window, as time would.
    with Session(get_engine()) as session, session.begin():
        for attempt in session.scalars(select(LoginAttempt)):
            attempt.created_at -= timedelta(seconds=LOGIN_WINDOW_SECONDS + 1)


@pytest.mark.fuzz
@SEQUENCES
@given(steps=LOGIN_STEPS)
def test_random_logins_meet_the_failed_login_limits_exactly(
    steps: list[tuple[str, ...]],
) -> None:
    settings.LOGIN_MAX_FAILURES = LOGIN_MAX_FAILURES
    settings.LOGIN_MAX_FAILURES_PER_ACCOUNT = LOGIN_MAX_FAILURES_PER_ACCOUNT
    settings.LOGIN_WINDOW_SECONDS = LOGIN_WINDOW_SECONDS
    # (_no_address_limit keeps the per-address request limit out of the way.)
    clients = {
        address: Client(raise_request_exception=False, REMOTE_ADDR=address)
        for address in (*LOGIN_ADDRESSES, SIGNUP_ADDRESS)
    }
    n = next(_accounts)
    emails = {"user": f"throttled-{n}@example.com", "nobody": f"nobody-{n}@example.com"}
    signup = call(
        clients[SIGNUP_ADDRESS],
        SIGNUP_DOCS[0],
        {"e": emails["user"], "p": PASSWORD},
        header=None,
        raw_utf8=True,
    )
    assert "errors" not in signup, signup
    home = call(
        clients[HOME],
        LOGIN_DOCS[0],
        {"e": emails["user"], "p": PASSWORD},
        header=None,
        raw_utf8=True,
    )
    assert "errors" not in home, home
    model = LoginModel(failures={}, known={("user", _client_key(HOME))})
    for step in steps:
        if step[0] == "the window passes":
            _the_window_passes()
            model.failures.clear()
            continue
        _, address, who, password, spelling = step
        email = SPELLINGS[spelling](emails[who])
        body = call(
            clients[address],
            LOGIN_DOCS[0],
            {"e": email, "p": PASSWORD if password == "right" else "wrong password!"},
            header=None,
            raw_utf8=True,
        )
        expected = model.outcome(
            who, _client_key(address), right=password == "right", exists=who == "user"
        )
        context = (step, model, body)
        if expected == "TOKEN":
            assert "errors" not in body, context
            assert body["data"]["login"]["token"], context
            assert body["data"]["login"]["user"]["email"] == emails["user"], context
            continue
        assert error_code(body) == expected, context
        assert body.get("data") is None, context
        if expected == "RATE_LIMITED":
            retry_after = body["errors"][0]["extensions"].get("retryAfterSeconds")
            assert type(retry_after) is int, context
            assert 0 < retry_after <= LOGIN_WINDOW_SECONDS, context


# ---------------------------------------------------------------------------
# Random documents
# ---------------------------------------------------------------------------

DOC_PIECES = [
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ":",
    "=",
    ",",
    "|",
    "&",
    "$k",
    "$t",
    "$id",
    "$b",
    "String",
    "String!",
    "ID!",
    "Int",
    "Boolean!",
    "query",
    "mutation",
    "subscription",
    "fragment F on Query",
    "fragment F on Mutation",
    "F",
    "on",
    "Query",
    "Mutation",
    "...",
    "...F",
    "... on Query",
    "@include(if: true)",
    "@skip(if: $b)",
    "@deprecated",
    "@specifiedBy(url: 1)",
    "getPosts",
    "addPost",
    "deletePost",
    "signup",
    "login",
    "refreshToken",
    "logout",
    "logoutEverywhere",
    "changePassword",
    "deleteAccount",
    "refreshToken:",
    "currentPassword:",
    "newPassword:",
    "endedSessions",
    "deletedUserId",
    "tokenExpiresAt",
    "token",
    "token:",
    "text:",
    "postId:",
    "email:",
    "password:",
    "text",
    "postId",
    "post",
    "id",
    "createdAt",
    "user",
    "email",
    "__typename",
    "__schema { types { name fields { name } } }",
    '__type(name: "Post") { name }',
    "a:",
    "b:",
    '"x"',
    '"""block\nstring"""',
    '"\\u0000"',
    '"\\ud800"',
    "1",
    "-0",
    "1.5e3",
    "99999999999999999999999",
    "null",
    "true",
    "#comment\n",
    "\ufeff",
    "\u00a0",
    '"a@b.co"',
    '"Sup3r-secret-pass"',
    '"hi"',
]
DOC_TEMPLATES = [
    "{{ getPosts{0} {{ id{1} }} }}",
    "mutation {{ addPost(text: {0}){1} {{ postId }} }}",
    "mutation {{ deletePost(postId: {0}){1} {{ postId }} }}",
    "mutation {{ signup(email: {0}, password: {1}) {{ token }} }}",
    "mutation {{ login(email: {0}, password: {1}) {{ token }} }}",
    "mutation {{ refreshToken(refreshToken: {0}){1} {{ token refreshToken }} }}",
    "mutation {{ logout(token: {0}) {{ endedSessions{1} }} }}",
    "mutation {{ changePassword(currentPassword: {0}, newPassword: {1}) {{ token }} }}",
    "mutation {{ deleteAccount(password: {0}){1} {{ deletedUserId }} }}",
]
PIECES = st.lists(st.sampled_from(DOC_PIECES), max_size=40).map(" ".join)
DOCUMENTS = st.one_of(
    st.text(alphabet=ANY_CHAR, max_size=200),
    PIECES,
    st.builds(lambda t, a, b: t.format(a, b), st.sampled_from(DOC_TEMPLATES), PIECES, PIECES),
    st.builds(
        lambda n, open_, close: open_ * n + close * n,
        st.integers(min_value=1, max_value=3000),
        st.sampled_from(["{", "{ getPosts ", "{ a: getPosts { ", "[", "(", "... on Query {"]),
        st.sampled_from(["}", "]", ")", " id }"]),
    ),
    st.builds(
        lambda n: "{ getPosts(token: " + "[" * n + '"x"' + "]" * n + ") { id } }",
        st.integers(min_value=1, max_value=2000),
    ),
    st.builds(lambda n: "{ " + "a: getPosts { id } " * n + "}", st.integers(0, 50)),
    st.builds(lambda n: "query " + "{ __typename } " * n, st.integers(1, 600)),
)


@pytest.mark.fuzz
@FUZZ
@given(
    payload=st.fixed_dictionaries(
        {
            "query": DOCUMENTS,
            "variables": st.one_of(
                st.none(),
                st.dictionaries(st.sampled_from(["k", "t", "id", "b", "e"]), ANY_JSON, max_size=3),
            ),
        },
        optional={
            "operationName": st.one_of(st.sampled_from(["F", "Query", ""]), ANY_JSON),
            "extensions": ANY_JSON,
        },
    ),
    raw_utf8=st.booleans(),
    data=st.data(),
)
def test_any_document_gets_a_clean_answer(
    client: Client,
    victims: Victims,
    payload: dict[str, Any],
    raw_utf8: bool,
    data: st.DataObject,
) -> None:
    header = data.draw(
        st.one_of(st.none(), st.sampled_from(victims.tokens).map(lambda t: f"Bearer {t}")),
        label="authorization",
    )
    send(
        client,
        encode_payload(payload, raw_utf8=raw_utf8),
        authorization=header,
        sent=f"{payload!r}",
    )


# ---------------------------------------------------------------------------
# Random bodies
# ---------------------------------------------------------------------------

CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=latin-1",
    "application/json; charset=utf-16",
    "application/graphql",
    "application/graphql-response+json",
    "text/plain",
    "multipart/form-data; boundary=xyz",
    "application/x-www-form-urlencoded",
    "text/event-stream",
    "",
]
JSONISH_PIECES = [
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    '"query"',
    '"variables"',
    '"operationName"',
    '"extensions"',
    '"{ getPosts { id } }"',
    '"{ __typename }"',
    '"mutation { addPost(text: \\"x\\") { postId } }"',
    "null",
    "true",
    "0",
    "-1e999",
    "NaN",
    "-Infinity",
    '"\\ud800"',
    '"\\u0000"',
    '"\\x"',
    "1" * 4301,
    "[" * 3000,
    "\xff",
]


@pytest.mark.fuzz
@FUZZ
@given(
    body=st.one_of(st.binary(max_size=300), st.binary(max_size=20).map(lambda b: b * 500)),
    content_type=st.sampled_from(CONTENT_TYPES),
)
def test_any_bytes_get_a_clean_answer(client: Client, body: bytes, content_type: str) -> None:
    send(client, body, content_type=content_type)


@pytest.mark.fuzz
@FUZZ
@given(
    value=st.one_of(
        ANY_JSON,
        st.fixed_dictionaries(
            {},
            optional={
                "query": st.one_of(DOCUMENTS, ANY_JSON),
                "variables": ANY_JSON,
                "operationName": ANY_JSON,
                "extensions": ANY_JSON,
            },
        ),
    ),
    raw_utf8=st.booleans(),
)
def test_any_json_body_gets_a_clean_answer(client: Client, value: Any, raw_utf8: bool) -> None:
    send(client, encode_payload(value, raw_utf8=raw_utf8), sent=repr(value))


@pytest.mark.fuzz
@FUZZ
@given(
    pieces=st.lists(st.sampled_from(JSONISH_PIECES), max_size=30),
    raw_utf8=st.booleans(),
)
def test_almost_json_bodies_get_a_clean_answer(
    client: Client, pieces: list[str], raw_utf8: bool
) -> None:
    text = "".join(pieces)
    body = text.encode("utf-8") if raw_utf8 else text.encode("latin-1")
    send(client, body)


# Specific hostile bodies, each its own test so each failure is reported on its own.
HOSTILE_BODIES = {
    "top-level number": b"5",
    "top-level string": b'"x"',
    "top-level null": b"null",
    "top-level true": b"true",
    "top-level empty list": b"[]",
    "invalid utf-8": b"\xff\xfe\x00",
    "utf-8 lone continuation byte": b'{"query": "\x80"}',
    "cesu-8 surrogate": b'{"query": "\xed\xa0\x80"}',
    "integer over 4300 digits": b'{"query": "{ __typename }", "variables": {"a": '
    + b"1" * 5000
    + b"}}",
    "json nested 100k deep": b'{"query": "{ __typename }", "variables": {"a": '
    + b"[" * 100_000
    + b"]" * 100_000
    + b"}}",
    "query is a number": b'{"query": 1}',
    "variables is a list": b'{"query": "{ __typename }", "variables": []}',
    "operationName is a list": b'{"query": "{ __typename }", "operationName": ["x"]}',
    "duplicate keys": b'{"query": 1, "query": "{ __typename }"}',
    "trailing garbage": b'{"query": "{ __typename }"} x',
}


@pytest.mark.parametrize("body", list(HOSTILE_BODIES.values()), ids=list(HOSTILE_BODIES))
def test_hostile_body_gets_a_clean_4xx_or_graphql_error(client: Client, body: bytes) -> None:
    send(client, body)
