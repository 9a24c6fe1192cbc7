"""Many requests for one user at once: no errors, no lost or phantom posts, order kept."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import pytest
from django.test import Client
from sqlalchemy import text

from persistence.db import get_engine
from persistence.uow import SqlUnitOfWork
from resolvers_services.post_events import stream_lease_take
from schemas.errors import DomainError
from schemas.users import Principal
from tests.conftest import Api, row_id

T = TypeVar("T")
THREADS = 30
MIB = 1024 * 1024


def run_together(jobs: list[Callable[[Api], T]]) -> list[T]:
    """Run every job in its own thread with its own client, released at once by a barrier."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)
    crashes: list[BaseException] = []

    def run(index: int, job: Callable[[Api], T]) -> None:
        api = Api(Client())
        try:
            barrier.wait(timeout=30)
            results[index] = job(api)
        except BaseException as exc:
            crashes.append(exc)

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a request never answered"
    assert crashes == []
    return results


def assert_no_errors(bodies: list[dict[str, Any]]) -> None:
    failed = [body for body in bodies if body.get("errors") or body["_status"] != 200]
    assert failed == [], failed[:3]


def assert_newest_first(posts: list[dict[str, Any]]) -> None:
    keys = [(datetime.fromisoformat(p["createdAt"]), row_id(p["id"])) for p in posts]
    assert keys == sorted(keys, reverse=True)


@pytest.fixture
def token(api: Api) -> str:
    return api.token_for("racer@example.com")


def test_simultaneous_adds_for_one_user_all_succeed(api: Api, token: str) -> None:
    bodies = run_together(
        [lambda c, n=n: c.add_post(f"post {n}", token=token) for n in range(THREADS)]
    )
    assert_no_errors(bodies)
    ids = {body["data"]["addPost"]["postId"] for body in bodies}
    assert len(ids) == THREADS

    listed = api.posts(token)
    assert {p["id"] for p in listed} == ids
    assert sorted(p["text"] for p in listed) == sorted(f"post {n}" for n in range(THREADS))
    assert_newest_first(listed)


def test_deletes_racing_with_adds_and_lists_lose_nothing(api: Api, token: str) -> None:
    other = api.token_for("bystander@example.com")
    bystander = api.add_post("not involved", token=other)["data"]["addPost"]["post"]

    initial = run_together(
        [lambda c, n=n: c.add_post(f"initial {n}", token=token) for n in range(THREADS)]
    )
    assert_no_errors(initial)
    initial_ids = {body["data"]["addPost"]["postId"] for body in initial}
    assert {p["id"] for p in api.posts(token)} == initial_ids  # the cache is warm now

    to_delete = sorted(initial_ids, key=row_id)[::3][:10]
    jobs: list[Callable[[Api], dict[str, Any]]] = []
    for n in range(10):
        jobs.append(lambda c, pid=to_delete[n]: c.delete_post(pid, token=token))
        jobs.append(lambda c, n=n: c.add_post(f"added {n}", token=token))
        jobs.append(lambda c: c.get_posts(token=token))
    bodies = run_together(jobs)
    assert_no_errors(bodies)

    deleted = {b["data"]["deletePost"]["postId"] for b in bodies if "deletePost" in b["data"]}
    added = {b["data"]["addPost"]["postId"] for b in bodies if "addPost" in b["data"]}
    assert deleted == set(to_delete)
    assert len(added) == 10
    assert not added & initial_ids

    everything = initial_ids | added
    for body in bodies:
        if "getPosts" in body["data"]:
            listing = body["data"]["getPosts"]
            assert {p["id"] for p in listing} <= everything
            assert_newest_first(listing)

    final = api.posts(token)
    assert {p["id"] for p in final} == (initial_ids - deleted) | added
    assert len(final) == THREADS - 10 + 10
    assert_newest_first(final)
    assert api.posts(other) == [bystander]


def test_simultaneous_deletes_of_one_post_succeed_exactly_once(api: Api, token: str) -> None:
    keep = api.add_post("keep", token=token)["data"]["addPost"]["post"]
    target = api.add_post("target", token=token)["data"]["addPost"]["postId"]
    bodies = run_together([lambda c: c.delete_post(target, token=token) for _ in range(10)])
    codes = sorted(
        body["errors"][0]["extensions"]["code"] if body.get("errors") else "OK" for body in bodies
    )
    assert codes == ["NOT_FOUND"] * 9 + ["OK"]
    assert api.posts(token) == [keep]


def test_simultaneous_adds_for_many_users_keep_posts_apart(api: Api) -> None:
    tokens = [api.token_for(f"user{n}@example.com") for n in range(5)]
    jobs = [
        lambda c, t=t, n=n, i=i: c.add_post(f"user {n} post {i}", token=t)
        for n, t in enumerate(tokens)
        for i in range(6)
    ]
    assert_no_errors(run_together(jobs))
    for n, t in enumerate(tokens):
        listed = api.posts(t)
        assert sorted(p["text"] for p in listed) == sorted(f"user {n} post {i}" for i in range(6))
        assert_newest_first(listed)


@pytest.mark.mysql
def test_one_mib_of_four_byte_characters_is_stored_byte_for_byte_on_mysql(
    api: Api, token: str
) -> None:
    value = "\N{GRINNING FACE}" * (MIB // 4 - 1) + "\U0001d11e"
    assert len(value.encode("utf-8")) == MIB
    body = api.add_post(value, token=token)
    assert "errors" not in body, str(body)[:300]
    post_id = row_id(body["data"]["addPost"]["postId"])

    with get_engine().connect() as conn:
        row = conn.execute(
            text(
                "SELECT octet_length(text) AS octets, char_length(text) AS chars, text "
                "FROM posts WHERE id = :id"
            ),
            {"id": post_id},
        ).one()
    assert row.octets == MIB
    assert row.chars == MIB // 4
    assert row.text.encode("utf-8") == value.encode("utf-8")
    (listed,) = api.posts(token)
    assert listed["text"].encode("utf-8") == value.encode("utf-8")


def test_subscriptions_opened_at_once_are_each_counted_and_none_fails(api: Api) -> None:
    """Each open takes a lease under the user's lock; on SQLite that lock was a read, and
    a racing open's insert was then refused at once ("database is locked": a 500)."""
    signed_up = api.signup("watcher@example.com")["data"]["signup"]
    user = Principal(
        id=row_id(signed_up["user"]["id"]),
        email="watcher@example.com",
        session_id=1,
        posts_version=0,
        posts_count=0,
        posts_bytes=0,
    )
    maximum = THREADS - 5
    outcomes = run_together([lambda _api: _take_lease(user, maximum) for _ in range(THREADS)])
    assert sorted(outcomes) == sorted(["taken"] * maximum + ["RATE_LIMITED"] * 5)


def _take_lease(user: Principal, maximum: int) -> str:
    try:
        stream_lease_take(uow=SqlUnitOfWork(), user=user, max_open=maximum)
    except DomainError as error:
        return error.code.value
    return "taken"
