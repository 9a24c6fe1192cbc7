"""How long config/serve.py waits before replacing a worker that died (issue 22)."""

from __future__ import annotations

from config.serve import (
    RESPAWN_FIRST_DELAY_SECONDS,
    RESPAWN_MAX_DELAY_SECONDS,
    RESPAWN_STABLE_SECONDS,
    RespawnBackoff,
)


def test_early_deaths_in_a_row_double_the_pause_up_to_the_cap_and_never_stop() -> None:
    backoff = RespawnBackoff()
    pauses = [backoff.delay(0, lived_seconds=1.0) for _ in range(10_000)]
    assert pauses[:4] == [
        0.0,
        RESPAWN_FIRST_DELAY_SECONDS,
        2 * RESPAWN_FIRST_DELAY_SECONDS,
        4 * RESPAWN_FIRST_DELAY_SECONDS,
    ]
    assert pauses == sorted(pauses)
    assert pauses[-1] == RESPAWN_MAX_DELAY_SECONDS


def test_a_worker_that_ran_a_while_is_replaced_at_once_and_starts_a_new_run() -> None:
    backoff = RespawnBackoff()
    for _ in range(5):
        backoff.delay(0, lived_seconds=0.5)
    assert backoff.delay(0, lived_seconds=RESPAWN_STABLE_SECONDS) == 0.0
    assert backoff.delay(0, lived_seconds=0.5) == RESPAWN_FIRST_DELAY_SECONDS


def test_each_worker_has_its_own_run() -> None:
    backoff = RespawnBackoff()
    for _ in range(5):
        backoff.delay(0, lived_seconds=0.5)
    assert backoff.delay(1, lived_seconds=0.5) == 0.0
