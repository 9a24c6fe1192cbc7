"""ASGI entry point for granian: Django's WSGI app behind a body-buffering bridge.

Why not granian's WSGI interface, or Django's own ASGI handler: granian hands a
WSGI app the request as soon as the headers are in and lets the app read the
body on a worker thread, with no read timeout; a client that stops part-way
through its body then holds that thread for as long as it keeps the
connection open. Django's ASGI handler reads the body without a size check and
runs every synchronous view of a process on one shared thread. So this bridge
(hand-written, about a hundred lines, for want of a maintained one that
buffers) does what a buffering proxy would, on the event loop where waiting
costs no thread:

- a body whose Content-Length is over ``MAX_REQUEST_BYTES`` is answered 413
  at once, unread;
- a body is read into memory within ``BODY_READ_TIMEOUT_SECONDS`` (else 408),
  chunked ones too (then up to the same cap, else 413), and only then is the
  request handed to a worker thread, with ``CONTENT_LENGTH`` set;
- granian itself bounds the headers (size: 431; time: the header read
  timeout) before any of this runs.

The app runs on a pool of ``THREADS`` threads per process; its response is
collected on that thread and sent from the event loop, so a slow reader does
not hold a thread either.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings

from config import readiness
from config.wsgi import application as django_application
from schemas.errors import ErrorCode

log = logging.getLogger("config.asgi")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _Refused(Exception):
    """A request the bridge answers itself (status, message, code, extensions)."""

    def __init__(self, status: int, message: str, code: ErrorCode, **extensions: object) -> None:
        super().__init__(message)
        self.status = status
        self.body = json.dumps(
            {"errors": [{"message": message, "extensions": {"code": code.value, **extensions}}]}
        ).encode()


class _ClientGone(Exception):
    """The client disconnected before its body was complete."""


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return bytes(value)
    return None


def _environ(scope: Scope, body: bytes) -> dict[str, Any]:
    """The WSGI environ for ``scope`` (the ASGI spec's "WSGI Compatibility" section)."""
    server = scope.get("server") or ("127.0.0.1", 80)
    client = scope.get("client") or ("", 0)
    root_path = scope.get("root_path", "")
    path = scope["path"]
    if root_path and path.startswith(root_path):
        path = path[len(root_path) :]
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        # WSGI strings are bytes decoded as latin-1 (PEP 3333, "Unicode issues").
        "SCRIPT_NAME": root_path.encode("utf-8").decode("latin-1"),
        "PATH_INFO": path.encode("utf-8").decode("latin-1"),
        "QUERY_STRING": bytes(scope.get("query_string", b"")).decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "REMOTE_ADDR": str(client[0]),
        "REMOTE_PORT": str(client[1]),
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for raw_name, raw_value in scope["headers"]:
        name = bytes(raw_name).decode("latin-1").upper().replace("-", "_")
        value = bytes(raw_value).decode("latin-1")
        if name == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
        elif name in {"CONTENT_LENGTH", "TRANSFER_ENCODING"}:
            continue  # the body is whole by now: its length is CONTENT_LENGTH above
        else:
            key = f"HTTP_{name}"
            environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


def _run_wsgi(
    app: WSGIApp, environ: dict[str, Any]
) -> tuple[int, list[tuple[bytes, bytes]], list[bytes]]:
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
    return (
        int(status.split(" ", 1)[0]),
        [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers],
        chunks,
    )


class BufferedWSGIBridge:
    """An ASGI app that buffers each request body, bounded in size and time, then runs ``app``."""

    def __init__(
        self,
        app: WSGIApp,
        *,
        max_body_bytes: int,
        body_timeout: float,
        threads: int,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout
        self.threads = threads
        self._executor: ThreadPoolExecutor | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await asyncio.get_running_loop().run_in_executor(
                        self._pool(), readiness.warm_up
                    )
                except Exception as exc:  # startup fails whole: granian stops the worker
                    log.exception("worker start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                readiness.mark_worker_ready()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                readiness.mark_worker_stopped()
                if self._executor is not None:
                    self._executor.shutdown(wait=True)
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _pool(self) -> ThreadPoolExecutor:
        # Created in the worker process (not before granian starts its workers).
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="app")
        return self._executor

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body = await self._read_body(scope, receive)
        except _Refused as refusal:
            await send(
                {
                    "type": "http.response.start",
                    "status": refusal.status,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(refusal.body)).encode()),
                        # The rest of the body is never read: the connection cannot be reused.
                        (b"connection", b"close"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": refusal.body})
            return
        except _ClientGone:
            return
        loop = asyncio.get_running_loop()
        try:
            status, headers, chunks = await loop.run_in_executor(
                self._pool(), _run_wsgi, self.app, _environ(scope, body)
            )
        except Exception:
            # Django turns its own errors into responses; this is the bridge failing.
            log.exception("request failed outside the application")
            status, headers, chunks = _internal_error()
        del body
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if scope["method"] == "HEAD":
            chunks = []
        for index, chunk in enumerate(chunks):
            await send(
                {"type": "http.response.body", "body": chunk, "more_body": index < len(chunks) - 1}
            )
        if not chunks:
            await send({"type": "http.response.body", "body": b""})

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        declared = _header(scope, b"content-length")
        limit = self.max_body_bytes
        if declared is not None:
            if not declared.isdigit():
                raise _Refused(400, "Invalid Content-Length", ErrorCode.BAD_USER_INPUT)
            if int(declared) > limit:
                raise _Refused(
                    413,
                    f"Request body is larger than {limit} bytes",
                    ErrorCode.PAYLOAD_TOO_LARGE,
                    maxBytes=limit,
                )
        parts: list[bytes] = []
        size = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.body_timeout
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0))
            except TimeoutError:
                raise _Refused(
                    408,
                    f"The request body did not arrive within {self.body_timeout:g} seconds",
                    ErrorCode.BAD_USER_INPUT,
                ) from None
            if message["type"] == "http.disconnect":
                raise _ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:  # a chunked body (a declared length was checked above)
                raise _Refused(
                    413,
                    f"Request body is larger than {limit} bytes",
                    ErrorCode.PAYLOAD_TOO_LARGE,
                    maxBytes=limit,
                )
            if chunk:
                parts.append(chunk)
            if not message.get("more_body", False):
                return parts[0] if len(parts) == 1 else b"".join(parts)


def _internal_error() -> tuple[int, list[tuple[bytes, bytes]], list[bytes]]:
    body = json.dumps(
        {
            "errors": [
                {
                    "message": "Internal server error",
                    "extensions": {"code": ErrorCode.INTERNAL_SERVER_ERROR.value},
                }
            ]
        }
    ).encode()
    return 500, [(b"content-type", b"application/json")], [body]


application = BufferedWSGIBridge(
    django_application,
    max_body_bytes=int(settings.MAX_REQUEST_BYTES),
    body_timeout=float(settings.BODY_READ_TIMEOUT_SECONDS),
    threads=int(settings.SERVER_THREADS),
)
