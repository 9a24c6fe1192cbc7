"""A worker's memory for getPosts of a user at the byte quota, on a live server.

Issue 12: one getPosts of a user at the quota must keep the worker's peak within
3x the response size, and the memory must go back afterwards. The peak is the
kernel's own high-water mark of the worker (VmHWM), reset just before the
request (``/proc/<pid>/clear_refs``), so nothing between two polls is missed.

The quota here (20 MiB) is above the caches' bounds (8 MiB), as the defaults
are (64 MiB each): a response at the quota is cached nowhere, so everything
it took must be given back.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live_server import Server, local_request, server_env, serving

pytestmark = [pytest.mark.live, pytest.mark.budget]

MiB = 1024 * 1024
QUOTA = 20 * MiB
CACHE_BOUND = 8 * MiB
POST_BYTES = MiB - 64
ROUNDS = 6

TEXTS = {
    # One byte a character in UTF-8, in a Python str and in JSON.
    "ascii": "a" * (POST_BYTES - 1) + "\n",
    # One emoji makes a Python str take four bytes a character: 4 MiB per post.
    "one emoji": "\N{GRINNING FACE}" + "a" * (POST_BYTES - 4),
    # Quotes and newlines take two bytes each in JSON: the response is larger than the posts.
    "escapes": '"\n\\x' * (POST_BYTES // 4),
}


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    env = server_env(
        database_url,
        tmp_path / "var",
        POSTS_MAX_BYTES_PER_USER=str(QUOTA),
        POSTS_CACHE_MAX_BYTES=str(CACHE_BOUND),
        RESPONSE_CACHE_MAX_BYTES=str(CACHE_BOUND),
    )
    # One app thread: each thread's malloc arena is sized once by the first large
    # response it builds (+9-12 MiB, once), and which thread takes a round is chance.
    with serving(env, tmp_path / "server.log", workers=1, threads=1) as live:
        yield live


def _status(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {key} for {pid}")


def _settled_rss(pid: int, *, below: int, wait: float = 15.0) -> int:
    """The worker's RSS once it is under ``below`` and steady, or after ``wait`` seconds.

    The body may still be on its way out of the server (sent in chunks from the
    event loop) when the client has read it all: its memory goes a moment later,
    so one reading under ``below`` may be taken half-way through the freeing.
    """
    deadline = time.monotonic() + wait
    previous = _status(pid, "VmRSS")
    while time.monotonic() < deadline:
        time.sleep(0.1)
        current = _status(pid, "VmRSS")
        if current < below and abs(current - previous) < 256 * 1024:
            return current
        previous = current
    return previous


def _get_posts(server: Server, token: str) -> tuple[bytes, str | None]:
    request = local_request(
        server.base + "/graphql",
        data=json.dumps({"query": "query { getPosts { id text createdAt } }"}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 - local_request
        return response.read(), response.headers.get("Content-Length")


def _fill_to_the_quota(server: Server, token: str, text: str) -> int:
    added = 0
    while True:
        body = server.graphql(
            "mutation ($t: String!) { addPost(text: $t) { postId } }", {"t": text}, token=token
        )
        if "errors" in body:
            assert body["errors"][0]["extensions"]["code"] == "QUOTA_EXCEEDED", body["errors"]
            return added
        added += 1


@pytest.mark.parametrize("kind", list(TEXTS))
def test_get_posts_at_the_byte_quota_peaks_within_3x_the_response_and_gives_it_back(
    server: Server, kind: str
) -> None:
    signup = server.graphql(
        'mutation { signup(email: "full@example.com", password: "correct horse battery") '
        "{ token } }"
    )
    token = signup["data"]["signup"]["token"]
    text = TEXTS[kind]
    added = _fill_to_the_quota(server, token, text)
    assert added == QUOTA // len(text.encode())
    (worker,) = server.worker_pids()
    assert "errors" not in server.graphql("{ __typename }", token=token)  # warm the worker

    settled = []
    for round_ in range(ROUNDS):  # the same every time: nothing is kept, nothing grows
        before = _status(worker, "VmRSS")
        Path(f"/proc/{worker}/clear_refs").write_text("5")  # VmHWM := VmRSS
        body, length = _get_posts(server, token)
        peak = _status(worker, "VmHWM") - before
        after = _settled_rss(worker, below=before + len(body) // 2) - before

        posts = json.loads(body)["data"]["getPosts"]
        assert len(posts) == added
        assert all(post["text"] == text for post in posts)
        assert length == str(len(body))  # streamed in chunks, framed by its length
        figures = (
            f"{kind}: response {len(body) / MiB:.1f} MiB, worker peak +{peak / MiB:.1f} MiB "
            f"({peak / len(body):.2f}x), after +{after / MiB:.1f} MiB"
        )
        print(figures)
        assert peak <= 3 * len(body), figures
        if round_ > 0:  # the first sizes the connections' buffers (MariaDB: up to +10 MiB)
            assert after <= len(body) // 2, figures
        settled.append(before + after)
    print([f"{rss / MiB:.1f}" for rss in settled])
    # What is left after a round is allocator noise, not the response: it climbs to
    # a plateau (docs/adr/0004) and never by the response or the texts, which are each
    # the whole body: kept once a round, they would pass this bound by the second round.
    assert max(settled) - settled[0] <= len(body), settled
