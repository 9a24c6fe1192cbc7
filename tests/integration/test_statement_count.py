"""The session check costs no extra round trip: an authenticated request reads its caller,
user and session together, in the one statement it made before sessions existed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.conftest import Api, error_code
from tests.statements import listening

_TRANSACTION_CONTROL = {"BEGIN", "COMMIT", "ROLLBACK"}


@contextmanager
def statements() -> Iterator[list[str]]:
    """Every SQL statement sent to the database inside the block."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    with listening(record):
        yield seen


def queries(seen: list[str]) -> list[str]:
    """The statements that do work (SQLite's explicit BEGIN left out)."""
    return [s for s in seen if s.strip().upper() not in _TRANSACTION_CONTROL]


def test_a_cached_get_posts_costs_one_statement_that_checks_user_and_session(
    api: Api, alice: str
) -> None:
    api.posts(alice)  # fills the cache: the next getPosts only authenticates
    with statements() as seen:
        body = api.get_posts(token=alice)
    assert body["data"] == {"getPosts": []}
    [only] = queries(seen)
    lowered = only.lower()
    assert lowered.lstrip().startswith("select")
    assert re.search(r"from users (inner )?join sessions on", " ".join(lowered.split()))
    assert "ended_at is null" in lowered
    assert "expires_at >" in lowered


def test_an_ended_session_is_refused_by_that_same_one_statement(api: Api) -> None:
    payload = api.new_account("alice@example.com")
    assert "errors" not in api.logout(token=payload["token"])
    with statements() as seen:
        body = api.get_posts(token=payload["token"])
    assert error_code(body) == "UNAUTHENTICATED"
    assert len(queries(seen)) == 1


def test_a_bad_token_costs_no_statement_at_all(api: Api) -> None:
    with statements() as seen:
        body = api.get_posts(token="not-a-jwt")
    assert error_code(body) == "UNAUTHENTICATED"
    assert queries(seen) == []
