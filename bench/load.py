"""Drive a server with wrk (bench/wrk/graphql.lua) and read back what it measured."""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from devkit.client import GraphQLClient
from devkit.server import Server

LUA_SCRIPT = Path(__file__).resolve().parent / "wrk" / "graphql.lua"
MiB = 1024 * 1024


class WrkError(RuntimeError):
    """wrk is missing, failed, or wrote no results."""


def wrk_path() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise WrkError("wrk is not installed (apt-get install wrk)")
    return found


def lua_literal(value: Any) -> str:
    """``value`` (str, int, float, bool, None, list, dict) as a Lua expression."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return _lua_string(value)
    if isinstance(value, list | tuple):
        return "{" + ",".join(lua_literal(item) for item in value) + "}"
    if isinstance(value, dict):
        return (
            "{"
            + ",".join(f"[{lua_literal(key)}]={lua_literal(item)}" for key, item in value.items())
            + "}"
        )
    raise TypeError(f"no Lua literal for {type(value).__name__}")


def _lua_string(text: str) -> str:
    out = []
    for byte in text.encode("utf-8"):
        if 0x20 <= byte < 0x7F and byte not in (0x22, 0x5C):
            out.append(chr(byte))
        else:
            out.append(f"\\{byte:03d}")  # decimal escapes: any byte, UTF-8 passes through
    return '"' + "".join(out) + '"'


def write_config(path: Path, config: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("return " + lua_literal(config) + "\n")
    return path


@dataclass
class RssSampler:
    """The server's total RSS (master and workers), sampled every ``interval`` seconds."""

    server: Server
    interval: float = 0.5
    samples: list[tuple[float, int, dict[int, int]]] = field(default_factory=list)
    # With ``caches``: what the app's caches hold, read at each sample (bytes, or None).
    caches: Callable[[], int | None] | None = None
    cache_samples: list[int | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._started = time.monotonic()

    def _run(self) -> None:
        while True:
            workers = self.server.worker_rss()
            total = self.server.rss_bytes()
            if self.caches is not None:
                self.cache_samples.append(self.caches())
            self.samples.append((time.monotonic() - self._started, total, workers))
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> RssSampler:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak(self) -> int:
        return max((total for _, total, _ in self.samples), default=0)

    @property
    def last(self) -> int:
        return self.samples[-1][1] if self.samples else 0


def cache_bytes(server: Server, token: str) -> int | None:
    """What the app's caches hold, over its live workers (``posts_api_cache_bytes`` of
    /metrics), or None when the scrape fails."""
    try:
        with GraphQLClient(server.base, timeout=5) as client:
            status, raw = client.request(
                "GET", "/metrics", headers={"Authorization": f"Bearer {token}"}
            )
    except OSError:
        return None
    if status != 200:
        return None
    total = 0.0
    for family in text_string_to_metric_families(raw.decode()):
        if family.name == "posts_api_cache_bytes":
            total += sum(sample.value for sample in family.samples)
    return int(total)


def cpu_seconds(servers: Sequence[Server]) -> float:
    """CPU time the servers' processes have used so far (user and system)."""
    ticks = 0
    for server in servers:
        for pid in server.pids():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def wait_idle(servers: Sequence[Server], *, busy: float = 0.1, most: float = 120.0) -> float:
    """Wait until the servers together use less than ``busy`` of a CPU (at most ``most`` s).

    A case can leave work queued behind it (64 logins at bcrypt cost 12 take seconds),
    on its own server or, as cases alternate between databases, on another one that
    shares the CPUs: the next case must not pay for it. Returns the seconds waited.
    """
    started = time.monotonic()
    last = cpu_seconds(servers)
    while time.monotonic() - started < most:
        time.sleep(0.25)
        now = cpu_seconds(servers)
        if now - last < busy * 0.25:
            break
        last = now
    return time.monotonic() - started


def percentile(ordered: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return None
    index = min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))
    return ordered[index]


def wrk_threads(connections: int) -> int:
    """wrk's threads: one per core, never more than the connections (docs/adr/0012)."""
    return max(1, min(os.cpu_count() or 1, connections))


def run_wrk(
    *,
    url: str,
    config: dict[str, Any],
    config_path: Path,
    connections: int,
    seconds: int,
    timeout: int,
) -> dict[str, Any]:
    """One wrk run, one thread per core; the Lua script's results, summarised, with the
    CPU wrk itself took (``client_cpu_seconds``, ``client_cpu_share`` of the machine)."""
    out = config_path.with_suffix(".json")
    out.unlink(missing_ok=True)
    threads = wrk_threads(connections)
    write_config(config_path, {**config, "threads": threads, "out": str(out)})
    command = [
        wrk_path(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        f"--timeout={timeout}s",
        "-s",
        str(LUA_SCRIPT),
        url,
        "--",
        str(config_path),
    ]
    log = config_path.with_suffix(".wrk.log")
    started = time.monotonic()
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - fixed argv: wrk against our own loopback server
            command, stdout=output, stderr=subprocess.STDOUT
        )
        returncode, cpu = _wait_with_usage(process, seconds + timeout + 60)
    wall = time.monotonic() - started
    if returncode is None:
        raise WrkError(f"wrk did not finish: {' '.join(command)}")
    if returncode != 0 or not out.exists():
        raise WrkError(
            f"wrk failed ({returncode}): {' '.join(command)}\n"
            f"{log.read_text(errors='replace')[-2000:]}"
        )
    summary = summarise(json.loads(out.read_text()))
    summary["wall_seconds"] = round(wall, 3)
    summary["client_threads"] = threads
    summary["client_cpu_seconds"] = round(cpu, 3)
    summary["client_cpu_share"] = round(cpu / (wall * (os.cpu_count() or 1)), 3)
    return summary


def _wait_with_usage(process: subprocess.Popen[bytes], limit: float) -> tuple[int | None, float]:
    """Reap ``process`` (killed past ``limit`` seconds): its exit code (None if killed for
    running too long) and the CPU time it used, user and system, its threads included."""
    deadline = time.monotonic() + limit
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return process.returncode, usage.ru_utime + usage.ru_stime
        if time.monotonic() > deadline:
            process.kill()
            _, _, usage = os.wait4(process.pid, 0)
            process.returncode = -9
            return None, usage.ru_utime + usage.ru_stime
        time.sleep(0.05)


def merge_threads(threads: list[dict[str, Any] | None]) -> dict[str, Any]:
    """The Lua script's per-thread results added up."""
    merged: dict[str, Any] = {
        "exhausted": 0,
        "fallbacks": 0,
        "overlaps": 0,
        "unmatched": 0,
        "apq_registrations": 0,
        "samples": [],
        "kinds": {},
        "first_us": [],
    }
    for thread in threads:
        if thread is None:
            continue
        for name in ("exhausted", "fallbacks", "overlaps", "unmatched", "apq_registrations"):
            merged[name] += thread.get(name, 0)
        if thread.get("first_us", -1) >= 0:
            merged["first_us"].append(thread["first_us"])
        merged["samples"].extend(thread["samples"])
        for op, kind in thread["kinds"].items():
            into = merged["kinds"].setdefault(
                op,
                {"n": 0, "failed": 0, "non2xx": 0, "errors": 0, "apq_misses": 0, "codes": {}},
            )
            for name in ("n", "failed", "non2xx", "errors", "apq_misses"):
                into[name] += kind[name]
            for code, count in kind["codes"].items():
                into["codes"][code] = into["codes"].get(code, 0) + count
            into.setdefault("latency_us", []).extend(kind["latency_us"])
            into.setdefault("done_us", []).extend(kind.get("done_us", []))
    merged["samples"] = merged["samples"][:5]
    return merged


def steady_window(merged: dict[str, Any]) -> tuple[float, float] | None:
    """From when every thread was sending to the last answer (microseconds), or None.

    wrk's own duration starts once every thread is set up, but each thread's Lua
    state is set up in turn and the first threads are sending meanwhile (with one
    thread per connection, at 64 connections and a large config, their answers had
    doubled the req/s wrk's duration gave).
    """
    done = [t for kind in merged["kinds"].values() for t in kind.get("done_us", [])]
    if not merged["first_us"] or not done:
        return None
    start, end = max(merged["first_us"]), max(done)
    return (start, end) if end > start else None


def summarise(raw: dict[str, Any]) -> dict[str, Any]:
    """Requests per second, latency percentiles and failures, overall and per kind."""
    merged = merge_threads(raw["threads"])
    window = steady_window(merged)
    seconds = (window[1] - window[0]) / 1e6 if window else raw["duration_us"] / 1e6

    def answered(kind: dict[str, Any]) -> int:
        """The kind's answers within the window (all of them without one)."""
        if window is None:
            return int(kind["n"])
        start, end = window
        return sum(1 for t in kind["done_us"] if start <= t <= end)

    counted = {name: answered(kind) for name, kind in merged["kinds"].items()}
    latency = raw["latency_us"]
    kinds: dict[str, Any] = {}
    for name, kind in sorted(merged["kinds"].items()):
        if not kind["n"]:
            continue  # a fallback operation never needed
        ordered = sorted(kind["latency_us"])
        # A one-kind case keeps no latency per request: wrk's own histogram is its.
        wrk_own = not ordered and sum(1 for k in merged["kinds"].values() if k["n"]) == 1
        kinds[name] = {
            "requests": kind["n"],
            "rps": round(counted[name] / seconds, 1) if seconds else 0.0,
            "failed": kind["failed"],
            "non2xx": kind["non2xx"],
            "graphql_errors": kind["errors"],
            "apq_misses": kind["apq_misses"],
            "codes": kind["codes"],
            "p50_ms": _ms(latency["p50"] if wrk_own else percentile(ordered, 0.50)),
            "p99_ms": _ms(latency["p99"] if wrk_own else percentile(ordered, 0.99)),
        }
    errors = raw["socket_errors"]
    return {
        "seconds": round(seconds, 3),
        "requests": raw["requests"],
        "rps": round(sum(counted.values()) / seconds, 1) if seconds else 0.0,
        "p50_ms": round(latency["p50"] / 1000, 2),
        "p90_ms": round(latency["p90"] / 1000, 2),
        "p99_ms": round(latency["p99"] / 1000, 2),
        "max_ms": round(latency["max"] / 1000, 2),
        "bytes": raw["bytes"],
        "failed": sum(kind["failed"] for kind in kinds.values()),
        "non2xx": sum(kind["non2xx"] for kind in kinds.values()),
        "graphql_errors": sum(kind["graphql_errors"] for kind in kinds.values()),
        # wrk's "status" errors are the non-2xx answers, counted per kind above.
        "socket_errors": {name: count for name, count in errors.items() if name != "status"},
        "timeouts": errors["timeout"],
        "exhausted": merged["exhausted"],
        "fallbacks": merged["fallbacks"],
        "overlaps": merged["overlaps"],
        "unmatched": merged["unmatched"],
        "apq_registrations": merged["apq_registrations"],
        "samples": merged["samples"],
        "kinds": kinds,
    }


def _ms(microseconds: float | None) -> float | None:
    return None if microseconds is None else round(microseconds / 1000, 2)
