"""Settings refuse unsafe production configurations at start-up."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from resolvers_services.passwords import hash_password

ROOT = Path(__file__).resolve().parents[2]


# Settings are read and validated when Django sets up: a process that does only that
# (a third of `manage.py check`'s time) shows whether they start; `check` runs when
# the test is about Django's own checks (``args``).
_SETUP = "import django; django.setup()"


def _check(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in {"JWT_SECRET", "SECRET_KEY", "APP_ENV"}}
    command = ["manage.py", "check", *args] if args else ["-c", _SETUP]
    return subprocess.run(
        [sys.executable, *command],
        cwd=ROOT,
        env={
            **base,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "POSTS_VAR_DIR": str(tmp_path),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _strong() -> str:
    return secrets.token_urlsafe(48)


def test_production_refuses_to_start_without_explicit_secrets(tmp_path: Path) -> None:
    result = _check(tmp_path, APP_ENV="production")
    assert result.returncode != 0
    assert "JWT_SECRET" in result.stderr


@pytest.mark.parametrize("secret", ["short-secret", "x" * 31])
def test_a_jwt_secret_under_32_bytes_is_refused(tmp_path: Path, secret: str) -> None:
    result = _check(tmp_path, JWT_SECRET=secret, SECRET_KEY=_strong())
    assert result.returncode != 0
    assert "at least 32 bytes" in result.stderr


def test_a_placeholder_secret_is_refused(tmp_path: Path) -> None:
    result = _check(tmp_path, JWT_SECRET="django-insecure-" + "a" * 40, SECRET_KEY=_strong())
    assert result.returncode != 0
    assert "placeholder" in result.stderr


def test_production_settings_pass_the_deploy_check(tmp_path: Path) -> None:
    result = _check(
        tmp_path,
        "--deploy",
        "--fail-level",
        "WARNING",
        APP_ENV="production",
        JWT_SECRET=_strong(),
        SECRET_KEY=_strong(),
        ALLOWED_HOSTS="api.example.com",
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_without_configuration_secrets_are_generated_once_and_kept(tmp_path: Path) -> None:
    assert _check(tmp_path).returncode == 0
    stored = (tmp_path / "secrets.json").read_text()
    assert _check(tmp_path).returncode == 0
    assert (tmp_path / "secrets.json").read_text() == stored
    assert oct((tmp_path / "secrets.json").stat().st_mode & 0o777) == "0o600"


def _production(**env: str) -> dict[str, str]:
    return {
        "APP_ENV": "production",
        "JWT_SECRET": _strong(),
        "SECRET_KEY": _strong(),
        "ALLOWED_HOSTS": "api.example.com",
        **env,
    }


@pytest.mark.parametrize("rounds", ["4", "11"])
def test_production_refuses_a_bcrypt_cost_under_12(tmp_path: Path, rounds: str) -> None:
    result = _check(tmp_path, **_production(BCRYPT_ROUNDS=rounds))
    assert result.returncode != 0
    assert "BCRYPT_ROUNDS must be at least 12" in result.stderr


def test_production_accepts_a_bcrypt_cost_of_12_or_more(tmp_path: Path) -> None:
    for rounds in ("12", "13"):
        result = _check(tmp_path, **_production(BCRYPT_ROUNDS=rounds))
        assert result.returncode == 0, result.stderr


def test_outside_production_a_low_bcrypt_cost_is_allowed(tmp_path: Path) -> None:
    assert _check(tmp_path, BCRYPT_ROUNDS="4").returncode == 0


def test_the_tests_hash_at_cost_4_while_the_default_is_12(tmp_path: Path) -> None:
    assert hash_password("correct horse battery staple").startswith("$2b$04$")
    env = {k: v for k, v in os.environ.items() if k != "BCRYPT_ROUNDS"}
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from django.conf import settings as s; print(s.BCRYPT_ROUNDS)",
        ],
        cwd=ROOT,
        env={**env, "POSTS_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.stdout.strip().splitlines()[-1] == "12", result.stderr


def _settings(tmp_path: Path, *names: str, **env: str) -> dict[str, object]:
    """The values of settings ``names`` as a fresh process configured by ``env`` sees them."""
    base = {k: v for k, v in os.environ.items() if k not in {"JWT_SECRET", "SECRET_KEY", "APP_ENV"}}
    script = (
        "import json, django; django.setup(); from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n) for n in {list(names)!r}}}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={
            **base,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "POSTS_VAR_DIR": str(tmp_path),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    values: dict[str, object] = json.loads(result.stdout.splitlines()[-1])
    return values


def test_production_turns_the_explorer_off_and_drops_testserver(tmp_path: Path) -> None:
    values = _settings(tmp_path, "GRAPHQL_EXPLORER", "ALLOWED_HOSTS", "DEBUG", **_production())
    assert values["GRAPHQL_EXPLORER"] is False
    assert values["DEBUG"] is False
    assert "testserver" not in values["ALLOWED_HOSTS"]  # type: ignore[operator]


def test_production_serves_the_explorer_only_when_asked(tmp_path: Path) -> None:
    values = _settings(tmp_path, "GRAPHQL_EXPLORER", **_production(GRAPHQL_EXPLORER="1"))
    assert values["GRAPHQL_EXPLORER"] is True


def test_development_keeps_the_explorer_and_the_test_host(tmp_path: Path) -> None:
    values = _settings(tmp_path, "GRAPHQL_EXPLORER", "ALLOWED_HOSTS", "LOG_FORMAT")
    assert values["GRAPHQL_EXPLORER"] is True
    assert "testserver" in values["ALLOWED_HOSTS"]  # type: ignore[operator]
    assert values["LOG_FORMAT"] == "text"


@pytest.mark.parametrize("debug", ["1", "true", "on"])
def test_production_refuses_debug(tmp_path: Path, debug: str) -> None:
    result = _check(tmp_path, **_production(DEBUG=debug))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DEBUG cannot be on with APP_ENV=production" in result.stderr


def test_log_format_is_json_by_default_in_production(tmp_path: Path) -> None:
    assert _settings(tmp_path, "LOG_FORMAT", **_production())["LOG_FORMAT"] == "json"
    assert _settings(tmp_path, "LOG_FORMAT", **_production(LOG_FORMAT="text"))["LOG_FORMAT"] == (
        "text"
    )


@pytest.mark.parametrize("value", ["xml", "JSONL", "1"])
def test_an_unknown_log_format_stops_start_up_naming_the_variable(
    tmp_path: Path, value: str
) -> None:
    result = _check(tmp_path, LOG_FORMAT=value)
    assert result.returncode != 0
    assert "ImproperlyConfigured: LOG_FORMAT must be one of json, text" in result.stderr


_JSON_LOG_SCRIPT = """
import logging
import django
django.setup()
log = logging.getLogger("gql.test")
log.warning("first")
try:
    1 / 0
except ZeroDivisionError:
    log.exception("second")
"""


def test_json_logs_from_a_real_process_are_one_object_per_line(tmp_path: Path) -> None:
    base = {k: v for k, v in os.environ.items() if k not in {"JWT_SECRET", "SECRET_KEY", "APP_ENV"}}
    script = _JSON_LOG_SCRIPT
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={
            **base,
            "POSTS_VAR_DIR": str(tmp_path),
            "LOG_FORMAT": "json",
            "DJANGO_SETTINGS_MODULE": "config.settings",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    first, second = (json.loads(line) for line in result.stderr.splitlines())
    assert set(first) == {"time", "level", "logger", "message", "request_id"}
    assert (first["level"], first["logger"], first["message"], first["request_id"]) == (
        "WARNING",
        "gql.test",
        "first",
        "-",
    )
    assert second["level"] == "ERROR"
    assert "ZeroDivisionError" in second["exc_info"]


@pytest.mark.parametrize(
    ("value", "message"), [("lots", "must be an integer"), ("65536", "must be at least 1048576")]
)
def test_a_response_buffer_bound_that_is_not_a_size_stops_start_up(
    tmp_path: Path, value: str, message: str
) -> None:
    result = _check(tmp_path, RESPONSE_BUFFER_MAX_BYTES=value)
    assert result.returncode != 0
    assert f"RESPONSE_BUFFER_MAX_BYTES {message}" in result.stderr
