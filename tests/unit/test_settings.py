"""Settings refuse unsafe production configurations at start-up."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from resolvers_services.passwords import hash_password

ROOT = Path(__file__).resolve().parents[2]


def _check(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in {"JWT_SECRET", "SECRET_KEY", "APP_ENV"}}
    return subprocess.run(
        [sys.executable, "manage.py", "check", *args],
        cwd=ROOT,
        env={**base, "POSTS_VAR_DIR": str(tmp_path), **env},
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
