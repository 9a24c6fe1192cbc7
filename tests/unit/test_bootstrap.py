"""Start-up wiring (config/bootstrap.py): the shared state is built once, handed to
what uses it, and built again from settings after a reset or an overridden setting."""

from __future__ import annotations

from django.test import override_settings

from config import bootstrap


def test_the_shared_state_is_built_once_and_the_pipeline_hands_on_the_same_pieces() -> None:
    state = bootstrap.current()
    assert bootstrap.current() is state
    assert bootstrap.pipeline() is state.pipeline
    assert state.pipeline.posts_cache is state.posts_cache
    assert state.pipeline.tokens is state.tokens


def test_reset_builds_it_again() -> None:
    before = bootstrap.current()
    bootstrap.reset()
    after = bootstrap.current()
    assert after is not before
    assert after.posts_cache is not before.posts_cache
    assert after.pipeline is not before.pipeline


def test_overriding_a_setting_it_is_built_from_rebuilds_it_with_that_setting() -> None:
    before = bootstrap.current()
    with override_settings(GRAPHQL_MAX_DEPTH=5, POSTS_CACHE_MAX_BYTES=0):
        during = bootstrap.current()
        assert during is not before
        assert during.pipeline.limits.max_depth == 5
        assert not during.posts_cache.enabled
    assert bootstrap.current() is not during


def test_overriding_another_setting_keeps_it() -> None:
    before = bootstrap.current()
    with override_settings(JWT_LIFETIME_SECONDS=60):
        assert bootstrap.current() is before
