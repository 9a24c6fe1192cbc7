"""A small graphql-sse ("distinct connections") reader for live tests: POST a subscription
with ``Accept: text/event-stream`` and read its events as they come."""

from __future__ import annotations

import http.client
import json
import time
from typing import Any

POST_EVENTS = """subscription Live($token: String) {
  postEvents(token: $token) {
    __typename
    ... on PostAdded { post { id text createdAt } postEdge { cursor node { id } } }
    ... on PostDeleted { deletedPostId }
  }
}"""


class SSEStream:
    """One open subscription; ``next_event`` reads the next ``next``/``complete`` event."""

    def __init__(
        self,
        port: int,
        *,
        token: str | None,
        query: str | None = POST_EVENTS,
        variables: dict[str, Any] | None = None,
        extensions: dict[str, Any] | None = None,
        timeout: float = 10.0,
        accept: str = "text/event-stream",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        headers = {"Content-Type": "application/json", "Accept": accept, **(headers or {})}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        request: dict[str, Any] = {"query": query, "variables": variables or {}}
        if query is None:
            del request["query"]
        if extensions is not None:
            request["extensions"] = extensions
        body = json.dumps(request)
        self.opened = time.monotonic()
        self.connection.request("POST", "/graphql", body=body, headers=headers)
        self.response = self.connection.getresponse()
        self.acknowledged = time.monotonic()
        self.status = self.response.status
        self.headers = dict(self.response.getheaders())

    def next_event(self) -> tuple[str, dict[str, Any] | None]:
        """The next event's name and data (comments, heartbeats, skipped)."""
        name, data = "", ""
        while True:
            line = self.response.fp.readline()
            if not line:
                return "eof", None
            text = line.decode().rstrip("\r\n")
            if text.startswith(":"):
                continue
            if text.startswith("event:"):
                name = text.partition(":")[2].strip()
            elif text.startswith("data:"):
                data = text.partition(":")[2].strip()
            elif text == "" and name:
                return name, json.loads(data) if data else None

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> SSEStream:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
