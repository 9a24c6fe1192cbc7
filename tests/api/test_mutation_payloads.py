"""Mutation payloads apply themselves: addPost's postEdge is the new post's edge in
viewer.posts (for Relay's @prependEdge), deletePost's postId its global id (for
@deleteEdge), and both carry the viewer with posts { totalCount } as it is after the write.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import Api, db_scalar, error_code, gid, row_id

ADD = """
mutation($t: String!) {
  addPost(text: $t) {
    postId
    post { id text createdAt }
    postEdge { cursor node { id text createdAt } }
    viewer { id email posts { totalCount } }
  }
}
"""
DELETE = """
mutation($id: ID!) {
  deletePost(postId: $id) { postId viewer { id email posts { totalCount } } }
}
"""
PAGE = """
query($first: Int, $after: String) {
  viewer {
    posts(first: $first, after: $after) {
      edges { cursor node { id text createdAt } }
      totalCount
    }
  }
}
"""
COUNT = "{ viewer { posts { totalCount } } }"


def data(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, str(body)[:500]
    result: dict[str, Any] = body["data"]
    return result


def add(api: Api, token: str, value: str) -> dict[str, Any]:
    payload: dict[str, Any] = data(api.post(ADD, {"t": value}, token=token))["addPost"]
    return payload


def delete(api: Api, token: str, post_id: str) -> dict[str, Any]:
    payload: dict[str, Any] = data(api.post(DELETE, {"id": post_id}, token=token))["deletePost"]
    return payload


def page(api: Api, token: str, **arguments: Any) -> dict[str, Any]:
    connection: dict[str, Any] = data(api.post(PAGE, arguments, token=token))["viewer"]["posts"]
    return connection


def total(api: Api, token: str) -> int:
    count: int = data(api.post(COUNT, token=token))["viewer"]["posts"]["totalCount"]
    return count


def me(email: str) -> str:
    return gid("User", int(db_scalar("SELECT id FROM users WHERE email = :e", e=email)))


# addPost { postEdge }


def test_add_post_edge_is_the_edge_a_following_page_gives_the_post(api: Api, alice: str) -> None:
    older = [add(api, alice, f"older {n}") for n in range(3)]
    payload = add(api, alice, "the new one")
    assert payload["postEdge"]["node"] == payload["post"]
    assert payload["postEdge"]["node"]["id"] == payload["postId"]
    [first, *rest] = page(api, alice, first=10)["edges"]
    assert first == payload["postEdge"]
    # The cursors the payloads gave stay those of a page once newer posts come.
    assert rest == [edge["postEdge"] for edge in reversed(older)]


def test_add_post_edge_cursor_pages_on_from_the_new_post(api: Api, alice: str) -> None:
    add(api, alice, "before")
    edge = add(api, alice, "middle")["postEdge"]
    add(api, alice, "after")
    older = page(api, alice, first=10, after=edge["cursor"])
    assert [e["node"]["text"] for e in older["edges"]] == ["before"]


def test_add_post_edge_cursor_is_stable_across_pages_of_other_sizes(api: Api, alice: str) -> None:
    edges = [add(api, alice, f"post {n}")["postEdge"] for n in range(5)]
    newest_first = edges[::-1]
    after = None
    for expected in (newest_first[:2], newest_first[2:4], newest_first[4:]):
        connection = page(api, alice, first=2, after=after)
        assert connection["edges"] == expected
        after = connection["edges"][-1]["cursor"]


# viewer { posts { totalCount } } in the payloads


def test_add_post_viewer_is_the_caller_counting_the_new_post(
    api: Api, alice: str, bob: str
) -> None:
    add(api, bob, "not alice's")
    assert total(api, alice) == 0  # the caller's row, as read before the writes
    for n in range(1, 4):
        viewer = add(api, alice, f"post {n}")["viewer"]
        assert viewer == {
            "id": me("alice@example.com"),
            "email": "alice@example.com",
            "posts": {"totalCount": n},
        }
        assert total(api, alice) == n
    assert page(api, alice)["totalCount"] == 3


def test_delete_post_id_is_the_deleted_posts_global_id(api: Api, alice: str) -> None:
    kept = add(api, alice, "kept")
    gone = add(api, alice, "gone")
    payload = delete(api, alice, gone["postId"])
    assert payload["postId"] == gone["postId"] == gone["post"]["id"]
    assert payload["postId"] == gid("Post", row_id(gone["postId"]))
    assert [edge["node"] for edge in page(api, alice)["edges"]] == [kept["post"]]


def test_delete_post_viewer_no_longer_counts_the_post(api: Api, alice: str) -> None:
    ids = [add(api, alice, f"post {n}")["postId"] for n in range(3)]
    for left, post_id in zip((2, 1, 0), ids, strict=True):
        viewer = delete(api, alice, post_id)["viewer"]
        assert viewer == {
            "id": me("alice@example.com"),
            "email": "alice@example.com",
            "posts": {"totalCount": left},
        }
        assert total(api, alice) == left
    assert page(api, alice) == {"edges": [], "totalCount": 0}


def test_a_refused_delete_has_no_payload_and_changes_no_count(
    api: Api, alice: str, bob: str
) -> None:
    bobs = add(api, bob, "bob's")["postId"]
    add(api, alice, "alice's")
    body = api.post(DELETE, {"id": bobs}, token=alice)
    assert error_code(body) == "NOT_FOUND"
    assert body["data"] is None
    assert (total(api, alice), total(api, bob)) == (1, 1)


def test_the_payload_viewer_pages_the_posts_as_they_are_after_the_write(
    api: Api, alice: str
) -> None:
    add(api, alice, "old")
    body = api.post(
        "mutation($t: String!) { addPost(text: $t) { postEdge { cursor } "
        "viewer { posts(first: 5) { edges { cursor node { text } } totalCount } } } }",
        {"t": "new"},
        token=alice,
    )
    payload = data(body)["addPost"]
    connection = payload["viewer"]["posts"]
    assert [edge["node"]["text"] for edge in connection["edges"]] == ["new", "old"]
    assert connection["edges"][0]["cursor"] == payload["postEdge"]["cursor"]
    assert connection["totalCount"] == 2


def test_reads_after_a_payload_see_the_write_although_they_were_cached(
    api: Api, alice: str
) -> None:
    add(api, alice, "first")
    # Warm the per-user posts cache and the response cache.
    assert [post["text"] for post in api.posts(alice)] == ["first"]
    assert total(api, alice) == 1
    second = add(api, alice, "second")
    assert api.posts(alice)[0] == second["post"]
    assert [post["text"] for post in api.posts(alice)] == ["second", "first"]
    assert total(api, alice) == second["viewer"]["posts"]["totalCount"] == 2
    delete(api, alice, second["postId"])
    assert [post["text"] for post in api.posts(alice)] == ["first"]
    assert total(api, alice) == 1
