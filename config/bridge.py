"""The app as granian serves it: Django's WSGI app behind a body-buffering bridge (ASGI).

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
- a request head (request line and headers) over ``MAX_HEAD_BYTES`` is
  answered 431 in the contract's JSON shape, its body unread; granian itself
  bounds the head in time (the header read timeout) and, past its own buffer
  (config/serve.py), in size, with an empty 431 of its own.

The app runs on ``THREADS`` threads per process; a response is handed to granian
by the thread that made it (config/granian_compat.py says how), so the event
loop is not woken for it and a slow reader holds no thread.

A response over ``LARGE_ABOVE_BYTES`` goes back to the event loop instead, which
sends it in chunks: granian's ASGI stream holds a few chunks and waits for the
client to take them (backpressure), so a slow reader holds the rest of its
response in the bridge, counted. A worker holds at most ``RESPONSE_BUFFER_MAX_BYTES``
of them (or one larger response alone); past that, a large response is a
retryable 503 instead (docs/adr/0023-slow-readers.md).

It speaks ASGI because granian answers a WebSocket's subprotocol only there, and
graphql-transport-ws needs it (docs/adr/0026-asgi-for-websockets.md); the
subscription transports (gql/streams.py) are served on the same loop. The
lifespan protocol starts and stops each worker's threads and streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import json
import logging
import queue
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

from django.conf import settings

from config import bootstrap, readiness
from config.granian_compat import hand_over, send_stream_end
from config.memory import release_free_memory
from config.wsgi import application as django_application
from gql.asgi import Receive, Scope, Send, encoded, header_map, send_whole
from gql.middleware import StreamHead
from gql.streams import Streams, wants_stream
from observability.context import request_id_from
from schemas.errors import ErrorCode

log = logging.getLogger("config.bridge")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Response = tuple[int, list[tuple[str, str]], bytes]
JSON = ("content-type", "application/json")
# A response larger than this is counted against RESPONSE_BUFFER_MAX_BYTES until it is
# all in granian's hands, and sent by the event loop (see __call__); below it, the
# kernel's socket buffer takes most of what a slow reader leaves unread.
LARGE_ABOVE_BYTES = 64 * 1024
# After a response larger than this, memory is handed back to the system.
TRIM_ABOVE_BYTES = 1024 * 1024
# A large response goes to granian in chunks of at least this (all of it when smaller):
# what a slow reader leaves in granian and hyper is a few of them at most.
STREAM_CHUNK_BYTES = LARGE_ABOVE_BYTES
# A large response refused past the bound: when to try again.
RETRY_AFTER_SECONDS = 5
_NO_BODY = frozenset({204, 304})  # answers that carry no Content-Length (RFC 9110, 8.6)
# The largest request head the app sees: the request target and every header, as
# nginx's default large_client_header_buffers (4 x 8k) allows. Below granian's own
# buffer (config/serve.py, GRANIAN_HEAD_BUFFER_BYTES: 64 KiB, which hyper grows
# before it refuses), so that a head between the two gets the contract's JSON 431, not
# granian's, which has no body and no setting for one.
MAX_HEAD_BYTES = 32 * 1024
# Requests whose bodies an instance holds at once (each up to MAX_REQUEST_BYTES), shared
# evenly by its workers: granian's own per-worker connection limit was this bound
# before it was raised for open streams (config/serve.py, CONNECTIONS_PER_WORKER).
BODIES_PER_INSTANCE = 1024


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


class HeldResponses:
    """The large responses not yet all in granian's hands: their bytes, bounded.

    Bytes are taken on an app thread when a response is made (a lock keeps the
    count) and given back on the event loop once its last chunk is in granian's
    stream, which holds a few chunks at most.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0
        self._lock = threading.Lock()

    def take(self, size: int) -> bool:
        """Count ``size`` bytes more; False (nothing counted) when they do not fit.

        A response larger than the limit fits when nothing else is held: the bound is
        the limit or one response, so that the largest answer can be served at all.
        """
        with self._lock:
            if self.held and self.held + size > self.limit:
                return False
            self.held += size
            return True

    def give_back(self, size: int) -> None:
        with self._lock:
            self.held -= size


def busy_response(headers: list[tuple[str, str]], size: int, held: int) -> Response:
    """The retryable 503 that replaces a large response past the bound."""
    log.warning(
        "a response of %d bytes refused (503): the worker already holds %d bytes of "
        "responses its clients have not read",
        size,
        held,
    )
    body = error_body(
        "The server is busy sending other large responses; retry shortly",
        ErrorCode.INTERNAL_SERVER_ERROR,
        retryable=True,
        retryAfterSeconds=RETRY_AFTER_SECONDS,
    )
    kept = [(name, value) for name, value in headers if name.lower() == "x-request-id"]
    return (
        503,
        [
            JSON,
            ("retry-after", str(RETRY_AFTER_SECONDS)),
            ("cache-control", "no-store"),
            ("content-length", str(len(body))),
            *kept,
        ],
        body,
    )


def chunks_of(size: int, chunk_bytes: int = STREAM_CHUNK_BYTES) -> list[tuple[int, int]]:
    """(start, end) of each chunk of a body of ``size``: as even as can be, each at least
    ``chunk_bytes`` (the whole body when it is smaller)."""
    count = max(1, size // chunk_bytes)
    bounds = [size * n // count for n in range(count + 1)]
    return list(itertools.pairwise(bounds))


def environ_for(scope: Scope, headers: dict[str, str]) -> dict[str, Any]:
    """The PEP 3333 environ for an ASGI HTTP ``scope`` whose headers are ``headers``
    (:func:`gql.streams.header_map`; its body comes with :func:`with_body`); a 431
    refusal when the head is over ``MAX_HEAD_BYTES``."""
    server_name, server_port = scope.get("server") or ("", "")
    remote_addr, remote_port = scope.get("client") or ("", "")
    raw_path = scope.get("raw_path") or scope["path"].encode()
    query_string = scope["query_string"].decode("latin-1")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": "",
        # WSGI strings are bytes decoded as latin-1 (PEP 3333, "Unicode issues");
        # PATH_INFO is percent-decoded, the query string is not.
        "PATH_INFO": unquote_to_bytes(raw_path).decode("latin-1"),
        "QUERY_STRING": query_string,
        "SERVER_NAME": server_name,
        "SERVER_PORT": str(server_port),
        "SERVER_PROTOCOL": f"HTTP/{scope['http_version']}",
        "REMOTE_ADDR": remote_addr,
        "REMOTE_PORT": str(remote_port),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope["scheme"],
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    head = len(scope["method"]) + len(raw_path) + len(query_string)
    for name, value in headers.items():
        head += len(name) + 4 + len(value)  # "name: value\r\n"
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            environ[key] = value
        elif key not in {"CONTENT_LENGTH", "TRANSFER_ENCODING"}:
            # The body is made whole before the app runs: with_body says its length.
            environ[f"HTTP_{key}"] = value
    if head > MAX_HEAD_BYTES:
        raise _Refused(
            431,
            f"The request head is larger than {MAX_HEAD_BYTES} bytes",
            ErrorCode.BAD_USER_INPUT,
            maxHeadBytes=MAX_HEAD_BYTES,
        )
    return environ


def with_body(environ: dict[str, Any], body: bytes) -> dict[str, Any]:
    """``environ`` with its request's whole body, and that body's length."""
    environ["CONTENT_LENGTH"] = str(len(body))
    environ["wsgi.input"] = io.BytesIO(body)
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
    code, headers = int(status.split(" ", 1)[0]), list(headers)
    # The body is whole, so its length frames it, streamed or not (granian would send
    # a streamed one chunked). No middleware sets it (gql/middleware.py says why).
    if code not in _NO_BODY and not any(name.lower() == "content-length" for name, _ in headers):
        headers.append(("Content-Length", str(len(body))))
    return code, headers, body


class _AppThreads:
    """``threads`` threads running the WSGI app, each handing granian its own answers.

    Not a ThreadPoolExecutor behind ``run_in_executor``: there each response went
    back to the event loop for the loop to hand over, one more wake-up of the loop
    and one more pass of the GIL to it before the client got its answer. Here the
    thread hands the response over itself (:func:`config.granian_compat.hand_over`)
    and then tells the loop that the request's coroutine may end: the same CPU per
    request, a lower p99 (docs/adr/0010-request-overhead.md).
    """

    def __init__(self, app: WSGIApp, threads: int, held: HeldResponses) -> None:
        self.app = app
        self.held = held
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._serve, name=f"app-{n}", daemon=True)
            for n in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, environ: dict[str, Any], send: Send, done: asyncio.Future[_Result]) -> None:
        """Answer the request of ``environ`` through ``send``; then resolve ``done`` (with a
        response too large to hand over whole, for the loop to send, if it is one)."""
        self._jobs.put(_Job(environ, send, done))

    def shutdown(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            done, result = job.done, _Result()
            try:
                result.large = self._answer(job)
            finally:
                # Whatever happened, the coroutine must not wait for ever.
                del job
                with contextlib.suppress(RuntimeError):  # the loop closed: shutting down
                    done.get_loop().call_soon_threadsafe(_settle, done, result)
                del done, result

    def _answer(self, job: _Job) -> Response | None:
        try:
            status, headers, content = run_wsgi(self.app, job.environ)
        except BaseException:  # even SystemExit: the thread must serve on
            # Django turns its own errors into responses; this is the bridge failing.
            log.exception("request failed outside the application")
            message = "Internal server error"
            status, headers = 500, [JSON]
            content = error_body(message, ErrorCode.INTERNAL_SERVER_ERROR)
        job.environ.clear()
        size = len(content)
        if size > LARGE_ABOVE_BYTES:
            if self.held.take(size):
                return status, headers, content  # the loop sends it, then gives it back
            status, headers, content = busy_response(headers, size, self.held.held)
        hand_over(job.send, status, encoded(headers), content)
        return None


@dataclass(slots=True)
class _Job:
    environ: dict[str, Any]
    send: Send
    done: asyncio.Future[_Result]


@dataclass(slots=True)
class _Result:
    """What the app thread hands the loop: a response too large to hand over whole, if any.

    A box, emptied by whoever takes the response out: the future it arrives in (and
    the thread that made it) may outlive the response by a while, and memory is
    handed back to the system only once nothing holds the response.
    """

    large: Response | None = None


def _settle(done: asyncio.Future[_Result], result: _Result) -> None:
    if not done.done():
        done.set_result(result)


async def send_chunked(
    send: Send, status: int, headers: list[tuple[str, str]], content: bytes
) -> None:
    """Answer with a large ``content`` chunk by chunk (its Content-Length still frames
    it): each send waits while granian's stream is full, so a slow reader leaves the
    rest here, counted, not in granian. Returns once hyper has taken the last chunk."""
    await send({"type": "http.response.start", "status": status, "headers": encoded(headers)})
    for start, end in chunks_of(len(content)):
        await send({"type": "http.response.body", "body": content[start:end], "more_body": True})
    await send_stream_end(send)


class BufferedWSGIBridge:
    """An ASGI app that buffers each request body, bounded in size and time, then runs
    ``app``; subscriptions and WebSockets on /graphql go to gql/streams.py."""

    def __init__(
        self,
        app: WSGIApp,
        *,
        max_body_bytes: int,
        body_timeout: float,
        threads: int,
        response_buffer_bytes: int,
        bodies_at_once: int = 512,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout
        self.threads = threads
        self.held = HeldResponses(response_buffer_bytes)
        self._bodies = asyncio.Semaphore(bodies_at_once)
        self._pool: _AppThreads | None = None
        # Subscriptions (SSE, multipart, WebSocket) are served on the loop by gql/streams.py.
        self._streams: Streams | None = None
        self._stream_head = StreamHead()

    # Each worker process runs these around serving (the ASGI lifespan protocol).
    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        readiness.warm_up()
        self._pool = _AppThreads(self.app, self.threads, self.held)
        self._streams = Streams.start(
            loop,
            pipeline=bootstrap.pipeline,
            max_per_user=int(settings.SUBSCRIPTIONS_MAX_PER_USER),
            draining=lambda: readiness.phase() == readiness.DRAINING,
            # Seen well within the pause granian's stop waits for (config/serve.py).
            check_seconds=readiness.STREAMS_NOTICE_SECONDS / 4,
        )
        readiness.mark_worker_ready()

    def stop(self) -> None:
        readiness.mark_worker_stopped()
        if self._streams is not None:
            self._streams.drain()
        if self._pool is not None:
            self._pool.shutdown()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._serve(scope, receive, send)
        elif kind == "websocket":
            headers = header_map(scope)
            if (
                self._streams is not None
                and wants_stream(scope, headers)
                and self._socket_head(scope, headers)
            ):
                await self._streams.serve_websocket(scope, headers, receive, send)
            else:
                await send({"type": "websocket.close", "code": 1008})  # refused: a 403
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.start(asyncio.get_running_loop())
                except Exception as error:
                    # Said, not raised: granian would take a raise for "no lifespan" and
                    # serve without the app's threads; failed, the worker exits and is
                    # replaced (config/granian_compat.py).
                    log.exception("the worker could not start")
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = header_map(scope)
        streaming = self._streams is not None and wants_stream(scope, headers)
        # A request holds one of the worker's body places from its first byte read to
        # its answer (a stream: to its start); granian admits many more connections.
        async with self._bodies:
            try:
                environ = environ_for(scope, headers)
                body = await self.read_body(headers, receive)
            except _Refused as refusal:
                # The rest of the body is never read: the connection cannot be reused.
                request_id = request_id_from(headers.get("x-request-id"))
                answer = [JSON, ("connection", "close"), ("x-request-id", request_id)]
                await send_whole(send, refusal.status, answer, refusal.body)
                return
            except _ClientGone:
                return
            if not streaming:
                environ = with_body(environ, body)
                del body  # the app thread's environ holds it, until it clears that
                await self._answer(environ, send)
                return
        await self._serve_stream(scope, headers, with_body(environ, b""), body, receive, send)

    async def _answer(self, environ: dict[str, Any], send: Send) -> None:
        """Run the app on a thread for ``environ``; send its answer if it is large."""
        if self._pool is None:
            raise RuntimeError("the lifespan's startup starts the app threads")
        done: asyncio.Future[_Result] = asyncio.get_running_loop().create_future()
        self._pool.submit(environ, send, done)
        del environ
        result = await done
        large, result.large = result.large, None
        if large is None:
            return  # answered by the app thread
        status, headers_out, content = large
        del large
        size = len(content)
        try:
            await send_chunked(send, status, headers_out, content)
        finally:
            del content
            self.held.give_back(size)
        if size > TRIM_ABOVE_BYTES:
            release_free_memory()

    async def _serve_stream(  # noqa: PLR0917 - one request, as the bridge holds it
        self,
        scope: Scope,
        headers: dict[str, str],
        environ: dict[str, Any],
        body: bytes,
        receive: Receive,
        send: Send,
    ) -> None:
        """A subscription stream, its head checked by Django's middleware first."""
        if self._streams is None:
            raise RuntimeError("the lifespan's startup starts the streams")
        head = self._stream_head.check(environ)
        if not isinstance(head, list):
            answer = [(name, value) for name, value in head.items()]
            await send_whole(send, head.status_code, answer, head.content)
            return
        await self._streams.serve_http(scope, headers, body, receive, send, head)

    def _socket_head(self, scope: Scope, headers: dict[str, str]) -> bool:
        """Whether a WebSocket's upgrade request passes what every request's head does
        (the Host check above all: Django's middleware, as for an HTTP stream)."""
        secure = scope.get("scheme") == "wss"
        upgrade = {**scope, "method": "GET", "scheme": "https" if secure else "http"}
        try:
            environ = environ_for(upgrade, headers)
        except _Refused:
            return False
        return isinstance(self._stream_head.check(with_body(environ, b"")), list)

    async def read_body(self, headers: dict[str, str], receive: Receive) -> bytes:
        """The request's whole body, within the size cap and the read deadline (else a
        :class:`_Refused`), or :class:`_ClientGone`."""
        limit = self.max_body_bytes
        too_large = (
            413,
            f"Request body is larger than {limit} bytes",
            ErrorCode.PAYLOAD_TOO_LARGE,
        )
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise _Refused(400, "Invalid Content-Length", ErrorCode.BAD_USER_INPUT)
            if int(declared) > limit:
                raise _Refused(*too_large, maxBytes=limit)
        elif headers.get("transfer-encoding") is None:
            return b""  # no body (hyper has framed the request already)
        try:
            # One deadline for the whole body (asyncio.timeout: a timer, no task per read).
            async with asyncio.timeout(self.body_timeout):
                body = await _read(receive, limit, too_large)
        except TimeoutError:
            raise _Refused(
                408,
                f"The request body did not arrive within {self.body_timeout:g} seconds",
                ErrorCode.BAD_USER_INPUT,
            ) from None
        if declared is not None and len(body) < int(declared):
            raise _ClientGone
        return body


async def _read(receive: Receive, limit: int, too_large: tuple[int, str, ErrorCode]) -> bytes:
    """The body, message by message, refused (413) as soon as it passes ``limit``."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise _Refused(*too_large, maxBytes=limit)
            parts.append(chunk)
        if not message.get("more_body", False):
            return parts[0] if len(parts) == 1 else b"".join(parts)


application = BufferedWSGIBridge(
    django_application,
    max_body_bytes=int(settings.MAX_REQUEST_BYTES),
    body_timeout=float(settings.BODY_READ_TIMEOUT_SECONDS),
    threads=int(settings.SERVER_THREADS),
    response_buffer_bytes=int(settings.RESPONSE_BUFFER_MAX_BYTES),
    bodies_at_once=BODIES_PER_INSTANCE // int(settings.SERVER_WORKERS),
)
