"""A small graphql-transport-ws client for live tests (the `websockets` library's sync
client): connect, ``connection_init``, subscribe, and read messages as they come. The
real client library (graphql-ws under Node) is in test_subscription_clients.py."""

from __future__ import annotations

import json
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from tests.sse import POST_EVENTS

PROTOCOL = Subprotocol("graphql-transport-ws")


class GraphQLSocket:
    """One WebSocket on /graphql speaking graphql-transport-ws."""

    def __init__(self, port: int, *, timeout: float = 10.0) -> None:
        self.connection: ClientConnection = connect(
            f"ws://127.0.0.1:{port}/graphql", subprotocols=[PROTOCOL], open_timeout=timeout
        )
        self.timeout = timeout

    def send(self, message: dict[str, Any]) -> None:
        self.connection.send(json.dumps(message))

    def receive(self, timeout: float | None = None) -> dict[str, Any]:
        """The next message other than ping/pong (answered)."""
        while True:
            message = json.loads(self.connection.recv(timeout=timeout or self.timeout))
            if message["type"] == "ping":
                self.send({"type": "pong"})
                continue
            if message["type"] != "pong":
                return dict(message)

    def init(self, payload: dict[str, Any] | None) -> dict[str, Any]:
        """``connection_init`` with ``payload``; the server's answer (``connection_ack``)."""
        self.send({"type": "connection_init", **({"payload": payload} if payload else {})})
        return self.receive()

    def subscribe(
        self, subscription_id: str = "1", query: str = POST_EVENTS, **variables: Any
    ) -> None:
        self.send(
            {
                "id": subscription_id,
                "type": "subscribe",
                "payload": {"query": query, "variables": variables},
            }
        )

    def closed_with(self, timeout: float | None = None) -> int | None:
        """The close code the server ends the connection with (messages before it skipped)."""
        try:
            while True:
                self.connection.recv(timeout=timeout or self.timeout)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else None

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> GraphQLSocket:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
