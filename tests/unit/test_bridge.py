"""The bridge's WSGI environ, from an RSGI scope (PEP 3333 strings, the body made whole)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from config.bridge import (
    STREAM_ABOVE_BYTES,
    STREAM_CHUNK_BYTES,
    BufferedWSGIBridge,
    environ_for,
)


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
    environ = environ_for(scope, b'{"query": "{ __typename }"}')
    assert environ["CONTENT_LENGTH"] == "27"
    assert environ["CONTENT_TYPE"] == "application/json"
    assert "HTTP_TRANSFER_ENCODING" not in environ
    assert environ["wsgi.input"].read() == b'{"query": "{ __typename }"}'


def test_the_path_is_percent_decoded_as_latin_1_and_the_query_string_is_not() -> None:
    environ = environ_for(Scope(path="/caf%C3%A9%20x", query_string="a=%41&b=2"), b"")
    assert environ["PATH_INFO"] == "/café x".encode().decode("latin-1")
    assert environ["QUERY_STRING"] == "a=%41&b=2"


def test_repeated_headers_are_joined_and_addresses_split() -> None:
    scope = Scope(
        headers=Headers([("x-forwarded-for", "1.1.1.1"), ("x-forwarded-for", "2.2.2.2")]),
        client="[::1]:4242",
    )
    environ = environ_for(scope, b"")
    assert environ["HTTP_X_FORWARDED_FOR"] == "1.1.1.1,2.2.2.2"
    assert (environ["REMOTE_ADDR"], environ["REMOTE_PORT"]) == ("::1", "4242")
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"]) == ("127.0.0.1", "8000")


class Transport:
    def __init__(self, sent: list[bytes]) -> None:
        self.sent = sent

    async def send_bytes(self, data: bytes) -> None:
        self.sent.append(data)


@dataclass
class Protocol:
    """Records how a response went out: whole, or as a stream of chunks."""

    request_body: bytes = b""
    whole: list[bytes] = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)

    async def __call__(self) -> bytes:
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
        self.headers = headers
        self.whole.append(body)

    def response_stream(self, status: int, headers: list[tuple[str, str]]) -> Transport:
        self.headers = headers
        return Transport(self.chunks)


def _serve(body: bytes) -> Protocol:
    def app(environ: dict[str, object], start_response: Callable[..., object]) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]

    bridge = BufferedWSGIBridge(app, max_body_bytes=1024, body_timeout=5, threads=1)
    protocol = Protocol()

    async def run() -> None:
        bridge._executor = ThreadPoolExecutor(1)
        await bridge.__rsgi__(Scope(method="GET"), protocol)
        bridge._executor.shutdown()

    asyncio.run(run())
    return protocol


def test_a_small_response_is_handed_over_whole() -> None:
    protocol = _serve(b"x" * 1000)
    assert protocol.whole == [b"x" * 1000]
    assert protocol.chunks == []


def test_a_large_response_is_streamed_in_chunks_so_the_server_never_copies_it_whole() -> None:
    body = bytes(range(256)) * (STREAM_ABOVE_BYTES // 256 * 3)
    protocol = _serve(body)
    assert protocol.whole == []
    assert b"".join(protocol.chunks) == body
    assert max(len(chunk) for chunk in protocol.chunks) == STREAM_CHUNK_BYTES
