"""Repositories: add, flush and query. They never commit; the unit of work does."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    LargeBinary,
    Row,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.orm import InstrumentedAttribute, Session

from persistence.models import (
    AuthRequestCount,
    KnownAddress,
    LoginAttempt,
    PersistedQuery,
    Post,
    PostEvent,
    StreamLease,
    User,
    UserSession,
)
from persistence.reads import OneStatementRead
from persistence.types import byte_length
from schemas.ids import PostCursor
from schemas.post_events import PostEventKind
from schemas.sessions import SessionIn
from schemas.throttle import LoginAttempt as LoginAttemptIn
from schemas.users import Principal


def _rowcount(result: object) -> int:
    """Rows matched by an UPDATE or DELETE (CursorResult.rowcount, untyped on Result)."""
    return int(getattr(result, "rowcount", 0) or 0)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _not_before(column: InstrumentedAttribute[datetime], now: datetime) -> ColumnElement[datetime]:
    """``now``, or ``column`` if that is later: instances' clocks may disagree a little,
    and a CHECK keeps ended_at and last_used_at from preceding created_at."""
    return case((column > now, column), else_=now)


# What a post is shown with: plain columns, no ORM identity map on the read path.
# The text comes as its UTF-8 bytes (1 byte a character for ASCII, where a str
# with one emoji takes 4): the service turns each into its JSON literal.
_POST_COLUMNS = (Post.id, cast(Post.text, LargeBinary).label("text"), Post.created_at)
PostRow = Row[int, bytes, datetime]  # id, text as UTF-8, created_at
# Rows are fetched a few at a time (a server-side cursor on MySQL): a page of
# 1 MiB posts is never all in memory twice, as driver rows and as the result.
_STREAM = {"yield_per": 4}
_LIST_POSTS = (
    select(*_POST_COLUMNS)
    .where(Post.user_id == bindparam("user_id"))
    .order_by(Post.created_at.desc(), Post.id.desc())
)


# The caller lookup runs on every authenticated request: built and compiled once,
# run as a one-statement read (persistence/reads.py).
_CALLER = (
    select(
        User.id,
        User.email,
        User.posts_version,
        User.posts_count,
        User.posts_bytes,
        UserSession.id.label("session_id"),
    )
    .join(UserSession, UserSession.user_id == User.id)
    .where(
        User.id == bindparam("user_id"),
        UserSession.id == bindparam("session_id"),
        UserSession.ended_at.is_(None),
        UserSession.expires_at > bindparam("now"),
    )
)


# The two statements of addPost, built once (Core: no ORM unit of work to flush).
# Counting the post: one atomic conditional UPDATE, which also locks the user row.
_RESERVE_POST = (
    update(User)
    .where(
        User.id == bindparam("user_id"),
        User.posts_count < bindparam("max_count"),
        User.posts_bytes + bindparam("size") <= bindparam("max_bytes"),
    )
    .values(
        posts_version=User.posts_version + 1,
        posts_count=User.posts_count + 1,
        posts_bytes=User.posts_bytes + bindparam("size"),
    )
)
_INSERT_POST = insert(Post)


def _principal(row: tuple[Any, ...]) -> Principal:
    user_id, email, posts_version, posts_count, posts_bytes, session_id = row
    return Principal.model_construct(  # trusted: our own row, read on every request
        id=user_id,
        email=email,
        session_id=session_id,
        posts_version=posts_version,
        posts_count=posts_count,
        posts_bytes=posts_bytes,
    )


# The user behind a live session, in one statement; None if either is gone or ended.
CALLER = OneStatementRead(_CALLER, _principal)


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

    def set_password_hash(self, *, user_id: int, password_hash: str) -> bool:
        """Replace the user's password hash; False when there is no such user."""
        result = self.session.execute(
            update(User)
            .where(User.id == user_id)
            .values(password_hash=password_hash)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result) == 1

    def delete(self, user_id: int) -> bool:
        """Delete the user; the database deletes their posts, sessions and known addresses."""
        result = self.session.execute(
            delete(User).where(User.id == user_id).execution_options(synchronize_session=False)
        )
        return _rowcount(result) == 1

    def reserve_post(self, *, user_id: int, size: int, max_count: int, max_bytes: int) -> bool:
        """Count a new post of ``size`` bytes if it fits the quotas; locks the user row.

        Also bumps ``posts_version``. False when the user is gone or a quota would
        be exceeded (nothing changed): one atomic statement, so racing adds queue
        on the row lock and cannot overshoot.
        """
        result = self.session.connection().execute(
            _RESERVE_POST,
            {"user_id": user_id, "size": size, "max_count": max_count, "max_bytes": max_bytes},
        )
        return _rowcount(result) > 0

    def release_post(self, *, user_id: int, post_id: int) -> bool:
        """Uncount ``post_id`` (if it is the user's) and bump the version; locks the user row.

        Runs before the delete, so that every writer of a user's posts takes the
        user row first (no lock-order deadlocks). Two statements: the first takes
        the lock, so the second's reading of the post sees what racing deletes
        committed meanwhile (one statement would read the post as it was when it
        began, and a racing delete of the same post would count it twice).
        """
        locked = self.session.execute(
            update(User)
            .where(User.id == user_id)
            .values(posts_version=User.posts_version + 1)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(locked) == 0:
            return False
        own = (Post.id == post_id) & (Post.user_id == user_id)
        self.session.execute(
            update(User)
            .where(User.id == user_id)
            .values(
                posts_count=User.posts_count - select(func.count()).where(own).scalar_subquery(),
                posts_bytes=User.posts_bytes
                - select(func.coalesce(func.sum(byte_length(Post.text)), 0))
                .where(own)
                .scalar_subquery(),
            )
            .execution_options(synchronize_session=False)
        )
        return True

    def post_totals(self, user_id: int) -> tuple[int, int] | None:
        """The user's post count and bytes, or None when there is no such user."""
        row = self.session.execute(
            select(User.posts_count, User.posts_bytes).where(User.id == user_id)
        ).one_or_none()
        return None if row is None else (int(row[0]), int(row[1]))


class PostRepository:
    """Posts, always scoped to their owner."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, *, user_id: int, text: str, created_at: datetime) -> int:
        """Insert a post and return its id.

        The model checks every field; the row then goes in with one Core INSERT
        (no unit-of-work flush), the text handed to the driver as it is.
        """
        post = Post(user_id=user_id, text=text, created_at=created_at)
        result = self.session.connection().execute(
            _INSERT_POST,
            {"user_id": post.user_id, "text": post.text, "created_at": post.created_at},
        )
        (post_id,) = result.inserted_primary_key or (None,)
        if post_id is None:
            raise RuntimeError("the database returned no id for the new post")
        return int(post_id)

    def list_for_user(self, user_id: int) -> Iterator[PostRow]:
        """Every post of ``user_id``, newest first, as (id, text, created_at) rows.

        Streamed: consume it inside the unit of work.
        """
        yield from self.session.connection().execute(
            _LIST_POSTS, {"user_id": user_id}, execution_options=_STREAM
        )

    def page_for_user(
        self,
        user_id: int,
        *,
        limit: int,
        after: PostCursor | None,
        before: PostCursor | None,
        backward: bool,
    ) -> Iterator[PostRow]:
        """Up to ``limit`` posts strictly between the cursors, nearest the cursor first.

        Newest first, or with ``backward`` the ``limit`` nearest ``before``, oldest
        first. One range scan of the (user_id, created_at, id) index, streamed:
        consume it inside the unit of work.
        """
        query = select(*_POST_COLUMNS).where(Post.user_id == user_id)
        if after is not None:  # older than the cursor
            query = query.where(
                (Post.created_at < after.created_at)
                | ((Post.created_at == after.created_at) & (Post.id < after.id))
            )
        if before is not None:  # newer than the cursor
            query = query.where(
                (Post.created_at > before.created_at)
                | ((Post.created_at == before.created_at) & (Post.id > before.id))
            )
        if backward:
            query = query.order_by(Post.created_at.asc(), Post.id.asc())
        else:
            query = query.order_by(Post.created_at.desc(), Post.id.desc())
        yield from self.session.connection().execute(query.limit(limit), execution_options=_STREAM)

    def get_many(self, user_id: int, post_ids: Sequence[int]) -> Iterator[PostRow]:
        """Those of ``post_ids`` that ``user_id`` owns (streamed: consume it inside the
        unit of work)."""
        if not post_ids:
            return
        query = select(*_POST_COLUMNS).where(Post.user_id == user_id, Post.id.in_(post_ids))
        yield from self.session.connection().execute(query, execution_options=_STREAM)

    def delete(self, *, post_id: int, user_id: int) -> bool:
        """Delete the post if ``user_id`` owns it; False when there was none to delete."""
        result = self.session.execute(
            delete(Post)
            .where(Post.id == post_id, Post.user_id == user_id)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result) > 0


class PersistedQueryRepository:
    """GraphQL documents by the SHA-256 of their text, least recently used evicted first."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def touch(self, sha256: str, now: datetime) -> bool:
        """Mark a document as used now; False when it is not stored."""
        result = self.session.execute(
            update(PersistedQuery)
            .where(PersistedQuery.sha256 == sha256)
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def get(self, sha256: str) -> str | None:
        """The document stored under ``sha256``, or None."""
        document: str | None = self.session.scalar(
            select(PersistedQuery.document).where(PersistedQuery.sha256 == sha256)
        )
        return document

    def add(self, *, sha256: str, document: str, now: datetime) -> None:
        """Store a document and flush, so that a duplicate fails here (AlreadyExists)."""
        self.session.add(
            PersistedQuery(sha256=sha256, document=document, created_at=now, last_used_at=now)
        )
        self.session.flush()

    def evict_beyond(self, keep: int) -> int:
        """Delete all but the ``keep`` most recently used documents; how many went."""
        stored = int(self.session.scalar(select(func.count()).select_from(PersistedQuery)) or 0)
        if stored <= keep:
            return 0
        # MySQL cannot delete from a table it reads in a subquery: find the cutoff first.
        cutoff = self.session.scalar(
            select(PersistedQuery.last_used_at)
            .order_by(PersistedQuery.last_used_at.desc())
            .offset(keep)
            .limit(1)
        )
        result = self.session.execute(
            delete(PersistedQuery)
            .where(PersistedQuery.last_used_at <= cutoff)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


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

    def delete_for_email(self, email: str) -> None:
        """Forget every attempt for ``email`` (its account is being deleted)."""
        self.session.execute(
            delete(LoginAttempt)
            .where(LoginAttempt.email == email)
            .execution_options(synchronize_session=False)
        )

    def purge_before(self, cutoff: datetime) -> None:
        """Delete attempts older than ``cutoff``: they no longer count."""
        self.session.execute(
            delete(LoginAttempt)
            .where(LoginAttempt.created_at < cutoff)
            .execution_options(synchronize_session=False)
        )


class SessionRepository:
    """Sessions: refresh-token hashes, rotation and ending, and the per-request caller check."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, data: SessionIn) -> int:
        """Insert a session and return its id."""
        row = UserSession(**data.model_dump())
        self.session.add(row)
        self.session.flush()
        return row.id

    def get(self, session_id: int) -> UserSession | None:
        """The session with ``session_id``, or None."""
        return self.session.get(UserSession, session_id)

    def owner(self, session_id: int) -> User | None:
        """The user a session belongs to."""
        return self.session.scalars(
            select(User)
            .join(UserSession, UserSession.user_id == User.id)
            .where(UserSession.id == session_id)
        ).one_or_none()

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
        """Swap the current refresh-token hash for ``new_hash`` if it still is ``current_hash``.

        One conditional UPDATE: of two racing rotations of one token, the database
        lets exactly one match (the other finds the hash already replaced).
        """
        result = self.session.execute(
            update(UserSession)
            .where(
                UserSession.id == session_id,
                UserSession.family_hash == family_hash,
                UserSession.refresh_hash == current_hash,
                UserSession.ended_at.is_(None),
                UserSession.expires_at > now,
            )
            .values(
                refresh_hash=new_hash,
                generation=UserSession.generation + 1,
                last_used_at=_not_before(UserSession.created_at, now),
                expires_at=expires_at,
            )
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result) == 1

    def end(self, *, user_id: int, session_ids: Sequence[int], now: datetime) -> int:
        """End those of ``session_ids`` that are ``user_id``'s and live; how many were."""
        if not session_ids:
            return 0
        result = self.session.execute(
            update(UserSession)
            .where(
                UserSession.id.in_(list(session_ids)),
                UserSession.user_id == user_id,
                UserSession.ended_at.is_(None),
            )
            .values(ended_at=_not_before(UserSession.created_at, now))
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result)

    def end_for_user(self, *, user_id: int, now: datetime) -> int:
        """End every live session of ``user_id``; how many there were."""
        result = self.session.execute(
            update(UserSession)
            .where(
                UserSession.user_id == user_id,
                UserSession.ended_at.is_(None),
                UserSession.expires_at > now,
            )
            .values(ended_at=_not_before(UserSession.created_at, now))
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result)

    def live_ids_for_user(self, *, user_id: int, now: datetime) -> list[int]:
        """The ids of the user's live sessions, newest first."""
        return list(
            self.session.scalars(
                select(UserSession.id)
                .where(
                    UserSession.user_id == user_id,
                    UserSession.ended_at.is_(None),
                    UserSession.expires_at > now,
                )
                .order_by(UserSession.created_at.desc(), UserSession.id.desc())
            )
        )

    def live_among(self, *, session_ids: Sequence[int], now: datetime) -> set[int]:
        """Those of ``session_ids`` that are live: not ended, not expired, their user there."""
        if not session_ids:
            return set()
        return set(
            self.session.scalars(
                select(UserSession.id).where(
                    UserSession.id.in_(list(session_ids)),
                    UserSession.ended_at.is_(None),
                    UserSession.expires_at > now,
                )
            )
        )

    def purge(self, *, now: datetime, limit: int) -> int:
        """Delete up to ``limit`` expired or ended sessions; how many went."""
        # MySQL allows no LIMIT in an IN (subquery), and SQLite no DELETE ... LIMIT by
        # default: pick the ids first, then delete them.
        ids = list(
            self.session.scalars(
                select(UserSession.id)
                .where((UserSession.ended_at.is_not(None)) | (UserSession.expires_at <= now))
                .limit(limit)
            )
        )
        if not ids:
            return 0
        result = self.session.execute(
            delete(UserSession)
            .where(UserSession.id.in_(ids))
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result)


class KnownAddressRepository:
    """Addresses from which each account logged in successfully, with the last time."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def remember(self, *, user_id: int, address: str, now: datetime) -> None:
        """Record a successful login of ``user_id`` from ``address`` at ``now``."""
        values = {"user_id": user_id, "address": address, "last_login_at": now}
        statement: sqlite.Insert | mysql.Insert
        if _dialect(self.session) == "sqlite":
            statement = (
                sqlite.insert(KnownAddress)
                .values(values)
                .on_conflict_do_update(
                    index_elements=[KnownAddress.user_id, KnownAddress.address],
                    set_={"last_login_at": now},
                )
            )
        else:
            statement = (
                mysql.insert(KnownAddress).values(values).on_duplicate_key_update(last_login_at=now)
            )
        self.session.execute(statement)

    def is_known(self, *, email: str, address: str, since: datetime) -> bool:
        """Whether the account with ``email`` logged in from ``address`` at or after ``since``."""
        found = self.session.scalar(
            select(KnownAddress.user_id)
            .join(User, User.id == KnownAddress.user_id)
            .where(
                User.email == email,
                KnownAddress.address == address,
                KnownAddress.last_login_at >= since,
            )
            .limit(1)
        )
        return found is not None

    def purge_before(self, cutoff: datetime) -> None:
        """Forget logins older than ``cutoff``."""
        self.session.execute(
            delete(KnownAddress)
            .where(KnownAddress.last_login_at < cutoff)
            .execution_options(synchronize_session=False)
        )


class AuthRequestRepository:
    """Password operations per client address and minute (for the per-address limit)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def hit(self, *, address: str, window_start: datetime) -> None:
        """Count one request from ``address`` in the minute starting at ``window_start``."""
        values = {"address": address, "window_start": window_start, "hits": 1}
        statement: sqlite.Insert | mysql.Insert
        if _dialect(self.session) == "sqlite":
            statement = (
                sqlite.insert(AuthRequestCount)
                .values(values)
                .on_conflict_do_update(
                    index_elements=[AuthRequestCount.address, AuthRequestCount.window_start],
                    set_={"hits": AuthRequestCount.hits + 1},
                )
            )
        else:
            statement = (
                mysql.insert(AuthRequestCount)
                .values(values)
                .on_duplicate_key_update(hits=AuthRequestCount.hits + 1)
            )
        self.session.execute(statement)

    def counts(self, *, address: str, windows: Sequence[datetime]) -> dict[datetime, int]:
        """The hits of ``address`` in each of ``windows`` that has any."""
        rows = self.session.execute(
            select(AuthRequestCount.window_start, AuthRequestCount.hits).where(
                AuthRequestCount.address == address,
                AuthRequestCount.window_start.in_(list(windows)),
            )
        ).all()
        return {row.window_start: int(row.hits) for row in rows}

    def purge_before(self, cutoff: datetime) -> None:
        """Delete the counts of minutes that started before ``cutoff``."""
        self.session.execute(
            delete(AuthRequestCount)
            .where(AuthRequestCount.window_start < cutoff)
            .execution_options(synchronize_session=False)
        )


# An outbox row as the poller reads it: id, user_id, kind, post_id, post_created_at.
PostEventRow = Row[int, int, str, int, datetime | None]
_ADDED = PostEventKind.ADDED.value


class PostEventRepository:
    """The post-events outbox: written with each post change, read by id, pruned by age."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        *,
        user_id: int,
        kind: PostEventKind,
        post_id: int,
        post_created_at: datetime | None,
        created_at: datetime,
    ) -> None:
        """Record a change to ``user_id``'s posts (in the caller's transaction)."""
        self.session.connection().execute(
            insert(PostEvent),
            {
                "user_id": user_id,
                "kind": kind.value,
                "post_id": post_id,
                "post_created_at": post_created_at,
                "created_at": created_at,
            },
        )

    def keep_text(self, *, post_id: int) -> None:
        """Copy a post's text into its added event, if that event is still kept, before
        the post is deleted: a subscriber that has not read the event yet still gets it."""
        self.session.execute(
            update(PostEvent)
            .where(PostEvent.post_id == post_id, PostEvent.kind == _ADDED)
            .values(text=select(Post.text).where(Post.id == post_id).scalar_subquery())
            .execution_options(synchronize_session=False)
        )

    def since(self, *, after: int, also: Sequence[int], limit: int) -> list[PostEventRow]:
        """Events with an id over ``after`` or in ``also``, in id order, at most ``limit``."""
        condition = PostEvent.id > after
        if also:
            condition = condition | PostEvent.id.in_(list(also))
        query = (
            select(
                PostEvent.id,
                PostEvent.user_id,
                PostEvent.kind,
                PostEvent.post_id,
                PostEvent.post_created_at,
            )
            .where(condition)
            .order_by(PostEvent.id)
            .limit(limit)
        )
        return list(self.session.execute(query).tuples())  # type: ignore[arg-type]

    def texts(self, event_ids: Sequence[int]) -> dict[int, str]:
        """The text of each added event's post: the post's, or the copy kept at its deletion."""
        if not event_ids:
            return {}
        query = (
            select(PostEvent.id, func.coalesce(Post.text, PostEvent.text))
            .outerjoin(Post, Post.id == PostEvent.post_id)
            .where(PostEvent.id.in_(list(event_ids)))
        )
        return {int(event_id): text for event_id, text in self.session.execute(query) if text}

    def last_id(self) -> int:
        """The highest event id so far (0 for none)."""
        return int(self.session.scalar(select(func.coalesce(func.max(PostEvent.id), 0))) or 0)

    def prune(self, *, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` events recorded before ``before``; how many went."""
        ids = list(
            self.session.scalars(
                select(PostEvent.id).where(PostEvent.created_at < before).limit(limit)
            )
        )
        if ids:
            self.session.execute(
                delete(PostEvent)
                .where(PostEvent.id.in_(ids))
                .execution_options(synchronize_session=False)
            )
        return len(ids)


class StreamLeaseRepository:
    """Leases of open subscriptions: counted per user, renewed while open, lapsing after."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def lock_user(self, user_id: int) -> bool:
        """Lock the user's row (opens for one user queue here); False when it is gone."""
        if _dialect(self.session) == "sqlite":
            # SQLite ignores FOR UPDATE: a SELECT would begin the transaction with a read,
            # and its insert would then be refused at once ("database is locked") whenever
            # another writer got in between (persistence/db.py). A write first waits for
            # the database's one write lock instead, which serialises opens as the row
            # lock does elsewhere.
            touched = self.session.execute(
                update(User)
                .where(User.id == user_id)
                .values(id=User.id)
                .execution_options(synchronize_session=False)
            )
            return _rowcount(touched) == 1
        found = self.session.scalar(select(User.id).where(User.id == user_id).with_for_update())
        return found is not None

    def count_live(self, *, user_id: int, now: datetime) -> int:
        """How many of the user's leases have not lapsed."""
        return int(
            self.session.scalar(
                select(func.count())
                .select_from(StreamLease)
                .where(StreamLease.user_id == user_id, StreamLease.expires_at > now)
            )
            or 0
        )

    def add(self, *, user_id: int, expires_at: datetime) -> int:
        """Insert a lease and return its id."""
        result = self.session.connection().execute(
            insert(StreamLease), {"user_id": user_id, "expires_at": expires_at}
        )
        (lease_id,) = result.inserted_primary_key or (None,)
        if lease_id is None:
            raise RuntimeError("the database returned no id for the new lease")
        return int(lease_id)

    def renew(self, *, lease_ids: Sequence[int], expires_at: datetime) -> None:
        """Push the leases' expiry to ``expires_at``."""
        if lease_ids:
            self.session.execute(
                update(StreamLease)
                .where(StreamLease.id.in_(list(lease_ids)))
                .values(expires_at=expires_at)
                .execution_options(synchronize_session=False)
            )

    def delete(self, lease_ids: Sequence[int]) -> None:
        """Drop the leases (their streams ended)."""
        if lease_ids:
            self.session.execute(
                delete(StreamLease)
                .where(StreamLease.id.in_(list(lease_ids)))
                .execution_options(synchronize_session=False)
            )

    def purge(self, *, before: datetime) -> None:
        """Drop leases that lapsed before ``before`` (their process died)."""
        self.session.execute(
            delete(StreamLease)
            .where(StreamLease.expires_at < before)
            .execution_options(synchronize_session=False)
        )
