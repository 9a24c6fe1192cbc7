"""Paging a connection while other requests add and delete posts at the same time."""

from __future__ import annotations

import random
import threading
from typing import Any

from django.test import Client

from tests.conftest import Api

PAGE = """
query($after: String) {
  viewer { posts(first: 7, after: $after) {
    edges { node { id text } }
    pageInfo { hasNextPage endCursor }
  } }
}
"""


def ok(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body
    assert body["_status"] == 200, body
    data: dict[str, Any] = body["data"]
    return data


def one_pass(api: Api, token: str) -> list[str]:
    """Every post id from the newest on, following endCursor, as one client would."""
    seen: list[str] = []
    after = None
    while True:
        connection = ok(api.post(PAGE, {"after": after}, token=token))["viewer"]["posts"]
        seen.extend(edge["node"]["id"] for edge in connection["edges"])
        if not connection["pageInfo"]["hasNextPage"]:
            return seen
        after = connection["pageInfo"]["endCursor"]


def test_paging_during_concurrent_adds_and_deletes_never_repeats_or_skips(api: Api) -> None:
    token = api.token_for("pager@example.com")
    # Oldest first: posts that stay ("keep") interleaved with posts that go ("doomed").
    kept: list[str] = []
    doomed: list[str] = []
    for n in range(40):
        for label, bucket in (("keep", kept), ("doomed", doomed)):
            bucket.append(ok(api.add_post(f"{label} {n}", token=token))["addPost"]["postId"])
    kept_newest_first = kept[::-1]
    random.Random(7).shuffle(doomed)

    added: list[str] = []
    passes: list[list[str]] = []
    crashes: list[BaseException] = []
    writers_done = threading.Event()
    start = threading.Barrier(4)

    def deleter(victims: list[str]) -> None:
        client = Api(Client())
        start.wait(timeout=30)
        for victim in victims:
            ok(client.delete_post(victim, token=token))

    def adder(name: str) -> None:
        client = Api(Client())
        start.wait(timeout=30)
        for n in range(20):
            added.append(ok(client.add_post(f"{name} {n}", token=token))["addPost"]["postId"])

    def pager() -> None:
        client = Api(Client())
        start.wait(timeout=30)
        while not writers_done.is_set() or len(passes) < 3:
            passes.append(one_pass(client, token))

    def guarded(target: Any, *args: Any) -> threading.Thread:
        def run() -> None:
            try:
                target(*args)
            except BaseException as exc:
                crashes.append(exc)
                writers_done.set()

        return threading.Thread(target=run)

    writers = [
        guarded(deleter, doomed[:20]),
        guarded(deleter, doomed[20:]),
        guarded(adder, "added"),
    ]
    paging = guarded(pager)
    for thread in [*writers, paging]:
        thread.start()
    for thread in writers:
        thread.join(timeout=180)
    writers_done.set()
    paging.join(timeout=180)
    assert not any(t.is_alive() for t in [*writers, paging]), "a request never answered"
    assert crashes == []
    assert len(passes) >= 3

    everything = set(kept) | set(doomed) | set(added)
    for number, seen in enumerate(passes):
        assert len(seen) == len(set(seen)), f"pass {number} repeated a post"
        assert [p for p in seen if p in set(kept)] == kept_newest_first, (
            f"pass {number} skipped or reordered a post that existed throughout"
        )
        assert set(seen) <= everything
    # The writers really overlapped the paging: the first pass began before they ended.
    assert set(doomed) & set(passes[0]), "the deletes all finished before paging began"
    final = one_pass(api, token)
    assert set(final) == set(kept) | set(added)
