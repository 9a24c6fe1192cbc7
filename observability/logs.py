"""Log lines: the request id on every record, text or JSON (python-json-logger) output.

``logging_config`` is the ``LOGGING`` dict of the settings. Every line has the
time, level, logger, message and request id; the access line
(``posts_api.access``) adds the fields of ``ACCESS_FIELDS``. A JSON line carries
those keys and nothing else: whatever else a library hangs on a record (Django's
``request`` object, with its query string) stays out of the logs.
"""

from __future__ import annotations

import logging
from typing import Any

from pythonjsonlogger.orjson import OrjsonFormatter

from observability.context import current_request_id

LOG_FORMATS = ("json", "text")
ACCESS_LOGGER = "posts_api.access"
ACCESS_FIELDS = (
    "method",
    "path",
    "status",
    "duration_ms",
    "operation_name",
    "operation_type",
    "user_id",
    "outcome",
    "trace_id",
)
_BASE_FIELDS = ("time", "level", "logger", "message", "request_id")
_JSON_FIELDS = (*_BASE_FIELDS, *ACCESS_FIELDS, "exc_info", "stack_info")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def printable(text: str, limit: int = 256) -> str:
    """``text`` cut to ``limit`` characters, control and other unprintable ones escaped.

    For client-chosen strings (a path, an operation name) in a text log line: a
    newline in them must not start a forged line.
    """
    text = text[:limit]
    if text.isprintable() and "\\" not in text:
        return text
    return text.encode("unicode_escape").decode("ascii")


def lean_records() -> None:
    """Leave out of every log record what no format here prints: the caller's file,
    line and function, and the thread and process names (the logging HOWTO,
    "Optimization"); docs/adr/0010 has what it saves."""
    logging._srcfile = None  # the documented switch
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


class RequestIdFilter(logging.Filter):
    """Sets ``record.request_id`` to the id of the request being served (``-`` outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = current_request_id()
        if request_id != "-" or not hasattr(record, "request_id"):
            record.request_id = request_id
        return True


class TextLogFormatter(logging.Formatter):
    """One human-readable line: time, level, logger, [request id], message."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT, defaults={"request_id": "-"})


class JsonLogFormatter(OrjsonFormatter):
    """One JSON object per line, with a fixed set of keys, ``time`` (UTC, ISO 8601) first.

    python-json-logger's orjson flavour, cheaper than the json module's for the
    access line of every request (docs/adr/0010); UTF-8 is written as is, not
    escaped to ASCII.
    """

    def __init__(self) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(message)s %(request_id)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
        )

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        kept = {key: log_data[key] for key in _JSON_FIELDS if key in log_data}
        kept["request_id"] = kept.get("request_id") or "-"
        return kept


def logging_config(*, log_format: str, level: str) -> dict[str, Any]:
    """The dictConfig for ``log_format`` (one of LOG_FORMATS) at root level ``level``."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log_format must be one of {LOG_FORMATS}, not {log_format!r}")
    formatter = JsonLogFormatter if log_format == "json" else TextLogFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"default": {"()": formatter}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django logs 4xx with the request path only; keep it quiet below errors.
            "django.request": {"level": "ERROR"},
            # runserver's own access line (make dev): ours is posts_api.access.
            "django.server": {"level": "ERROR"},
        },
    }
