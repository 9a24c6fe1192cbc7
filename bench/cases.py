"""The benchmark's cases: which GraphQL requests wrk sends, with which tokens, in which order."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from devkit.client import persisted_query

GET_POSTS = "query GetPosts { getPosts { id text createdAt } }"
VIEWER_PAGE = (
    "query ViewerPosts { viewer { posts(first: 20) { edges { node { id text createdAt } } "
    "pageInfo { hasNextPage endCursor } totalCount } } }"
)
ADD_POST = "mutation AddPost($text: String!) { addPost(text: $text) { postId post { id text createdAt } } }"
DELETE_POST = "mutation DeletePost($id: ID!) { deletePost(postId: $id) { postId } }"
LOGIN = (
    "mutation Login($email: String!, $password: String!) "
    "{ login(email: $email, password: $password) { token user { id } } }"
)

# Short texts that addPost sends in turn (ASCII, accents, CJK, emoji; 20 to 200 bytes).
ADD_TEXTS = (
    "Hello from the benchmark",
    "Café au lait, s'il vous plaît. Merci beaucoup!",
    "今日はいい天気ですね。散歩に行きましょう。",
    "Shipping a release today 🚀🎉 — wish us luck",
    "A slightly longer post, as people write when they have something to say: "
    "the quick brown fox jumps over the lazy dog, twice, to be sure it is seen.",
    "ok",
)

_ID = re.compile(r"^[A-Za-z0-9+/=_:-]+$")


@dataclass(frozen=True)
class Case:
    """One kind of load; ``headline`` is the request kind whose latency the table shows."""

    name: str
    description: str
    program: str  # rotate | cycle | weighted (see bench/wrk/graphql.lua)
    group: str  # whose tokens (bench.targets.GROUPS)
    headline: str
    op: str | None = None
    steps: tuple[str, ...] = ()
    weights: tuple[tuple[str, int], ...] = ()
    apq: bool = False
    uses_pool: bool = False
    needs: tuple[str, ...] = ()  # other groups it reads (heavy users, login accounts)
    default: bool = True

    @property
    def ops(self) -> tuple[str, ...]:
        names = [self.op] if self.op else [*self.steps, *(name for name, _ in self.weights)]
        return tuple(dict.fromkeys(name for name in names if name))


CASES: tuple[Case, ...] = (
    Case(
        "getPosts",
        "warm getPosts (10 short posts per user), full document, rotating tokens",
        "rotate",
        "readers",
        "getPosts",
        op="getPosts",
    ),
    Case(
        "getPosts-apq",
        "warm getPosts as Apollo sends it in production: the persisted-query hash alone",
        "rotate",
        "readers",
        "getPosts",
        op="getPosts",
        apq=True,
    ),
    Case(
        "getPosts-after-write",
        "each connection loops addPost, getPosts, deletePost (that post), getPosts: "
        "every getPosts follows a write by its user; latency is the getPosts requests'",
        "cycle",
        "cyclers",
        "getPosts",
        steps=("addPost", "getPosts", "deletePost", "getPosts"),
    ),
    Case(
        "viewer",
        "viewer { posts(first: 20) } page of a user with 50 posts",
        "rotate",
        "pagers",
        "viewer",
        op="viewer",
    ),
    Case(
        "viewer-apq",
        "the viewer page by persisted-query hash alone",
        "rotate",
        "pagers",
        "viewer",
        op="viewer",
        apq=True,
    ),
    Case("addPost", "addPost of a short text", "rotate", "writers", "addPost", op="addPost"),
    Case(
        "deletePost",
        "deletePost of pre-seeded posts, each id once",
        "rotate",
        "deleters",
        "deletePost",
        op="deletePost",
        uses_pool=True,
    ),
    Case(
        "login",
        "login with the right password (bcrypt at the server's cost)",
        "rotate",
        "logins",
        "login",
        op="login",
    ),
    Case(
        "mix",
        "an app's mix: getPosts 60, viewer page 15, addPost 10, deletePost of own adds 10, "
        "getPosts of a heavy user (long list, some near 1 MiB) 4, login 1",
        "weighted",
        "mixers",
        "getPosts",
        weights=(
            ("getPosts", 60),
            ("viewer", 15),
            ("addPost", 10),
            ("deletePost", 10),
            ("getPosts-heavy", 4),
            ("login", 1),
        ),
        needs=("heavy", "logins"),
    ),
    Case(
        "getPosts-heavy",
        "getPosts of users with long lists of mixed sizes, half with a post near 1 MiB",
        "rotate",
        "heavy",
        "getPosts-heavy",
        op="getPosts-heavy",
        default=False,
    ),
)
BY_NAME = {case.name: case for case in CASES}
DEFAULT_CASES = tuple(case.name for case in CASES if case.default)


def _body(query: str, operation: str, variables: dict[str, Any] | None = None) -> str:
    payload = {"query": query, "operationName": operation, "variables": variables or {}}
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def _apq_bodies(query: str, operation: str) -> dict[str, str]:
    extensions = persisted_query(query)
    hash_only = {"operationName": operation, "variables": {}, "extensions": extensions}
    return {
        "hash_body": json.dumps(hash_only, separators=(",", ":")),
        "full_body": json.dumps({"query": query, **hash_only}, separators=(",", ":")),
    }


def _read(query: str, operation: str, *, auth: str, apq: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {"auth": auth, "body": _body(query, operation), "apq": apq}
    if apq:
        spec.update(_apq_bodies(query, operation))
    return spec


def _delete(ids: str) -> dict[str, Any]:
    marker = "@@ID@@"
    prefix, suffix = _body(DELETE_POST, "DeletePost", {"id": marker}).split(marker)
    return {
        "auth": "own",
        "ids": ids,
        "id_prefix": prefix,
        "id_suffix": suffix,
        "fallback": "getPosts",
    }


@dataclass
class Inputs:
    """What a case's Lua config is built from (tokens and ids of one target)."""

    tokens: Sequence[str]
    heavy_tokens: Sequence[str] = ()
    logins: Sequence[tuple[str, str]] = ()
    pools: Sequence[Sequence[str]] = field(default_factory=list)


def _op_specs(case: Case, inputs: Inputs) -> dict[str, Any]:
    specs: dict[str, Any] = {
        "getPosts": lambda: _read(GET_POSTS, "GetPosts", auth="own", apq=case.apq),
        "getPosts-heavy": lambda: _read(GET_POSTS, "GetPosts", auth="heavy", apq=case.apq),
        "viewer": lambda: _read(VIEWER_PAGE, "ViewerPosts", auth="own", apq=case.apq),
        "addPost": lambda: {
            "auth": "own",
            "bodies": [_body(ADD_POST, "AddPost", {"text": text}) for text in ADD_TEXTS],
            "capture": True,
        },
        "deletePost": lambda: _delete("pool" if case.uses_pool else "captured"),
        "login": lambda: {
            "auth": "none",
            "bodies": [
                _body(LOGIN, "Login", {"email": email, "password": password})
                for email, password in inputs.logins
            ],
        },
    }
    # deletePost falls back to getPosts when this connection has added nothing to delete.
    names = [*case.ops, *(["getPosts"] if "deletePost" in case.ops else [])]
    return {name: specs[name]() for name in names}


def lua_config(
    case: Case, inputs: Inputs, *, seed: int = 1, path: str = "/graphql"
) -> dict[str, Any]:
    """The table bench/wrk/graphql.lua reads (``threads`` and ``out`` are added by the runner)."""
    for pool in inputs.pools:
        bad = [post_id for post_id in pool if not _ID.match(post_id)]
        if bad:
            raise ValueError(f"post ids must not need JSON escaping: {bad[:3]}")
    config: dict[str, Any] = {
        "path": path,
        "seed": seed,
        "program": case.program,
        "ops": _op_specs(case, inputs),
        "tokens": list(inputs.tokens) or ["-"],
        "op": case.op,
        "steps": list(case.steps) or None,
        "weights": [[name, weight] for name, weight in case.weights] or None,
        "heavy_tokens": list(inputs.heavy_tokens) or None,
        "pools": [list(pool) for pool in inputs.pools] or None,
    }
    return {key: value for key, value in config.items() if value is not None}


def documents_to_register(case: Case) -> list[str]:
    """The persisted-query documents a case sends by hash (registered before it runs)."""
    if not case.apq:
        return []
    return [VIEWER_PAGE if "viewer" in case.ops else GET_POSTS]
