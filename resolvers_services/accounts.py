"""Account use cases: signup, login, and resolving a token to its user."""

from __future__ import annotations

from persistence.errors import AlreadyExists
from persistence.models import User
from persistence.uow import UnitOfWork
from resolvers_services.clock import utcnow
from resolvers_services.login_throttle import begin_attempt, confirm_attempt, forget_attempts
from resolvers_services.passwords import burn_verification_time, hash_password, verify_password
from resolvers_services.tokens import issue_token, user_id_from_token
from resolvers_services.transactions import run_in_transaction
from schemas.errors import DomainError, ErrorCode
from schemas.throttle import LoginAttempt
from schemas.users import AuthResult, LoginInput, Principal, SignupInput, UserOut

LOGIN_FAILED = "Invalid email or password"


def _auth_result(user: User) -> AuthResult:
    return AuthResult(
        token=issue_token(user_id=user.id), user=UserOut(id=user.id, email=user.email)
    )


def user_signup(*, uow: UnitOfWork, data: SignupInput) -> AuthResult:
    """Create an account and return a token for it; CONFLICT if the email is taken."""
    # Hash before the transaction: bcrypt is slow and must not hold a connection.
    password_hash = hash_password(data.password)

    def create(uow: UnitOfWork) -> User:
        user = uow.users.add(email=data.email, password_hash=password_hash, created_at=utcnow())
        uow.commit()
        return user

    try:
        user = run_in_transaction(uow, create)
    except AlreadyExists:
        raise DomainError(
            ErrorCode.CONFLICT,
            "An account with this email already exists",
            fields={"email": "already registered"},
        ) from None
    return _auth_result(user)


def user_login(*, uow: UnitOfWork, data: LoginInput, source: str) -> AuthResult:
    """A token for valid credentials; the same UNAUTHENTICATED for any bad pair.

    ``source`` is the client's address, for throttling failed logins.
    """
    attempt = LoginAttempt(email=data.email, source=source, created_at=utcnow())
    run_in_transaction(uow, lambda uow: begin_attempt(uow, attempt))

    def lookup(uow: UnitOfWork) -> User | None:
        confirm_attempt(uow, attempt)
        return uow.users.get_by_email(data.email)

    user = run_in_transaction(uow, lookup)
    if user is None:
        burn_verification_time(data.password)
        raise DomainError(ErrorCode.UNAUTHENTICATED, LOGIN_FAILED)
    if not verify_password(data.password, user.password_hash):
        raise DomainError(ErrorCode.UNAUTHENTICATED, LOGIN_FAILED)
    run_in_transaction(uow, lambda uow: forget_attempts(uow, attempt))
    return _auth_result(user)


def user_authenticate(*, uow: UnitOfWork, token: str) -> Principal:
    """The caller a token stands for; UNAUTHENTICATED if it is bad or the user is gone."""
    user_id = user_id_from_token(token)
    user = run_in_transaction(uow, lambda uow: uow.users.get(user_id))
    if user is None:
        raise DomainError(ErrorCode.UNAUTHENTICATED, "Invalid or expired token")
    return Principal(
        id=user.id,
        email=user.email,
        posts_version=user.posts_version,
        posts_count=user.posts_count,
        posts_bytes=user.posts_bytes,
    )
