"""The benchmark's streams case: subscribers spread over users, and every (subscriber,
event of its user) delivery accounted for (read once, missing, someone else's)."""

from __future__ import annotations

from typing import Any

import pytest

from bench.streams import MAX_PER_USER, Run, spread, summarise, users_needed


@pytest.mark.parametrize(
    ("subscribers", "per_user"),
    [
        (1, [1]),
        (10, [5, 5]),
        (100, [10] * 10),
        (1000, [100] * 10),
        (999, [100] * 9 + [99]),
        (2500, [MAX_PER_USER] * 25),
    ],
)
def test_subscribers_are_spread_over_users_within_the_per_user_cap(
    subscribers: int, per_user: list[int]
) -> None:
    assert spread(subscribers) == per_user
    assert max(spread(subscribers)) <= MAX_PER_USER


def test_each_subscriber_count_has_users_of_its_own() -> None:
    assert users_needed([1, 100, 1000]) == 1 + 10 + 10


def _summarise(run: Run, owners: list[int], acknowledged: list[bool]) -> dict[str, Any]:
    return summarise(
        run,
        owners=owners,
        acknowledged=acknowledged,
        per_user=[owners.count(user) for user in sorted(set(owners))],
        events=len(run.posts),
        interval=0.5,
        opening={},
        rss=(100 * 1024 * 1024, 101 * 1024 * 1024),
    )


def test_latency_is_from_the_answer_to_each_subscribers_read_of_its_users_events() -> None:
    # Users 0 and 1, two streams each; post a by user 0 answered at 10.0, b by user 1 at 11.0.
    run = Run(
        receipts=[[("a", 10.1)], [("b", 11.3)], [("a", 10.2)], [("b", 11.4)]],
        ended=[None] * 4,
        posts={"a": (0, 10.0), "b": (1, 11.0)},
    )
    result = _summarise(run, owners=[0, 1, 0, 1], acknowledged=[True] * 4)
    assert result["status"] == "ok"
    assert result["deliveries"] == 4
    assert result["missing"] == result["strays"] == result["duplicates"] == 0
    assert result["p50_ms"] == pytest.approx(200.0)
    assert result["max_ms"] == pytest.approx(400.0)
    assert result["kib_per_stream"] == pytest.approx(256.0)


def test_missing_twice_read_and_someone_elses_events_fail_the_case() -> None:
    run = Run(
        # Stream 0 (user 0) reads a twice and user 1's b; stream 1 (user 1) never reads b.
        receipts=[[("a", 10.1), ("a", 10.2), ("b", 11.1)], []],
        ended=[None, None],
        posts={"a": (0, 10.0), "b": (1, 11.0)},
    )
    result = _summarise(run, owners=[0, 1], acknowledged=[True, True])
    assert result["status"] == "errors"
    assert (result["deliveries"], result["missing"]) == (1, 1)
    assert (result["duplicates"], result["strays"]) == (1, 1)


def test_a_stream_never_acknowledged_fails_the_case_but_is_not_counted_missing() -> None:
    run = Run(receipts=[[("a", 10.1)], []], ended=[None, None], posts={"a": (0, 10.0)})
    result = _summarise(run, owners=[0, 0], acknowledged=[True, False])
    assert (result["opened"], result["deliveries"], result["missing"]) == (1, 1, 0)
    assert result["status"] == "errors"


def test_a_stream_that_ends_early_fails_the_case() -> None:
    ended: list[tuple[str, Any] | None] = [("eof", None)]
    run = Run(receipts=[[("a", 10.1)]], ended=ended, posts={"a": (0, 10.0)})
    result = _summarise(run, owners=[0], acknowledged=[True])
    assert result["status"] == "errors"
    assert result["ended_early"] == 1
    assert "stream ended: eof" in result["samples"][0]
