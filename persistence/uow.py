"""The unit of work: one session, one transaction, rolled back unless committed."""

from __future__ import annotations

from datetime import datetime
from types import TracebackType

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from persistence.db import get_read_engine, get_session_factory
from persistence.errors import AlreadyExists, DatabaseUnavailable, PersistenceError, TransientError
from persistence.ports import UnitOfWorkFactory
from persistence.repositories import (
    CALLER,
    AuthRequestRepository,
    KnownAddressRepository,
    LoginAttemptRepository,
    PersistedQueryRepository,
    PostEventRepository,
    PostRepository,
    SessionRepository,
    StreamLeaseRepository,
    UserRepository,
)
from schemas.users import Principal

# MySQL/MariaDB: duplicate key.
_MYSQL_DUPLICATE = 1062
# MySQL/MariaDB error numbers worth a retry: deadlock, lock wait timeout.
_MYSQL_RETRYABLE = {1213, 1205}
# Connection-level failures: server gone, lost, or refusing.
_MYSQL_UNAVAILABLE = {2002, 2003, 2005, 2006, 2013, 2055, 1040, 1053}


def translate(exc: DBAPIError) -> PersistenceError:
    """Map a driver error to the persistence error the service layer handles."""
    args = getattr(exc.orig, "args", ())
    code = args[0] if args and isinstance(args[0], int) else None
    message = str(exc.orig).lower()
    if isinstance(exc, IntegrityError):
        # Only a unique key means "already exists"; a failed CHECK or foreign key
        # is a bug above this layer and must surface as one.
        if code == _MYSQL_DUPLICATE or "unique constraint failed" in message:
            return AlreadyExists(str(exc.orig))
        return PersistenceError(str(exc.orig))
    if code in _MYSQL_RETRYABLE or "database is locked" in message or "deadlock" in message:
        return TransientError(str(exc.orig))
    if exc.connection_invalidated or code in _MYSQL_UNAVAILABLE or "unable to open" in message:
        return DatabaseUnavailable(str(exc.orig))
    return PersistenceError(str(exc.orig))


class SqlUnitOfWork:
    """``with uow:`` opens a session; ``uow.commit()`` commits; leaving rolls back and closes.

    The unit of work the services take (persistence/ports.py), over SQLAlchemy.
    """

    users: UserRepository
    posts: PostRepository
    login_attempts: LoginAttemptRepository
    persisted_queries: PersistedQueryRepository
    sessions: SessionRepository
    known_addresses: KnownAddressRepository
    auth_requests: AuthRequestRepository
    post_events: PostEventRepository
    stream_leases: StreamLeaseRepository

    def __init__(self, session_factory: sessionmaker[Session] | None = None) -> None:
        self._session_factory = session_factory
        self._session: Session | None = None

    def __enter__(self) -> SqlUnitOfWork:
        factory = self._session_factory or get_session_factory()
        self._session = factory()
        self.users = UserRepository(self._session)
        self.posts = PostRepository(self._session)
        self.login_attempts = LoginAttemptRepository(self._session)
        self.persisted_queries = PersistedQueryRepository(self._session)
        self.sessions = SessionRepository(self._session)
        self.known_addresses = KnownAddressRepository(self._session)
        self.auth_requests = AuthRequestRepository(self._session)
        self.post_events = PostEventRepository(self._session)
        self.stream_leases = StreamLeaseRepository(self._session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, self._session = self._session, None
        if session is None:
            return
        # Detach what the work loaded first, so results stay readable after the
        # session ends (rollback would otherwise expire them).
        session.expunge_all()
        try:
            session.rollback()
        except DBAPIError:
            pass  # the connection is gone; the original error says why
        finally:
            session.close()
        if isinstance(exc, DBAPIError):
            raise translate(exc) from exc

    def caller(self, *, user_id: int, session_id: int, now: datetime) -> Principal | None:
        """The user behind a live session: the one read of every authenticated request.

        Outside ``with uow:``: one statement on an autocommit connection, no ORM
        session and no transaction (persistence/reads.py says why).
        """
        try:
            return CALLER.run(
                get_read_engine(), {"user_id": user_id, "session_id": session_id, "now": now}
            )
        except DBAPIError as exc:
            raise translate(exc) from exc

    def commit(self) -> None:
        """Commit the transaction."""
        if self._session is None:
            raise RuntimeError("commit() outside 'with uow:'")
        self._session.commit()


# mypy checks here that the real unit of work is what the services take.
_SATISFIES_THE_PORT: UnitOfWorkFactory = SqlUnitOfWork
