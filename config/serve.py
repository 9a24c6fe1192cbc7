"""Start the server exactly as ``make run`` does: ``python -m config.serve``.

The one place that knows how the production server is started, so that
``make run``, the tests, the load test and the benchmark all serve the app the
same way. Every setting comes from the environment (PORT, WORKERS, THREADS,
the timeouts: see config/settings.py and docs/configuration.md) and is validated before
anything starts: a bad one stops start-up with one line naming it (exit 2).

granian serves ``config.bridge:application`` (Django behind a body-buffering
bridge): request heads are read by granian's Rust side with a deadline,
bodies on the event loop with another, so connections waiting for bytes cost
no thread (see config/bridge.py and docs/server.md).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import resource
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config.readiness import STREAMS_NOTICE_SECONDS
from observability.multiproc import pid_alive, prepare_multiprocess_dir

PROJECT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
# granian's buffer for a request head: past it (hyper grows it a little first), granian
# answers 431 itself, with no body. config/bridge.py refuses a head over half this
# with the contract's JSON 431 before the app sees it.
GRANIAN_HEAD_BUFFER_BYTES = 64 * 1024
# Connections a worker serves at once, open streams included (granian's backpressure;
# its default, the backlog of 1024 over the workers, let an uneven share of 1,000 open
# streams fill one worker: docs/adr/0024-live-updates-outbox.md).
CONNECTIONS_PER_WORKER = 2048
# A worker that dies is replaced, however often (see granian_server): at once when it
# had run RESPAWN_STABLE_SECONDS, else after a pause that doubles with each such death
# in a row, so that a worker that cannot start costs one start-up a RESPAWN_MAX_DELAY.
RESPAWN_STABLE_SECONDS = 30.0
RESPAWN_FIRST_DELAY_SECONDS = 0.5
RESPAWN_MAX_DELAY_SECONDS = 10.0


def fail(message: str, code: int = 2) -> SystemExit:
    """One line on stderr and an exit code, instead of a traceback."""
    print(f"posts-api: {message}", file=sys.stderr, flush=True)
    return SystemExit(code)


def load_settings() -> Any:
    """Django's settings, every one read and validated now (ImproperlyConfigured: one line)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        django.setup()
        _check_files(settings)
    except ImproperlyConfigured as exc:
        raise fail(f"configuration error: {exc}") from None
    return settings


def _check_files(settings: Any) -> None:
    """The files settings name, read and checked here, in the launcher: a bad one stops
    start-up with one line (in a worker it would only make the worker die, and dead
    workers are replaced however often they die)."""
    from gql.trusted import load_manifest

    if settings.GRAPHQL_TRUSTED_DOCUMENTS:
        load_manifest(settings.GRAPHQL_TRUSTED_DOCUMENTS)


def migrate(settings: Any) -> None:
    """Apply the database migrations (a failure is one line, not a traceback)."""
    from sqlalchemy.exc import SQLAlchemyError

    from persistence.migrations import upgrade

    try:
        upgrade()
    except ModuleNotFoundError as exc:
        raise fail(
            f"the driver for DATABASE_URL is not installed ({exc.name}); `make run` installs it",
            1,
        ) from None
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise fail(f"cannot migrate {masked_database_url(settings)}: {reason}", 1) from None


def masked_database_url(settings: Any) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.DATABASE_URL).render_as_string(hide_password=True)


# --------------------------------------------------------------------------- runtime directory


def prepare_runtime_dir(var_dir: Path, port: int) -> Path:
    """This instance's private runtime directory, ``var/run/<port>-<pid>/``, empty.

    Exported to the workers as ``POSTS_RUNTIME_DIR``: readiness markers live
    there, and anything else an instance must keep to itself and start afresh
    (a per-instance PROMETHEUS_MULTIPROC_DIR, for one). Directories left by
    instances that died without cleaning up are removed; a live instance's,
    on this port or another, are never touched.
    """
    base = var_dir / "run"
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    for stale in base.iterdir():
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    path = base / f"{port}-{os.getpid()}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(mode=0o700)
    (path / "ready").mkdir()
    return path


# --------------------------------------------------------------------------- servers


@dataclass
class RespawnBackoff:
    """How long to wait before replacing a worker that died, by worker index.

    A worker that had run RESPAWN_STABLE_SECONDS is replaced at once, and so is the
    first of a run of early deaths; each further early death in a row doubles the
    pause, from RESPAWN_FIRST_DELAY_SECONDS up to RESPAWN_MAX_DELAY_SECONDS.
    """

    early_deaths: dict[int, int] = field(default_factory=dict)

    def delay(self, index: int, lived_seconds: float) -> float:
        """The pause before replacing worker ``index``, which died after ``lived_seconds``."""
        if lived_seconds >= RESPAWN_STABLE_SECONDS:
            self.early_deaths[index] = 0
        deaths = self.early_deaths[index] = self.early_deaths.get(index, 0) + 1
        if deaths == 1:
            return 0.0
        # The exponent stops growing well past the cap: deaths in a row never end.
        doubled = math.ldexp(RESPAWN_FIRST_DELAY_SECONDS, min(deaths - 2, 32))
        return min(RESPAWN_MAX_DELAY_SECONDS, doubled)


def describe(settings: Any, server: str, port: int) -> str:
    """What ``make run`` prints: where, on which database, with which server settings."""
    return (
        f"posts-api: serving http://{HOST}:{port} with {server} "
        f"({settings.SERVER_WORKERS} workers x {settings.SERVER_THREADS} threads; "
        f"header read timeout {settings.HEADER_READ_TIMEOUT_SECONDS} s, "
        f"body read timeout {settings.BODY_READ_TIMEOUT_SECONDS} s, "
        f"graceful timeout {settings.GRACEFUL_TIMEOUT_SECONDS} s, "
        f"drain delay {settings.DRAIN_DELAY_SECONDS} s, "
        f"max body {settings.MAX_REQUEST_BYTES} bytes)\n"
        f"posts-api: database {masked_database_url(settings)}"
    )


def granian_server(settings: Any, port: int) -> Any:
    """granian, configured from the settings, with SIGTERM announced before it drains."""
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.http import HTTP1Settings

    from config.granian_compat import supervised_granian

    server_class = supervised_granian(
        Granian,
        # At least long enough for open streams to end cleanly (complete, close 1001).
        drain_delay_seconds=max(settings.DRAIN_DELAY_SECONDS, STREAMS_NOTICE_SECONDS),
        backoff=RespawnBackoff,
    )
    return server_class(
        "config.bridge:application",
        address=HOST,
        port=port,
        interface=Interfaces.ASGI,
        # uvloop (a runtime dependency wherever it builds): the bridge's event loop
        # costs less per request on it (docs/adr/0010-request-overhead.md). "auto"
        # would take asyncio's where it is missing.
        loop=Loops.uvloop,
        workers=settings.SERVER_WORKERS,
        # The app's threads are the bridge's pool (THREADS), not granian's.
        blocking_threads=1,
        # Connections a worker serves at once (granian's default: 1024 / workers). An
        # open stream holds one for its life; bodies are bounded apart from this
        # (config/bridge.py, BODIES_PER_INSTANCE).
        backpressure=CONNECTIONS_PER_WORKER,
        http=HTTPModes.http1,
        websockets=True,  # graphql-transport-ws on /graphql (gql/streams.py)
        http1_settings=HTTP1Settings(
            header_read_timeout=settings.HEADER_READ_TIMEOUT_SECONDS * 1000,
            keep_alive=True,
            max_buffer_size=GRANIAN_HEAD_BUFFER_BYTES,
        ),
        respawn_failed_workers=True,
        workers_kill_timeout=settings.GRACEFUL_TIMEOUT_SECONDS,
        working_dir=PROJECT,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m config.serve", description=__doc__)
    parser.add_argument("--migrate", action="store_true", help="apply migrations first")
    parser.add_argument(
        "--migrate-only", action="store_true", help="apply migrations and exit (make migrate)"
    )
    parser.add_argument(
        "--check", action="store_true", help="validate the settings, print them and exit"
    )
    args = parser.parse_args(argv)

    port = _env_port()
    settings = load_settings()
    if args.migrate or args.migrate_only:
        migrate(settings)
        if args.migrate_only:
            return
    print(describe(settings, "granian", port), file=sys.stderr, flush=True)
    if args.check:
        return

    raise_open_files_limit(settings.SERVER_WORKERS * CONNECTIONS_PER_WORKER + 1024)
    runtime = prepare_runtime_dir(Path(settings.VAR_DIR), port)
    os.environ["POSTS_RUNTIME_DIR"] = str(runtime)
    os.environ["POSTS_WORKERS"] = str(settings.SERVER_WORKERS)
    # Metrics: a directory private to this instance, in the env before workers start.
    os.environ.update(prepare_multiprocess_dir(runtime))
    try:
        granian_server(settings, port).serve()
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(runtime)


def raise_open_files_limit(wanted: int) -> None:
    """Each connection is a file descriptor: raise the soft limit towards ``wanted``
    (as far as the hard limit allows), and say so when it stays below."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < wanted:
        print(
            f"posts-api: open files limited to {target} (wanted {wanted}: "
            f"{CONNECTIONS_PER_WORKER} connections per worker); raise `ulimit -n`",
            file=sys.stderr,
            flush=True,
        )


def _env_port() -> int:
    raw = os.environ.get("PORT", "8000").strip()
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise fail(f"configuration error: PORT must be a TCP port number, not {raw!r}")
    return int(raw)


if __name__ == "__main__":
    main()
