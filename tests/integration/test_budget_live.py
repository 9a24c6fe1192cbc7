"""The never-seen-document budget against a live server shaped as `make run` serves it
(two workers): one connection sends never-seen documents at the limit of each cap as
fast as it can; another client's getPosts keeps its latency (p50 within 2x of its
unloaded p50), and the flood is refused past the budget (the contract, Transport)."""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path

import pytest

from devkit.client import GraphQLClient
from tests.api.test_document_cost import AT_THE_CAPS
from tests.conftest import PASSWORD
from tests.live_server import server_env, serving

pytestmark = pytest.mark.live

SIGNUP = "mutation($e: String!, $p: String!) { signup(email: $e, password: $p) { token } }"
ADD = "mutation($t: String!) { addPost(text: $t) { postId } }"
GET_POSTS = "query { getPosts { id text createdAt } }"
VIEWER = "query { viewer { id } }"
SAMPLES = 60
TIMEOUT = 60  # a hang guard, not a bound
# What builds documents without the database (the costly-root-fields one reads it).
BUILDERS = [build for name, build in AT_THE_CAPS.items() if "costly" not in name]


class Flood:
    """One keep-alive connection sending never-seen documents until stopped."""

    def __init__(self, base: str, me: str) -> None:
        self.base, self.me = base, me
        self.stop = threading.Event()
        self.codes: list[str] = []
        self.statuses: set[int | None] = set()

    def run(self) -> None:
        with GraphQLClient(self.base, timeout=TIMEOUT, source_address="127.0.0.66") as flooder:
            n = 0
            while not self.stop.is_set():
                build = BUILDERS[n % len(BUILDERS)]
                document = build(self.me, f"f{n}")
                name = document.split("query ", 1)[1].split(" ", 1)[0].split("(", 1)[0]
                reply = flooder.graphql(
                    document, operation_name=name if "query " in document else None
                )
                self.statuses.add(reply.status)
                errors = (reply.body or {}).get("errors") or [{}]
                self.codes.append(str(errors[0].get("extensions", {}).get("code", "OK")))
                n += 1


def test_a_flood_of_never_seen_documents_is_refused_past_the_budget_and_slows_nobody(
    database_url: str, tmp_path: Path
) -> None:
    env = server_env(database_url, tmp_path / "var")
    with (
        serving(env, tmp_path / "server.log", workers=2, threads=None) as server,
        GraphQLClient(server.base, timeout=TIMEOUT, source_address="127.0.0.2") as user,
    ):
        token = user.graphql(SIGNUP, {"e": "budget@example.com", "p": PASSWORD}).data("signup")[
            "token"
        ]
        for n in range(10):
            user.graphql(ADD, {"t": f"post {n}"}, token=token)
        me = user.graphql(VIEWER, token=token).data("viewer")["id"]
        for _ in range(20):  # warm both workers up
            user.graphql(GET_POSTS, token=token)

        def timed() -> list[float]:
            replies = [user.graphql(GET_POSTS, token=token) for _ in range(SAMPLES)]
            assert all(reply.codes == [] for reply in replies)
            return [reply.seconds for reply in replies]

        unloaded = timed()
        flood = Flood(server.base, me)
        thread = threading.Thread(target=flood.run, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 30
            while flood.codes.count("RATE_LIMITED") < 20 and time.monotonic() < deadline:
                time.sleep(0.05)
            loaded = timed()
        finally:
            flood.stop.set()
            thread.join(timeout=TIMEOUT)
    assert not thread.is_alive()
    figures = (
        f"getPosts p50 unloaded {statistics.median(unloaded) * 1000:.1f} ms, "
        f"loaded {statistics.median(loaded) * 1000:.1f} ms "
        f"({statistics.median(loaded) / statistics.median(unloaded):.2f}x); "
        f"the flood: {len(flood.codes)} documents, {flood.codes.count('RATE_LIMITED')} refused"
    )
    print(figures)
    assert flood.statuses == {200}, figures
    # Two workers, each with its own budget of 60 a minute for the address.
    prepared = len(flood.codes) - flood.codes.count("RATE_LIMITED")
    assert prepared <= 2 * 60, figures
    assert flood.codes.count("RATE_LIMITED") >= 20, figures
    assert statistics.median(loaded) <= 2 * statistics.median(unloaded), figures
