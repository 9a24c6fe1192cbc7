"""Start, watch and stop the API server exactly as ``make run`` does.

``make run`` runs ``python -m config.serve`` with PORT, WORKERS and THREADS in
its environment; so does :func:`start_server`, so the tests, the load test and
the benchmark serve the app the same way (whatever server config/serve.py
chooses). Other commands (a reference app, ``make run`` itself) go through
the same code with ``argv``.

Every server starts in its own session, so :meth:`Server.stop` ends the whole
process tree it started (a ``make`` wrapper, a master and its workers) and
nothing else.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from devkit.ports import LOOPBACK, free_port

PROJECT = Path(__file__).resolve().parents[1]

# Processes that only launch the server (make's recipe shell): not counted as the server.
LAUNCHERS = frozenset({"make", "sh", "bash", "dash"})


class ServerError(RuntimeError):
    """The server did not start, or a step before it (migrations) failed."""


def serve_argv() -> list[str]:
    """The command of ``make run``: the project's one server launcher."""
    return [sys.executable, "-m", "config.serve"]


@dataclass
class Server:
    """One server process tree, listening on 127.0.0.1:``port``, its output in ``log``."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def output(self, chars: int = 4000) -> str:
        """The end of the server's output."""
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def wait_healthy(self, timeout: float = 60.0, path: str = "/healthz") -> None:
        """Wait until ``path`` answers 200 from a process of this tree; ServerError if not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(
                    f"server exited with {self.process.returncode}; log {self.log}:\n{self.output()}"
                )
            conn = http.client.HTTPConnection(LOOPBACK, self.port, timeout=2)
            try:
                conn.request("GET", path)
                # Healthy, and really ours: another process may have taken the port first.
                if conn.getresponse().status == 200 and self.owns_port():
                    return
            except OSError:  # not listening yet
                pass
            finally:
                conn.close()
            time.sleep(0.1)
        raise ServerError(
            f"server on port {self.port} never became healthy; log {self.log}:\n{self.output()}"
        )

    def owns_port(self) -> bool:
        """True when a process of this tree listens on the port."""
        listening = _listening_inodes(self.port)
        tree = descendants(self.process.pid) | {self.process.pid}
        return any(listening & _socket_inodes(pid) for pid in tree)

    def alive(self) -> bool:
        return self.process.poll() is None and self.owns_port()

    def pids(self) -> set[int]:
        """The server's processes (master and workers), without launcher shells or make."""
        tree = descendants(self.process.pid) | {self.process.pid}
        return {pid for pid in tree if _comm(pid) not in LAUNCHERS}

    def master_pid(self) -> int | None:
        """The topmost server process (the one ``make`` or the shell started)."""
        todo = [self.process.pid]
        while todo:
            pid = todo.pop(0)
            if _comm(pid) not in LAUNCHERS:
                return pid
            todo.extend(sorted(_children(pid)))
        return None

    def worker_pids(self) -> set[int]:
        """The master's worker processes (its direct children)."""
        master = self.master_pid()
        return set() if master is None else _children(master)

    def rss_bytes(self) -> int:
        """Resident memory of the master and every worker together."""
        return sum(rss(pid) for pid in self.pids())

    def worker_rss(self) -> dict[int, int]:
        """Resident memory of each worker process."""
        return {pid: rss(pid) for pid in sorted(self.worker_pids())}

    def terminate(self) -> None:
        """SIGTERM the whole tree without waiting (``stop`` then waits)."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM the whole tree, SIGKILL it if it is still up after ``timeout``."""
        if self.process.poll() is not None:
            return
        self.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)


def start_server(
    env: Mapping[str, str],
    log: Path,
    *,
    port: int | None = None,
    workers: int | None = None,
    threads: int | None = None,
    argv: Sequence[str] | None = None,
    cwd: Path = PROJECT,
) -> Server:
    """Start ``python -m config.serve`` (or ``argv``) with ``env`` plus PORT/WORKERS/THREADS.

    WORKERS and THREADS are set only when given, so the launcher's own defaults
    apply otherwise, as with ``make run``. ``{port}`` in ``argv`` becomes the port.
    """
    port = port or free_port()
    full_env = {**env, "PORT": str(port)}
    if workers is not None:
        full_env["WORKERS"] = str(workers)
    if threads is not None:
        full_env["THREADS"] = str(threads)
    command = [part.replace("{port}", str(port)) for part in (argv or serve_argv())]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(  # noqa: S603 - our own launcher or a caller's fixed argv
            command,
            cwd=cwd,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server(process=process, port=port, log=log)


def migrate(
    env: Mapping[str, str], log: Path, *, cwd: Path = PROJECT, timeout: float = 300
) -> None:
    """Apply the migrations to the environment's DATABASE_URL, as ``make migrate`` does."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        completed = subprocess.run(
            [sys.executable, "-m", "alembic", "upgrade", "head"],
            cwd=cwd,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    if completed.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise ServerError(f"migrations failed ({completed.returncode}); log {log}:\n{tail}")


# --------------------------------------------------------------------------- /proc


def _parents() -> dict[int, list[int]]:
    """Each live process's children, from /proc/*/stat (works on every Linux kernel)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return children


def _children(pid: int) -> set[int]:
    return set(_parents().get(pid, []))


def descendants(root: int) -> set[int]:
    """Every process below ``root`` (children, grandchildren, ...)."""
    children = _parents()
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def rss(pid: int) -> int:
    """Resident memory of one process in bytes (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if (
                len(fields) > 9
                and fields[3] == "0A"
                and int(fields[1].rsplit(":", 1)[1], 16) == port
            ):
                inodes.add(fields[9])
    return inodes


def _socket_inodes(pid: int) -> set[str]:
    inodes: set[str] = set()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    return inodes
