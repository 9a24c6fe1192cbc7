"""Request state and log formatting."""

from __future__ import annotations

import io
import json
import logging
import threading

import pytest

from observability.context import annotate, begin, current, end, request_id_from
from observability.logs import (
    ACCESS_FIELDS,
    JsonLogFormatter,
    RequestIdFilter,
    logging_config,
    printable,
)

# Request state


@pytest.mark.parametrize("safe", ["a", "A-z_0.9", "x" * 128, "0123456789abcdef"])
def test_a_safe_request_id_is_kept(safe: str) -> None:
    assert request_id_from(safe) == safe


@pytest.mark.parametrize("unsafe", [None, "", "x" * 129, "a b", "a\nb", "é", "a/b", "<script>"])
def test_an_unsafe_request_id_is_replaced(unsafe: str | None) -> None:
    fresh = request_id_from(unsafe)
    assert fresh != unsafe
    assert len(fresh) == 32
    assert int(fresh, 16) >= 0


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
