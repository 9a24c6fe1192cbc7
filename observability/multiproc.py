"""The metrics directory of one instance, claimed by the launcher before the server starts.

Kept apart from ``observability.metrics`` on purpose: prometheus_client reads
PROMETHEUS_MULTIPROC_DIR when it is first imported, so the launcher, whose
workers may be forked from it, must set the variable without importing it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Below the metrics directory: the operation names the instance's workers admitted.
OPERATION_NAMES_DIR = "operation_names"


def pid_alive(pid: int) -> bool:
    """True while process ``pid`` exists (whoever owns it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# The multiprocess directory, claimed by the launcher.

_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class MultiprocessDir:
    """A metrics directory claimed by this process (and, after exec, by the server)."""

    path: Path
    lock_fd: int

    @property
    def env(self) -> dict[str, str]:
        return {MULTIPROC_ENV: str(self.path)}

    def release(self) -> None:
        """Give up the claim (the server holds it until it exits otherwise)."""
        os.close(self.lock_fd)


class MetricsDirInUse(RuntimeError):
    """Another running instance holds this runtime directory's metrics."""


def claim_multiprocess_dir(runtime_dir: str | Path | None) -> MultiprocessDir:
    """Lock, wipe and create ``<runtime_dir>/metrics`` (a fresh temporary one without it).

    The lock is an flock on ``<runtime_dir>/metrics.lock``, inheritable, so it
    stays held across the launcher's exec into the server and its forks, and is
    released when the last of them exits. A second instance pointed at the same
    runtime directory is refused instead of wiping the first one's files.
    """
    parent = Path(runtime_dir) if runtime_dir else Path(tempfile.mkdtemp(prefix="posts-api-"))
    parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    lock_fd = os.open(parent / "metrics.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(lock_fd)
        raise MetricsDirInUse(
            f"{parent / 'metrics'} belongs to another running instance: "
            "give each instance its own POSTS_RUNTIME_DIR"
        ) from None
    os.set_inheritable(lock_fd, True)
    path = parent / "metrics"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(mode=0o700)
    return MultiprocessDir(path=path, lock_fd=lock_fd)


def prepare_multiprocess_dir(
    runtime_dir: str | Path | None, environ: Mapping[str, str] = os.environ
) -> dict[str, str]:
    """The environment the server needs for metrics (nothing when METRICS_ENABLED is off).

    For the launcher, right before it execs the server: prometheus_client reads
    PROMETHEUS_MULTIPROC_DIR when the workers first import it. A runtime directory
    another running instance holds stops the launcher with one line.
    """
    if environ.get("METRICS_ENABLED", "").strip().lower() not in _TRUE:
        return {}
    try:
        return claim_multiprocess_dir(runtime_dir).env
    except MetricsDirInUse as exc:
        raise SystemExit(f"posts-api: {exc}") from None  # one line, no traceback


class SharedNames:
    """A set of at most ``limit`` names shared by every worker of one instance.

    A name is an empty file in ``directory`` (below the instance's metrics
    directory, so it lives and goes with it; prometheus_client reads only the
    ``*.db`` files beside it). A new name is admitted under an flock: the count
    and the new file are one step for every process. Names are never removed, so
    once the set is full a process needs no more look-ups. Only names that are safe
    as file names may be admitted (``[A-Za-z_][A-Za-z0-9_]*``, checked by the caller).
    """

    _LOCK = ".lock"

    def __init__(self, directory: str | Path, limit: int) -> None:
        self.directory = Path(directory)
        self.limit = limit
        self.directory.mkdir(mode=0o700, exist_ok=True)

    def names(self) -> set[str]:
        """Every name admitted so far, by any process."""
        with os.scandir(self.directory) as entries:
            return {entry.name for entry in entries if not entry.name.startswith(".")}

    def admit(self, name: str) -> tuple[bool, set[str]]:
        """Admit ``name`` if it is known or there is room; whether it is in, and every name."""
        if not name or name.startswith(".") or os.sep in name:
            raise ValueError(f"not a name that can be shared: {name!r}")
        lock_fd = os.open(self.directory / self._LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            names = self.names()
            if name in names:
                return True, names
            if len(names) >= self.limit:
                return False, names
            os.close(os.open(self.directory / name, os.O_WRONLY | os.O_CREAT, 0o600))
            names.add(name)
            return True, names
        finally:
            os.close(lock_fd)  # and with it the lock
