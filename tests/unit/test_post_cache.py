"""PostsCache on its own: version checks, TTL, the byte bound, and thread safety."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from resolvers_services.post_cache import PostsCache
from schemas.posts import PostOut

CREATED = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


class FakeTimer:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def posts(*texts: str, first_id: int = 1) -> tuple[PostOut, ...]:
    return tuple(
        PostOut(id=first_id + i, text=text, created_at=CREATED) for i, text in enumerate(texts)
    )


def make_cache(
    *, ttl: float = 60, max_bytes: int = 1024 * 1024, timer: FakeTimer | None = None
) -> PostsCache:
    return PostsCache(ttl_seconds=ttl, max_bytes=max_bytes, timer=timer or FakeTimer())


def test_get_at_the_cached_version_is_a_hit() -> None:
    cache = make_cache()
    cached = posts("hello", "world")
    cache.put(7, 3, cached)
    assert cache.get(7, 3) == cached
    assert cache.hits == 1


def test_get_at_another_version_is_a_miss() -> None:
    cache = make_cache()
    cache.put(7, 3, posts("hello"))
    assert cache.get(7, 4) is None
    assert cache.get(7, 2) is None
    assert cache.misses == 2


def test_entries_are_per_user() -> None:
    cache = make_cache()
    cache.put(1, 0, posts("one"))
    assert cache.get(2, 0) is None
    assert cache.get(1, 0) == posts("one")


def test_empty_post_list_is_cached_as_a_hit() -> None:
    cache = make_cache()
    cache.put(1, 0, ())
    assert cache.get(1, 0) == ()


def test_entry_expires_after_the_ttl() -> None:
    timer = FakeTimer()
    cache = make_cache(ttl=10, timer=timer)
    cache.put(1, 0, posts("a"))
    timer.advance(9.9)
    assert cache.get(1, 0) == posts("a")
    timer.advance(0.2)
    assert cache.get(1, 0) is None


def test_byte_bound_evicts_older_entries() -> None:
    timer = FakeTimer()
    text = "x" * 1000
    probe = make_cache(timer=timer)
    probe.put(1, 0, posts(text))
    one_entry = probe.current_bytes
    assert one_entry > 1000
    # Room for two entries, not three.
    max_bytes = one_entry * 2 + one_entry // 2
    cache = make_cache(max_bytes=max_bytes, timer=timer)
    for user_id in (1, 2, 3):
        cache.put(user_id, 0, posts(text))
        assert cache.current_bytes <= max_bytes
    assert cache.get(1, 0) is None
    assert cache.get(2, 0) == posts(text)
    assert cache.get(3, 0) == posts(text)
    assert cache.current_bytes <= max_bytes


def test_many_entries_never_exceed_the_byte_bound() -> None:
    cache = make_cache(max_bytes=20_000)
    for user_id in range(1, 200):
        cache.put(user_id, 0, posts("y" * (user_id * 10)))
        assert cache.current_bytes <= 20_000
    # The newest entry fits, so it is kept.
    assert cache.get(199, 0) == posts("y" * 1990)


def test_entry_bigger_than_the_bound_is_not_stored() -> None:
    cache = make_cache(max_bytes=2000)
    cache.put(1, 0, posts("small"))
    cache.put(2, 0, posts("z" * 5000))
    assert cache.get(2, 0) is None
    # Storing it did not push out what fits.
    assert cache.get(1, 0) == posts("small")
    assert cache.current_bytes <= 2000


def test_oversized_result_drops_the_users_older_entry() -> None:
    cache = make_cache(max_bytes=2000)
    cache.put(1, 0, posts("small"))
    cache.put(1, 1, posts("z" * 5000))
    assert cache.get(1, 0) is None
    assert cache.get(1, 1) is None


def test_many_small_posts_count_towards_the_bound() -> None:
    cache = make_cache(max_bytes=5000)
    cache.put(1, 0, posts(*["p"] * 100))
    assert cache.get(1, 0) is None
    assert cache.current_bytes == 0


def test_ttl_zero_disables_the_cache() -> None:
    cache = make_cache(ttl=0)
    assert not cache.enabled
    cache.put(1, 0, posts("a"))
    assert cache.get(1, 0) is None
    assert cache.current_bytes == 0


def test_older_version_does_not_overwrite_newer() -> None:
    cache = make_cache()
    newer = posts("new", "old")
    cache.put(1, 5, newer)
    cache.put(1, 4, posts("old"))
    assert cache.get(1, 5) == newer
    assert cache.get(1, 4) is None


def test_newer_version_replaces_older() -> None:
    cache = make_cache()
    cache.put(1, 4, posts("old"))
    cache.put(1, 5, posts("new", "old"))
    assert cache.get(1, 5) == posts("new", "old")
    assert cache.get(1, 4) is None


def test_discard_and_clear_forget_entries() -> None:
    cache = make_cache()
    cache.put(1, 0, posts("a"))
    cache.put(2, 0, posts("b"))
    cache.discard(1)
    assert cache.get(1, 0) is None
    assert cache.get(2, 0) == posts("b")
    cache.clear()
    assert cache.get(2, 0) is None
    assert cache.current_bytes == 0


def test_concurrent_puts_and_gets_raise_nothing_and_stay_bounded() -> None:
    max_bytes = 50_000
    cache = PostsCache(ttl_seconds=60, max_bytes=max_bytes)
    threads_count = 16
    barrier = threading.Barrier(threads_count)
    errors: list[BaseException] = []
    wrong: list[tuple[int, int]] = []

    def work(worker: int) -> None:
        try:
            barrier.wait()
            for i in range(500):
                user_id = (worker * 7 + i) % 40 + 1
                version = i % 5
                expected = posts(f"user {user_id} version {version}" * (i % 30 + 1))
                cache.put(user_id, version, expected)
                got = cache.get(user_id, version)
                # A hit is always what some thread stored for that user and version.
                if got is not None and not got[0].text.startswith(
                    f"user {user_id} version {version}"
                ):
                    wrong.append((user_id, version))
                if i % 50 == 0:
                    cache.discard(user_id)
                assert cache.current_bytes <= max_bytes
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert wrong == []
    assert cache.current_bytes <= max_bytes
    assert cache.hits + cache.misses == threads_count * 500
