"""Logs never carry passwords, tokens or post text, in either log format (the access lines
and their fields included); unexpected errors are logged with their traceback while the
client sees only a generic INTERNAL_SERVER_ERROR."""

from __future__ import annotations

import io
import json
import logging
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from gql.errors import INTERNAL_MESSAGE
from observability.logs import ACCESS_FIELDS
from tests.conftest import Api, error_code
from tests.log_lines import LogLines, capture_log_lines

# Loggers the request path may write to, all opened up to DEBUG for these tests.
NOISY_LOGGERS = (
    "",
    "posts_api",
    "posts_api.access",
    "observability",
    "django",
    "django.request",
    "django.server",
    "gql",
    "resolvers_services",
    "persistence",
    "schemas",
    "strawberry",
    "graphql",
    "sqlalchemy",
    "sqlalchemy.engine",
    "sqlalchemy.pool",
)
# The LogRecord attributes every record has; anything else came in through ``extra``.
_STANDARD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class _Collector(logging.Handler):
    """Keeps every record, and every record fully formatted (traceback included)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))


@dataclass
class Logs:
    """Everything logged during a test, as records and as the console would print it."""

    collector: _Collector
    caplog: pytest.LogCaptureFixture
    formatted: LogLines
    console: list[io.StringIO] = field(default_factory=list)

    def records(self) -> list[logging.LogRecord]:
        seen: dict[int, logging.LogRecord] = {}
        for record in [*self.caplog.records, *self.collector.records]:
            seen[id(record)] = record
        return list(seen.values())

    def texts(self, *, without_sql_echo: bool = False) -> list[str]:
        """Every string a log record carries or renders to.

        ``without_sql_echo``: leave out SQLAlchemy's statement log, which these tests
        open up and which prints bound parameters (post text is one). The service
        never writes it: SQLAlchemy keeps its loggers at WARNING unless configured
        otherwise, whatever LOG_LEVEL says.
        """
        rendered: list[str] = list(self.collector.lines)
        rendered.extend(stream.getvalue() for stream in self.console)
        # Both formats as the console would write them, every JSON field on its own too.
        rendered.extend(self.formatted.text())
        rendered.append(self.caplog.text)
        json_lines = self.formatted.json()
        records = self.records()
        if without_sql_echo:
            rendered = [
                "\n".join(line for line in text.splitlines() if "sqlalchemy." not in line[:80])
                for text in rendered
            ]
            json_lines = [line for line in json_lines if not line["logger"].startswith("sqlalch")]
            records = [record for record in records if not record.name.startswith("sqlalch")]
        out = rendered
        for line in json_lines:
            out.append(json.dumps(line, ensure_ascii=False))
            out.extend(str(value) for value in line.values())
        for record in records:
            out.append(record.getMessage())
            out.append(str(record.msg))
            if record.args:
                args = record.args if isinstance(record.args, tuple) else (record.args,)
                out.extend(repr(arg) for arg in args)
                out.extend(str(arg) for arg in args)
            if record.exc_info and record.exc_info[1] is not None:
                out.append(logging.Formatter().formatException(record.exc_info))
                out.append(repr(record.exc_info[1]))
            if record.exc_text:
                out.append(record.exc_text)
            if record.stack_info:
                out.append(record.stack_info)
            for name, value in vars(record).items():
                if name not in _STANDARD_ATTRIBUTES and isinstance(value, str | bytes):
                    out.append(value if isinstance(value, str) else value.decode("latin-1"))
        return out

    def assert_absent(self, *secrets_: str, without_sql_echo: bool = False) -> None:
        texts = self.texts(without_sql_echo=without_sql_echo)
        assert any(texts), "nothing was logged at all: is capturing wired up?"
        for secret in secrets_:
            assert secret, "an empty secret would match everything"
            for text in texts:
                assert secret not in text, f"secret {secret[:12]}... found in log: {text[:500]!r}"


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[Logs]:
    for name in NOISY_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name or None)
    collector = _Collector()
    root = logging.getLogger()
    # Also whatever does not propagate to the root (e.g. django.server).
    quiet = [
        logger
        for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger) and not logger.propagate
    ]
    formatting = capture_log_lines(*quiet)
    captured = Logs(
        collector=collector, caplog=caplog, formatted=LogLines(io.StringIO(), io.StringIO())
    )
    # The console handler(s) of settings.LOGGING write to a buffer for the test.
    swapped: list[tuple[logging.StreamHandler[io.StringIO], object]] = []
    for handler in root.handlers:
        if type(handler) is logging.StreamHandler:
            stream = io.StringIO()
            swapped.append((handler, handler.setStream(stream)))
            captured.console.append(stream)
    for logger in (root, *quiet):
        logger.addHandler(collector)
    # After the swap above, which would otherwise redirect these handlers too.
    captured.formatted = formatting.__enter__()
    try:
        yield captured
    finally:
        formatting.__exit__(None, None, None)
        for logger in (root, *quiet):
            logger.removeHandler(collector)
        for handler, old in swapped:
            handler.setStream(old)  # type: ignore[arg-type]


def _secret(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(12)}"


def _signature(token: str) -> str:
    return token.rsplit(".", 1)[-1]


def test_passwords_and_tokens_never_reach_the_logs(api: Api, logs: Logs) -> None:
    password = _secret("Right-Pass")
    wrong_password = _secret("Wrong-Pass")
    unknown_user_password = _secret("Unknown-Pass")
    bad_token = _secret("not.a.token")

    signup = api.signup("hygiene@example.com", password)
    assert "errors" not in signup, signup
    signup_token = signup["data"]["signup"]["token"]

    login = api.login("hygiene@example.com", password)
    assert "errors" not in login, login
    login_token = login["data"]["login"]["token"]

    assert error_code(api.login("hygiene@example.com", wrong_password)) == "UNAUTHENTICATED"
    assert error_code(api.login("nobody@example.com", unknown_user_password)) == "UNAUTHENTICATED"
    # A weak password is refused at signup: the refusal must not log it either.
    weak = "password"
    assert error_code(api.signup("weak@example.com", weak)) == "BAD_USER_INPUT"

    tampered = signup_token[:-4] + ("AAAA" if not signup_token.endswith("AAAA") else "BBBB")
    assert error_code(api.get_posts(token=bad_token)) == "UNAUTHENTICATED"
    assert error_code(api.get_posts(token_arg=bad_token)) == "UNAUTHENTICATED"
    assert error_code(api.get_posts(token=tampered)) == "UNAUTHENTICATED"
    other_token = api.token_for("other@example.com")
    assert error_code(api.get_posts(token=signup_token, token_arg=other_token)) == (
        "UNAUTHENTICATED"
    )

    post_text = _secret("Post-Text")
    long_post_text = _secret("Long-Post") * 1000
    added = api.add_post(post_text, token=signup_token)
    assert "errors" not in added, added
    added = api.add_post(long_post_text, token_arg=login_token)
    assert "errors" not in added, added
    assert len(api.posts(login_token)) == 2

    # The new lines are there, one access line a request, in both formats, with their
    # fields and no others.
    access = logs.formatted.access()
    assert len(access) == 13, [line["message"] for line in access]
    for line in access:
        assert set(line) == {"time", "level", "logger", "message", "request_id", *ACCESS_FIELDS}
    assert sum("posts_api.access" in line for line in logs.formatted.text()) == 13

    logs.assert_absent(
        password,
        wrong_password,
        unknown_user_password,
        bad_token,
        signup_token,
        login_token,
        other_token,
        tampered,
        _signature(signup_token),
        _signature(login_token),
        _signature(other_token),
    )
    logs.assert_absent(post_text, long_post_text[:64], without_sql_echo=True)


def test_unexpected_error_is_logged_with_traceback_but_not_shown(
    api: Api, logs: Logs, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = _secret("Right-Pass")
    token = api.signup("crash@example.com", password)["data"]["signup"]["token"]
    marker = _secret("boom")

    def explode(**_kwargs: object) -> None:
        raise RuntimeError(f"{marker} unexpected")

    monkeypatch.setattr("gql.posts.post_create", explode)
    logs.caplog.clear()
    body = api.add_post("this will crash", token_arg=token)

    # The client: a generic message, no detail.
    assert body["_status"] < 500, body
    assert error_code(body) == "INTERNAL_SERVER_ERROR"
    error = body["errors"][0]
    assert error["message"] == INTERNAL_MESSAGE
    shown = repr(body)
    for leak in (marker, "RuntimeError", "explode", "Traceback", ".py", "/work/", "site-packages"):
        assert leak not in shown, (leak, body)
    assert set(error["extensions"]) == {"code"}, error

    # The operator: the exception, with its traceback, at ERROR or above.
    crashes = [
        record
        for record in logs.records()
        if record.exc_info
        and isinstance(record.exc_info[1], RuntimeError)
        and marker in str(record.exc_info[1])
    ]
    assert crashes, [r.getMessage() for r in logs.records() if r.levelno >= logging.WARNING]
    record = crashes[0]
    assert record.levelno >= logging.ERROR
    rendered = logging.Formatter().formatException(record.exc_info)  # type: ignore[arg-type]
    assert rendered.startswith("Traceback"), rendered
    assert "explode" in rendered  # the frame that raised is in it
    assert any(marker in text and "Traceback" in text for text in logs.collector.lines)

    logs.assert_absent(password, token, _signature(token))


def test_unexpected_error_in_signup_does_not_log_the_password(
    api: Api, logs: Logs, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = _secret("Signup-Pass")

    def explode(**_kwargs: object) -> None:
        raise RuntimeError("signup exploded")

    monkeypatch.setattr("gql.accounts.user_signup", explode)
    body = api.signup("crash2@example.com", password)
    assert error_code(body) == "INTERNAL_SERVER_ERROR"
    assert body["errors"][0]["message"] == INTERNAL_MESSAGE
    assert any(
        record.exc_info and isinstance(record.exc_info[1], RuntimeError)
        for record in logs.records()
    )
    logs.assert_absent(password)
