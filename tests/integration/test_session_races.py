"""Racing refreshes of one refresh token: exactly one wins, and the race itself is reuse."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api, error_code
from tests.integration.test_concurrency import run_together


def outcome(body: dict[str, Any]) -> str:
    return error_code(body) if body.get("errors") else "OK"


@pytest.mark.parametrize("racers", [2, 8])
def test_racing_refreshes_of_one_token_give_one_success_and_end_the_session(
    api: Api, racers: int
) -> None:
    payload = api.new_account("alice@example.com")
    bodies = run_together([lambda c: c.refresh(payload["refreshToken"]) for _ in range(racers)])
    assert sorted(outcome(b) for b in bodies) == ["OK"] + ["UNAUTHENTICATED"] * (racers - 1)
    [winner] = [b["data"]["refreshToken"] for b in bodies if outcome(b) == "OK"]
    # The losers presented a token that had just been rotated: the session ended,
    # so even the winner's fresh tokens are refused from now on.
    assert error_code(api.refresh(winner["refreshToken"])) == "UNAUTHENTICATED"
    assert error_code(api.get_posts(token=winner["token"])) == "UNAUTHENTICATED"
    assert error_code(api.get_posts(token=payload["token"])) == "UNAUTHENTICATED"


def test_racing_refreshes_of_different_sessions_all_succeed(api: Api) -> None:
    sessions = [api.new_account("alice@example.com")] + [
        api.new_session("alice@example.com") for _ in range(5)
    ]
    bodies = run_together([lambda c, p=p: c.refresh(p["refreshToken"]) for p in sessions])
    assert [outcome(b) for b in bodies] == ["OK"] * len(sessions)
    for body in bodies:
        token = body["data"]["refreshToken"]["token"]
        assert api.get_posts(token=token)["data"] == {"getPosts": []}
