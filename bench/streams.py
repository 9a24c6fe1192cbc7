"""The benchmark's live-update case (``--cases streams``): how long an event takes from
the mutation's answer to each open subscription, and what an open stream costs the
workers in memory.

For each subscriber count, on a server started as ``make run`` starts it, the
subscribers (graphql-sse streams, devkit/sse.py, all from one event loop in this
process) are spread over a few users of their own, opened, and left open; then
``events`` addPosts, ``interval`` seconds apart, each by one of those users in turn,
are sent on one kept-alive connection. Latency is the contract's: from just after
the mutation's HTTP answer arrives to when a subscriber reads the event, for every
(subscriber, event of its user) pair; a pair never read within ``GRACE_SECONDS`` of
the last answer is missing. The workers' RSS is read before and after the streams
open.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import uvloop

from bench.cases import ADD_POST, ADD_TEXTS
from bench.load import percentile, wait_idle
from devkit.client import GraphQLClient, Reply
from devkit.server import Server
from devkit.sse import EventStream, close_streams, open_streams, subscribe_request

NAME = "streams"
SUBSCRIPTION = "subscription { postEvents { __typename ... on PostAdded { post { id text } } } }"
PING = "query Ping { __typename }"
# SUBSCRIPTIONS_MAX_PER_USER in the environment of the benchmark's servers (the
# default, 10, would take 100 users for 1,000 streams).
MAX_PER_USER = 100
# Subscribers go 10 to a user, over 10 users at most, then more to each user.
PER_USER = 10
USERS_AT_MOST = 10
OPENING_AT_ONCE = 50
# A stream not acknowledged by then is closed and opened again, up to OPEN_ROUNDS
# times: a worker at its connection limit holds new connections unanswered
# (docs/performance.md, "Open streams"), and a new one may land on the other worker.
HEAD_SECONDS = 10.0
RETRY_HEAD_SECONDS = 3.0
OPEN_ROUNDS = 8
# How long deliveries are awaited after the last answer before the rest count as
# missing (the contract's bound is 1 s).
GRACE_SECONDS = 5.0
# The mutations' connection is kept alive through the opening: a new connection could
# land on a worker at its limit.
KEEPALIVE_SECONDS = 2.0
KiB = 1024


def spread(subscribers: int) -> list[int]:
    """Streams per user for ``subscribers`` streams: PER_USER each over at most
    USERS_AT_MOST users (two at least, from two streams), then more to each."""
    if subscribers < 1:
        raise ValueError("subscribers must be positive")
    users = min(USERS_AT_MOST, math.ceil(subscribers / PER_USER))
    users = max(users, min(2, subscribers), math.ceil(subscribers / MAX_PER_USER))
    base, extra = divmod(subscribers, users)
    return [base + (1 if user < extra else 0) for user in range(users)]


def users_needed(counts: Sequence[int]) -> int:
    """Accounts for every subscriber count in ``counts`` (each count has its own)."""
    return sum(len(spread(count)) for count in counts)


@dataclass
class Run:
    """What one case's streams and mutations saw."""

    receipts: list[list[tuple[str | None, float]]]
    ended: list[tuple[str, Any] | None]
    posts: dict[str, tuple[int, float]] = field(default_factory=dict)  # id -> user, answered
    post_failures: list[str] = field(default_factory=list)
    read: int = 0


def _answer(poster: GraphQLClient, token: str, text: str) -> tuple[Reply, float]:
    reply = poster.graphql(ADD_POST, {"text": text}, token=token, operation_name="AddPost")
    return reply, time.monotonic()


async def _keep_alive(poster: GraphQLClient, stop: asyncio.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), KEEPALIVE_SECONDS)
        if not stop.is_set():
            await asyncio.to_thread(poster.graphql, PING)


async def _read(run: Run, index: int, stream: EventStream) -> None:
    """Record every event of one stream with the time it was read, until it ends."""
    while True:
        name, data = await stream.next_event()
        now = time.monotonic()
        if name != "next" or data is None or data.get("errors"):
            run.ended[index] = (name, data)
            return
        event = (data.get("data") or {}).get("postEvents") or {}
        run.receipts[index].append(((event.get("post") or {}).get("id"), now))
        run.read += 1


async def _open(
    server: Server, requests: list[bytes]
) -> tuple[list[EventStream | None], int, int, float]:
    """Every request's stream, opened again while unacknowledged: the streams (None:
    never acknowledged), unacknowledged attempts, rounds, seconds."""
    streams: list[EventStream | None] = [None] * len(requests)
    unacknowledged = rounds = 0
    started = time.monotonic()
    try:
        while rounds < OPEN_ROUNDS and None in streams:
            todo = [index for index, stream in enumerate(streams) if stream is None]
            opened = await open_streams(
                server.port,
                [requests[index] for index in todo],
                at_once=OPENING_AT_ONCE,
                head_seconds=HEAD_SECONDS if rounds == 0 else RETRY_HEAD_SECONDS,
            )
            for index, stream in zip(todo, opened.streams, strict=True):
                streams[index] = stream
            unacknowledged += opened.unacknowledged
            rounds += 1
    except BaseException:
        await close_streams([stream for stream in streams if stream is not None])
        raise
    return streams, unacknowledged, rounds, time.monotonic() - started


async def _measure(
    server: Server, tokens: Sequence[str], *, events: int, interval: float, per_user: list[int]
) -> dict[str, Any]:
    # Round-robin over the users, as clients arrive.
    owners = [user for k in range(max(per_user)) for user, n in enumerate(per_user) if k < n]
    requests = [subscribe_request(tokens[user], SUBSCRIPTION) for user in range(len(per_user))]
    poster = GraphQLClient(server.base, timeout=30)
    streams: list[EventStream | None] = []
    readers: list[asyncio.Task[None]] = []
    try:
        ping = await asyncio.to_thread(poster.graphql, PING)
        if ping.status != 200:
            raise RuntimeError(f"the server did not answer a ping: {ping.status} {ping.error}")
        rss_before = sum(server.worker_rss().values())
        stop = asyncio.Event()
        keeping = asyncio.ensure_future(_keep_alive(poster, stop))
        try:
            streams, unacknowledged, rounds, open_seconds = await _open(
                server, [requests[user] for user in owners]
            )
            rss_after = sum(server.worker_rss().values())
            # The opening's work done before anything is timed.
            await asyncio.to_thread(wait_idle, [server], most=30.0)
        finally:
            stop.set()
            await keeping
        run = Run(receipts=[[] for _ in streams], ended=[None] * len(streams))
        readers = [
            asyncio.ensure_future(_read(run, index, stream))
            for index, stream in enumerate(streams)
            if stream is not None
        ]
        open_per_user = [0] * len(per_user)
        for user, stream in zip(owners, streams, strict=True):
            open_per_user[user] += stream is not None
        expected = 0
        last = time.monotonic()
        for number in range(events):
            started = time.monotonic()
            user = number % len(per_user)
            text = f"{ADD_TEXTS[number % len(ADD_TEXTS)]} #{number}"
            reply, answered = await asyncio.to_thread(_answer, poster, tokens[user], text)
            added = reply.data("addPost")
            if added is None:
                run.post_failures.append(str(reply.body or reply.error)[:300])
            else:
                run.posts[added["postId"]] = (user, answered)
                expected += open_per_user[user]
                last = answered
            await asyncio.sleep(max(0.0, started + interval - time.monotonic()))
        while run.read < expected and time.monotonic() < last + GRACE_SECONDS:
            await asyncio.sleep(0.05)
    finally:
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        await close_streams([stream for stream in streams if stream is not None])
        poster.close()
    return summarise(
        run,
        owners=owners,
        acknowledged=[stream is not None for stream in streams],
        per_user=per_user,
        events=events,
        interval=interval,
        opening={
            "open_seconds": round(open_seconds, 2),
            "unacknowledged_attempts": unacknowledged,
            "open_rounds": rounds,
        },
        rss=(rss_before, rss_after),
    )


def summarise(
    run: Run,
    *,
    owners: list[int],
    acknowledged: list[bool],
    per_user: list[int],
    events: int,
    interval: float,
    opening: dict[str, Any],
    rss: tuple[int, int],
) -> dict[str, Any]:
    """Latency over every (acknowledged stream, event of its user) delivery; what was
    missing, another user's, read twice; memory per stream."""
    latencies: list[float] = []
    missing = strays = duplicates = 0
    for index, (user, answered_head) in enumerate(zip(owners, acknowledged, strict=True)):
        if not answered_head:
            continue
        seen: dict[str | None, float] = {}
        for post_id, at in run.receipts[index]:
            if post_id not in run.posts or run.posts[post_id][0] != user:
                strays += 1  # someone else's post, or none of the benchmark's
            elif post_id in seen:
                duplicates += 1
            else:
                seen[post_id] = at
        for post_id, (author, answered) in run.posts.items():
            if author != user:
                continue
            if post_id in seen:
                latencies.append(seen[post_id] - answered)
            else:
                missing += 1
    opened = sum(acknowledged)
    ended = [end for end in run.ended if end is not None]
    ordered = sorted(latencies)
    rss_before, rss_after = rss

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 2)

    ok = (
        opened == len(acknowledged)
        and not missing
        and not strays
        and not duplicates
        and not ended
        and not run.post_failures
        and len(run.posts) == events
    )
    return {
        "subscribers": len(acknowledged),
        "users": len(per_user),
        "per_user": per_user,
        "opened": opened,
        **opening,
        "events": events,
        "interval_seconds": interval,
        "posted": len(run.posts),
        "post_failures": len(run.post_failures),
        "deliveries": len(latencies),
        "missing": missing,
        "strays": strays,
        "duplicates": duplicates,
        "ended_early": len(ended),
        "p50_ms": ms(percentile(ordered, 0.50)),
        "p99_ms": ms(percentile(ordered, 0.99)),
        "max_ms": ms(ordered[-1] if ordered else None),
        "min_ms": ms(ordered[0] if ordered else None),
        "mean_ms": ms(statistics.fmean(ordered) if ordered else None),
        "rss_before_bytes": rss_before,
        "rss_after_bytes": rss_after,
        "kib_per_stream": round((rss_after - rss_before) / opened / KiB, 1) if opened else None,
        "samples": (
            [f"addPost failed: {failure}" for failure in run.post_failures[:2]]
            + [f"stream ended: {name} {str(data)[:200]}" for name, data in ended[:2]]
        ),
        "status": "ok" if ok else "errors",
    }


def measure(
    server: Server, tokens: Sequence[str], *, subscribers: int, events: int, interval: float
) -> dict[str, Any]:
    """One case: ``subscribers`` streams over the first ``len(spread(subscribers))`` of
    ``tokens`` (users with no other streams), ``events`` addPosts by them in turn."""
    per_user = spread(subscribers)
    if len(tokens) < len(per_user):
        raise ValueError(f"{subscribers} subscribers need {len(per_user)} users")
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(
            _measure(server, tokens, events=events, interval=interval, per_user=per_user)
        )
