"""A small GraphQL-over-HTTP client: keep-alive, Bearer tokens, Apollo persisted queries.

One :class:`GraphQLClient` is one keep-alive connection, owned by one thread.
``graphql(..., persisted=True)`` speaks Apollo's automatic persisted queries
(APQ, version 1) as Apollo Client does: the hash alone first, and the full
document again when the server answers ``PERSISTED_QUERY_NOT_FOUND``.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"


def sha256_hex(document: str) -> str:
    """The APQ hash of a document: SHA-256 of its UTF-8, in lower-case hex."""
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


def persisted_query(document: str) -> dict[str, Any]:
    """The ``extensions`` of an APQ request for ``document``."""
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(document)}}


@dataclass
class Reply:
    """One request's outcome: an HTTP status and JSON body, or a transport error."""

    status: int | None
    body: dict[str, Any] | None
    error: str | None
    seconds: float
    raw: bytes = b""
    # The APQ hash was unknown to the server and the full document was sent after it.
    apq_retried: bool = field(default=False)

    @property
    def codes(self) -> list[str]:
        """``extensions.code`` of every GraphQL error (NO_CODE where there is none)."""
        errors = (self.body or {}).get("errors") or []
        return [str((e.get("extensions") or {}).get("code", "NO_CODE")) for e in errors]

    @property
    def outcome_unknown(self) -> bool:
        """No answer, or one that does not say whether a write happened."""
        return (
            self.status is None
            or self.status >= 500
            or self.body is None
            or "INTERNAL_SERVER_ERROR" in self.codes
        )

    def data(self, field_name: str) -> Any:
        """``data[field_name]`` of a clean 200 answer, else None."""
        if self.status != 200 or self.body is None or self.body.get("errors"):
            return None
        return (self.body.get("data") or {}).get(field_name)


class GraphQLClient:
    """A keep-alive HTTP connection to one server's GraphQL endpoint."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 60.0,
        path: str = "/graphql",
        source_address: str | None = None,
    ) -> None:
        """``source_address``: the local address to connect from (any 127.x.y.z is this
        machine on Linux, so one process can be many clients to a local server)."""
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the server URL must be http://host:port, not {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.path = (parts.path.rstrip("/") or "") + path
        self.timeout = timeout
        self.source_address = source_address
        self.conn: http.client.HTTPConnection | None = None
        # Kept-alive connections the server had closed, retried once on a fresh one.
        self.keepalive_retries = 0

    def __enter__(self) -> GraphQLClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _connect(self) -> http.client.HTTPConnection:
        source = None if self.source_address is None else (self.source_address, 0)
        return http.client.HTTPConnection(
            self.host, self.port, timeout=self.timeout, source_address=source
        )

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """One HTTP exchange on the kept-alive connection: (status, body). Raises OSError."""
        # A kept-alive connection the server closed while idle fails before any answer:
        # retry that once on a fresh connection. Only then: a request the server may
        # have executed is never sent twice.
        for attempt in range(2):
            reused = self.conn is not None
            if self.conn is None:
                self.conn = self._connect()
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                response = self.conn.getresponse()
                raw = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if reused and attempt == 0:
                    self.keepalive_retries += 1
                    continue
                raise
            except BaseException:
                self.close()
                raise
            if response.will_close:
                self.close()
            return response.status, raw
        raise AssertionError("unreachable")

    def post(self, payload: dict[str, Any] | bytes, *, token: str | None = None) -> Reply:
        """POST a JSON body to the endpoint, with ``Authorization: Bearer <token>`` if given."""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
        started = time.monotonic()
        try:
            status, raw = self.request("POST", self.path, data, headers)
        except (OSError, http.client.HTTPException) as exc:
            return Reply(None, None, f"{type(exc).__name__}: {exc}", time.monotonic() - started)
        seconds = time.monotonic() - started
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return Reply(status, None, f"non-JSON body: {raw[:120]!r}", seconds, raw)
        if not isinstance(body, dict):
            return Reply(status, None, f"non-object body: {raw[:120]!r}", seconds, raw)
        return Reply(status, body, None, seconds, raw)

    def graphql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        operation_name: str | None = None,
        persisted: bool = False,
    ) -> Reply:
        """Run ``query``; with ``persisted``, by its APQ hash first (Apollo's protocol)."""
        payload: dict[str, Any] = {"variables": variables or {}}
        if operation_name is not None:
            payload["operationName"] = operation_name
        if not persisted:
            return self.post({"query": query, **payload}, token=token)
        payload["extensions"] = persisted_query(query)
        reply = self.post(payload, token=token)
        if PERSISTED_QUERY_NOT_FOUND not in reply.codes:
            return reply
        retry = self.post({"query": query, **payload}, token=token)
        retry.seconds += reply.seconds
        retry.apq_retried = True
        return retry
