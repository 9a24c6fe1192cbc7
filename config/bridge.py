"""The app as granian serves it: Django's WSGI app behind a body-buffering bridge (RSGI).

Why not granian's WSGI interface, or Django's own ASGI handler: granian hands a
WSGI app the request as soon as the headers are in and lets the app read the
body on a worker thread, with no read timeout; a client that stops part-way
through its body then holds that thread for as long as it keeps the
connection open. Django's ASGI handler reads the body without a size check and
runs every synchronous view of a process on one shared thread. So this bridge
(hand-written, for want of a maintained one that buffers) does what a
buffering proxy would, on the event loop where waiting costs no thread:

- a body whose Content-Length is over ``MAX_REQUEST_BYTES`` is answered 413
  at once, unread;
- a body is read into memory within ``BODY_READ_TIMEOUT_SECONDS`` (else 408),
  chunked ones too (up to the same cap, else 413), and only then is the
  request handed to a worker thread, with ``CONTENT_LENGTH`` set;
- granian itself bounds the request head (size: 431; time: the header read
  timeout) before any of this runs.

The app runs on a pool of ``THREADS`` threads per process; its response is
collected there and handed back to granian from the event loop, so a slow
reader does not hold a thread either.

It speaks RSGI, granian's own interface, rather than ASGI: measured on this
app, ASGI's per-message protocol cost about 0.3 ms more CPU per request than
WSGI, RSGI about half that (README, "The server").
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote_to_bytes

from django.conf import settings
from granian.rsgi import ProtocolClosed  # type: ignore[attr-defined] # re-exported, untyped

from config import readiness
from config.memory import release_free_memory
from config.wsgi import application as django_application
from schemas.errors import ErrorCode

log = logging.getLogger("config.bridge")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Response = tuple[int, list[tuple[str, str]], bytes]
JSON = ("content-type", "application/json")
# Bodies larger than this are sent in chunks of STREAM_CHUNK_BYTES (see __rsgi__).
STREAM_ABOVE_BYTES = 1024 * 1024
STREAM_CHUNK_BYTES = 256 * 1024


def error_body(message: str, code: ErrorCode, **extensions: object) -> bytes:
    """The contract's GraphQL error shape, for answers the bridge gives itself."""
    return json.dumps(
        {"errors": [{"message": message, "extensions": {"code": code.value, **extensions}}]}
    ).encode()


class _Refused(Exception):
    """A request the bridge answers itself, its body unread (or not all read)."""

    def __init__(self, status: int, message: str, code: ErrorCode, **extensions: object) -> None:
        super().__init__(message)
        self.status = status
        self.body = error_body(message, code, **extensions)


class _ClientGone(Exception):
    """The client went away before its body was complete."""


def _hostport(address: str) -> tuple[str, str]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), port


def environ_for(scope: Any, body: bytes) -> dict[str, Any]:
    """The PEP 3333 environ for an RSGI HTTP ``scope`` whose whole body is ``body``."""
    server_name, server_port = _hostport(scope.server)
    remote_addr, remote_port = _hostport(scope.client)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope.method,
        "SCRIPT_NAME": "",
        # WSGI strings are bytes decoded as latin-1 (PEP 3333, "Unicode issues");
        # PATH_INFO is percent-decoded, the query string is not.
        "PATH_INFO": unquote_to_bytes(scope.path).decode("latin-1"),
        "QUERY_STRING": scope.query_string,
        "SERVER_NAME": server_name,
        "SERVER_PORT": server_port,
        "SERVER_PROTOCOL": f"HTTP/{scope.http_version}",
        "REMOTE_ADDR": remote_addr,
        "REMOTE_PORT": remote_port,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name in scope.headers.keys():  # noqa: SIM118 - RSGI headers: a mapping-like, not a dict
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            environ[key] = scope.headers.get(name)
        elif key not in {"CONTENT_LENGTH", "TRANSFER_ENCODING"}:
            # The body is whole by now: its length is CONTENT_LENGTH above.
            environ[f"HTTP_{key}"] = ",".join(scope.headers.get_all(name))
    return environ


def run_wsgi(app: WSGIApp, environ: dict[str, Any]) -> Response:
    """Call ``app`` and collect its whole response (runs on a worker thread)."""
    started: list[Any] = []
    chunks: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        if exc_info is not None and started:
            raise exc_info[1].with_traceback(exc_info[2])
        started[:] = [status, headers]
        return chunks.append

    result = app(environ, start_response)
    try:
        chunks.extend(chunk for chunk in result if chunk)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    status, headers = started
    # Django answers with one chunk: no copy then.
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    return int(status.split(" ", 1)[0]), list(headers), body


class BufferedWSGIBridge:
    """An RSGI app that buffers each request body, bounded in size and time, then runs ``app``."""

    def __init__(
        self, app: WSGIApp, *, max_body_bytes: int, body_timeout: float, threads: int
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout
        self.threads = threads
        self._executor: ThreadPoolExecutor | None = None

    # granian calls these in each worker process, around serving.
    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="app")
        loop.run_until_complete(loop.run_in_executor(self._executor, readiness.warm_up))
        readiness.mark_worker_ready()

    def __rsgi_del__(self, _loop: asyncio.AbstractEventLoop) -> None:
        readiness.mark_worker_stopped()
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        if scope.proto != "http":
            return
        try:
            body = await self._read_body(scope, protocol)
        except _Refused as refusal:
            # The rest of the body is never read: the connection cannot be reused.
            headers = [JSON, ("connection", "close")]
            protocol.response_bytes(refusal.status, headers, refusal.body)
            return
        except _ClientGone:
            return
        loop = asyncio.get_running_loop()
        try:
            status, headers, content = await loop.run_in_executor(
                self._executor, run_wsgi, self.app, environ_for(scope, body)
            )
        except Exception:
            # Django turns its own errors into responses; this is the bridge failing.
            log.exception("request failed outside the application")
            message = "Internal server error"
            status, headers = 500, [JSON]
            content = error_body(message, ErrorCode.INTERNAL_SERVER_ERROR)
        if len(content) <= STREAM_ABOVE_BYTES:
            protocol.response_bytes(status, headers, content)
            return
        # granian copies a body it is handed whole: a 64 MiB getPosts would be held
        # twice until sent. Streamed, it is copied a chunk at a time, and a slow
        # reader holds only this coroutine (the Content-Length header still frames it).
        transport = protocol.response_stream(status, headers)
        for start in range(0, len(content), STREAM_CHUNK_BYTES):
            await transport.send_bytes(content[start : start + STREAM_CHUNK_BYTES])
        del content
        release_free_memory()

    async def _read_body(self, scope: Any, protocol: Any) -> bytes:
        limit = self.max_body_bytes
        too_large = (
            413,
            f"Request body is larger than {limit} bytes",
            ErrorCode.PAYLOAD_TOO_LARGE,
        )
        declared = scope.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise _Refused(400, "Invalid Content-Length", ErrorCode.BAD_USER_INPUT)
            if int(declared) > limit:
                raise _Refused(*too_large, maxBytes=limit)
        elif scope.headers.get("transfer-encoding") is None:
            return b""  # no body (hyper has framed the request already)
        try:
            # One deadline for the whole body (asyncio.timeout: a timer, no task per read).
            async with asyncio.timeout(self.body_timeout):
                if declared is None:
                    return await _read_chunked(protocol, limit, too_large)
                # A declared length, within the cap: read whole in one call (hyper stops
                # at the length). Measured: about 35 us less server CPU per request
                # than a read chunk by chunk.
                body: bytes = await protocol()
        except TimeoutError:
            raise _Refused(
                408,
                f"The request body did not arrive within {self.body_timeout:g} seconds",
                ErrorCode.BAD_USER_INPUT,
            ) from None
        except ProtocolClosed:
            raise _ClientGone from None
        if len(body) < int(declared):
            raise _ClientGone
        return body


async def _read_chunked(protocol: Any, limit: int, too_large: tuple[int, str, ErrorCode]) -> bytes:
    """A chunked body, chunk by chunk, refused (413) as soon as it passes ``limit``."""
    parts: list[bytes] = []
    size = 0
    async for chunk in protocol:
        size += len(chunk)
        if size > limit:
            raise _Refused(*too_large, maxBytes=limit)
        parts.append(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)


application = BufferedWSGIBridge(
    django_application,
    max_body_bytes=int(settings.MAX_REQUEST_BYTES),
    body_timeout=float(settings.BODY_READ_TIMEOUT_SECONDS),
    threads=int(settings.SERVER_THREADS),
)
