"""Prometheus metrics, correct across the worker processes of one instance.

With ``PROMETHEUS_MULTIPROC_DIR`` in the environment when prometheus_client is
first imported, every worker writes its values to files in that directory and a
scrape, whichever worker answers it, adds up every worker's files
(prometheus_client's multiprocess mode). The launcher (``config/serve.py``)
claims the directory, private to the instance, with ``prepare_multiprocess_dir``
before it starts the server. Without it (tests, ``make dev``) there is one process
and the ordinary in-memory registry.

Other layers record through the ``record_*`` functions; they never import
prometheus_client themselves.
"""

from __future__ import annotations

import glob
import math
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from observability.multiproc import MULTIPROC_ENV, OPERATION_NAMES_DIR, SharedNames, pid_alive

# Anonymous operations, names that are not GraphQL names of a sane length, and
# names past the first MAX_OPERATION_NAMES distinct ones of the instance (all its
# workers together) share this label, so a client choosing operation names cannot
# grow the number of series.
OTHER = "__other__"
MAX_OPERATION_NAMES = 100
_OPERATION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_OUTCOME = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
_KIND = re.compile(r"[a-z][a-z0-9_]{0,31}")
# Seconds: from a cached getPosts to a bcrypt login under load.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
REQUESTS = "posts_api_graphql_requests"
# How often (at most) a worker refreshes its process metrics in multiprocess mode.
PROCESS_SAMPLE_SECONDS = 1.0


def _kind(value: str) -> str:
    return value if _KIND.fullmatch(value) else "other"


class OperationLabels:
    """Operation names as label values: at most ``limit`` distinct ones, the rest OTHER.

    With ``shared`` (multiprocess mode), the bound holds for the instance: the
    workers admit names into one set, so two workers seeing different names
    still make at most ``limit`` labels between them.
    """

    def __init__(
        self,
        limit: int = MAX_OPERATION_NAMES,
        *,
        shared: SharedNames | None = None,
    ) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._shared = shared
        self._names = set() if shared is None else shared.names()
        self._full = len(self._names) >= limit

    def label(self, name: str | None) -> str:
        """The label value for operation ``name`` (None: anonymous)."""
        if name is None or name == OTHER or not _OPERATION_NAME.fullmatch(name):
            return OTHER
        with self._lock:
            if name in self._names:
                return name
            if self._full:
                return OTHER
            if self._shared is None:
                self._names.add(name)
                self._full = len(self._names) >= self.limit
                return name
            # Another worker may have admitted names since: the shared set decides.
            admitted, self._names = self._shared.admit(name)
            self._full = len(self._names) >= self.limit
            return name if admitted else OTHER


class _ProcessMetrics:
    """This worker's process metrics, as multiprocess gauges that add up over live workers.

    prometheus_client's ProcessCollector reports only the process that answers
    the scrape; each worker writes its own numbers here instead, at most once a
    PROCESS_SAMPLE_SECONDS, after a request or before a scrape.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self._reader = ProcessCollector(registry=None)
        self._gauges = {
            "process_resident_memory_bytes": Gauge(
                "process_resident_memory_bytes",
                "Resident memory of the live workers, in bytes.",
                multiprocess_mode="livesum",
                registry=registry,
            ),
            "process_virtual_memory_bytes": Gauge(
                "process_virtual_memory_bytes",
                "Virtual memory of the live workers, in bytes.",
                multiprocess_mode="livesum",
                registry=registry,
            ),
            "process_open_fds": Gauge(
                "process_open_fds",
                "Open file descriptors of the live workers.",
                multiprocess_mode="livesum",
                registry=registry,
            ),
            "process_start_time_seconds": Gauge(
                "process_start_time_seconds",
                "Start time of the oldest live worker, seconds since the epoch.",
                multiprocess_mode="livemin",
                registry=registry,
            ),
        }
        # A counter, so that workers that exit still count: the instance's CPU time.
        self._cpu = Counter(
            "process_cpu_seconds",
            "CPU time (user and system) spent by the instance's workers, in seconds.",
            registry=registry,
        )
        self._cpu_seen = 0.0
        self._sampled_at = -math.inf
        self._lock = threading.Lock()

    def sample(self, *, at_most_every: float = 0.0) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._sampled_at < at_most_every:
                return
            self._sampled_at = now
            for family in self._reader.collect():
                for sample in family.samples:
                    if sample.name == "process_cpu_seconds_total":
                        self._cpu.inc(max(sample.value - self._cpu_seen, 0.0))
                        self._cpu_seen = max(sample.value, self._cpu_seen)
                    elif sample.name in self._gauges:
                        self._gauges[sample.name].set(sample.value)


def _forget_dead_workers(directory: str) -> None:
    """Drop the live gauges of workers that exited, whichever server ran them."""
    pids = set()
    for path in glob.glob(os.path.join(directory, "gauge_live*_*.db")):
        suffix = Path(path).stem.rsplit("_", 1)[-1]
        if suffix.isdigit():
            pids.add(int(suffix))
    for pid in pids:
        if not pid_alive(pid):
            mark_process_dead(pid, directory)  # type: ignore[no-untyped-call] # untyped upstream


class Metrics:
    """Every metric of the service, and the scrape that reads them."""

    def __init__(
        self,
        *,
        multiprocess_dir: str | None = None,
        max_operation_names: int = MAX_OPERATION_NAMES,
    ) -> None:
        self.multiprocess_dir = multiprocess_dir
        self.registry = CollectorRegistry()
        # In multiprocess mode the names are the instance's, not this worker's: every
        # worker, recycled ones included, admits into one set of max_operation_names.
        shared = (
            SharedNames(Path(multiprocess_dir) / OPERATION_NAMES_DIR, max_operation_names)
            if multiprocess_dir
            else None
        )
        self.operations = OperationLabels(max_operation_names, shared=shared)
        labels = ("operation", "outcome")
        self.requests = Counter(
            REQUESTS, "GraphQL requests, by operation and outcome.", labels, registry=self.registry
        )
        self.latency = Histogram(
            "posts_api_graphql_request_duration_seconds",
            "GraphQL request latency, by operation and outcome, in seconds.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.cache = Counter(
            "posts_api_cache_requests",
            "Cache look-ups, by cache (posts, response) and result (hit, miss).",
            ("cache", "result"),
            registry=self.registry,
        )
        self.apq = Counter(
            "posts_api_persisted_queries",
            "Automatic persisted query look-ups, by result (hit, miss).",
            ("result",),
            registry=self.registry,
        )
        self.throttled = Counter(
            "posts_api_throttled",
            "Requests refused with RATE_LIMITED, by limit.",
            ("kind",),
            registry=self.registry,
        )
        self.db_errors = Counter(
            "posts_api_database_errors",
            "Database errors (unavailable) and transaction retries, by kind.",
            ("kind",),
            registry=self.registry,
        )
        # A gauge written by each worker and added up over the live ones, as the
        # process metrics: RSS growth is read against what the caches hold.
        self.cache_bytes = Gauge(
            "posts_api_cache_bytes",
            "Bytes held by each in-process cache (posts, response), over the live workers.",
            ("cache",),
            multiprocess_mode="livesum",
            registry=self.registry,
        )
        # Live updates: subscriptions open now (over the live workers) and events sent.
        self.streams_open = Gauge(
            "posts_api_streams_open",
            "postEvents subscriptions open, over the live workers.",
            multiprocess_mode="livesum",
            registry=self.registry,
        )
        self.stream_events = Counter(
            "posts_api_stream_events",
            "Post events delivered to subscriptions.",
            registry=self.registry,
        )
        self._caches_sampled_at = -math.inf
        for cache in ("posts", "response"):
            for result in ("hit", "miss"):
                self.cache.labels(cache, result)
        for result in ("hit", "miss"):
            self.apq.labels(result)
        if multiprocess_dir:
            self.process: _ProcessMetrics | None = _ProcessMetrics(self.registry)
        else:
            self.process = None
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
            GCCollector(registry=self.registry)

    def record_request(
        self, *, operation_name: str | None, outcome: str, duration_seconds: float
    ) -> None:
        """One GraphQL request served."""
        operation = self.operations.label(operation_name)
        code = outcome if _OUTCOME.fullmatch(outcome) else OTHER
        self.requests.labels(operation, code).inc()
        self.latency.labels(operation, code).observe(duration_seconds)
        if self.process is not None:
            self.process.sample(at_most_every=PROCESS_SAMPLE_SECONDS)
        self.sample_caches(at_most_every=PROCESS_SAMPLE_SECONDS)

    def sample_caches(self, *, at_most_every: float = 0.0) -> None:
        """Write what the watched caches hold now (at most once per ``at_most_every`` s)."""
        now = time.monotonic()
        if now - self._caches_sampled_at < at_most_every:
            return
        self._caches_sampled_at = now
        for cache, current_bytes in list(_watched_caches.items()):
            self.cache_bytes.labels(cache).set(current_bytes())

    def render(self) -> tuple[bytes, str]:
        """The exposition of every metric (of every worker) and its content type."""
        self.sample_caches()
        if self.multiprocess_dir is None or self.process is None:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        self.process.sample()
        _forget_dead_workers(self.multiprocess_dir)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
        PlatformCollector(registry=registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST


_metrics_lock = threading.Lock()
_metrics: Metrics | None = None
# Each cache's reading of its own bytes, by name (watch_cache).
_watched_caches: dict[str, Callable[[], int]] = {}


def get_metrics() -> Metrics:
    """The process's metrics, built on first use (at start-up, by the middleware)."""
    global _metrics  # noqa: PLW0603 - one set of metrics per process, as prometheus keeps
    if _metrics is None:
        with _metrics_lock:
            if _metrics is None:
                _metrics = Metrics(multiprocess_dir=os.environ.get(MULTIPROC_ENV) or None)
    return _metrics


def use_metrics(metrics: Metrics | None) -> Metrics | None:
    """Make ``metrics`` the process's metrics (None: build afresh on next use); returns the old."""
    global _metrics
    with _metrics_lock:
        previous, _metrics = _metrics, metrics
    return previous


def record_cache(cache: str, *, hit: bool) -> None:
    """A look-up in ``cache`` ("posts" or "response") hit or missed."""
    get_metrics().cache.labels(_kind(cache), "hit" if hit else "miss").inc()


def watch_cache(cache: str, current_bytes: Callable[[], int]) -> None:
    """Report ``current_bytes()`` as the bytes ``cache`` ("posts" or "response") holds
    (the cache built last under a name, when a test rebuilds one)."""
    _watched_caches[_kind(cache)] = current_bytes


def record_apq(*, hit: bool) -> None:
    """A persisted-query hash was found (hit) or not (miss)."""
    get_metrics().apq.labels("hit" if hit else "miss").inc()


def record_throttled(kind: str) -> None:
    """A request was refused with RATE_LIMITED by the limit ``kind`` (e.g. "login_failures")."""
    get_metrics().throttled.labels(_kind(kind)).inc()


def record_db_error(kind: str) -> None:
    """A database error or retry of kind ``kind`` (e.g. "unavailable", "retry")."""
    get_metrics().db_errors.labels(_kind(kind)).inc()


def record_streams_open(delta: int) -> None:
    """A subscription opened (+1) or ended (-1) in this process."""
    get_metrics().streams_open.inc(delta)


def record_stream_event() -> None:
    """One post event was delivered to one subscription."""
    get_metrics().stream_events.inc()
