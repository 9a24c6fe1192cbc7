"""Start the server exactly as ``make run`` does: ``python -m config.serve``.

The one place that knows how the production server is started, so that
``make run``, the tests, the load test and the benchmark all serve the app the
same way. Settings come from the environment (PORT, WORKERS, THREADS).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from observability.metrics import prepare_multiprocess_dir


def server_argv(*, port: int, workers: int, threads: int) -> list[str]:
    """The command line of the server for ``make run``."""
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    return [
        gunicorn,
        "config.wsgi:application",
        f"--bind=127.0.0.1:{port}",
        f"--workers={workers}",
        f"--threads={threads}",
        "--worker-class=gthread",
        "--timeout=30",
        "--graceful-timeout=10",
        "--max-requests=10000",
        "--max-requests-jitter=1000",
        "--limit-request-line=8190",
        # No --access-logfile: the app writes its own access line (posts_api.access).
        "--forwarded-allow-ips=127.0.0.1",
        "--no-control-socket",
    ]


def main() -> None:
    """Replace this process with the server."""
    argv = server_argv(
        port=int(os.environ.get("PORT", "8000")),
        workers=int(os.environ.get("WORKERS", "2")),
        threads=int(os.environ.get("THREADS", "8")),
    )
    # Metrics: a directory private to this instance, in the env before workers start.
    os.environ.update(prepare_multiprocess_dir(os.environ.get("POSTS_RUNTIME_DIR")))
    os.execv(argv[0], argv)  # noqa: S606 - our own server binary, fixed arguments


if __name__ == "__main__":
    main()
