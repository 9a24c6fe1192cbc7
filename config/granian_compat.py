"""The one place that relies on granian's undocumented internals: its master
process's SIGTERM handler, its replacement of dead workers, its ASGI ``send`` being
callable from any thread, and the size of its ASGI response stream (what is relied on
is pinned by tests/integration/test_drain_live.py, test_workers_live.py and
test_slow_readers_live.py, so an upgrade that moves them fails there, loudly; every
live test answers through ``hand_over``).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any, Protocol

from config.readiness import forget_worker, mark_draining


class Backoff(Protocol):
    """How long to wait before replacing worker ``index`` that died after ``lived``."""

    def delay(self, index: int, lived_seconds: float) -> float: ...


def supervised_granian(
    granian: type, *, drain_delay_seconds: float, backoff: Callable[[], Backoff]
) -> type:
    """granian's server class, with its SIGTERM and dead-worker habits changed."""

    class SupervisedGranian(granian):  # type: ignore[misc]
        """granian, with two of its master's habits changed.

        SIGTERM: marks the instance draining (``/readyz`` 503), waits the drain delay,
        then lets granian stop: its listener closes, requests in flight finish within
        the workers' kill timeout (the graceful timeout), then the process exits.

        A worker that dies: granian replaces it, but exits the whole server ("Worker
        crash loop detected") when a worker it replaced dies again within a few
        seconds, a window it has no setting for. Here every dead worker is replaced,
        after the pause RespawnBackoff gives, and the server never exits for it.
        """

        _announced = False

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._backoff = backoff()

        # granian's (undocumented) SIGINT/SIGTERM handler of the main process; what
        # is relied on here is pinned by tests/integration/test_drain_live.py.
        def signal_handler_interrupt(self, *args: Any, **kwargs: Any) -> None:
            stop = super().signal_handler_interrupt
            runtime = os.environ.get("POSTS_RUNTIME_DIR")
            if self._announced or not runtime:
                stop(*args, **kwargs)
                return
            self._announced = True
            mark_draining(Path(runtime))
            timer = threading.Timer(drain_delay_seconds, stop)
            timer.daemon = True
            timer.start()

        # granian's (undocumented) replacement of workers, called from its main loop for
        # dead workers (and on reload); what is relied on here (the worker list, each
        # worker's birth, respawned_wrks as the crash-loop guard's only input) is
        # pinned by tests/integration/test_workers_live.py.
        def _respawn_workers(
            self, workers: list[int], spawn_target: Any, target_loader: Any, delay: float = 0
        ) -> None:
            for index in workers:
                old = self.wrks[index]
                if not old.is_alive():  # it died: not a reload
                    forget_worker(old.inner.pid)
                    lived = time.monotonic() - old.birth
                    pause = self._backoff.delay(index, lived)
                    # Beside granian's own lines (its logging, not Django's, runs here).
                    print(
                        f"posts-api: worker-{index + 1} died after {lived:.1f} s; "
                        f"replacing it in {pause:.1f} s",
                        file=sys.stderr,
                        flush=True,
                    )
                    if not self._wait_unless_stopping(pause):
                        return
                super()._respawn_workers([index], spawn_target, target_loader, delay)
                # granian's crash-loop guard reads when it last replaced each worker;
                # without an entry it never fires: the backoff above stands in for it.
                self.respawned_wrks.pop(index, None)

        def _wait_unless_stopping(self, seconds: float) -> bool:
            """Sleep ``seconds`` unless told to stop first; False if told to stop."""
            deadline = time.monotonic() + seconds
            while not self.interrupt_signal and (left := deadline - time.monotonic()) > 0:
                time.sleep(min(left, 0.1))
            return not self.interrupt_signal

    return SupervisedGranian


def hand_over(
    send: Callable[[MutableMapping[str, Any]], object],
    status: int,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
) -> None:
    """Answer a request whole through granian's ASGI ``send``, from an app thread.

    ASGI's ``send`` is a coroutine function for the event loop. granian's is a Rust
    method that does the work of a whole (not streamed) response when it is called,
    under its own locks, and returns an awaitable that is already done; so the thread
    that made the response hands it over, and the loop is not woken for it
    (docs/adr/0010-request-overhead.md).
    """
    send({"type": "http.response.start", "status": status, "headers": headers})
    send({"type": "http.response.body", "body": body})


# How many chunks granian's ASGI response stream takes before a send waits for the
# client (its channel's capacity).
GRANIAN_STREAM_CHUNKS = 4


async def send_stream_end(send: Callable[[MutableMapping[str, Any]], Awaitable[None]]) -> None:
    """End a streamed response once hyper has taken every chunk of it from granian.

    ASGI says nothing of when a sent chunk leaves the server. granian's stream is a
    channel of ``GRANIAN_STREAM_CHUNKS`` chunks that hyper empties as it writes (hyper
    skips empty chunks); so as many empty chunks sent behind the last one are all in
    only once hyper has taken that last one. A slow reader then has at most what hyper
    buffers left unsent (bounded by its buffer size, config/serve.py).
    """
    for _ in range(GRANIAN_STREAM_CHUNKS):
        await send({"type": "http.response.body", "body": b"", "more_body": True})
    await send({"type": "http.response.body", "body": b""})
