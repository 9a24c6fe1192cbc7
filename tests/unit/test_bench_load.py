"""The benchmark's load: req/s counted over the time every thread was sending, latency
from wrk or per kind, one wrk thread per core."""

from __future__ import annotations

import os
from typing import Any

import pytest

from bench.load import summarise, wrk_threads


def _thread(first_us: float, done_us: list[float]) -> dict[str, Any]:
    return {
        "exhausted": 0,
        "fallbacks": 0,
        "apq_registrations": 0,
        "first_us": first_us,
        "samples": [],
        "kinds": {
            "getPosts": {
                "n": len(done_us),
                "failed": 0,
                "non2xx": 0,
                "errors": 0,
                "apq_misses": 0,
                "codes": {},
                "latency_us": [100.0] * len(done_us),
                "done_us": done_us,
            }
        },
    }


def _raw(threads: list[dict[str, Any]], duration_us: float) -> dict[str, Any]:
    requests = sum(t["kinds"]["getPosts"]["n"] for t in threads)
    return {
        "duration_us": duration_us,
        "requests": requests,
        "bytes": 0,
        "latency_us": {"p50": 100, "p90": 100, "p99": 100, "max": 100},
        "socket_errors": {"connect": 0, "read": 0, "write": 0, "timeout": 0, "status": 0},
        "threads": threads,
    }


def test_answers_before_the_last_connection_started_do_not_count() -> None:
    """One thread sends for 2 s while wrk sets up the second (wrk's clock not yet
    running), then both send for 1 s at 1,000 answers a second each."""
    early = [i * 1000.0 for i in range(3000)]  # 0 to 3 s, one answer a millisecond
    late = [2_000_000 + i * 1000.0 for i in range(1, 1001)]  # 2 to 3 s
    summary = summarise(_raw([_thread(0.0, early), _thread(2_000_000.0, late)], 1_000_000))
    assert summary["requests"] == 4000  # every answer is still counted (CPU per answer)
    assert summary["seconds"] == 1.0
    assert 1990 <= summary["rps"] <= 2010  # not 4,000 a second over wrk's 1 s
    assert 1990 <= summary["kinds"]["getPosts"]["rps"] <= 2010


def test_without_timestamps_wrk_duration_is_used() -> None:
    thread = _thread(-1, [])
    thread["kinds"]["getPosts"].update(n=500, latency_us=[100.0] * 500)
    summary = summarise(_raw([thread], 2_000_000))
    assert summary["rps"] == 250.0


def test_a_one_kind_case_takes_its_latency_from_wrks_histogram() -> None:
    # rotate cases keep no latency per request (bench/wrk/graphql.lua): wrk's own.
    thread = _thread(0.0, [1000.0 * i for i in range(1, 101)])
    thread["kinds"]["getPosts"]["latency_us"] = []
    raw = _raw([thread], 100_000)
    raw["latency_us"] = {"p50": 2500, "p90": 4000, "p99": 9000, "max": 12000, "min": 1, "mean": 3}
    kind = summarise(raw)["kinds"]["getPosts"]
    assert (kind["p50_ms"], kind["p99_ms"]) == (2.5, 9.0)


def test_a_mixed_case_reports_each_kinds_own_latency() -> None:
    thread = _thread(0.0, [1000.0, 2000.0])
    thread["kinds"]["addPost"] = {**thread["kinds"]["getPosts"], "latency_us": [7000.0, 7000.0]}
    raw = _raw([thread], 2_000)
    raw["latency_us"] = {"p50": 100, "p90": 100, "p99": 100, "max": 100}
    kinds = summarise(raw)["kinds"]
    assert kinds["addPost"]["p99_ms"] == 7.0
    assert kinds["getPosts"]["p99_ms"] == 0.1


@pytest.mark.parametrize(("cores", "connections", "threads"), [(2, 16, 2), (2, 1, 1), (8, 4, 4)])
def test_wrk_runs_one_thread_per_core_at_most_one_per_connection(
    monkeypatch: pytest.MonkeyPatch, cores: int, connections: int, threads: int
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    assert wrk_threads(connections) == threads
