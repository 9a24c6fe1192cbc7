"""The per-address limit's pieces: what an address counts as, and the sliding-window arithmetic."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from resolvers_services.address_limit import address_key, estimate, seconds_until_admitted


@pytest.mark.parametrize(
    ("source", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("127.0.0.2", "127.0.0.2"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::1", "::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("fe80::1%eth0", "fe80::/64"),
        ("unknown", "unknown"),
        ("", "unknown"),
        ("not an address", "not an address"),
    ],
)
def test_address_key(source: str, key: str) -> None:
    assert address_key(source) == key


def test_every_ipv6_address_of_one_slash_64_has_one_key_and_it_fits_the_column() -> None:
    keys = {address_key(f"2001:db8:ffff:ffff:{n:x}::{n:x}") for n in range(1, 2000, 97)}
    assert keys == {"2001:db8:ffff:ffff::/64"}
    assert len(address_key("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")) <= 45


def test_the_estimate_weighs_the_previous_minute_by_what_is_left_of_it() -> None:
    assert estimate(previous=0, current=20, elapsed=5) == 20
    assert estimate(previous=20, current=0, elapsed=0) == 20
    assert estimate(previous=20, current=0, elapsed=30) == 10
    assert estimate(previous=20, current=5, elapsed=45) == 10


def test_a_burst_across_a_minute_boundary_is_not_twice_the_limit() -> None:
    # 20 in the last second of a minute, then 20 more at the start of the next:
    # a fixed window would admit all 40, the sliding one refuses the second lot.
    assert estimate(previous=20, current=1, elapsed=1) > 20


@pytest.mark.parametrize(
    ("previous", "current", "elapsed", "limit", "wait"),
    [
        (0, 20, 10, 20, 50 + 3),  # next minute, once 1/20 of this one has slid out
        (0, 20, 59.5, 20, 1 + 3),
        (20, 0, 0, 20, 3),  # this minute, once 1/20 of the previous one has slid out
        (20, 10, 10, 20, 23),  # 20 * (60 - t) / 60 + 11 <= 20 from t = 33
        (0, 1, 0, 1, 120),  # a limit of one: the whole next minute
    ],
)
def test_seconds_until_admitted(
    previous: int, current: int, elapsed: float, limit: int, wait: int
) -> None:
    assert seconds_until_admitted(
        previous=previous, current=current, elapsed=elapsed, limit=limit
    ) == pytest.approx(wait, abs=1)


@example(previous=0, current=200, elapsed=0.1, limit=14)  # a boundary lost to rounding
@given(
    previous=st.integers(0, 200),
    current=st.integers(0, 200),
    elapsed=st.floats(0, 59.999),
    limit=st.integers(1, 100),
)
def test_waiting_the_given_time_is_enough_and_not_much_more(
    previous: int, current: int, elapsed: float, limit: int
) -> None:
    def admitted_after(wait: float) -> bool:
        at = elapsed + wait
        if at < 60:
            return estimate(previous=previous, current=current + 1, elapsed=at) <= limit
        if at < 120:
            return estimate(previous=current, current=1, elapsed=at - 60) <= limit
        return True

    if admitted_after(0):
        return  # not refused in the first place
    wait = seconds_until_admitted(previous=previous, current=current, elapsed=elapsed, limit=limit)
    assert admitted_after(wait)
    assert wait == 1 or not admitted_after(wait - 1.001)
