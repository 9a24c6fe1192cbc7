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
- a request head (request line and headers) over ``MAX_HEAD_BYTES`` is
  answered 431 in the contract's JSON shape, its body unread; granian itself
  bounds the head in time (the header read timeout) and, past its own buffer
  (config/serve.py), in size, with an empty 431 of its own.

The app runs on ``THREADS`` threads per process; its response is collected
there and handed to granian by that thread (granian writes it out on its own
runtime), so a slow reader does not hold a thread either.

A slow reader holds memory instead: granian takes a response whole (a streamed one
too: its stream has no backpressure, every chunk is copied in at once) and keeps it
until the client has read it. So a response over ``LARGE_ABOVE_BYTES`` is counted
from the moment it is made until granian has let go of it, and a worker holds at
most ``RESPONSE_BUFFER_MAX_BYTES`` of them (or one larger response alone); past
that, a large response is a retryable 503 instead (docs/adr/0023-slow-readers.md).

It speaks RSGI, granian's own interface, rather than ASGI: ASGI's per-message
protocol cost more CPU per request (docs/adr/0001-granian-behind-a-buffering-bridge.md).
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
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

from django.conf import settings
from granian.rsgi import ProtocolClosed  # type: ignore[attr-defined] # re-exported, untyped

from config import bootstrap, readiness
from config.memory import release_free_memory
from config.wsgi import application as django_application
from gql.streams import Streams, wants_stream
from observability.context import request_id_from
from schemas.errors import ErrorCode

log = logging.getLogger("config.bridge")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Response = tuple[int, list[tuple[str, str]], bytes]
JSON = ("content-type", "application/json")
# A response larger than this is counted against RESPONSE_BUFFER_MAX_BYTES until granian
# lets go of it, and sent by the event loop (see __rsgi__); below it, the kernel's
# socket buffer takes most of what a slow reader leaves unread.
LARGE_ABOVE_BYTES = 64 * 1024
# After a response larger than this, memory is handed back to the system.
TRIM_ABOVE_BYTES = 1024 * 1024
# A large response goes to granian in chunks of at least this (all of it when smaller):
# granian's allocator (jemalloc) gives a freed block this large back to the system at
# once (its "oversize" threshold), a smaller one only as later allocations come by, so
# the copies slow readers held would otherwise stay in the worker after they left.
STREAM_CHUNK_BYTES = 8 * 1024 * 1024
# How often granian is asked whether it has let go of the large responses it holds:
# every response at most this often, and all of them in one pass of the loop...
DELIVERY_CHECK_EVERY_SECONDS = 0.02
# ... each less and less often while its client reads slowly or not at all.
DELIVERY_CHECK_MAX_SECONDS = 1.0
# A large response refused past the bound: when to try again.
RETRY_AFTER_SECONDS = 5
_NO_BODY = frozenset({204, 304})  # answers that carry no Content-Length (RFC 9110, 8.6)
# The largest request head the app sees: the request target and every header, as
# nginx's default large_client_header_buffers (4 x 8k) allows. Below granian's own
# buffer (config/serve.py, GRANIAN_HEAD_BUFFER_BYTES: 64 KiB, which hyper grows
# before it refuses), so that a head between the two gets the contract's JSON 431, not
# granian's, which has no body and no setting for one.
MAX_HEAD_BYTES = 32 * 1024


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


@dataclass(slots=True)
class _Sent:
    """A large response granian holds: the stream it went through, and when to ask again."""

    transport: Any
    size: int
    due: float
    wait: float = DELIVERY_CHECK_EVERY_SECONDS


class HeldResponses:
    """The large responses granian holds for their clients: their bytes, bounded.

    Bytes are taken on an app thread when a response is made (a lock keeps the
    count) and given back on the event loop once granian has let go of it: one
    watcher per worker asks granian about every response sent, all in one pass,
    each less often while its client is slow (see ``_delivered``). The request's
    own coroutine ends as soon as its response is sent.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0
        self._lock = threading.Lock()
        self._sent: dict[int, _Sent] = {}  # the event loop's alone, as the watcher
        self._watcher: asyncio.Task[None] | None = None

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

    def watch(self, transport: Any, size: int) -> None:
        """Give ``size`` bytes back once granian has let go of the response sent through
        ``transport`` (on the event loop)."""
        self._sent[id(transport)] = _Sent(transport, size, time.monotonic())
        if self._watcher is None:
            self._watcher = asyncio.get_running_loop().create_task(self._watch())

    def stop(self) -> None:
        """Stop watching (the worker is stopping)."""
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None
        self._sent.clear()

    async def _watch(self) -> None:
        try:
            while self._sent:
                now = time.monotonic()
                first_due = min(sent.due for sent in self._sent.values())
                await asyncio.sleep(max(first_due - now, DELIVERY_CHECK_EVERY_SECONDS))
                now = time.monotonic()
                for key, sent in list(self._sent.items()):
                    if sent.due > now:
                        continue
                    if await _delivered(sent.transport):
                        del self._sent[key]
                        self.give_back(sent.size)
                    else:
                        sent.wait = min(2 * sent.wait, DELIVERY_CHECK_MAX_SECONDS)
                        sent.due = now + sent.wait
        finally:
            self._watcher = None


async def _delivered(transport: Any) -> bool:
    """Whether granian has let go of the response streamed through ``transport``: written
    out whole (hyper then drops its end of the stream), or its client gone.

    An empty chunk is the question: granian refuses it (ProtocolClosed) once the
    stream's other end is gone, and sends nothing for it before.
    """
    try:
        await transport.send_bytes(b"")
    except ProtocolClosed:
        return True
    return False


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


def _hostport(address: str) -> tuple[str, str]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), port


def environ_for(scope: Any) -> dict[str, Any]:
    """The PEP 3333 environ for an RSGI HTTP ``scope`` (its body comes with
    :func:`with_body`); a 431 refusal when the head is over ``MAX_HEAD_BYTES``."""
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
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.scheme,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    head = len(scope.method) + len(scope.path) + len(scope.query_string)
    for name in scope.headers.keys():  # noqa: SIM118 - RSGI headers: a mapping-like, not a dict
        values = scope.headers.get_all(name)
        value = values[0] if len(values) == 1 else ",".join(values)
        head += len(values) * (len(name) + 4) + len(value)  # "name: value\r\n" each
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            environ[key] = values[0]
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
    thread hands the response over itself (``response_bytes`` takes a lock and
    sends on a channel: any thread may call it) and then tells the loop that the
    request's coroutine may end: the same CPU per request, a lower p99
    (docs/adr/0010-request-overhead.md).
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

    def submit(self, environ: dict[str, Any], protocol: Any, done: asyncio.Future[_Result]) -> None:
        """Answer the request of ``environ`` on ``protocol``; then resolve ``done`` (with a
        response too large to hand over whole, for the loop to stream, if it is one)."""
        self._jobs.put(_Job(environ, protocol, done))

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
        job.protocol.response_bytes(status, headers, content)
        return None


@dataclass(slots=True)
class _Job:
    environ: dict[str, Any]
    protocol: Any
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


class BufferedWSGIBridge:
    """An RSGI app that buffers each request body, bounded in size and time, then runs ``app``."""

    def __init__(
        self,
        app: WSGIApp,
        *,
        max_body_bytes: int,
        body_timeout: float,
        threads: int,
        response_buffer_bytes: int,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout
        self.threads = threads
        self.held = HeldResponses(response_buffer_bytes)
        self._pool: _AppThreads | None = None
        # Subscriptions (SSE, multipart, WebSocket) are served on the loop by gql/streams.py.
        self._streams: Streams | None = None

    # granian calls these in each worker process, around serving.
    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        readiness.warm_up()
        self._pool = _AppThreads(self.app, self.threads, self.held)
        self._streams = Streams.start(
            loop,
            pipeline=bootstrap.pipeline,
            max_per_user=int(settings.SUBSCRIPTIONS_MAX_PER_USER),
            draining=lambda: readiness.phase() == readiness.DRAINING,
        )
        readiness.mark_worker_ready()

    def __rsgi_del__(self, _loop: asyncio.AbstractEventLoop) -> None:
        readiness.mark_worker_stopped()
        if self._streams is not None:
            self._streams.drain()
        self.held.stop()
        if self._pool is not None:
            self._pool.shutdown()

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        if self._streams is not None and wants_stream(scope):
            await self._streams.serve(scope, protocol, self._read_body)
            return
        if scope.proto != "http":
            return
        try:
            environ = environ_for(scope)
            body = await self._read_body(scope, protocol)
        except _Refused as refusal:
            # The rest of the body is never read: the connection cannot be reused.
            request_id = request_id_from(scope.headers.get("x-request-id"))
            headers = [JSON, ("connection", "close"), ("x-request-id", request_id)]
            protocol.response_bytes(refusal.status, headers, refusal.body)
            return
        except _ClientGone:
            return
        if self._pool is None:
            raise RuntimeError("__rsgi_init__ starts the app threads")
        done: asyncio.Future[_Result] = asyncio.get_running_loop().create_future()
        self._pool.submit(with_body(environ, body), protocol, done)
        del body, environ
        result = await done
        large, result.large = result.large, None
        if large is None:
            return  # answered by the app thread
        status, headers, content = large
        del large
        size = len(content)
        watched = False
        try:
            # Streamed (the Content-Length header still frames it) so that granian's
            # stream tells when it has let go of the response: see HeldResponses.
            transport = protocol.response_stream(status, headers)
            for start, end in chunks_of(size):
                await transport.send_bytes(content[start:end])
            self.held.watch(transport, size)  # its bytes come back once it is delivered
            watched = True
        except ProtocolClosed:
            pass  # the client left: granian holds nothing of it
        finally:
            del content
            if not watched:
                self.held.give_back(size)
        if size > TRIM_ABOVE_BYTES:
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
                # at the length), cheaper than a read chunk by chunk.
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
    response_buffer_bytes=int(settings.RESPONSE_BUFFER_MAX_BYTES),
)
