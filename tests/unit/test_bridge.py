"""The bridge: the WSGI environ from an RSGI scope (PEP 3333 strings, the body made whole),
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
from granian.rsgi import ProtocolClosed  # type: ignore[attr-defined] # re-exported, untyped

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

MiB = 1024 * 1024


@dataclass
class Headers:
    """RSGI's mapping-like headers: lower-case names, get_all for repeated ones."""

    pairs: list[tuple[str, str]]

    def keys(self) -> list[str]:
        return list(dict.fromkeys(name for name, _ in self.pairs))

    def get(self, name: str, default: str | None = None) -> str | None:
        return next((value for key, value in self.pairs if key == name), default)

    def get_all(self, name: str) -> list[str]:
        return [value for key, value in self.pairs if key == name]


@dataclass
class Scope:
    path: str = "/graphql"
    query_string: str = ""
    headers: Headers = field(default_factory=lambda: Headers([]))
    method: str = "POST"
    server: str = "127.0.0.1:8000"
    client: str = "127.0.0.1:51234"
    scheme: str = "http"
    http_version: str = "1.1"
    proto: str = "http"


def test_a_chunked_body_reaches_the_app_with_its_length_and_no_transfer_encoding() -> None:
    scope = Scope(
        headers=Headers([("content-type", "application/json"), ("transfer-encoding", "chunked")])
    )
    environ = with_body(environ_for(scope), b'{"query": "{ __typename }"}')
    assert environ["CONTENT_LENGTH"] == "27"
    assert environ["CONTENT_TYPE"] == "application/json"
    assert "HTTP_TRANSFER_ENCODING" not in environ
    assert environ["wsgi.input"].read() == b'{"query": "{ __typename }"}'


def test_the_path_is_percent_decoded_as_latin_1_and_the_query_string_is_not() -> None:
    environ = with_body(environ_for(Scope(path="/caf%C3%A9%20x", query_string="a=%41&b=2")), b"")
    assert environ["PATH_INFO"] == "/café x".encode().decode("latin-1")
    assert environ["QUERY_STRING"] == "a=%41&b=2"


def test_repeated_headers_are_joined_and_addresses_split() -> None:
    scope = Scope(
        headers=Headers([("x-forwarded-for", "1.1.1.1"), ("x-forwarded-for", "2.2.2.2")]),
        client="[::1]:4242",
    )
    environ = with_body(environ_for(scope), b"")
    assert environ["HTTP_X_FORWARDED_FOR"] == "1.1.1.1,2.2.2.2"
    assert (environ["REMOTE_ADDR"], environ["REMOTE_PORT"]) == ("::1", "4242")
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"]) == ("127.0.0.1", "8000")


class Transport:
    """granian's response stream: chunks are taken at once; an empty one asks whether
    the response was delivered (ProtocolClosed once it was, or the client left)."""

    def __init__(self, sent: list[bytes], delivered: threading.Event) -> None:
        self.sent = sent
        self.delivered = delivered

    async def send_bytes(self, data: bytes) -> None:
        if not data:
            if self.delivered.is_set():
                raise ProtocolClosed("RSGI transport is closed")
            return
        self.sent.append(bytes(bytearray(data)))  # a copy, as granian takes one


@dataclass
class Protocol:
    """Records how a response went out (whole, or as a stream of chunks) and from which thread."""

    request_body: bytes = b""
    whole: list[bytes] = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    status: int = 0
    answered_on: str = ""
    reads: int = 0
    # Set: the client reads every response at once. Clear: it reads nothing until set.
    delivered: threading.Event = field(default_factory=lambda: _event(is_set=True))

    async def __call__(self) -> bytes:
        self.reads += 1
        return self.request_body

    def __aiter__(self) -> Protocol:
        self._done = False
        return self

    async def __anext__(self) -> bytes:
        if self._done or not self.request_body:
            raise StopAsyncIteration
        self._done = True
        return self.request_body

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status, self.headers = status, headers
        self.answered_on = threading.current_thread().name
        self.whole.append(body)

    def response_stream(self, status: int, headers: list[tuple[str, str]]) -> Transport:
        self.status, self.headers = status, headers
        self.answered_on = threading.current_thread().name
        return Transport(self.chunks, self.delivered)


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


def _serve(app: Callable[..., object], requests: int = 1) -> list[Protocol]:
    bridge = _bridge(app, threads=2)
    protocols = [Protocol() for _ in range(requests)]

    async def run() -> None:
        bridge.__rsgi_init__(asyncio.get_running_loop())
        try:
            await asyncio.gather(*(bridge.__rsgi__(Scope(method="GET"), p) for p in protocols))
        finally:
            bridge.__rsgi_del__(asyncio.get_running_loop())

    asyncio.run(run())
    return protocols


def _answering(body: bytes) -> Callable[..., list[bytes]]:
    def app(environ: dict[str, object], start_response: Callable[..., object]) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]

    return app


def test_a_small_response_is_handed_over_whole_by_the_app_thread() -> None:
    (protocol,) = _serve(_answering(b"x" * 1000))
    assert protocol.whole == [b"x" * 1000]
    assert protocol.chunks == []
    # Not by the event loop: the answer does not wait for the loop to wake.
    assert protocol.answered_on.startswith("app-")
    assert ("Content-Length", "1000") in protocol.headers


def test_a_large_response_is_sent_by_the_loop_framed_by_its_length() -> None:
    body = bytes(range(256)) * (LARGE_ABOVE_BYTES // 256 * 3)
    (protocol,) = _serve(_answering(body))
    assert protocol.whole == []
    assert protocol.chunks == [body]
    # Framed by its length, not sent chunked.
    assert ("Content-Length", str(len(body))) in protocol.headers


def test_a_very_large_response_goes_in_chunks_each_at_least_the_chunk_size() -> None:
    body = bytes(range(256)) * ((2 * STREAM_CHUNK_BYTES + 12345) // 256)
    (protocol,) = _serve(_answering(body))
    assert b"".join(protocol.chunks) == body
    assert len(protocol.chunks) == 2
    assert min(len(chunk) for chunk in protocol.chunks) >= STREAM_CHUNK_BYTES


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
    protocols = [Protocol() for _ in range(50)]

    async def run() -> None:
        bridge.__rsgi_init__(asyncio.get_running_loop())
        try:
            await asyncio.gather(
                *(
                    bridge.__rsgi__(Scope(method="GET", client=f"127.0.0.1:{port}"), protocol)
                    for port, protocol in enumerate(protocols, start=1000)
                )
            )
        finally:
            bridge.__rsgi_del__(asyncio.get_running_loop())

    asyncio.run(run())
    assert [p.whole for p in protocols] == [[str(port).encode()] for port in range(1000, 1050)]


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
    first, second = Protocol(), Protocol()

    async def run() -> None:
        bridge.__rsgi_init__(asyncio.get_running_loop())
        try:
            await asyncio.wait_for(bridge.__rsgi__(Scope(method="GET"), first), 5)
            await asyncio.wait_for(bridge.__rsgi__(Scope(method="GET"), second), 5)
        finally:
            bridge.__rsgi_del__(asyncio.get_running_loop())

    asyncio.run(run())
    assert first.status == 500
    assert (second.status, second.whole) == (200, [b"ok"])


def test_no_content_length_is_added_where_an_answer_has_no_body() -> None:
    def app(environ: dict[str, object], start_response: Callable[..., object]) -> list[bytes]:
        start_response("304 Not Modified", [("ETag", '"x"')])
        return []

    status, headers, body = run_wsgi(app, with_body(environ_for(Scope(method="GET")), b""))
    assert (status, body) == (304, b"")
    assert [name for name, _ in headers] == ["ETag"]


def test_a_content_length_the_app_set_is_kept_as_it_is() -> None:
    def app(environ: dict[str, object], start_response: Callable[..., object]) -> list[bytes]:
        start_response("200 OK", [("content-length", "2")])
        return [b"ok"]

    _status, headers, _body = run_wsgi(app, with_body(environ_for(Scope(method="GET")), b""))
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

    (protocol,) = _serve(app)
    assert b"".join(protocol.chunks) == body
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
    protocol = Protocol(request_body=b"never read")
    scope = Scope(headers=Headers([*headers, ("content-length", "10")]), query_string=query_string)

    async def run() -> None:
        bridge.__rsgi_init__(asyncio.get_running_loop())
        try:
            await bridge.__rsgi__(scope, protocol)
        finally:
            bridge.__rsgi_del__(asyncio.get_running_loop())

    asyncio.run(run())
    if not refused:
        assert (protocol.status, protocol.whole, called, protocol.reads) == (200, [b"ok"], [1], 1)
        return
    assert protocol.status == 431
    assert ("content-type", "application/json") in protocol.headers
    assert any(name == "x-request-id" and value for name, value in protocol.headers)
    (error,) = json.loads(protocol.whole[0])["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "maxHeadBytes": MAX_HEAD_BYTES}
    assert (called, protocol.reads) == ([], 0)


# Slow readers: large responses their clients have not taken are bounded (issue 22).


def _answering_the_size_asked() -> Callable[..., list[bytes]]:
    """An app that answers as many bytes as the query string says, with a request id."""

    def app(environ: dict[str, Any], start_response: Callable[..., object]) -> list[bytes]:
        size = environ["QUERY_STRING"]
        start_response("200 OK", [("Content-Type", "application/json"), ("X-Request-ID", size)])
        return [b"x" * int(size)]

    return app


def _asking(size: int) -> Scope:
    return Scope(method="GET", query_string=str(size))


async def _until(condition: Callable[[], object], timeout: float = 5) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.001)


@pytest.fixture
def quick_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("config.bridge.DELIVERY_CHECK_MAX_SECONDS", 0.01)


@pytest.mark.usefixtures("quick_checks")
def test_past_the_bound_a_large_response_is_a_retryable_503_until_a_reader_takes_its_own() -> None:
    large = 600 * 1024
    bridge = _bridge(_answering_the_size_asked(), threads=2, buffer_bytes=MiB)
    stalled = Protocol(delivered=_event(is_set=False))
    refused, small, again = Protocol(), Protocol(), Protocol()
    held: list[int] = []

    async def run() -> None:
        bridge.__rsgi_init__(asyncio.get_running_loop())
        try:
            first = asyncio.create_task(bridge.__rsgi__(_asking(large), stalled))
            await _until(lambda: stalled.chunks)
            await bridge.__rsgi__(_asking(large), refused)  # 600 KiB more would pass 1 MiB
            await bridge.__rsgi__(_asking(1000), small)  # not counted: served
            held.append(bridge.held.held)
            await asyncio.wait_for(first, 5)  # its coroutine is done; granian holds it
            held.append(bridge.held.held)
            stalled.delivered.set()  # the slow reader read its response at last
            await _until(lambda: bridge.held.held == 0)
            await bridge.__rsgi__(_asking(large), again)
            await _until(lambda: bridge.held.held == 0)
        finally:
            bridge.__rsgi_del__(asyncio.get_running_loop())

    asyncio.run(run())
    assert held == [large, large]
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


@pytest.mark.usefixtures("quick_checks")
def test_a_response_larger_than_the_bound_is_served_alone() -> None:
    bridge = _bridge(_answering_the_size_asked(), threads=2, buffer_bytes=MiB)
    alone = Protocol(delivered=_event(is_set=False))
    second = Protocol()

    async def run() -> None:
        bridge.__rsgi_init__(asyncio.get_running_loop())
        try:
            first = asyncio.create_task(bridge.__rsgi__(_asking(3 * MiB), alone))
            await _until(lambda: alone.chunks)
            await bridge.__rsgi__(_asking(LARGE_ABOVE_BYTES + 1), second)
            await asyncio.wait_for(first, 5)
            alone.delivered.set()
            await _until(lambda: bridge.held.held == 0)
        finally:
            bridge.__rsgi_del__(asyncio.get_running_loop())

    asyncio.run(run())
    assert (alone.status, len(b"".join(alone.chunks))) == (200, 3 * MiB)
    assert second.status == 503
    assert bridge.held.held == 0


class _GoneTransport:
    async def send_bytes(self, data: bytes) -> None:
        raise ProtocolClosed("RSGI transport is closed")


class _LeavingProtocol(Protocol):
    """A client that leaves as its response starts."""

    def response_stream(self, status: int, headers: list[tuple[str, str]]) -> Any:
        self.status, self.headers = status, headers
        return _GoneTransport()


def test_a_client_gone_while_its_response_is_sent_gives_its_bytes_back() -> None:
    bridge = _bridge(_answering_the_size_asked(), threads=1, buffer_bytes=MiB)
    protocol = _LeavingProtocol()

    async def run() -> None:
        bridge.__rsgi_init__(asyncio.get_running_loop())
        try:
            await asyncio.wait_for(bridge.__rsgi__(_asking(800 * 1024), protocol), 5)
        finally:
            bridge.__rsgi_del__(asyncio.get_running_loop())

    asyncio.run(run())
    assert bridge.held.held == 0
