"""Users and posts for the benchmark.

Accounts that the load uses sign up through the API (the tokens are the app's
own); their posts, and a background population of many users with a realistic
spread of post counts and sizes (a few near 1 MiB), go straight into the
tables with SQLAlchemy Core, with each user's counters (``posts_version``,
``posts_count``, ``posts_bytes``, whichever the schema has) kept right.
"""

from __future__ import annotations

import base64
import json
import random
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import MetaData, Table, bindparam, create_engine, insert, select, update
from sqlalchemy.engine import Engine

from devkit.client import GraphQLClient

PASSWORD = "bench: correct horse battery staple"
POST_MAX_BYTES = 1024 * 1024
EMAIL_DOMAIN = "bench.example.com"

SIGNUP = (
    "mutation Signup($email: String!, $password: String!) "
    "{ signup(email: $email, password: $password) { token } }"
)
POST_IDS = "query PostIds { getPosts { id } }"

# Characters of 1 to 4 UTF-8 bytes, mostly ASCII, as people write.
_ALPHABET = (
    "abcdefghijklmnopqrstuvwxyz" * 6
    + "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    + "      .,;:!?'\"-()\n"
    + "éèàüöçñß"
    + "€✓日本語"
    + "😀🚀"
)
# A post near the 1 MiB limit, of each width: ASCII, and 4-byte emoji (exactly 1 MiB).
_HUGE_TEXTS = ("x" * (POST_MAX_BYTES - 576), "🦄" * (POST_MAX_BYTES // 4))


@dataclass
class Account:
    email: str
    token: str
    user_id: int = 0


@dataclass
class SeedStats:
    users: int = 0
    posts: int = 0
    text_bytes: int = 0
    largest_post_bytes: int = 0
    seconds: float = 0.0

    def add(self, sizes: Iterable[int]) -> None:
        for size in sizes:
            self.posts += 1
            self.text_bytes += size
            self.largest_post_bytes = max(self.largest_post_bytes, size)


class TextMaker:
    """Post texts of a given size in UTF-8 bytes (roughly; never blank)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.pool = "".join(rng.choice(_ALPHABET) for _ in range(1 << 16))

    def text(self, size: int) -> str:
        chars = max(1, size * 9 // 10)
        start = self.rng.randrange(len(self.pool))
        text = self.pool[start : start + chars]
        while len(text) < chars:
            text += self.pool[: chars - len(text)]
        text = "p" + text[1:]
        while len(text.encode("utf-8")) > POST_MAX_BYTES:
            text = text[: len(text) * 9 // 10]
        return text

    def short(self) -> str:
        """20 to 280 bytes: a typical post."""
        return self.text(self.rng.randint(20, 280))

    def spread_size(self) -> int:
        """A realistic size: mostly short, a long tail up to 256 KiB."""
        if self.rng.random() < 0.005:
            return self.rng.randint(16 * 1024, 256 * 1024)
        return min(16 * 1024, int(self.rng.lognormvariate(5.0, 1.0)) + 8)

    def spread_count(self) -> int:
        """A realistic number of posts: many users with few, a long tail with hundreds."""
        if self.rng.random() < 0.3:
            return 0
        return min(2000, int(self.rng.lognormvariate(2.0, 1.2)))


def token_subject(token: str) -> str:
    """The ``sub`` claim of a JWT (unverified: our own server issued it)."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return str(claims["sub"])


def sign_up(base_url: str, emails: Sequence[str], *, concurrency: int = 8) -> list[Account]:
    """Sign ``emails`` up through the API; their tokens, in order."""

    def one(email: str) -> Account:
        with GraphQLClient(base_url, timeout=120) as client:
            reply = client.graphql(SIGNUP, {"email": email, "password": PASSWORD})
        token = (reply.data("signup") or {}).get("token")
        if not token:
            raise RuntimeError(
                f"signup of {email} failed: {reply.status} {reply.error or reply.body}"
            )
        return Account(email=email, token=token)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(one, emails))


def post_ids(
    base_url: str, accounts: Sequence[Account], *, concurrency: int = 8
) -> list[list[str]]:
    """Each account's post ids, as the API gives them (newest first)."""

    def one(account: Account) -> list[str]:
        with GraphQLClient(base_url, timeout=120) as client:
            reply = client.graphql(POST_IDS, token=account.token)
        posts = reply.data("getPosts")
        if posts is None:
            raise RuntimeError(f"getPosts for {account.email} failed: {reply.error or reply.body}")
        return [str(post["id"]) for post in posts]

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(one, accounts))


@dataclass
class Tables:
    """The app's tables as they are in the database (reflected: no app import needed)."""

    engine: Engine
    users: Table = field(init=False)
    posts: Table = field(init=False)
    counters: list[str] = field(init=False)

    def __post_init__(self) -> None:
        metadata = MetaData()
        self.users = Table("users", metadata, autoload_with=self.engine)
        self.posts = Table("posts", metadata, autoload_with=self.engine)
        self.counters = [
            name for name in ("posts_version", "posts_count", "posts_bytes") if name in self.users.c
        ]

    def user_ids(self, emails: Sequence[str]) -> dict[str, int]:
        wanted = list(emails)
        found: dict[str, int] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                rows = conn.execute(
                    select(self.users.c.email, self.users.c.id).where(self.users.c.email.in_(chunk))
                )
                found.update({email: int(user_id) for email, user_id in rows})
        return found

    def password_hash(self, email: str) -> str:
        with self.engine.connect() as conn:
            value = conn.execute(
                select(self.users.c.password_hash).where(self.users.c.email == email)
            ).scalar_one()
        return str(value)

    def add_users(self, emails: Sequence[str], password_hash: str, now: datetime) -> dict[str, int]:
        with self.engine.begin() as conn:
            for start in range(0, len(emails), 1000):
                conn.execute(
                    insert(self.users),
                    [
                        {"email": email, "password_hash": password_hash, "created_at": now}
                        for email in emails[start : start + 1000]
                    ],
                )
        return self.user_ids(emails)

    def add_posts(self, posts: Sequence[tuple[int, str, datetime]]) -> list[int]:
        """Insert (user_id, text, created_at) rows and keep each user's counters right."""
        per_user: dict[int, list[int]] = {}
        sizes: list[int] = []
        batch: list[dict[str, Any]] = []
        batch_bytes = 0
        with self.engine.begin() as conn:
            for user_id, text, created_at in posts:
                size = len(text.encode("utf-8"))
                sizes.append(size)
                per_user.setdefault(user_id, []).append(size)
                batch.append({"user_id": user_id, "text": text, "created_at": created_at})
                batch_bytes += size
                # Bounded statements: MySQL's max_allowed_packet is 16 MiB by default.
                if batch_bytes > 2 * 1024 * 1024 or len(batch) >= 1000:
                    conn.execute(insert(self.posts), batch)
                    batch, batch_bytes = [], 0
            if batch:
                conn.execute(insert(self.posts), batch)
            if per_user and self.counters:
                values: dict[str, Any] = {}
                if "posts_version" in self.counters:
                    values["posts_version"] = self.users.c.posts_version + 1
                if "posts_count" in self.counters:
                    values["posts_count"] = self.users.c.posts_count + bindparam("n")
                if "posts_bytes" in self.counters:
                    values["posts_bytes"] = self.users.c.posts_bytes + bindparam("b")
                conn.execute(
                    update(self.users).where(self.users.c.id == bindparam("uid")).values(values),
                    [
                        {"uid": user_id, "n": len(user_sizes), "b": sum(user_sizes)}
                        for user_id, user_sizes in per_user.items()
                    ],
                )
        return sizes


def engine_for(url: str) -> Engine:
    return create_engine(url, pool_pre_ping=True)


class Seeder:
    """Posts for the load's accounts and the background population, through SQL."""

    def __init__(self, engine: Engine, *, seed: int = 20251125) -> None:
        self.tables = Tables(engine)
        self.rng = random.Random(seed)  # noqa: S311 - test data, not security
        self.texts = TextMaker(self.rng)
        self.now = datetime.now(UTC).replace(tzinfo=None)
        self.stats = SeedStats()

    def _when(self, days: float = 365) -> datetime:
        return self.now - timedelta(seconds=self.rng.uniform(60, days * 86400))

    def resolve(self, accounts: Sequence[Account]) -> None:
        ids = self.tables.user_ids([account.email for account in accounts])
        for account in accounts:
            account.user_id = ids[account.email]

    def short_posts(self, accounts: Sequence[Account], count: int) -> None:
        """``count`` short posts for each account."""
        rows = [
            (account.user_id, self.texts.short(), self._when())
            for account in accounts
            for _ in range(count)
        ]
        self.stats.add(self.tables.add_posts(rows))

    def tiny_posts(self, accounts: Sequence[Account], counts: Sequence[int]) -> None:
        """``counts[i]`` tiny posts for ``accounts[i]`` (deletePost's supply)."""
        rows = [
            (account.user_id, f"to delete {n}", self._when(30))
            for account, count in zip(accounts, counts, strict=True)
            for n in range(count)
        ]
        self.tables.add_posts(rows)

    def spread_posts(self, user_ids: Sequence[int], *, huge: int) -> None:
        """A realistic spread of posts for ``user_ids``, ``huge`` of them near 1 MiB."""
        rows: list[tuple[int, str, datetime]] = []
        for user_id in user_ids:
            rows.extend(
                (user_id, self.texts.text(self.texts.spread_size()), self._when())
                for _ in range(self.texts.spread_count())
            )
        if user_ids:
            for n in range(huge):
                rows.append((user_ids[n % len(user_ids)], _HUGE_TEXTS[n % 2], self._when()))
        self.stats.add(self.tables.add_posts(rows))

    def heavy_posts(self, accounts: Sequence[Account]) -> None:
        """Long lists of mixed sizes; every other account also holds a post near 1 MiB."""
        rows: list[tuple[int, str, datetime]] = []
        for n, account in enumerate(accounts):
            rows.extend(
                (account.user_id, self.texts.text(self.texts.spread_size()), self._when())
                for _ in range(self.rng.randint(50, 300))
            )
            if n % 2 == 0:
                rows.append((account.user_id, _HUGE_TEXTS[(n // 2) % 2], self._when()))
        self.stats.add(self.tables.add_posts(rows))

    def background(self, users: int, *, password_hash: str, huge: int, prefix: str) -> None:
        """``users`` users who never log in, with a realistic spread of posts."""
        started = time.monotonic()
        emails = [f"{prefix}-bg-{n}@{EMAIL_DOMAIN}" for n in range(users)]
        ids = self.tables.add_users(emails, password_hash, self.now)
        self.stats.users += len(ids)
        self.spread_posts([ids[email] for email in emails], huge=huge)
        self.stats.seconds += time.monotonic() - started
