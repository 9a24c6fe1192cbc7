"""/readyz: 200 while the instance takes traffic, 503 while it starts or drains."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

from config.readiness import mark_draining, mark_worker_ready, mark_worker_stopped


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An instance of two workers, as config.serve sets one up."""
    (tmp_path / "ready").mkdir()
    monkeypatch.setenv("POSTS_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setenv("POSTS_WORKERS", "2")
    return tmp_path


def _readyz(method: str = "get") -> tuple[int, object]:
    response = getattr(Client(), method)("/readyz")
    return response.status_code, response.json() if method == "get" else None


def test_without_a_launcher_a_process_that_answers_is_ready() -> None:
    assert _readyz() == (200, {"status": "ready"})


def test_starting_until_every_worker_is_up(runtime: Path) -> None:
    assert _readyz() == (503, {"status": "starting"})
    mark_worker_ready()  # this process: one of two
    assert _readyz() == (503, {"status": "starting"})
    (runtime / "ready" / "99999").touch()  # the other worker
    assert _readyz() == (200, {"status": "ready"})
    assert _readyz("head")[0] == 200
    mark_worker_stopped()
    assert _readyz() == (503, {"status": "starting"})


def test_draining_once_the_launcher_is_told_to_stop(runtime: Path) -> None:
    for pid in ("1", "2"):
        (runtime / "ready" / pid).touch()
    assert _readyz()[0] == 200
    mark_draining(runtime)
    assert _readyz() == (503, {"status": "draining"})


def test_only_get_and_head() -> None:
    assert Client().post("/readyz").status_code == 405
