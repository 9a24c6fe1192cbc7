"""Readiness of this instance: starting, ready or draining, and the ``/readyz`` view.

``python -m config.serve`` gives every instance a private runtime directory
(``POSTS_RUNTIME_DIR``) and the number of workers it starts
(``POSTS_WORKERS``). Each worker drops a file named after its pid in
``ready/`` once it has warmed up, and the launcher drops ``draining`` there
when it is told to stop, so every worker answers for the whole instance.
Without a runtime directory (``make dev``, the test client) a process that
answers is ready.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.http import HttpRequest, JsonResponse
from django.urls import get_resolver
from django.views.decorators.http import require_safe

STARTING, READY, DRAINING = "starting", "ready", "draining"
# After SIGTERM, workers see the draining phase within this and end their open
# streams (gql/streams.py) before granian stops them: granian's own stop drops a
# WebSocket without a close frame.
STREAMS_NOTICE_SECONDS = 1.0
DRAINING_MARKER = "draining"


def runtime_dir() -> Path | None:
    """This instance's runtime directory, when the launcher made one."""
    raw = os.environ.get("POSTS_RUNTIME_DIR")
    return Path(raw) if raw else None


def warm_up() -> None:
    """Everything a first request would otherwise pay for: URLs, views, the GraphQL schema."""
    get_resolver().url_patterns  # noqa: B018 - imports every view and builds the schema


def mark_worker_ready() -> None:
    """Record that this worker process serves requests."""
    base = runtime_dir()
    if base is not None:
        (base / "ready").mkdir(exist_ok=True)
        (base / "ready" / str(os.getpid())).touch()


def mark_worker_stopped() -> None:
    """Record that this worker process no longer serves requests."""
    base = runtime_dir()
    if base is not None:
        (base / "ready" / str(os.getpid())).unlink(missing_ok=True)


def forget_worker(pid: int) -> None:
    """Record that worker ``pid`` died (the launcher's side: the worker could not)."""
    base = runtime_dir()
    if base is not None:
        (base / "ready" / str(pid)).unlink(missing_ok=True)


def mark_draining(base: Path) -> None:
    """Record, for every worker of the instance in ``base``, that it is shutting down."""
    (base / DRAINING_MARKER).touch()


def phase() -> str:
    """``starting`` until every worker is up, ``ready``, then ``draining`` once told to stop."""
    base = runtime_dir()
    if base is None:
        return READY
    if (base / DRAINING_MARKER).exists():
        return DRAINING
    expected = int(os.environ.get("POSTS_WORKERS", "1"))
    try:
        up = len(os.listdir(base / "ready"))
    except FileNotFoundError:
        up = 0
    return READY if up >= expected else STARTING


# Django's decorators are untyped (as gql/'s mypy override says).
@require_safe  # type: ignore[untyped-decorator]
def readyz(_request: HttpRequest) -> JsonResponse:
    """200 while the instance takes traffic; 503 while it starts or drains (GET and HEAD)."""
    current = phase()
    return JsonResponse({"status": current}, status=200 if current == READY else 503)
