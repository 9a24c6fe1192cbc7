"""The servers ``make run``'s was measured against, for comparison only (docs/adr/0001):
granian's WSGI interface, and gunicorn's gthread worker (what ``make run`` used before).

    python -m bench.servers granian-wsgi|gunicorn [--migrate]

Both serve ``config.wsgi:application`` with the settings of ``make run`` (PORT,
WORKERS, THREADS, the timeouts; checked the same way), on 127.0.0.1, with none of
its readiness, drain or runtime directory. ``scripts/slowclients.py --start``
starts them beside ``make run``'s own server.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from config import serve

SERVERS = ("granian-wsgi", "gunicorn")


def gunicorn_argv(settings: Any, port: int) -> list[str]:
    """The gthread command line ``make run`` used before granian."""
    return [
        str(Path(sys.executable).parent / "gunicorn"),
        "config.wsgi:application",
        f"--bind={serve.HOST}:{port}",
        f"--workers={settings.SERVER_WORKERS}",
        f"--threads={settings.SERVER_THREADS}",
        "--worker-class=gthread",
        "--timeout=30",
        f"--graceful-timeout={settings.GRACEFUL_TIMEOUT_SECONDS}",
        "--limit-request-line=8190",
        # No --access-logfile: the app writes its own access line (posts_api.access).
        "--no-control-socket",
    ]


def granian_wsgi(settings: Any, port: int) -> Any:
    """granian's WSGI interface: heads read in Rust, bodies read by the app's threads."""
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.http import HTTP1Settings

    return Granian(
        "config.wsgi:application",
        address=serve.HOST,
        port=port,
        interface=Interfaces.WSGI,
        loop=Loops.uvloop,
        workers=settings.SERVER_WORKERS,
        blocking_threads=settings.SERVER_THREADS,  # the app's threads are granian's here
        http=HTTPModes.http1,
        websockets=False,
        http1_settings=HTTP1Settings(
            header_read_timeout=settings.HEADER_READ_TIMEOUT_SECONDS * 1000,
            keep_alive=True,
            max_buffer_size=serve.GRANIAN_HEAD_BUFFER_BYTES,
        ),
        respawn_failed_workers=True,
        workers_kill_timeout=settings.GRACEFUL_TIMEOUT_SECONDS,
        working_dir=serve.PROJECT,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.servers", description=__doc__)
    parser.add_argument("server", choices=SERVERS)
    parser.add_argument("--migrate", action="store_true", help="apply migrations first")
    args = parser.parse_args(argv)
    raw = os.environ.get("PORT", "8000").strip()
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise serve.fail(f"configuration error: PORT must be a TCP port number, not {raw!r}")
    port = int(raw)
    settings = serve.load_settings()
    if args.migrate:
        serve.migrate(settings)
    print(serve.describe(settings, args.server, port), file=sys.stderr, flush=True)
    if args.server == "gunicorn":
        command = gunicorn_argv(settings, port)
        os.execv(command[0], command)  # noqa: S606 - our own server binary, fixed arguments
    granian_wsgi(settings, port).serve()


if __name__ == "__main__":
    main()
