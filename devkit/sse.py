"""Many graphql-sse subscriptions from one asyncio event loop (sockets, not threads).

The graphql-sse protocol's "distinct connections" mode: each subscription is a
``POST /graphql`` with ``Accept: text/event-stream`` and the token in the
``Authorization`` header, answered by a stream of ``next`` events and a
``complete``. A stream is *acknowledged* once its response head has arrived: from
then on the server delivers the caller's events to it. Only HTTP on the socket is
relied on, so the same code reads any server that speaks it (chunked or not).
Shared by the live tests and the benchmark; standard library only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from devkit.ports import LOOPBACK


class StreamRefused(RuntimeError):
    """The server answered a subscription with something other than an event stream."""


def subscribe_request(
    token: str | None, query: str, variables: dict[str, Any] | None = None
) -> bytes:
    """The bytes of one subscription request (HTTP/1.1, JSON body)."""
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    auth = f"Authorization: Bearer {token}\r\n" if token is not None else ""
    return (
        f"POST /graphql HTTP/1.1\r\nHost: {LOOPBACK}\r\nContent-Type: application/json\r\n"
        f"Accept: text/event-stream\r\n{auth}Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


@dataclass(eq=False)
class EventStream:
    """One acknowledged subscription; ``next_event`` reads its events as they come."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    head: str  # the response head, header names lower-cased
    chunked: bool
    pending: str = field(default="")

    async def next_event(self) -> tuple[str, dict[str, Any] | None]:
        """The next event's name and data; comments (heartbeats) skipped; ``("eof", None)``
        when the server ends the response."""
        while True:
            while "\n\n" in self.pending:
                block, _, self.pending = self.pending.partition("\n\n")
                name, data = "", []
                for line in block.split("\n"):
                    if line.startswith("event:"):
                        name = line.partition(":")[2].strip()
                    elif line.startswith("data:"):
                        data.append(line.partition(":")[2].strip())
                if name:
                    return name, json.loads("\n".join(data)) if data else None
            chunk = await self._read()
            if chunk is None:
                return "eof", None
            self.pending += chunk.replace("\r\n", "\n")

    async def _read(self) -> str | None:
        if not self.chunked:
            raw = await self.reader.read(65536)
            return raw.decode() if raw else None
        size = int((await self.reader.readline()).split(b";")[0].strip() or b"0", 16)
        if size == 0:
            return None
        return (await self.reader.readexactly(size + 2))[:-2].decode()

    def close(self) -> None:
        self.writer.close()


async def open_stream(port: int, request: bytes, *, host: str = LOOPBACK) -> EventStream:
    """Send a subscription request and wait for its acknowledgement (the response head).

    StreamRefused when the answer is not a 200 event stream (the head is in the message).
    """
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    except BaseException:
        writer.close()
        raise
    lines = head.split("\r\n")
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in lines[1:] if ":" in line)
    }
    status = lines[0].split(" ", 2)[1] if " " in lines[0] else ""
    if status != "200" or "text/event-stream" not in headers.get("content-type", ""):
        writer.close()
        raise StreamRefused(head.strip())
    chunked = "chunked" in headers.get("transfer-encoding", "").lower()
    return EventStream(reader=reader, writer=writer, head=head.lower(), chunked=chunked)


@dataclass
class Opened:
    """What :func:`open_streams` opened: ``streams[i]`` answers ``requests[i]``, None when
    it was not acknowledged in time (its connection closed)."""

    streams: list[EventStream | None]
    seconds: float  # from the first request to the last acknowledgement

    @property
    def acknowledged(self) -> list[EventStream]:
        return [stream for stream in self.streams if stream is not None]

    @property
    def unacknowledged(self) -> int:
        return sum(1 for stream in self.streams if stream is None)


async def open_streams(
    port: int,
    requests: Sequence[bytes],
    *,
    at_once: int = 50,
    head_seconds: float = 10.0,
    host: str = LOOPBACK,
) -> Opened:
    """Open one stream per request, ``at_once`` at a time at most (enough to open many
    quickly, few enough that no connection waits for a full listen backlog and retries a
    second later). A stream not acknowledged within ``head_seconds`` is closed and left
    out; any other failure closes every stream opened and is raised."""
    gate = asyncio.Semaphore(at_once)
    streams: list[EventStream | None] = [None] * len(requests)
    started = last = time.monotonic()

    async def one(number: int) -> None:
        nonlocal last
        async with gate:
            with contextlib.suppress(TimeoutError):
                streams[number] = await asyncio.wait_for(
                    open_stream(port, requests[number], host=host), head_seconds
                )
                last = time.monotonic()

    tasks = [asyncio.ensure_future(one(number)) for number in range(len(requests))]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await close_streams([stream for stream in streams if stream is not None])
        raise
    return Opened(streams=streams, seconds=last - started)


async def close_streams(streams: Sequence[EventStream]) -> None:
    """Close every stream and wait until their connections are closed."""
    for stream in streams:
        stream.close()
    await asyncio.gather(
        *(stream.writer.wait_closed() for stream in streams), return_exceptions=True
    )
