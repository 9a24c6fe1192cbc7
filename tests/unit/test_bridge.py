"""The bridge: the WSGI environ from an ASGI scope (PEP 3333 strings, the body made whole),
and how each answer reaches granian."""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from config.bridge import (
    LARGE_ABOVE_BYTES,
    MAX_HEAD_BYTES,
    RETRY_AFTER_SECONDS,
    STREAM_CHUNK_BYTES,
    TRIM_ABOVE_BYTES,
    BufferedWSGIBridge,
    chunks_of,
    environ_for,
    run_wsgi,
    with_body,
)
from gql.asgi import header_map

MiB = 1024 * 1024


def Scope(  # noqa: N802 - reads as the scope it builds
    *,
    path: str = "/graphql",
    query_string: str = "",
    headers: list[tuple[str, str]] | None = None,
    method: str = "POST",
    client: tuple[str, str] = ("127.0.0.1", "51234"),
) -> dict[str, Any]:
    """An ASGI HTTP scope as granian builds one (raw_path undecoded, ports as text)."""
    return {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query_string.encode(),
        "headers": [(name.encode(), value.encode()) for name, value in headers or []],
        "server": ("127.0.0.1", "8000"),
        "client": client,
    }


def test_a_chunked_body_reaches_the_app_with_its_length_and_no_transfer_encoding() -> None:
    scope = Scope(headers=[("content-type", "application/json"), ("transfer-encoding", "chunked")])
    environ = with_body(environ_for(scope, header_map(scope)), b'{"query": "{ __typename }"}')
    assert environ["CONTENT_LENGTH"] == "27"
    assert environ["CONTENT_TYPE"] == "application/json"
    assert "HTTP_TRANSFER_ENCODING" not in environ
    assert environ["wsgi.input"].read() == b'{"query": "{ __typename }"}'


def test_the_path_is_percent_decoded_as_latin_1_and_the_query_string_is_not() -> None:
    scope = Scope(path="/caf%C3%A9%20x", query_string="a=%41&b=2")
    environ = with_body(environ_for(scope, header_map(scope)), b"")
    assert environ["PATH_INFO"] == "/café x".encode().decode("latin-1")
    assert environ["QUERY_STRING"] == "a=%41&b=2"


def test_repeated_headers_are_joined_and_addresses_split() -> None:
    scope = Scope(
        headers=[("x-forwarded-for", "1.1.1.1"), ("x-forwarded-for", "2.2.2.2")],
        client=("::1", "4242"),
    )
    environ = with_body(environ_for(scope, header_map(scope)), b"")
    assert environ["HTTP_X_FORWARDED_FOR"] == "1.1.1.1,2.2.2.2"
    assert (environ["REMOTE_ADDR"], environ["REMOTE_PORT"]) == ("::1", "4242")
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"]) == ("127.0.0.1", "8000")


# How many chunks granian's ASGI stream takes before a send waits for the client.
STREAM_CAPACITY = 4


@dataclass
class Client:
    """One request's ASGI channels, as granian's behave: the body comes in one message;
    a whole response is taken at once (from any thread); a streamed one takes
    STREAM_CAPACITY chunks, then each send waits until the client reads (``reading``)."""

    request_body: bytes = b""
    whole: list[bytes] = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    status: int = 0
    answered_on: str = ""
    reads: int = 0
    # Set: the client reads every response at once. Clear: it reads nothing until set.
    reading: threading.Event = field(default_factory=lambda: _event(is_set=True))
    gone: bool = False
    queued: int = 0  # chunks in granian's stream, not yet taken by the client

    async def receive(self) -> dict[str, Any]:
        self.reads += 1
        return {"type": "http.request", "body": self.request_body, "more_body": False}

    def send(self, message: dict[str, Any]) -> Any:
        """granian's send: the work is done when called; what it answers is awaited (or
        not, by an app thread)."""
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = [(n.decode(), v.decode()) for n, v in message["headers"]]
            self.answered_on = threading.current_thread().name
            return _done()
        body, more = message.get("body", b""), message.get("more_body", False)
        if not more and not self.chunks:
            self.whole.append(body)
            return _done()
        if self.gone:
            return _done()  # granian drops what a gone client would have read
        if body:
            self.chunks.append(bytes(body))
        return self._into_stream()

    async def _into_stream(self) -> None:
        while not self.reading.is_set() and self.queued >= STREAM_CAPACITY and not self.gone:
            await asyncio.sleep(0.001)
        if not self.reading.is_set():
            self.queued += 1


class _Done:
    """An awaitable that is already done, as granian's send answers."""

    def __await__(self) -> Any:
        return iter(())


def _done() -> Any:
    return _Done()


def _event(*, is_set: bool) -> threading.Event:
    event = threading.Event()
    if is_set:
        event.set()
    return event


def _bridge(app: Callable[..., object], *, threads: int, buffer_bytes: int = 256 * MiB) -> Any:
    return BufferedWSGIBridge(
        app,
        max_body_bytes=1024,
        body_timeout=5,
        threads=threads,
        response_buffer_bytes=buffer_bytes,
    )


def _serve(app: Callable[..., object], requests: int = 1) -> list[Client]:
    bridge = _bridge(app, threads=2)
    clients = [Client() for _ in range(requests)]

    async def run() -> None:
        bridge.start(asyncio.get_running_loop())
        try:
            await asyncio.gather(*(bridge(Scope(method="GET"), p.receive, p.send) for p in clients))
        finally:
            bridge.stop()

    asyncio.run(run())
    return clients


def _answering(body: bytes) -> Callable[..., list[bytes]]:
    def app(environ: dict[str, object], start_response: Callable[..., object]) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]

    return app


def test_a_small_response_is_handed_over_whole_by_the_app_thread() -> None:
    (client,) = _serve(_answering(b"x" * 1000))
    assert client.whole == [b"x" * 1000]
    assert client.chunks == []
    # Not by the event loop: the answer does not wait for the loop to wake.
    assert client.answered_on.startswith("app-")
    assert ("Content-Length", "1000") in client.headers


def test_a_large_response_is_sent_by_the_loop_framed_by_its_length() -> None:
    body = bytes(range(256)) * (LARGE_ABOVE_BYTES // 256 * 3)
    (client,) = _serve(_answering(body))
    assert client.whole == []
    assert b"".join(client.chunks) == body
    # Framed by its length, not sent chunked.
    assert ("Content-Length", str(len(body))) in client.headers


def test_a_very_large_response_goes_in_chunks_each_at_least_the_chunk_size() -> None:
    body = bytes(range(256)) * ((2 * STREAM_CHUNK_BYTES + 12345) // 256)
    (client,) = _serve(_answering(body))
    assert b"".join(client.chunks) == body
    assert len(client.chunks) == 2
    assert min(len(chunk) for chunk in client.chunks) >= STREAM_CHUNK_BYTES


@pytest.mark.parametrize(
    "size", [1, 100, STREAM_CHUNK_BYTES - 1, STREAM_CHUNK_BYTES, 5 * STREAM_CHUNK_BYTES + 7]
)
def test_chunks_cover_the_body_in_order_and_none_is_small(size: int) -> None:
    chunks = chunks_of(size)
    assert chunks[0][0] == 0
    assert chunks[-1][1] == size
    assert all(end == start for (_, end), (start, _) in itertools.pairwise(chunks))
    assert all(end - start >= min(size, STREAM_CHUNK_BYTES) for start, end in chunks)


def test_every_request_of_many_at_once_gets_its_own_answer() -> None:
    def app(environ: dict[str, object], start_response: Callable[..., object]) -> list[bytes]:
        start_response("200 OK", [])
        return [str(environ["REMOTE_PORT"]).encode()]

    bridge = _bridge(app, threads=3)
    clients = [Client() for _ in range(50)]

    async def run() -> None:
        bridge.start(asyncio.get_running_loop())
        try:
            await asyncio.gather(
                *(
                    bridge(Scope(method="GET", client=("127.0.0.1", str(port))), c.receive, c.send)
                    for port, c in enumerate(clients, start=1000)
                )
            )
        finally:
            bridge.stop()

    asyncio.run(run())
    assert [p.whole for p in clients] == [[str(port).encode()] for port in range(1000, 1050)]


def test_an_app_that_fails_outside_django_gets_a_json_500_and_the_thread_serves_on() -> None:
    calls: list[int] = []

    def app(environ: dict[str, object], start_response: Callable[..., object]) -> list[bytes]:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        start_response("200 OK", [])
        return [b"ok"]

    first, second = _serve(app, requests=2)
    answers = sorted([(first.status, first.whole), (second.status, second.whole)])
    assert answers[0] == (200, [b"ok"])
    assert answers[1][0] == 500
    assert b"INTERNAL_SERVER_ERROR" in answers[1][1][0]


def test_an_app_that_raises_past_exception_gets_a_500_and_its_thread_serves_on() -> None:
    # SystemExit is not an Exception, and would end a thread that let it through.
    calls: list[int] = []

    def app(environ: dict[str, object], start_response: Callable[..., object]) -> list[bytes]:
        calls.append(1)
        if len(calls) == 1:
            raise SystemExit
        start_response("200 OK", [])
        return [b"ok"]

    bridge = _bridge(app, threads=1)
    first, second = Client(), Client()

    async def run() -> None:
        bridge.start(asyncio.get_running_loop())
        try:
            await asyncio.wait_for(bridge(Scope(method="GET"), first.receive, first.send), 5)
            await asyncio.wait_for(bridge(Scope(method="GET"), second.receive, second.send), 5)
        finally:
            bridge.stop()

    asyncio.run(run())
    assert first.status == 500
    assert (second.status, second.whole) == (200, [b"ok"])


def test_no_content_length_is_added_where_an_answer_has_no_body() -> None:
    def app(environ: dict[str, object], start_response: Callable[..., object]) -> list[bytes]:
        start_response("304 Not Modified", [("ETag", '"x"')])
        return []

    status, headers, body = run_wsgi(app, with_body(environ_for(Scope(method="GET"), {}), b""))
    assert (status, body) == (304, b"")
    assert [name for name, _ in headers] == ["ETag"]


def test_a_content_length_the_app_set_is_kept_as_it_is() -> None:
    def app(environ: dict[str, object], start_response: Callable[..., object]) -> list[bytes]:
        start_response("200 OK", [("content-length", "2")])
        return [b"ok"]

    _status, headers, _body = run_wsgi(app, with_body(environ_for(Scope(method="GET"), {}), b""))
    assert headers == [("content-length", "2")]


def test_a_streamed_response_is_let_go_before_memory_is_handed_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # release_free_memory() can only give back what nothing holds any more: by then
    # no future, job or local of the bridge may still refer to the response bytes.
    body = bytes(range(256)) * (TRIM_ABOVE_BYTES // 256 * 2)
    held_by_the_test = sys.getrefcount(body)
    seen: list[int] = []

    def inspect() -> None:
        seen.append(sys.getrefcount(body))

    monkeypatch.setattr("config.bridge.release_free_memory", inspect)

    def app(environ: dict[str, object], start_response: Callable[..., object]) -> list[bytes]:
        start_response("200 OK", [])
        return [body]

    (client,) = _serve(app)
    assert b"".join(client.chunks) == body
    # Only the test itself (its local, the app's closure, getrefcount's argument).
    assert seen == [held_by_the_test]


@pytest.mark.parametrize(
    ("headers", "query_string", "refused"),
    [
        ([("x-big", "a" * (MAX_HEAD_BYTES - 100))], "", False),
        ([("x-big", "a" * MAX_HEAD_BYTES)], "", True),
        ([("cookie", "c" * 1000)] * (MAX_HEAD_BYTES // 1000 + 1), "", True),  # many, each small
        ([], "q=" + "a" * MAX_HEAD_BYTES, True),  # the request target counts too
    ],
    ids=["just-under", "one-huge-header", "repeated-header", "long-query-string"],
)
def test_a_head_over_the_cap_gets_the_contracts_json_431_and_its_body_is_never_read(
    headers: list[tuple[str, str]], query_string: str, refused: bool
) -> None:
    called: list[int] = []

    def app(environ: dict[str, object], start_response: Callable[..., object]) -> list[bytes]:
        called.append(1)
        start_response("200 OK", [])
        return [b"ok"]

    bridge = _bridge(app, threads=1)
    client = Client(request_body=b"never read")
    scope = Scope(headers=[*headers, ("content-length", "10")], query_string=query_string)

    async def run() -> None:
        bridge.start(asyncio.get_running_loop())
        try:
            await bridge(scope, client.receive, client.send)
        finally:
            bridge.stop()

    asyncio.run(run())
    if not refused:
        assert (client.status, client.whole, called, client.reads) == (200, [b"ok"], [1], 1)
        return
    assert client.status == 431
    assert ("content-type", "application/json") in client.headers
    assert any(name == "x-request-id" and value for name, value in client.headers)
    (error,) = json.loads(client.whole[0])["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "maxHeadBytes": MAX_HEAD_BYTES}
    assert (called, client.reads) == ([], 0)


# Slow readers: large responses their clients have not taken are bounded (issue 22).


def _answering_the_size_asked() -> Callable[..., list[bytes]]:
    """An app that answers as many bytes as the query string says, with a request id."""

    def app(environ: dict[str, Any], start_response: Callable[..., object]) -> list[bytes]:
        size = environ["QUERY_STRING"]
        start_response("200 OK", [("Content-Type", "application/json"), ("X-Request-ID", size)])
        return [b"x" * int(size)]

    return app


def _asking(size: int) -> dict[str, Any]:
    return Scope(method="GET", query_string=str(size))


async def _until(condition: Callable[[], object], timeout: float = 5) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.001)


def test_past_the_bound_a_large_response_is_a_retryable_503_until_a_reader_takes_its_own() -> None:
    large = 600 * 1024
    bridge = _bridge(_answering_the_size_asked(), threads=2, buffer_bytes=MiB)
    stalled = Client(reading=_event(is_set=False))
    refused, small, again = Client(), Client(), Client()
    held: list[int] = []

    async def run() -> None:
        bridge.start(asyncio.get_running_loop())
        try:
            first = asyncio.create_task(bridge(_asking(large), stalled.receive, stalled.send))
            await _until(lambda: stalled.chunks)
            await bridge(_asking(large), refused.receive, refused.send)  # 600 KiB more: over
            await bridge(_asking(1000), small.receive, small.send)  # not counted: served
            held.append(bridge.held.held)
            await asyncio.sleep(0.05)
            held.append(bridge.held.held)  # granian's stream is full: the rest waits here
            assert not first.done()
            stalled.reading.set()  # the slow reader reads its response at last
            await asyncio.wait_for(first, 5)
            held.append(bridge.held.held)
            await bridge(_asking(large), again.receive, again.send)
        finally:
            bridge.stop()

    asyncio.run(run())
    assert held == [large, large, 0]
    assert bridge.held.held == 0
    assert (stalled.status, b"".join(stalled.chunks)) == (200, b"x" * large)
    assert (again.status, b"".join(again.chunks)) == (200, b"x" * large)
    assert (small.status, small.whole) == (200, [b"x" * 1000])
    assert refused.status == 503
    headers = dict(refused.headers)
    assert headers["retry-after"] == str(RETRY_AFTER_SECONDS)
    assert headers["content-type"] == "application/json"
    assert headers["X-Request-ID"] == str(large)
    (error,) = json.loads(refused.whole[0])["errors"]
    assert error["extensions"] == {
        "code": "INTERNAL_SERVER_ERROR",
        "retryable": True,
        "retryAfterSeconds": RETRY_AFTER_SECONDS,
    }


def test_a_response_is_counted_until_granian_has_passed_on_its_last_chunk() -> None:
    # A response that fits in granian's stream whole is still counted until the empty
    # chunks behind it are in: until then hyper has not taken all of it.
    size = LARGE_ABOVE_BYTES * 2
    bridge = _bridge(_answering_the_size_asked(), threads=1, buffer_bytes=MiB)
    stalled = Client(reading=_event(is_set=False))

    async def run() -> None:
        bridge.start(asyncio.get_running_loop())
        try:
            first = asyncio.create_task(bridge(_asking(size), stalled.receive, stalled.send))
            await _until(lambda: stalled.chunks)
            await asyncio.sleep(0.05)
            assert (first.done(), bridge.held.held) == (False, size)
            stalled.reading.set()
            await asyncio.wait_for(first, 5)
        finally:
            bridge.stop()

    asyncio.run(run())
    assert bridge.held.held == 0
    assert b"".join(stalled.chunks) == b"x" * size


def test_a_response_larger_than_the_bound_is_served_alone() -> None:
    bridge = _bridge(_answering_the_size_asked(), threads=2, buffer_bytes=MiB)
    alone = Client(reading=_event(is_set=False))
    second = Client()

    async def run() -> None:
        bridge.start(asyncio.get_running_loop())
        try:
            first = asyncio.create_task(bridge(_asking(3 * MiB), alone.receive, alone.send))
            await _until(lambda: alone.chunks)
            await bridge(_asking(LARGE_ABOVE_BYTES + 1), second.receive, second.send)
            alone.reading.set()
            await asyncio.wait_for(first, 5)
        finally:
            bridge.stop()

    asyncio.run(run())
    assert (alone.status, len(b"".join(alone.chunks))) == (200, 3 * MiB)
    assert second.status == 503
    assert bridge.held.held == 0


def test_a_client_gone_while_its_response_is_sent_gives_its_bytes_back() -> None:
    bridge = _bridge(_answering_the_size_asked(), threads=1, buffer_bytes=MiB)
    client = Client(reading=_event(is_set=False))

    async def run() -> None:
        bridge.start(asyncio.get_running_loop())
        try:
            sending = asyncio.create_task(bridge(_asking(800 * 1024), client.receive, client.send))
            await _until(lambda: client.chunks)
            client.gone = True  # granian then takes every send at once, and drops it
            await asyncio.wait_for(sending, 5)
        finally:
            bridge.stop()

    asyncio.run(run())
    assert bridge.held.held == 0


def test_a_worker_that_cannot_start_says_so_to_granian(monkeypatch: pytest.MonkeyPatch) -> None:
    # A raise would read to granian as "no lifespan here", and it would serve without
    # the app's threads; "failed" makes the worker exit, to be replaced.
    bridge = _bridge(_answering(b"ok"), threads=1)

    def broken() -> None:
        raise RuntimeError("the schema did not build")

    monkeypatch.setattr("config.bridge.readiness.warm_up", broken)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "lifespan.startup"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(asyncio.wait_for(bridge({"type": "lifespan"}, receive, send), 5))
    assert sent == [{"type": "lifespan.startup.failed", "message": "the schema did not build"}]
