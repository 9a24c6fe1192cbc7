"""An in-memory unit of work with the repositories the account services use.

It satisfies ``persistence.ports.AccountsUnitOfWork``, the protocol those services
take (mypy checks this module; see the end). It keeps the real one's contract: ``with uow:`` starts from the last committed
state, ``commit()`` publishes the changes, leaving without it throws them away.
It counts transactions and commits, and can fail a number of commits with a
deadlock (TransientError) or an unreachable database, as a real one would.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any

from persistence.errors import AlreadyExists
from persistence.ports import AccountsUnitOfWork
from schemas.sessions import SessionIn
from schemas.throttle import LoginAttempt
from schemas.users import Principal


@dataclass
class FakeUser:
    id: int
    email: str
    password_hash: str
    created_at: datetime
    posts_version: int = 0
    posts_count: int = 0
    posts_bytes: int = 0


@dataclass
class FakeSession:
    id: int
    user_id: int
    family_hash: str
    refresh_hash: str
    generation: int
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    ended_at: datetime | None = None


@dataclass
class State:
    """Everything the fake database holds."""

    users: dict[int, FakeUser] = field(default_factory=dict)
    sessions: dict[int, FakeSession] = field(default_factory=dict)
    attempts: list[LoginAttempt] = field(default_factory=list)
    known: dict[tuple[int, str], datetime] = field(default_factory=dict)
    hits: dict[tuple[str, datetime], int] = field(default_factory=dict)
    posts: dict[int, int] = field(default_factory=dict)  # post id -> user id
    last_id: int = 0

    def next_id(self) -> int:
        self.last_id += 1
        return self.last_id


class FakeUsers:
    def __init__(self, state: State) -> None:
        self.state = state

    def add(self, *, email: str, password_hash: str, created_at: datetime) -> FakeUser:
        if any(user.email == email for user in self.state.users.values()):
            raise AlreadyExists(email)
        user = FakeUser(self.state.next_id(), email, password_hash, created_at)
        self.state.users[user.id] = user
        return user

    def get(self, user_id: int) -> FakeUser | None:
        return self.state.users.get(user_id)

    def get_by_email(self, email: str) -> FakeUser | None:
        return next((u for u in self.state.users.values() if u.email == email), None)

    def set_password_hash(self, *, user_id: int, password_hash: str) -> bool:
        user = self.state.users.get(user_id)
        if user is None:
            return False
        user.password_hash = password_hash
        return True

    def delete(self, user_id: int) -> bool:
        if self.state.users.pop(user_id, None) is None:
            return False
        # ON DELETE CASCADE
        self.state.sessions = {k: s for k, s in self.state.sessions.items() if s.user_id != user_id}
        self.state.known = {k: v for k, v in self.state.known.items() if k[0] != user_id}
        self.state.posts = {k: v for k, v in self.state.posts.items() if v != user_id}
        return True


class FakeSessions:
    def __init__(self, state: State) -> None:
        self.state = state

    def add(self, data: SessionIn) -> int:
        if data.user_id not in self.state.users:
            raise AssertionError("foreign key: no such user")
        session = FakeSession(id=self.state.next_id(), **data.model_dump())
        self.state.sessions[session.id] = session
        return session.id

    def get(self, session_id: int) -> FakeSession | None:
        return self.state.sessions.get(session_id)

    def _live(self, session: FakeSession, now: datetime) -> bool:
        return session.ended_at is None and session.expires_at > now

    def caller(self, *, user_id: int, session_id: int, now: datetime) -> Principal | None:
        user, session = self.state.users.get(user_id), self.state.sessions.get(session_id)
        if user is None or session is None or session.user_id != user_id:
            return None
        if not self._live(session, now):
            return None
        return Principal(
            id=user.id,
            email=user.email,
            session_id=session.id,
            posts_version=user.posts_version,
            posts_count=user.posts_count,
            posts_bytes=user.posts_bytes,
        )

    def owner(self, session_id: int) -> FakeUser | None:
        session = self.state.sessions.get(session_id)
        return None if session is None else self.state.users.get(session.user_id)

    def rotate(
        self,
        *,
        session_id: int,
        family_hash: str,
        current_hash: str,
        new_hash: str,
        now: datetime,
        expires_at: datetime,
    ) -> bool:
        session = self.state.sessions.get(session_id)
        if (
            session is None
            or session.family_hash != family_hash
            or session.refresh_hash != current_hash
            or not self._live(session, now)
        ):
            return False
        session.refresh_hash = new_hash
        session.generation += 1
        session.last_used_at = max(now, session.created_at)
        session.expires_at = expires_at
        return True

    def end(self, *, user_id: int, session_ids: Sequence[int], now: datetime) -> int:
        ended = 0
        for session_id in session_ids:
            session = self.state.sessions.get(session_id)
            if session is not None and session.user_id == user_id and session.ended_at is None:
                session.ended_at = max(now, session.created_at)
                ended += 1
        return ended

    def end_for_user(self, *, user_id: int, now: datetime) -> int:
        live = [s.id for s in self.state.sessions.values() if s.user_id == user_id]
        live = [i for i in live if self._live(self.state.sessions[i], now)]
        return self.end(user_id=user_id, session_ids=live, now=now)

    def live_ids_for_user(self, *, user_id: int, now: datetime) -> list[int]:
        live = [
            s for s in self.state.sessions.values() if s.user_id == user_id and self._live(s, now)
        ]
        return [s.id for s in sorted(live, key=lambda s: (s.created_at, s.id), reverse=True)]

    def live_among(self, *, session_ids: Sequence[int], now: datetime) -> set[int]:
        sessions = [self.state.sessions.get(session_id) for session_id in session_ids]
        return {s.id for s in sessions if s is not None and self._live(s, now)}

    def purge(self, *, now: datetime, limit: int) -> int:
        dead = [
            s.id
            for s in self.state.sessions.values()
            if s.ended_at is not None or s.expires_at <= now
        ][:limit]
        for session_id in dead:
            del self.state.sessions[session_id]
        return len(dead)


class FakeLoginAttempts:
    def __init__(self, state: State) -> None:
        self.state = state

    def add(self, attempt: LoginAttempt) -> int:
        self.state.attempts.append(attempt)
        return len(self.state.attempts)

    def _counted(self, email: str, since: datetime, source: str | None) -> list[LoginAttempt]:
        return [
            a
            for a in self.state.attempts
            if a.email == email and a.created_at >= since and source in (None, a.source)
        ]

    def count_since(self, *, email: str, since: datetime, source: str | None = None) -> int:
        return len(self._counted(email, since, source))

    def oldest_since(
        self, *, email: str, since: datetime, source: str | None = None
    ) -> datetime | None:
        return min((a.created_at for a in self._counted(email, since, source)), default=None)

    def delete_for(self, *, email: str, source: str) -> None:
        self.state.attempts = [
            a for a in self.state.attempts if (a.email, a.source) != (email, source)
        ]

    def delete_for_email(self, email: str) -> None:
        self.state.attempts = [a for a in self.state.attempts if a.email != email]

    def purge_before(self, cutoff: datetime) -> None:
        self.state.attempts = [a for a in self.state.attempts if a.created_at >= cutoff]


class FakeKnownAddresses:
    def __init__(self, state: State) -> None:
        self.state = state

    def remember(self, *, user_id: int, address: str, now: datetime) -> None:
        self.state.known[(user_id, address)] = now

    def is_known(self, *, email: str, address: str, since: datetime) -> bool:
        user = next((u for u in self.state.users.values() if u.email == email), None)
        when = None if user is None else self.state.known.get((user.id, address))
        return when is not None and when >= since

    def purge_before(self, cutoff: datetime) -> None:
        self.state.known = {k: v for k, v in self.state.known.items() if v >= cutoff}


class FakeAuthRequests:
    def __init__(self, state: State) -> None:
        self.state = state

    def hit(self, *, address: str, window_start: datetime) -> None:
        key = (address, window_start)
        self.state.hits[key] = self.state.hits.get(key, 0) + 1

    def counts(self, *, address: str, windows: Sequence[datetime]) -> dict[datetime, int]:
        return {w: n for (a, w), n in self.state.hits.items() if a == address and w in windows}

    def purge_before(self, cutoff: datetime) -> None:
        self.state.hits = {k: v for k, v in self.state.hits.items() if k[1] >= cutoff}


class FakeUnitOfWork:
    """A unit of work over :class:`State`, counting transactions and commits."""

    def __init__(self) -> None:
        self.committed = State()
        self.transactions = 0
        self.commits = 0
        self.commit_calls = 0
        # What the next commits raise, in order (None: that one succeeds).
        self.fail_commits: list[type[Exception] | None] = []
        self._state: State | None = None

    def caller(self, *, user_id: int, session_id: int, now: datetime) -> Principal | None:
        """One read outside a transaction, of what is committed."""
        return FakeSessions(self.committed).caller(user_id=user_id, session_id=session_id, now=now)

    def __enter__(self) -> FakeUnitOfWork:
        self._state = copy.deepcopy(self.committed)
        self.users = FakeUsers(self._state)
        self.sessions = FakeSessions(self._state)
        self.login_attempts = FakeLoginAttempts(self._state)
        self.known_addresses = FakeKnownAddresses(self._state)
        self.auth_requests = FakeAuthRequests(self._state)
        self.transactions += 1
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._state = None  # whatever was not committed is gone

    def commit(self) -> None:
        if self._state is None:
            raise RuntimeError("commit() outside 'with uow:'")
        self.commit_calls += 1
        error = self.fail_commits.pop(0) if self.fail_commits else None
        if error is not None:
            raise error("injected by the test")
        self.committed = copy.deepcopy(self._state)
        self.commits += 1


def snapshot(fake: FakeUnitOfWork) -> Any:
    """A copy of the committed state, to compare after a denial."""
    return copy.deepcopy(fake.committed)


def _satisfies_the_port(fake: FakeUnitOfWork) -> AccountsUnitOfWork:
    return fake  # mypy: the fake is what the account services take
