"""Request state, log formatting, bounded metric labels and the multiprocess metrics directory."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from observability.context import annotate, begin, current, end, request_id_from
from observability.logs import (
    ACCESS_FIELDS,
    JsonLogFormatter,
    RequestIdFilter,
    lean_records,
    logging_config,
    printable,
)
from observability.metrics import MAX_OPERATION_NAMES, OTHER, Metrics, OperationLabels
from observability.multiproc import (
    MetricsDirInUse,
    SharedNames,
    claim_multiprocess_dir,
    prepare_multiprocess_dir,
)

ROOT = Path(__file__).resolve().parents[2]

# Request state


@pytest.mark.parametrize("safe", ["a", "A-z_0.9", "x" * 128, "0123456789abcdef"])
def test_a_safe_request_id_is_kept(safe: str) -> None:
    assert request_id_from(safe) == safe


@pytest.mark.parametrize("unsafe", [None, "", "x" * 129, "a b", "a\nb", "é", "a/b", "<script>"])
def test_an_unsafe_request_id_is_replaced(unsafe: str | None) -> None:
    fresh = request_id_from(unsafe)
    assert re.fullmatch(r"[0-9a-f]{32}", fresh), fresh
    assert request_id_from(unsafe) != fresh  # a new one each time, not a fixed stand-in


def test_annotate_changes_only_what_it_is_given() -> None:
    token = begin("req-1")
    try:
        annotate(operation_name="GetPosts", operation_type="query")
        annotate(user_id=7)
        annotate(outcome="OK")
        annotate(operation_name=None)
        state = current()
        assert (state.request_id, state.operation_name, state.operation_type) == (
            "req-1",
            None,
            "query",
        )
        assert (state.user_id, state.outcome) == (7, "OK")
    finally:
        end(token)


def test_annotate_outside_a_request_does_nothing() -> None:
    annotate(operation_name="Ghost", user_id=1)
    assert current().request_id == "-"
    assert current().operation_name is None
    assert current().user_id is None


def test_each_thread_sees_its_own_request() -> None:
    seen: dict[str, tuple[str, int | None]] = {}
    barrier = threading.Barrier(4)

    def serve(name: str) -> None:
        token = begin(name)
        try:
            annotate(user_id=int(name[-1]))
            barrier.wait()  # all four requests are in flight at once
            state = current()
            seen[name] = (state.request_id, state.user_id)
        finally:
            end(token)

    threads = [threading.Thread(target=serve, args=(f"req-{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {f"req-{n}": (f"req-{n}", n) for n in range(4)}
    assert current().request_id == "-"


# Log lines


def _json_line(record: logging.LogRecord) -> dict[str, object]:
    RequestIdFilter().filter(record)
    parsed: dict[str, object] = json.loads(JsonLogFormatter().format(record))
    return parsed


def test_a_json_line_has_the_base_fields_and_nothing_it_was_not_meant_to() -> None:
    record = logging.LogRecord("gql.errors", logging.WARNING, __file__, 1, "hello %s", ("x",), None)
    record.request = "<WSGIRequest: GET '/graphql?token=secret-in-query'>"
    record.password = "hunter2-hunter2"
    record.status_code = 500
    token = begin("req-json")
    try:
        line = _json_line(record)
    finally:
        end(token)
    assert line == {
        "time": line["time"],
        "level": "WARNING",
        "logger": "gql.errors",
        "message": "hello x",
        "request_id": "req-json",
    }
    assert str(line["time"]).endswith("+00:00")


def test_a_json_access_line_keeps_the_access_fields() -> None:
    record = logging.LogRecord("posts_api.access", logging.INFO, __file__, 1, "GET /", (), None)
    for field in ACCESS_FIELDS:
        setattr(record, field, f"value-{field}")
    line = _json_line(record)
    assert {field: line[field] for field in ACCESS_FIELDS} == {
        field: f"value-{field}" for field in ACCESS_FIELDS
    }
    assert line["request_id"] == "-"


def test_printable_escapes_what_could_forge_a_line() -> None:
    assert printable("/graphql") == "/graphql"
    assert printable("/a\nb\rc\x1b[31m") == "/a\\nb\\rc\\x1b[31m"
    assert "\n" not in printable("x\u2028y")
    assert printable("a\\nb") == "a\\\\nb"  # a literal backslash-n stays distinguishable
    assert len(printable("x" * 1000)) == 256


def test_an_unknown_log_format_is_refused() -> None:
    with pytest.raises(ValueError, match="log_format"):
        logging_config(log_format="xml", level="INFO")


def test_the_configured_console_writes_json_when_asked() -> None:
    config = logging_config(log_format="json", level="INFO")
    stream = io.StringIO()
    formatter = config["formatters"]["default"]["()"]()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(config["filters"]["request_id"]["()"]())
    logger = logging.getLogger("tests.unit.json")
    logger.addHandler(handler)
    try:
        logger.warning("one line")
    finally:
        logger.removeHandler(handler)
    assert json.loads(stream.getvalue())["message"] == "one line"


def _access_lines(log_format: str) -> list[str]:
    """One access line through the configured console, as the server writes it."""
    config = logging_config(log_format=log_format, level="INFO")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(config["formatters"]["default"]["()"]())
    handler.addFilter(config["filters"]["request_id"]["()"]())
    logger = logging.getLogger("tests.unit.lean")
    logger.addHandler(handler)
    token = begin("req-lean")
    try:
        logger.warning("POST /graphql 200", extra=dict.fromkeys(ACCESS_FIELDS, "x"))
    finally:
        end(token)
        logger.removeHandler(handler)
    return stream.getvalue().splitlines()


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_lean_records_leave_every_line_as_it_was(log_format: str) -> None:
    """config/wsgi.py leaves the caller's frame and the thread and process names out
    of the server's records: no format prints them, so no line changes."""
    saved = (logging._srcfile, logging.logThreads, logging.logProcesses)  # type: ignore[attr-defined]
    saved_multiprocessing = logging.logMultiprocessing
    full = _access_lines(log_format)
    lean_records()
    try:
        record = logging.getLogger("tests.unit.lean").makeRecord(
            "x", logging.INFO, "(unknown file)", 0, "m", (), None
        )
        assert record.threadName is None
        assert record.processName is None
        lean = _access_lines(log_format)
    finally:
        logging._srcfile, logging.logThreads, logging.logProcesses = saved  # type: ignore[attr-defined]
        logging.logMultiprocessing = saved_multiprocessing

    def without_time(line: str) -> str:
        if log_format == "json":
            return json.dumps({**json.loads(line), "time": None})
        return line.split(" ", 2)[2]  # the date and time come first

    assert [without_time(line) for line in lean] == [without_time(line) for line in full]
    assert "req-lean" in lean[0]


# Bounded labels


def test_a_thousand_operation_names_make_at_most_the_bound_plus_one_label() -> None:
    labels = OperationLabels()
    values = {labels.label(f"Operation{n}") for n in range(1000)}
    assert len(values) == MAX_OPERATION_NAMES + 1
    assert OTHER in values
    assert labels.label("Operation5") == "Operation5"  # admitted names keep their label
    assert labels.label("Operation999") == OTHER


@pytest.mark.parametrize(
    "name",
    [None, "", "1stOperation", "has space", "x" * 65, "Ünïcode", 'a"} evil{b="c', "a\nb", "a-b"],
)
def test_anonymous_and_odd_operation_names_share_the_other_label(name: str | None) -> None:
    assert OperationLabels().label(name) == OTHER


def _series(metrics: Metrics, family_name: str) -> set[tuple[tuple[str, str], ...]]:
    return {
        tuple(sorted(sample.labels.items()))
        for family in metrics.registry.collect()
        if family.name == family_name
        for sample in family.samples
    }


def test_a_client_sending_a_thousand_names_cannot_explode_the_series() -> None:
    metrics = Metrics()
    for n in range(1000):
        metrics.record_request(operation_name=f"Flood{n}", outcome="OK", duration_seconds=0.01)
        metrics.record_request(
            operation_name=f"Flood{n}", outcome=f"CODE{n}", duration_seconds=0.01
        )
        metrics.record_request(operation_name=None, outcome="a bad code", duration_seconds=0.01)
    operations = {
        dict(labels)["operation"] for labels in _series(metrics, "posts_api_graphql_requests")
    }
    assert len(operations) == MAX_OPERATION_NAMES + 1
    counted = [
        s
        for family in metrics.registry.collect()
        if family.name == "posts_api_graphql_requests"
        for s in family.samples
        if s.name.endswith("_total")
    ]
    assert sum(s.value for s in counted) == 3000
    # Outcomes are codes from the code, but a malformed one still cannot add series freely.
    assert metrics.registry.get_sample_value(
        "posts_api_graphql_requests_total", {"operation": OTHER, "outcome": OTHER}
    ) == pytest.approx(1000)


def test_recording_functions_fold_odd_kinds() -> None:
    metrics = Metrics()
    metrics.throttled.labels("login_failures").inc()
    from observability import metrics as module

    previous = module.use_metrics(metrics)
    try:
        module.record_throttled("Weird Kind!")
        module.record_db_error("retry")
        module.record_apq(hit=False)
        module.record_cache("response", hit=True)
    finally:
        module.use_metrics(previous)
    get = metrics.registry.get_sample_value
    assert get("posts_api_throttled_total", {"kind": "other"}) == 1
    assert get("posts_api_database_errors_total", {"kind": "retry"}) == 1
    assert get("posts_api_persisted_queries_total", {"result": "miss"}) == 1
    assert get("posts_api_cache_requests_total", {"cache": "response", "result": "hit"}) == 1


# The multiprocess directory


def test_metrics_are_off_without_metrics_enabled(tmp_path: Path) -> None:
    assert prepare_multiprocess_dir(tmp_path / "run", environ={}) == {}
    assert prepare_multiprocess_dir(tmp_path / "run", environ={"METRICS_ENABLED": "0"}) == {}
    assert not (tmp_path / "run").exists()


def test_the_metrics_dir_is_private_and_fresh(tmp_path: Path) -> None:
    runtime = tmp_path / "run"
    (runtime / "metrics").mkdir(parents=True)
    (runtime / "metrics" / "counter_999999.db").write_bytes(b"stale")
    claimed = claim_multiprocess_dir(runtime)
    try:
        assert claimed.path == runtime / "metrics"
        assert claimed.env == {"PROMETHEUS_MULTIPROC_DIR": str(runtime / "metrics")}
        assert list(claimed.path.iterdir()) == []
        assert oct(claimed.path.stat().st_mode & 0o777) == "0o700"
    finally:
        claimed.release()


def test_two_instances_neither_share_nor_wipe_each_others_metrics(tmp_path: Path) -> None:
    first = claim_multiprocess_dir(tmp_path / "instance-a")
    try:
        (first.path / "counter_1234.db").write_bytes(b"first instance's numbers")
        second = claim_multiprocess_dir(tmp_path / "instance-b")
        try:
            assert second.path != first.path
            assert (first.path / "counter_1234.db").read_bytes() == b"first instance's numbers"
        finally:
            second.release()
        # Pointed at the same runtime directory by mistake: refused, nothing wiped.
        with pytest.raises(MetricsDirInUse, match="POSTS_RUNTIME_DIR"):
            claim_multiprocess_dir(tmp_path / "instance-a")
        assert (first.path / "counter_1234.db").exists()
    finally:
        first.release()
    # Once the first instance is gone, its directory can be reused (and is wiped).
    again = claim_multiprocess_dir(tmp_path / "instance-a")
    try:
        assert list(again.path.iterdir()) == []
    finally:
        again.release()


def test_the_launcher_stops_with_one_line_when_the_runtime_dir_is_taken(tmp_path: Path) -> None:
    first = claim_multiprocess_dir(tmp_path / "run")
    try:
        with pytest.raises(SystemExit) as stopped:
            prepare_multiprocess_dir(tmp_path / "run", environ={"METRICS_ENABLED": "1"})
        assert "another running instance" in str(stopped.value)
        assert "\n" not in str(stopped.value)
    finally:
        first.release()
    env = prepare_multiprocess_dir(tmp_path / "run", environ={"METRICS_ENABLED": "true"})
    assert env == {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "run" / "metrics")}


def test_without_a_runtime_dir_each_instance_gets_its_own_temporary_one() -> None:
    first = claim_multiprocess_dir(None)
    second = claim_multiprocess_dir(None)
    try:
        assert first.path != second.path
        assert first.path.is_dir()
        assert second.path.is_dir()
    finally:
        first.release()
        second.release()


# Multiprocess mode, in real processes (prometheus_client picks the mode at import).

_WORKER = """
import sys
from observability.metrics import get_metrics
metrics = get_metrics()
assert metrics.multiprocess_dir, "not in multiprocess mode"
prefix, count = sys.argv[1], int(sys.argv[2])
for n in range(count):
    metrics.record_request(operation_name=f"{prefix}{n}", outcome="OK", duration_seconds=0.01)
metrics.cache.labels("posts", "hit").inc()
if len(sys.argv) > 3:
    sys.stdout.write(metrics.render()[0].decode())
"""


def _worker(directory: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", _WORKER, *args],
        cwd=ROOT,
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_metrics_of_several_processes_add_up_and_names_stay_bounded_across_restarts(
    tmp_path: Path,
) -> None:
    claimed = claim_multiprocess_dir(tmp_path / "run")
    try:
        _worker(claimed.path, "First", "150")  # a worker that exited
        _worker(claimed.path, "Second", "150")  # a recycled worker: no new names left
        exposition = _worker(claimed.path, "Third", "5", "render")
    finally:
        claimed.release()
    families = {f.name: f for f in text_string_to_metric_families(exposition)}
    requests = [
        s for s in families["posts_api_graphql_requests"].samples if s.name.endswith("_total")
    ]
    assert sum(s.value for s in requests) == 305
    operations = {s.labels["operation"] for s in requests}
    assert len(operations) == MAX_OPERATION_NAMES + 1
    assert not any(name.startswith(("Second", "Third")) for name in operations)
    hits = [
        s
        for s in families["posts_api_cache_requests"].samples
        if s.labels
        == {
            "cache": "posts",
            "result": "hit",
        }
    ]
    assert [s.value for s in hits] == [3]
    for name in ("process_resident_memory_bytes", "process_cpu_seconds", "python_info"):
        assert name in families, name
    [rss] = families["process_resident_memory_bytes"].samples
    assert rss.value > 0
    # The exited workers' live gauges were dropped at the scrape; their counters stay.
    live_pids = {path.stem.rsplit("_", 1)[1] for path in claimed.path.glob("gauge_live*.db")}
    assert len(live_pids) == 1
    assert len(list(claimed.path.glob("counter_*.db"))) == 3


def test_workers_running_side_by_side_share_one_bound_on_operation_names(
    tmp_path: Path,
) -> None:
    # Two live workers, each seeing its own 150 names: the instance's bound is the
    # README's 100 names (and __other__), not 100 a worker.
    claimed = claim_multiprocess_dir(tmp_path / "run")
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(claimed.path)}
    try:
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", _WORKER, prefix, "150"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for prefix in ("Left", "Right")
        ]
        for worker in workers:
            _, errors = worker.communicate(timeout=60)
            assert worker.returncode == 0, errors
        exposition = _worker(claimed.path, "Late", "5", "render")
    finally:
        claimed.release()
    requests = [
        sample
        for family in text_string_to_metric_families(exposition)
        if family.name == "posts_api_graphql_requests"
        for sample in family.samples
        if sample.name.endswith("_total")
    ]
    assert sum(sample.value for sample in requests) == 305
    operations = {sample.labels["operation"] for sample in requests}
    assert len(operations) == MAX_OPERATION_NAMES + 1
    assert not any(name.startswith("Late") for name in operations)


def test_a_name_one_worker_admitted_keeps_its_label_in_the_others(tmp_path: Path) -> None:
    names = tmp_path / "operation_names"
    first = OperationLabels(shared=SharedNames(names, MAX_OPERATION_NAMES))
    second = OperationLabels(shared=SharedNames(names, MAX_OPERATION_NAMES))
    labels = set()
    for n in range(150):
        labels.add(first.label(f"First{n}"))
        labels.add(second.label(f"Second{n}"))
    assert len(labels) == MAX_OPERATION_NAMES + 1
    assert second.label("First0") == "First0"
    assert first.label("Second0") == "Second0"
    assert first.label("Second149") == second.label("First149") == OTHER
    # A worker started later (a recycled one) finds the set full: no new names.
    late = OperationLabels(shared=SharedNames(names, MAX_OPERATION_NAMES))
    assert (late.label("First1"), late.label("Late0")) == ("First1", OTHER)


def test_the_other_label_is_never_taken_for_an_operation_name() -> None:
    labels = OperationLabels(limit=1)
    assert labels.label(OTHER) == OTHER
    assert labels.label("Real") == "Real"
