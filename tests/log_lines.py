"""Log lines exactly as the service writes them, in both formats (text and JSON), for tests."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from observability.logs import ACCESS_LOGGER, JsonLogFormatter, RequestIdFilter, TextLogFormatter


@dataclass
class LogLines:
    """What the console handler would print, once as text and once as JSON."""

    text_stream: io.StringIO
    json_stream: io.StringIO

    def text(self) -> list[str]:
        return self.text_stream.getvalue().splitlines()

    def json(self) -> list[dict[str, Any]]:
        """Every JSON line, parsed (fails if a line is not one JSON object)."""
        records = []
        # Every line is one whole JSON object: even a traceback stays inside its line.
        for line in self.json_stream.getvalue().splitlines():
            record = json.loads(line)
            assert isinstance(record, dict), line
            records.append(record)
        return records

    def access(self) -> list[dict[str, Any]]:
        """The JSON access lines."""
        return [record for record in self.json() if record["logger"] == ACCESS_LOGGER]

    def all_text(self) -> str:
        return self.text_stream.getvalue() + self.json_stream.getvalue()


@contextmanager
def capture_log_lines(*loggers: logging.Logger) -> Iterator[LogLines]:
    """Format every record reaching the root (and ``loggers``) as text and as JSON."""
    lines = LogLines(text_stream=io.StringIO(), json_stream=io.StringIO())
    handlers = []
    for stream, formatter in (
        (lines.text_stream, TextLogFormatter()),
        (lines.json_stream, JsonLogFormatter()),
    ):
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatter)
        handler.addFilter(RequestIdFilter())
        handlers.append(handler)
    targets = (logging.getLogger(), *loggers)
    for logger in targets:
        for handler in handlers:
            logger.addHandler(handler)
    try:
        yield lines
    finally:
        for logger in targets:
            for handler in handlers:
                logger.removeHandler(handler)
