"""Live updates: the post-events outbox read by one task per process and fanned out to
that process's open subscriptions (feeds).

Every addPost and deletePost writes an outbox row in its own transaction
(resolvers_services/posts.py), so an event exists exactly when its change
committed, whichever worker or instance made it. Each process runs one
:class:`PostEventHub`: while it has open feeds it polls the outbox by id
(``id > last seen``, an index range that is empty when nothing happened),
and hands each event to the feeds of its user. The database is the only
thing instances share; docs/adr/0024-live-updates-outbox.md has the options
and the figures.

Ordering and gaps. Auto-increment ids are taken at insert and committed in
any order, so a poll may see id 12 before 11 commits. Two facts make that
harmless:

- one user's writes queue on the user's row lock (the quotas take it first),
  so one user's events are inserted and committed in id order: an event is
  never delivered before an earlier one of the same user;
- an id skipped by a poll is remembered as a gap and asked for again on the
  following polls, for ``GAP_SETTLE_SECONDS`` (far longer than any
  transaction may take here: the lock-wait and query timeouts bound them),
  then forgotten (a rolled-back insert leaves a gap for good).

So no event waits for a gap to settle: delivery latency is one poll interval
plus a query.

"From the moment the subscription is acknowledged": a feed is registered, then
waits for one complete poll that started after it registered; events found by
that poll committed before the feed was acknowledged and are not its. Every
later poll's events are.

A feed ends with UNAUTHENTICATED when its access token expires or, checked
every ``SESSION_CHECK_SECONDS`` for all feeds in one query, its session has
ended. Its queue is bounded: a subscriber that does not keep up is ended,
never buffered for. The per-user cap counts leases in the database
(``stream_leases``), renewed by the process while its feeds are open, so it
holds across workers and instances, and a dead process's leases lapse.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from functools import partial
from typing import TypeVar

from persistence.ports import UnitOfWork, UnitOfWorkFactory
from resolvers_services.clock import utcnow
from schemas.errors import DomainError, ErrorCode
from schemas.post_events import PostEventKind, PostEventOut
from schemas.posts import PostOut
from schemas.users import Principal

log = logging.getLogger("resolvers_services.post_events")

T = TypeVar("T")

POLL_SECONDS = 0.15
SESSION_CHECK_SECONDS = 1.0
LEASE_SECONDS = 30
LEASE_RENEW_SECONDS = 10.0
PRUNE_EVERY_SECONDS = 30.0
KEEP_EVENTS_SECONDS = 300
PRUNE_BATCH = 1000
GAP_SETTLE_SECONDS = 30.0
MAX_GAPS = 1000
POLL_BATCH = 1000
QUEUE_EVENTS = 256

TOKEN_EXPIRED = "The access token has expired; refresh it and subscribe again"
SESSION_ENDED = "The session has ended; log in and subscribe again"
TOO_SLOW = "The subscriber did not keep up with its events"


# --------------------------------------------------------------------------- services


def post_events_last_id(uow: UnitOfWork) -> int:
    """The newest event's id: where a process starts reading."""
    with uow:  # reads only
        return uow.post_events.last_id()


@dataclass(frozen=True, slots=True)
class _Polled:
    ids: list[int]
    events: list[PostEventOut]


def _read_events(
    uow: UnitOfWork, *, after: int, gaps: Sequence[int], wanted: Callable[[int], bool]
) -> _Polled:
    """The events after ``after`` or in ``gaps``, in id order; texts only for ``wanted`` users."""
    with uow:  # reads only
        rows = uow.post_events.since(after=after, also=gaps, limit=POLL_BATCH)
        added = [row[0] for row in rows if row[2] == PostEventKind.ADDED and wanted(row[1])]
        texts = uow.post_events.texts(added)
    events: list[PostEventOut] = []
    for event_id, user_id, kind, post_id, post_created_at in rows:
        if not wanted(user_id):
            continue
        post = None
        if kind == PostEventKind.ADDED:
            text = texts.get(event_id)
            if text is None or post_created_at is None:
                continue  # pruned meanwhile: nothing left to show
            post = PostOut.from_row(
                id=post_id, text=text, created_at=post_created_at.replace(tzinfo=UTC)
            )
        events.append(
            PostEventOut(
                id=event_id,
                user_id=user_id,
                kind=PostEventKind(kind),
                post_id=post_id,
                post=post,
            )
        )
    return _Polled(ids=[row[0] for row in rows], events=events)


def stream_lease_take(*, uow: UnitOfWork, user: Principal, max_open: int) -> int:
    """Count a new open stream of ``user``; RATE_LIMITED past ``max_open`` live ones."""
    now = utcnow()
    with uow:
        if not uow.stream_leases.lock_user(user.id):
            raise DomainError(ErrorCode.UNAUTHENTICATED, "Invalid or expired token")
        if uow.stream_leases.count_live(user_id=user.id, now=now) >= max_open:
            raise DomainError(
                ErrorCode.RATE_LIMITED,
                f"At most {max_open} subscriptions may be open at once; close one first",
                extra={"limit": "SUBSCRIPTIONS_MAX_PER_USER", "maximum": max_open},
            )
        lease = uow.stream_leases.add(
            user_id=user.id, expires_at=now + timedelta(seconds=LEASE_SECONDS)
        )
        uow.commit()
    return lease


def stream_leases_renew(*, uow: UnitOfWork, lease_ids: Sequence[int]) -> None:
    """Keep the leases of streams still open, and drop those of dead processes."""
    now = utcnow()
    with uow:
        uow.stream_leases.renew(
            lease_ids=lease_ids, expires_at=now + timedelta(seconds=LEASE_SECONDS)
        )
        uow.stream_leases.purge(before=now - timedelta(seconds=LEASE_SECONDS))
        uow.commit()


def stream_leases_release(*, uow: UnitOfWork, lease_ids: Sequence[int]) -> None:
    """Uncount ended streams."""
    with uow:
        uow.stream_leases.delete(lease_ids)
        uow.commit()


def sessions_live(*, uow: UnitOfWork, session_ids: Sequence[int]) -> set[int]:
    """Those of ``session_ids`` still live (not ended or expired, the user still there)."""
    with uow:  # reads only
        return uow.sessions.live_among(session_ids=session_ids, now=utcnow())


def post_events_prune(*, uow: UnitOfWork) -> int:
    """Forget events older than every subscriber can still need."""
    with uow:
        pruned = uow.post_events.prune(
            before=utcnow() - timedelta(seconds=KEEP_EVENTS_SECONDS), limit=PRUNE_BATCH
        )
        uow.commit()
    return pruned


# --------------------------------------------------------------------------- feeds


@dataclass(eq=False)
class Feed:
    """One open subscription: its user's events, in commit order, once each, until it ends."""

    hub: PostEventHub
    user_id: int
    session_id: int
    expires_at: float  # the access token's exp (epoch seconds)
    lease_id: int
    # Events found by polls up to this one are older than the feed.
    after_poll: int = 0
    delivered: int = 0
    _queue: asyncio.Queue[PostEventOut | DomainError | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_EVENTS + 1)
    )
    _ended: bool = False

    @property
    def ended(self) -> bool:
        """Whether the feed has ended (nothing more will be queued)."""
        return self._ended

    def __aiter__(self) -> Feed:
        return self

    async def __anext__(self) -> PostEventOut:
        item = await self._queue.get()
        if isinstance(item, PostEventOut):
            self.delivered += 1
            self.hub.on_delivered()
            return item
        self._ended = True
        self.close()
        if item is None:
            raise StopAsyncIteration
        raise item

    def push(self, event: PostEventOut) -> None:
        """Queue an event; a feed whose queue is full is ended instead (it is not read)."""
        if self._ended:
            return
        if self._queue.qsize() >= QUEUE_EVENTS:
            self.end(
                DomainError(ErrorCode.INTERNAL_SERVER_ERROR, TOO_SLOW, extra={"retryable": True})
            )
            return
        self._queue.put_nowait(event)

    def end(self, error: DomainError | None = None) -> None:
        """End the feed after what it holds: with ``error``, or complete (None)."""
        if self._ended:
            return
        self._ended = True
        if error is not None:
            # An error ends the stream now: what is queued is dropped.
            while not self._queue.empty():
                self._queue.get_nowait()
        self._queue.put_nowait(error)
        self.hub.forget(self)

    def close(self) -> None:
        """The stream is over (ended, or its client left): uncount it. Idempotent."""
        self._ended = True
        self.hub.forget(self)


class PostEventHub:
    """The process's reader of the outbox and the feeds it serves (one per process,
    started by the server on its event loop)."""

    def __init__(
        self,
        *,
        max_per_user: int,
        uow_factory: UnitOfWorkFactory,
        poll_seconds: float = POLL_SECONDS,
        on_open_change: Callable[[int], None] = lambda _delta: None,
        on_delivered: Callable[[], None] = lambda: None,
    ) -> None:
        self.max_per_user = max_per_user
        self.uow_factory = uow_factory
        self.poll_seconds = poll_seconds
        self._on_open_change = on_open_change
        self.on_delivered = on_delivered
        self._feeds: dict[int, set[Feed]] = {}
        self._count = 0
        self._released: list[int] = []
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="post-events")
        self._wake = asyncio.Event()
        self._polled = asyncio.Condition()
        self._started_polls = 0
        self._completed_polls = 0
        self._high: int | None = None  # None: not reading (no feeds)
        self._gaps: dict[int, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    # -- lifecycle

    def start(self) -> None:
        """Start the reader task on the running loop."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="post-events")

    def drain(self) -> None:
        """End every open feed cleanly (SIGTERM): clients reconnect elsewhere."""
        self._closing = True
        for feed in [feed for feeds in self._feeds.values() for feed in feeds]:
            feed.end()

    async def stop(self) -> None:
        """End every feed and the reader; release the leases."""
        self.drain()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._release_now()
        self._executor.shutdown(wait=False)

    @property
    def open_feeds(self) -> int:
        """How many feeds this process serves."""
        return self._count

    # -- feeds

    async def open(self, *, user: Principal, expires_at: float) -> Feed:
        """A feed of ``user``'s events from now on; RATE_LIMITED past the per-user cap."""
        if self._closing:
            raise DomainError(
                ErrorCode.INTERNAL_SERVER_ERROR,
                "The server is shutting down; subscribe again",
                extra={"retryable": True},
            )
        lease = await self._db(
            lambda: stream_lease_take(uow=self.uow_factory(), user=user, max_open=self.max_per_user)
        )
        feed = Feed(
            hub=self,
            user_id=user.id,
            session_id=user.session_id,
            expires_at=expires_at,
            lease_id=lease,
        )
        if self._high is None:
            self._high = await self._db(lambda: post_events_last_id(self.uow_factory()))
            self._gaps.clear()
        self._feeds.setdefault(user.id, set()).add(feed)
        self._count += 1
        self._on_open_change(1)
        # Wait for one whole poll that starts after the feed is registered.
        feed.after_poll = target = self._started_polls + 1
        self._wake.set()
        try:
            async with self._polled:
                await self._polled.wait_for(lambda: self._completed_polls >= target or feed.ended)
        except BaseException:
            feed.close()
            raise
        return feed

    def forget(self, feed: Feed) -> None:
        """Stop serving ``feed`` and uncount it (its lease goes at the next tick)."""
        feeds = self._feeds.get(feed.user_id)
        if feeds is None or feed not in feeds:
            return
        feeds.discard(feed)
        if not feeds:
            del self._feeds[feed.user_id]
        self._count -= 1
        self._on_open_change(-1)
        self._released.append(feed.lease_id)
        self._wake.set()

    # -- the reader

    async def _db(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

    async def _run(self) -> None:
        next_sessions = next_renew = next_prune = time.monotonic()
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_seconds):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self._release_now()
                if self._feeds:
                    await self._poll()
                else:
                    self._high = None  # nobody to serve: stop reading
                    self._started_polls += 1
                    await self._completed(self._started_polls)
                now = time.monotonic()
                if now >= next_sessions:
                    next_sessions = now + SESSION_CHECK_SECONDS
                    await self._check_sessions()
                if now >= next_renew:
                    next_renew = now + LEASE_RENEW_SECONDS
                    leases = [feed.lease_id for feeds in self._feeds.values() for feed in feeds]
                    await self._db(
                        partial(stream_leases_renew, uow=self.uow_factory(), lease_ids=leases)
                    )
                if now >= next_prune:
                    next_prune = now + PRUNE_EVERY_SECONDS
                    await self._db(lambda: post_events_prune(uow=self.uow_factory()))
            except asyncio.CancelledError:
                raise
            except Exception:  # the database may be away: try again next tick
                log.exception("post events: reading the outbox failed")
                await asyncio.sleep(1.0)

    async def _poll(self) -> None:
        self._started_polls += 1
        number = self._started_polls
        high = self._high or 0
        gaps = sorted(self._gaps)
        users = set(self._feeds)
        try:
            polled = await self._db(
                lambda: _read_events(
                    self.uow_factory(), after=high, gaps=gaps, wanted=users.__contains__
                )
            )
        finally:
            await self._completed(number)
        self._track(polled.ids, high)
        for event in polled.events:
            for feed in list(self._feeds.get(event.user_id, ())):
                if number > feed.after_poll:
                    feed.push(event)

    async def _completed(self, number: int) -> None:
        async with self._polled:
            self._completed_polls = max(self._completed_polls, number)
            self._polled.notify_all()

    def _track(self, ids: list[int], high: int) -> None:
        """Advance the high mark past ``ids``, remembering the ids skipped as gaps."""
        now = time.monotonic()
        for event_id in ids:
            self._gaps.pop(event_id, None)
            if event_id > high:
                for missing in range(high + 1, min(event_id, high + 1 + MAX_GAPS)):
                    self._gaps[missing] = now
                high = event_id
        self._high = max(high, self._high or 0)
        stale = now - GAP_SETTLE_SECONDS
        for gap in [gap for gap, seen in self._gaps.items() if seen < stale]:
            del self._gaps[gap]
        while len(self._gaps) > MAX_GAPS:
            del self._gaps[min(self._gaps)]

    async def _check_sessions(self) -> None:
        feeds = [feed for feeds in self._feeds.values() for feed in feeds]
        if not feeds:
            return
        now = time.time()
        for feed in feeds:
            if now >= feed.expires_at:
                feed.end(DomainError(ErrorCode.UNAUTHENTICATED, TOKEN_EXPIRED))
        sessions = sorted({feed.session_id for feed in feeds if not feed._ended})
        if not sessions:
            return
        live = await self._db(lambda: sessions_live(uow=self.uow_factory(), session_ids=sessions))
        for feed in feeds:
            if feed.session_id not in live:
                feed.end(DomainError(ErrorCode.UNAUTHENTICATED, SESSION_ENDED))

    async def _release_now(self) -> None:
        released, self._released = self._released, []
        if released:
            await self._db(
                lambda: stream_leases_release(uow=self.uow_factory(), lease_ids=released)
            )
