"""What the caches keep holds its own length, not orjson's allocation (schemas/allocation.py)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import orjson

from gql.response_cache import ResponseCache
from schemas.allocation import COPY_BELOW_BYTES, shrink_to_fit
from schemas.posts import JsonText


@contextmanager
def _traced() -> Iterator[Callable[[], int]]:
    """The bytes allocated since entering and still held."""
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    try:
        yield lambda: tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()


def test_orjson_output_is_allocated_far_beyond_its_length() -> None:
    """Why this exists: if orjson trims its output one day, shrink_to_fit() has nothing to do."""
    with _traced() as held:
        small = [orjson.dumps({}) for _ in range(100)]
        assert held() > 100 * 1000
    assert small[0] == b"{}"


def test_shrink_to_fit_copies_a_small_output_into_its_own_length() -> None:
    with _traced() as held:
        shrunk = [shrink_to_fit(orjson.dumps({"a": n})) for n in range(100)]
        assert held() < 100 * 200
    assert shrunk[7] == b'{"a":7}'
    large = orjson.dumps("x" * COPY_BELOW_BYTES)
    assert shrink_to_fit(large) is large  # mapped memory: untouched pages are never resident


def test_a_post_literal_holds_its_length() -> None:
    with _traced() as held:
        literals = [JsonText.from_utf8(f"post {n}: héllo".encode()) for n in range(100)]
        assert held() < 100 * 300
    assert literals[3].literal == '"post 3: héllo"'.encode()


def test_a_response_cache_at_its_bound_holds_about_its_bound() -> None:
    """Bodies as the pipeline encodes them (orjson), keys as it builds them."""
    bound = 2 * 1024 * 1024
    cache = ResponseCache(ttl_seconds=300, max_bytes=bound)
    with _traced() as held:
        for n in range(5000):
            body = orjson.dumps({"data": {"getPosts": [{"id": str(n), "text": "x" * 900}]}})
            variables = shrink_to_fit(orjson.dumps({}, option=orjson.OPT_SORT_KEYS))
            cache.put((n, "0" * 64, "GetPosts", variables), n, body)
        assert cache.current_bytes <= bound
        # Bodies, keys and the cache's own links: well under twice the bound (orjson's
        # allocations kept as they are held more than four times it).
        assert held() < 2 * bound
