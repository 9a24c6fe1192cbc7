#!/usr/bin/env python3
"""Load test: many concurrent clients mixing every operation against a real server.

Signs up ``--users`` accounts, then runs ``--clients`` threads for ``--duration``
seconds, each picking an operation by weight (addPost 35 %, getPosts 35 %,
login 15 %, deletePost 10 %, signup 5 %), and records per operation the
requests, HTTP status classes, GraphQL error codes and latency percentiles.

While running, every getPosts is checked for read-your-writes: the posts this
client added (and had acknowledged) for that user must be listed, the ones it
deleted must not. Afterwards every user's posts are listed once more and
compared with what the server acknowledged: lost, duplicated, unexpected,
resurrected and corrupted (text not byte for byte) posts are counted.

With ``--start-server`` it starts the server itself (``make run``, or its
launcher ``python -m config.serve`` directly with ``--server direct``) on a free
port, with this environment passed through (DATABASE_URL, BCRYPT_ROUNDS, ...),
samples the resident memory of the server's master and workers after a warm-up
and at the end, and stops it.

Exit status 0 when every pass criterion holds (they are printed), 1 otherwise.
Standard library only (and the repository's devkit: launcher, ports, client).

    .venv/bin/python scripts/loadtest.py --start-server \\
        --database-url 'mysql+mysqldb://root@127.0.0.1:3306/posts_load?charset=utf8mb4'
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import math
import os
import random
import secrets
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a file (scripts/loadtest.py): devkit sits at the root
    sys.path.insert(0, str(REPO))

from devkit.client import GraphQLClient, Reply  # noqa: E402 - needs the path set just above
from devkit.server import Server, ServerError, migrate, start_server  # noqa: E402 - likewise

MiB = 1024 * 1024

SIGNUP = "mutation Signup($e: String!, $p: String!) { signup(email: $e, password: $p) { token user { id email } } }"
LOGIN = "mutation Login($e: String!, $p: String!) { login(email: $e, password: $p) { token user { id email } } }"
ADD_POST = "mutation AddPost($t: String!, $k: String) { addPost(text: $t, token: $k) { postId post { id createdAt } } }"
GET_POSTS = "query GetPosts($k: String) { getPosts(token: $k) { id createdAt } }"
GET_POSTS_FULL = "query GetPosts($k: String) { getPosts(token: $k) { id text createdAt } }"
DELETE_POST = (
    "mutation DeletePost($id: ID!, $k: String) { deletePost(postId: $id, token: $k) { postId } }"
)

# Operation weights (percent). A login is made with a wrong password one time in ten.
WEIGHTS = {"addPost": 35, "getPosts": 35, "deletePost": 10, "login": 15, "signup": 5}
WRONG_LOGIN_SHARE = 0.1
OPS = ("signup", "login", "login_wrong", "addPost", "getPosts", "deletePost")
# Codes that are the right answer for an operation under this load (anything else counts).
EXPECTED_CODES = {"login_wrong": {"UNAUTHENTICATED", "RATE_LIMITED"}}

POST_MIN_BYTES = 10
POST_MAX_BYTES = 4096
# Characters of 1, 2, 3 and 4 UTF-8 bytes, with JSON's troublemakers among them.
ALPHABETS = (
    (
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?'\"-_/\\()[]{}<>@#%&*+=~`|",
        70,
    ),
    ("éèêëàâäôöûüçñßøåæœÉÀÇ£¥©®°±µ¶§", 10),
    ("日本語中文한국어テキスト漢字€✓✨", 8),
    ("😀😂🥲👍🚀🔥💾🧪🐍🌍🎉🦄", 8),
    ("\n\t", 4),
)

RSS_GROWTH_FRACTION = 0.25
RSS_GROWTH_SLACK = 20 * MiB


# --------------------------------------------------------------------------- statistics


@dataclass
class OpStats:
    """What one operation's requests got back."""

    requests: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    unexpected: int = 0
    latencies: list[float] = field(default_factory=list)

    def record(self, op: str, reply: Reply) -> None:
        self.requests += 1
        self.latencies.append(reply.seconds)
        if reply.status is None:
            self.statuses["transport"] += 1
            return
        self.statuses[f"{reply.status // 100}xx"] += 1
        if reply.body is None:
            self.statuses["bad_body"] += 1
        expected = EXPECTED_CODES.get(op, set())
        for code in reply.codes:
            self.codes[code] += 1
            if code not in expected:
                self.unexpected += 1
        if reply.status != 200 and not reply.codes:
            self.unexpected += 1

    def merge(self, other: OpStats) -> None:
        self.requests += other.requests
        self.statuses.update(other.statuses)
        self.codes.update(other.codes)
        self.unexpected += other.unexpected
        self.latencies.extend(other.latencies)

    def summary(self, elapsed: float) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        return {
            "requests": self.requests,
            "rps": round(self.requests / elapsed, 2) if elapsed > 0 else 0.0,
            "status": dict(sorted(self.statuses.items())),
            "codes": dict(sorted(self.codes.items())),
            "unexpected_errors": self.unexpected,
            "latency_ms": {
                "p50": _percentile_ms(ordered, 0.50),
                "p95": _percentile_ms(ordered, 0.95),
                "p99": _percentile_ms(ordered, 0.99),
                "max": round(ordered[-1] * 1000, 1) if ordered else None,
            },
        }


def _percentile_ms(ordered: list[float], fraction: float) -> float | None:
    if not ordered:
        return None
    index = min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))
    return round(ordered[index] * 1000, 1)


# --------------------------------------------------------------------------- accounts and posts


@dataclass
class Account:
    email: str
    password: str
    token: str
    user_id: str


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def random_text(rng: random.Random) -> str:
    """10 B to 4 KiB of UTF-8 (skewed towards short posts), never blank."""
    target = int(POST_MIN_BYTES + (POST_MAX_BYTES - POST_MIN_BYTES) * rng.random() ** 2)
    alphabets = [chars for chars, _ in ALPHABETS]
    weights = [weight for _, weight in ALPHABETS]
    parts = [rng.choice("abcdefghijklmnopqrstuvwxyz")]
    size = 1
    while size < target:
        char = rng.choice(rng.choices(alphabets, weights)[0])
        width = len(char.encode("utf-8"))
        if size + width > POST_MAX_BYTES:
            break
        parts.append(char)
        size += width
    return "".join(parts)


@dataclass
class Ledger:
    """What one client was told, per user email."""

    acked_adds: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> text hash
    unknown_adds: dict[str, list[str]] = field(default_factory=dict)  # text hashes
    live: dict[str, dict[str, str]] = field(default_factory=dict)  # added, not deleted
    acked_deletes: dict[str, set[str]] = field(default_factory=dict)
    unknown_deletes: dict[str, set[str]] = field(default_factory=dict)


# --------------------------------------------------------------------------- the clients


class Run:
    """Shared state of one load test run."""

    def __init__(self, args: argparse.Namespace, url: str) -> None:
        self.args = args
        self.url = url
        self.run_id = secrets.token_hex(4)
        self.password = f"Load-{self.run_id}-correct horse battery"
        self.accounts: list[Account] = []
        self.accounts_lock = threading.Lock()
        self.throwaway_email = f"throwaway-{self.run_id}@loadtest.example.com"
        self.signup_seq = 0
        self.stats = {op: OpStats() for op in OPS}
        self.ledgers: list[Ledger] = []
        self.stale_reads = 0
        self.order_violations = 0
        self.keepalive_retries = 0
        self.client_exceptions: list[str] = []
        self.merge_lock = threading.Lock()

    def next_email(self, kind: str) -> str:
        with self.accounts_lock:
            self.signup_seq += 1
            return f"{kind}-{self.run_id}-{self.signup_seq}@loadtest.example.com"

    def pick_account(self, rng: random.Random) -> Account:
        with self.accounts_lock:
            return rng.choice(self.accounts)


def signup(conn: GraphQLClient, email: str, password: str) -> tuple[Reply, Account | None]:
    reply = conn.graphql(SIGNUP, {"e": email, "p": password})
    payload = reply.data("signup")
    if not payload:
        return reply, None
    return reply, Account(email, password, payload["token"], str(payload["user"]["id"]))


class Client:
    """One simulated client: a thread with its own connection, randomness and ledger."""

    def __init__(self, run: Run, index: int) -> None:
        self.run = run
        self.rng = random.Random(f"{run.run_id}-{index}")  # noqa: S311 - load mix, not security
        self.conn = GraphQLClient(run.url, timeout=run.args.timeout)
        self.ledger = Ledger()
        self.stats = {op: OpStats() for op in OPS}
        self.stale_reads = 0
        self.order_violations = 0
        self.crashes: list[str] = []
        self.calls = 0
        self.handlers: dict[str, Callable[[], None]] = {
            "addPost": self.add_post,
            "getPosts": self.get_posts,
            "deletePost": self.delete_post,
            "login": self.login,
            "signup": self.signup,
        }

    def token_args(self, token: str) -> tuple[str | None, str | None]:
        """(header token, argument token), alternating header / argument / both."""
        self.calls += 1
        form = self.calls % 3
        if form == 0:
            return token, None
        if form == 1:
            return None, token
        return token, token

    def loop(self, deadline: float) -> None:
        ops = list(WEIGHTS)
        weights = list(WEIGHTS.values())
        try:
            while time.monotonic() < deadline:
                op = self.rng.choices(ops, weights)[0]
                try:
                    self.handlers[op]()
                except Exception as exc:  # noqa: BLE001 - a malformed answer must not end the client
                    self.crashes.append(f"{op}: {type(exc).__name__}: {exc}")
                    self.conn.close()
        finally:
            self.conn.close()
            with self.run.merge_lock:
                for op, stats in self.stats.items():
                    self.run.stats[op].merge(stats)
                self.run.ledgers.append(self.ledger)
                self.run.stale_reads += self.stale_reads
                self.run.order_violations += self.order_violations
                self.run.keepalive_retries += self.conn.keepalive_retries
                self.run.client_exceptions.extend(self.crashes)

    def add_post(self) -> None:
        account = self.run.pick_account(self.rng)
        text = random_text(self.rng)
        header, argument = self.token_args(account.token)
        reply = self.conn.graphql(ADD_POST, {"t": text, "k": argument}, token=header)
        self.stats["addPost"].record("addPost", reply)
        payload = reply.data("addPost")
        digest = text_hash(text)
        if payload:
            post_id = str(payload["postId"])
            self.ledger.acked_adds.setdefault(account.email, {})[post_id] = digest
            self.ledger.live.setdefault(account.email, {})[post_id] = digest
        elif reply.outcome_unknown:
            self.ledger.unknown_adds.setdefault(account.email, []).append(digest)

    def get_posts(self) -> None:
        account = self.run.pick_account(self.rng)
        expected = set(self.ledger.live.get(account.email, {}))
        gone = set(self.ledger.acked_deletes.get(account.email, set()))
        header, argument = self.token_args(account.token)
        reply = self.conn.graphql(GET_POSTS, {"k": argument}, token=header)
        self.stats["getPosts"].record("getPosts", reply)
        posts = reply.data("getPosts")
        if posts is None:
            return
        listed = {str(post["id"]) for post in posts}
        if expected - listed or gone & listed:
            self.stale_reads += 1
        stamps = [post["createdAt"] for post in posts]
        if len(listed) != len(posts) or stamps != sorted(stamps, reverse=True):
            self.order_violations += 1

    def delete_post(self) -> None:
        candidates = [(email, ids) for email, ids in self.ledger.live.items() if ids]
        if not candidates:
            self.add_post()
            return
        email, ids = self.rng.choice(candidates)
        post_id = self.rng.choice(sorted(ids))
        with self.run.accounts_lock:
            account = next(a for a in self.run.accounts if a.email == email)
        header, argument = self.token_args(account.token)
        reply = self.conn.graphql(DELETE_POST, {"id": post_id, "k": argument}, token=header)
        self.stats["deletePost"].record("deletePost", reply)
        # Whatever the answer, this client no longer expects to see the post: deleted,
        # of unknown fate, or (NOT_FOUND) already gone, which the verification reports.
        del ids[post_id]
        payload = reply.data("deletePost")
        if payload and str(payload["postId"]) == post_id:
            self.ledger.acked_deletes.setdefault(email, set()).add(post_id)
        elif reply.outcome_unknown:
            self.ledger.unknown_deletes.setdefault(email, set()).add(post_id)

    def login(self) -> None:
        if self.rng.random() < WRONG_LOGIN_SHARE:
            # Wrong passwords go to one throwaway account, so the failed-login throttle
            # (per account and address) never locks out the accounts in use.
            reply = self.conn.graphql(
                LOGIN, {"e": self.run.throwaway_email, "p": "wrong-password-123"}
            )
            self.stats["login_wrong"].record("login_wrong", reply)
            if reply.data("login"):
                self.stats["login_wrong"].unexpected += 1  # a wrong password let in
            return
        account = self.run.pick_account(self.rng)
        email = account.email.upper() if self.rng.random() < 0.2 else account.email
        reply = self.conn.graphql(LOGIN, {"e": email, "p": account.password})
        self.stats["login"].record("login", reply)
        payload = reply.data("login")
        if payload:
            if str(payload["user"]["id"]) != account.user_id:
                self.stats["login"].unexpected += 1
            else:
                account.token = payload["token"]
        elif reply.status == 200 and not reply.codes:
            self.stats["login"].unexpected += 1

    def signup(self) -> None:
        reply, account = signup(self.conn, self.run.next_email("new"), self.run.password)
        self.stats["signup"].record("signup", reply)
        if account is not None:
            with self.run.accounts_lock:
                self.run.accounts.append(account)


# --------------------------------------------------------------------------- setup and verification


def setup_accounts(run: Run) -> None:
    """Sign up the users (and the throwaway account) concurrently."""
    emails = [run.next_email("user") for _ in range(run.args.users)] + [run.throwaway_email]
    failures: list[str] = []

    def one(email: str) -> None:
        conn = GraphQLClient(run.url, timeout=run.args.timeout)
        try:
            reply, account = signup(conn, email, run.password)
        finally:
            conn.close()
        if account is None:
            failures.append(f"{email}: {reply.status} {reply.error or reply.body}")
        elif email != run.throwaway_email:
            with run.accounts_lock:
                run.accounts.append(account)

    threads = [threading.Thread(target=one, args=(email,)) for email in emails]
    # At most `clients` signups at once: bcrypt is the bottleneck anyway.
    for batch_start in range(0, len(threads), max(1, run.args.clients)):
        batch = threads[batch_start : batch_start + max(1, run.args.clients)]
        for thread in batch:
            thread.start()
        for thread in batch:
            thread.join()
    if failures:
        raise SystemExit("setup: signup failed:\n  " + "\n  ".join(failures[:10]))


@dataclass
class Integrity:
    acknowledged_adds: int = 0
    acknowledged_deletes: int = 0
    unanswered_adds: int = 0
    unanswered_deletes: int = 0
    expected_live: int = 0
    listed: int = 0
    lost: int = 0
    duplicated: int = 0
    unexpected: int = 0
    unknown: int = 0
    resurrected: int = 0
    corrupted: int = 0
    verify_failures: int = 0
    examples: list[str] = field(default_factory=list)

    def example(self, message: str) -> None:
        if len(self.examples) < 20:
            self.examples.append(message)


def verify(run: Run) -> Integrity:
    """List every user's posts and compare them with what was acknowledged."""
    result = Integrity()
    adds: dict[str, dict[str, str]] = {}
    unknown_adds: dict[str, Counter[str]] = {}
    deletes: dict[str, set[str]] = {}
    unknown_deletes: dict[str, set[str]] = {}
    for ledger in run.ledgers:
        for email, posts in ledger.acked_adds.items():
            adds.setdefault(email, {}).update(posts)
        for email, digests in ledger.unknown_adds.items():
            unknown_adds.setdefault(email, Counter()).update(digests)
        for email, ids in ledger.acked_deletes.items():
            deletes.setdefault(email, set()).update(ids)
        for email, ids in ledger.unknown_deletes.items():
            unknown_deletes.setdefault(email, set()).update(ids)
    result.acknowledged_adds = sum(len(posts) for posts in adds.values())
    result.acknowledged_deletes = sum(len(ids) for ids in deletes.values())
    result.unanswered_adds = sum(sum(c.values()) for c in unknown_adds.values())
    result.unanswered_deletes = sum(len(ids) for ids in unknown_deletes.values())

    conn = GraphQLClient(run.url, timeout=run.args.timeout)
    try:
        for account in list(run.accounts):
            reply = conn.graphql(GET_POSTS_FULL, {"k": None}, token=account.token)
            posts = reply.data("getPosts")
            if posts is None:
                result.verify_failures += 1
                result.example(
                    f"{account.email}: final getPosts failed: {reply.error or reply.body}"
                )
                continue
            _compare(
                result,
                account.email,
                posts=posts,
                adds=adds.get(account.email, {}),
                deletes=deletes.get(account.email, set()),
                unknown_adds=unknown_adds.get(account.email, Counter()),
                unknown_deletes=unknown_deletes.get(account.email, set()),
            )
    finally:
        conn.close()
    return result


def _compare(
    result: Integrity,
    email: str,
    *,
    posts: list[dict[str, Any]],
    adds: dict[str, str],
    deletes: set[str],
    unknown_adds: Counter[str],
    unknown_deletes: set[str],
) -> None:
    listed = Counter(str(post["id"]) for post in posts)
    texts = {str(post["id"]): text_hash(post["text"]) for post in posts}
    result.listed += len(posts)
    expected = set(adds) - deletes - unknown_deletes
    result.expected_live += len(expected)
    for post_id in sorted(expected - set(listed)):
        result.lost += 1
        result.example(f"{email}: post {post_id} acknowledged, never deleted, not listed")
    for post_id, times in listed.items():
        if times > 1:
            result.duplicated += times - 1
            result.example(f"{email}: post {post_id} listed {times} times")
    for post_id in sorted(deletes & set(listed)):
        result.resurrected += 1
        result.example(f"{email}: post {post_id} deleted (acknowledged) but listed")
    acked_digests = Counter(adds.values())
    for post_id in sorted(set(listed) - set(adds), key=int):
        digest = texts[post_id]
        if unknown_adds[digest] > 0:
            unknown_adds[digest] -= 1
            result.unknown += 1
        elif acked_digests[digest] > 0:
            result.duplicated += 1
            result.example(f"{email}: post {post_id} repeats the text of an acknowledged post")
        else:
            result.unexpected += 1
            result.example(f"{email}: post {post_id} listed but never acknowledged")
    for post_id in sorted(set(listed) & set(adds)):
        if texts[post_id] != adds[post_id]:
            result.corrupted += 1
            result.example(f"{email}: post {post_id} text differs from what was sent")


# --------------------------------------------------------------------------- the server


def start(args: argparse.Namespace, log_path: Path) -> Server:
    """``make run``, or ``python -m config.serve`` after migrating (what ``make run`` does)."""
    env = {**os.environ}
    # Every client comes from 127.0.0.1: the per-address limit on password work would
    # answer most logins and signups with RATE_LIMITED (set it yourself to test it).
    env.setdefault("AUTH_MAX_PER_ADDRESS_PER_MINUTE", "1000000")
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    if args.server == "make":
        argv = ["make", "--no-print-directory", "run"]
    else:
        migrate(env, log_path)
        argv = None
    return start_server(env, log_path, workers=args.workers, threads=args.threads, argv=argv)


def autorestarts(log_path: Path) -> int:
    """Workers recycled by the server (gunicorn's --max-requests): memory after one is a fresh worker's."""
    try:
        return log_path.read_text(errors="replace").count("Autorestarting worker")
    except OSError:
        return 0


def log_problems(log_path: Path) -> list[str]:
    """Lines of the server log that speak of errors, tracebacks or dead workers."""
    # Read before this script stops the server: a signal or an exit here came from elsewhere.
    markers = (
        " ERROR ",
        "CRITICAL",
        "Traceback",
        "WORKER TIMEOUT",
        "[ERROR]",
        "Handling signal",
        "Shutting down",
    )
    try:
        lines = log_path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    return [line for line in lines if any(marker in line for marker in markers)]


class MemorySampler:
    """Samples the server's RSS once a second; the warm value is the first after the warm-up."""

    def __init__(self, server: Server, warmup: float) -> None:
        self.server = server
        self.warmup = warmup
        self.samples: list[tuple[float, int]] = []
        self.stop_event = threading.Event()
        self.started = time.monotonic()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop_event.is_set():
            self.samples.append((time.monotonic() - self.started, self.server.rss_bytes()))
            self.stop_event.wait(1.0)

    def start(self) -> None:
        self.started = time.monotonic()
        self.thread.start()

    def finish(self) -> dict[str, Any]:
        self.stop_event.set()
        self.thread.join()
        end = self.server.rss_bytes()
        warm_t, warm = next(
            ((t, rss) for t, rss in self.samples if t >= self.warmup),
            self.samples[-1] if self.samples else (0.0, end),
        )
        peak = max([rss for _, rss in self.samples] + [end])
        limit = int(RSS_GROWTH_FRACTION * warm + RSS_GROWTH_SLACK)
        return {
            "warm_bytes": warm,
            "warm_at_seconds": round(warm_t, 1),
            "end_bytes": end,
            "peak_bytes": peak,
            "growth_bytes": end - warm,
            "growth_limit_bytes": limit,
            "samples_mib": [round(rss / MiB, 1) for _, rss in self.samples],
        }


# --------------------------------------------------------------------------- reporting


def criteria(summary: dict[str, Any]) -> list[dict[str, Any]]:
    totals = summary["totals"]
    integrity = summary["integrity"]
    checks = [
        ("zero 5xx responses", totals["5xx"], 0),
        ("zero INTERNAL_SERVER_ERROR", totals["internal_errors"], 0),
        (
            "zero transport errors (and non-JSON bodies)",
            totals["transport_errors"] + totals["bad_bodies"],
            0,
        ),
        ("zero unexpected GraphQL errors", totals["unexpected_errors"], 0),
        ("zero lost posts", integrity["lost"], 0),
        ("zero duplicated posts", integrity["duplicated"], 0),
        ("zero unexpected (never acknowledged) posts", integrity["unexpected"], 0),
        (
            "zero posts of unknown outcome without transport errors",
            integrity["unknown"] if totals["transport_errors"] == 0 else 0,
            0,
        ),
        ("zero deleted posts still listed", integrity["resurrected"], 0),
        ("zero corrupted post texts", integrity["corrupted"], 0),
        ("every final getPosts answered", integrity["verify_failures"], 0),
        ("zero stale reads (read-your-writes)", summary["stale_reads"], 0),
        ("zero order violations (newest first, no repeats)", summary["order_violations"], 0),
        ("zero client-side exceptions (malformed answers)", summary["client_exceptions"], 0),
    ]
    result = [
        {"name": name, "value": value, "limit": limit, "pass": value <= limit}
        for name, value, limit in checks
    ]
    if "server_alive_at_end" in summary:
        alive = summary["server_alive_at_end"]
        result.append(
            {
                "name": "the started server still up at the end",
                "value": alive,
                "limit": True,
                "pass": alive,
            }
        )
    memory = summary.get("memory")
    if memory:
        result.append(
            {
                "name": f"RSS growth after warm-up < {RSS_GROWTH_FRACTION:.0%} + {RSS_GROWTH_SLACK // MiB} MiB",
                "value": memory["growth_bytes"],
                "limit": memory["growth_limit_bytes"],
                "pass": memory["growth_bytes"] < memory["growth_limit_bytes"],
            }
        )
    return result


def build_summary(
    run: Run,
    elapsed: float,
    integrity: Integrity,
    memory: dict[str, Any] | None,
    server: Server | None,
) -> dict[str, Any]:
    ops = {op: run.stats[op].summary(elapsed) for op in OPS}
    total = OpStats()
    for stats in run.stats.values():
        total.merge(stats)
    totals = total.summary(elapsed)
    summary: dict[str, Any] = {
        "run_id": run.run_id,
        "url": run.url,
        "clients": run.args.clients,
        "users": run.args.users,
        "accounts_at_end": len(run.accounts),
        "duration_seconds": run.args.duration,
        "elapsed_seconds": round(elapsed, 2),
        "ops": ops,
        "totals": {
            "requests": totals["requests"],
            "rps": totals["rps"],
            "2xx": total.statuses["2xx"],
            "4xx": total.statuses["4xx"],
            "5xx": total.statuses["5xx"],
            "transport_errors": total.statuses["transport"],
            "bad_bodies": total.statuses["bad_body"],
            "internal_errors": total.codes["INTERNAL_SERVER_ERROR"],
            "unexpected_errors": total.unexpected,
            "codes": totals["codes"],
            "latency_ms": totals["latency_ms"],
        },
        "keepalive_retries": run.keepalive_retries,
        "client_exceptions": len(run.client_exceptions),
        "client_exception_examples": run.client_exceptions[:10],
        "stale_reads": run.stale_reads,
        "order_violations": run.order_violations,
        "integrity": dataclasses.asdict(integrity),
        "memory": memory,
    }
    if server is not None:
        summary["server_alive_at_end"] = server.alive()
        problems = log_problems(server.log)
        summary["server_log"] = str(server.log)
        summary["server_log_problem_lines"] = len(problems)
        summary["worker_autorestarts"] = autorestarts(server.log)
        summary["server_log_problems"] = problems[:20]
    summary["criteria"] = criteria(summary)
    summary["pass"] = all(check["pass"] for check in summary["criteria"])
    return summary


def render(summary: dict[str, Any]) -> str:
    lines = [
        f"posts-api load test  run {summary['run_id']}  {summary['url']}",
        f"clients {summary['clients']}  users {summary['users']} (+{summary['accounts_at_end'] - summary['users']} signed up)  "
        f"duration {summary['duration_seconds']} s (measured {summary['elapsed_seconds']} s)",
        "",
        f"{'operation':<12}{'requests':>9}{'rps':>8}{'2xx':>7}{'4xx':>6}{'5xx':>6}{'transp':>7}{'unexp':>6}"
        f"{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}  codes",
    ]

    def row(name: str, stats: dict[str, Any], status: dict[str, int], unexpected: int) -> str:
        lat = stats["latency_ms"]
        codes = ", ".join(f"{k} {v}" for k, v in stats["codes"].items()) or "-"
        return (
            f"{name:<12}{stats['requests']:>9}{stats['rps']:>8.1f}{status.get('2xx', 0):>7}{status.get('4xx', 0):>6}"
            f"{status.get('5xx', 0):>6}{status.get('transport', 0):>7}{unexpected:>6}"
            f"{_fmt(lat['p50']):>9}{_fmt(lat['p95']):>9}{_fmt(lat['p99']):>9}{_fmt(lat['max']):>9}  {codes}"
        )

    for op, stats in summary["ops"].items():
        lines.append(row(op, stats, stats["status"], stats["unexpected_errors"]))
    totals = summary["totals"]
    status = {
        "2xx": totals["2xx"],
        "4xx": totals["4xx"],
        "5xx": totals["5xx"],
        "transport": totals["transport_errors"],
    }
    lines.append(row("total", totals, status, totals["unexpected_errors"]))
    i = summary["integrity"]
    lines += [
        "",
        f"posts: acknowledged adds {i['acknowledged_adds']}, acknowledged deletes {i['acknowledged_deletes']}, "
        f"unanswered adds {i['unanswered_adds']}, unanswered deletes {i['unanswered_deletes']}",
        f"       expected live {i['expected_live']}, listed {i['listed']}: lost {i['lost']}, duplicated {i['duplicated']}, "
        f"unexpected {i['unexpected']}, unknown {i['unknown']}, resurrected {i['resurrected']}, corrupted {i['corrupted']}",
        f"reads: stale {summary['stale_reads']}, order violations {summary['order_violations']}; "
        f"keep-alive reconnects {summary['keepalive_retries']}",
    ]
    lines += [f"  ! {example}" for example in i["examples"]]
    lines += [f"  ! client exception: {text}" for text in summary["client_exception_examples"]]
    memory = summary.get("memory")
    if memory:
        lines.append(
            f"memory (server master + workers RSS): {memory['warm_bytes'] / MiB:.1f} MiB after warm-up "
            f"(t={memory['warm_at_seconds']} s), {memory['end_bytes'] / MiB:.1f} MiB at the end, "
            f"peak {memory['peak_bytes'] / MiB:.1f} MiB, growth {memory['growth_bytes'] / MiB:+.1f} MiB "
            f"(limit {memory['growth_limit_bytes'] / MiB:.1f} MiB)"
        )
    if "server_log" in summary:
        lines.append(
            f"server log: {summary['server_log']} ({summary['server_log_problem_lines']} error lines; "
            f"{summary['worker_autorestarts']} worker restarts by --max-requests)"
        )
        lines += [f"  ! {line[:200]}" for line in summary["server_log_problems"][:10]]
    lines += ["", "pass criteria:"]
    for check in summary["criteria"]:
        lines.append(
            f"  [{'PASS' if check['pass'] else 'FAIL'}] {check['name']}: {check['value']} (limit {check['limit']})"
        )
    lines.append(f"RESULT: {'PASS' if summary['pass'] else 'FAIL'}")
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--url",
        default="http://127.0.0.1:8000",
        help="server to load (ignored with --start-server)",
    )
    parser.add_argument("--clients", type=int, default=32, help="concurrent client threads (32)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (60)")
    parser.add_argument(
        "--users", type=int, default=16, help="accounts signed up before the load (16)"
    )
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="per-request timeout in seconds (60)"
    )
    parser.add_argument(
        "--start-server", action="store_true", help="start the server, measure its memory, stop it"
    )
    parser.add_argument(
        "--server",
        choices=("make", "direct"),
        default="make",
        help="with --start-server: `make run` (default), or migrations and `python -m config.serve` directly",
    )
    parser.add_argument(
        "--database-url", help="DATABASE_URL for the started server (else the environment's)"
    )
    parser.add_argument(
        "--workers", type=int, help="WORKERS of the started server (default: make run's)"
    )
    parser.add_argument(
        "--threads", type=int, help="THREADS of the started server (default: make run's)"
    )
    parser.add_argument(
        "--startup-timeout", type=float, default=300.0, help="seconds to wait for /healthz (300)"
    )
    parser.add_argument(
        "--server-log", type=Path, help="where the started server's output goes (a temp file)"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print a JSON summary on stdout (the table goes to stderr)",
    )
    args = parser.parse_args(argv)
    if args.clients < 1 or args.users < 1 or args.duration <= 0:
        parser.error("--clients and --users must be at least 1, --duration positive")
    try:
        GraphQLClient(args.url)
    except ValueError as exc:
        parser.error(f"--url: {exc}")
    return args


@contextlib.contextmanager
def maybe_server(args: argparse.Namespace) -> Iterator[Server | None]:
    if not args.start_server:
        yield None
        return
    log_path = args.server_log or Path(tempfile.mkdtemp(prefix="posts-loadtest-")) / "server.log"
    print(f"starting the server ({args.server}); log: {log_path}", file=sys.stderr)
    try:
        server = start(args, log_path)
    except ServerError as exc:
        raise SystemExit(str(exc)) from None
    try:
        print(f"server on {server.base}", file=sys.stderr)
        server.wait_healthy(args.startup_timeout)
        yield server
    except ServerError as exc:
        raise SystemExit(str(exc)) from None
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with maybe_server(args) as server:
        run = Run(args, server.base if server else args.url.rstrip("/"))
        print(f"run {run.run_id}: signing up {args.users} users", file=sys.stderr)
        setup_accounts(run)
        sampler = MemorySampler(server, warmup=0.1 * args.duration) if server else None
        print(f"run {run.run_id}: {args.clients} clients for {args.duration} s", file=sys.stderr)
        clients = [Client(run, index) for index in range(args.clients)]
        started = time.monotonic()
        deadline = started + args.duration
        if sampler:
            sampler.start()
        threads = [threading.Thread(target=client.loop, args=(deadline,)) for client in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        memory = sampler.finish() if sampler else None
        integrity = verify(run)
        summary = build_summary(run, elapsed, integrity, memory, server)
    if args.json:
        print(render(summary), file=sys.stderr)
        print(json.dumps(summary, indent=2))
    else:
        print(render(summary))
    return 0 if summary["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
