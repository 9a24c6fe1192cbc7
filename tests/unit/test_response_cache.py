"""The response cache: a hit only at the version it was made at, one entry per request."""

from __future__ import annotations

from gql.response_cache import Key, ResponseCache, key_bytes

KEY: Key = (7, "0" * 64, "GetPosts", b"{}")


def _cache(max_bytes: int = 1024 * 1024) -> ResponseCache:
    return ResponseCache(ttl_seconds=300, max_bytes=max_bytes)


def test_an_answer_is_a_hit_only_at_the_version_it_was_made_at() -> None:
    cache = _cache()
    cache.put(KEY, 3, b'{"data":{"getPosts":[]}}')
    assert cache.get(KEY, 3) == b'{"data":{"getPosts":[]}}'
    assert cache.get(KEY, 4) is None  # the caller wrote since
    assert cache.get(KEY, 2) is None
    assert cache.get((8, *KEY[1:]), 3) is None  # another caller


def test_a_user_who_writes_often_leaves_one_entry_per_request_not_one_per_version() -> None:
    cache = _cache()
    body = b"x" * 1000
    for version in range(1, 201):
        cache.put(KEY, version, body)
    assert cache.current_bytes == len(body) + key_bytes(KEY)
    assert cache.get(KEY, 200) == body
    assert cache.get(KEY, 199) is None


def test_a_slower_request_does_not_replace_a_newer_answer() -> None:
    cache = _cache()
    cache.put(KEY, 5, b"new")
    cache.put(KEY, 4, b"old")  # read version 4 before the write, finished after
    assert cache.get(KEY, 5) == b"new"
    assert cache.get(KEY, 4) is None


def test_the_cache_stays_within_its_byte_bound() -> None:
    cache = _cache(max_bytes=10_000)
    for user in range(100):
        cache.put((user, "0" * 64, None, b"{}"), 1, b"y" * 900)
    assert cache.current_bytes <= 10_000
    cache.put(KEY, 1, b"z" * 10_001)  # alone over the bound: not stored
    assert cache.get(KEY, 1) is None
    assert cache.current_bytes <= 10_000


def test_an_entry_weighs_its_key_too_so_large_variables_cannot_outgrow_the_bound() -> None:
    cache = ResponseCache(ttl_seconds=300, max_bytes=4 * 1024 * 1024)
    body = b'{"data":{}}'
    for n in range(10):  # 10 keys of 1 MiB of variables each, for 11-byte answers
        cache.put((1, "sha", None, bytes([n]) * 1024 * 1024), 1, body)
    assert cache.current_bytes <= 4 * 1024 * 1024
    assert cache.current_bytes >= 3 * 1024 * 1024  # the keys are what is counted
    huge = (1, "sha", None, b"x" * 5 * 1024 * 1024)
    cache.put(huge, 1, body)  # an entry over the bound by its key alone is not kept
    assert cache.get(huge, 1) is None
