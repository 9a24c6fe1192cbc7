"""What the bridge (config/bridge.py) and the subscription transports (gql/streams.py)
both need of ASGI, as granian speaks it: the types, the headers, a whole answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def header_map(scope: Scope) -> dict[str, str]:
    """The request's headers by lower-case name, a repeated header's values joined
    with commas (RFC 9110, 5.3), decoded as Latin-1 (as WSGI does)."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    return headers


def client_address(scope: Scope) -> str:
    """The client's address, as the per-address rules key it."""
    client = scope.get("client")
    return str(client[0])[:45] if client else "unknown"


def encoded(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """Headers as ASGI carries them."""
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]


async def send_whole(send: Send, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
    """Answer with ``body`` in one piece, from the event loop."""
    await send({"type": "http.response.start", "status": status, "headers": encoded(headers)})
    await send({"type": "http.response.body", "body": body})
