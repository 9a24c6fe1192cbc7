"""Repositories: add, flush and query. They never commit; the unit of work does."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from persistence.models import LoginAttempt, Post, User
from schemas.throttle import LoginAttempt as LoginAttemptIn


class UserRepository:
    """Users, by id or normalised email."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, *, email: str, password_hash: str, created_at: datetime) -> User:
        """Insert a user and flush, so a duplicate email fails here."""
        user = User(email=email, password_hash=password_hash, created_at=created_at)
        self.session.add(user)
        self.session.flush()
        return user

    def get(self, user_id: int) -> User | None:
        """The user with ``user_id``, or None."""
        return self.session.get(User, user_id)

    def get_by_email(self, email: str) -> User | None:
        """The user with this normalised email, or None."""
        return self.session.scalars(select(User).where(User.email == email)).one_or_none()

    def bump_posts_version(self, user_id: int) -> bool:
        """Mark the user's posts as changed; locks the user row until commit."""
        result = self.session.execute(
            update(User)
            .where(User.id == user_id)
            .values(posts_version=User.posts_version + 1)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


class PostRepository:
    """Posts, always scoped to their owner."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, *, user_id: int, text: str, created_at: datetime) -> Post:
        """Insert a post and flush, so it has its id."""
        post = Post(user_id=user_id, text=text, created_at=created_at)
        self.session.add(post)
        self.session.flush()
        return post

    def list_for_user(self, user_id: int) -> list[Post]:
        """Every post of ``user_id``, newest first."""
        return list(
            self.session.scalars(
                select(Post)
                .where(Post.user_id == user_id)
                .order_by(Post.created_at.desc(), Post.id.desc())
            )
        )

    def delete(self, *, post_id: int, user_id: int) -> bool:
        """Delete the post if ``user_id`` owns it; False when there was none to delete."""
        result = self.session.execute(
            delete(Post)
            .where(Post.id == post_id, Post.user_id == user_id)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


class LoginAttemptRepository:
    """Login attempts not (yet) successful, counted per email and per client address."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, attempt: LoginAttemptIn) -> int:
        """Record an attempt and return its id."""
        row = LoginAttempt(
            email=attempt.email, source=attempt.source, created_at=attempt.created_at
        )
        self.session.add(row)
        self.session.flush()
        return row.id

    def count_since(self, *, email: str, since: datetime, source: str | None = None) -> int:
        """Attempts for ``email`` (from ``source``, if given) at or after ``since``."""
        query = select(func.count()).where(
            LoginAttempt.email == email, LoginAttempt.created_at >= since
        )
        if source is not None:
            query = query.where(LoginAttempt.source == source)
        return int(self.session.scalar(query) or 0)

    def oldest_since(
        self, *, email: str, since: datetime, source: str | None = None
    ) -> datetime | None:
        """The time of the oldest attempt counted by :meth:`count_since`."""
        query = select(func.min(LoginAttempt.created_at)).where(
            LoginAttempt.email == email, LoginAttempt.created_at >= since
        )
        if source is not None:
            query = query.where(LoginAttempt.source == source)
        return self.session.scalar(query)

    def delete_for(self, *, email: str, source: str) -> None:
        """Forget the attempts of ``email`` from ``source`` (after a successful login)."""
        self.session.execute(
            delete(LoginAttempt)
            .where(LoginAttempt.email == email, LoginAttempt.source == source)
            .execution_options(synchronize_session=False)
        )

    def purge_before(self, cutoff: datetime) -> None:
        """Delete attempts older than ``cutoff``: they no longer count."""
        self.session.execute(
            delete(LoginAttempt)
            .where(LoginAttempt.created_at < cutoff)
            .execution_options(synchronize_session=False)
        )
