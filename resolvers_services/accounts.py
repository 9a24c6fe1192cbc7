"""Account use cases: signup, login, password change, account deletion, and the caller.

Every transaction is a function of its own below, holding one ``with uow:``
block (and its ``uow.commit()`` when it writes), decorated with
``@retry_transaction`` so a deadlock reruns just that transaction. The
throttle and session helpers only ever add to the transaction they are given.

A password check (login, changePassword, deleteAccount) runs, in order:

1. ``auth_request_admit``: the per-address limit, before any bcrypt work;
2. ``_record_attempt``: the attempt is recorded and committed, and refused
   with RATE_LIMITED if the account is over its failure limits;
3. ``_confirm_attempt``: the limits again (racing attempts are all recorded by
   now) and the user is read;
4. bcrypt, outside any transaction (it is slow and must not hold a connection);
5. the use case's own transaction, which also forgets the attempt.
"""

from __future__ import annotations

from persistence.errors import AlreadyExists
from persistence.ports import AccountsUnitOfWork, UserRecord
from resolvers_services import login_throttle
from resolvers_services.address_limit import auth_request_admit
from resolvers_services.clock import utcnow
from resolvers_services.passwords import burn_verification_time, hash_password, verify_password
from resolvers_services.post_cache import PostsCache
from resolvers_services.sessions import issue_tokens, start_session
from resolvers_services.tokens import INVALID_TOKEN, TokenVerifier
from resolvers_services.transactions import retry_transaction
from schemas.errors import DomainError, ErrorCode
from schemas.throttle import LoginAttempt
from schemas.users import (
    AuthResult,
    ChangePasswordInput,
    DeleteAccountInput,
    LoginInput,
    Principal,
    SignupInput,
)

LOGIN_FAILED = "Invalid email or password"
WRONG_PASSWORD = "The password is not correct"


def _unauthenticated(message: str) -> DomainError:
    return DomainError(ErrorCode.UNAUTHENTICATED, message)


# signup


def user_signup(*, uow: AccountsUnitOfWork, data: SignupInput, source: str) -> AuthResult:
    """Create an account and start its first session; CONFLICT if the email is taken."""
    auth_request_admit(uow=uow, source=source)
    password_hash = hash_password(data.password)
    try:
        return _create_account(uow, email=data.email, password_hash=password_hash)
    except AlreadyExists:
        raise DomainError(
            ErrorCode.CONFLICT,
            "An account with this email already exists",
            fields={"email": "already registered"},
        ) from None


@retry_transaction
def _create_account(uow: AccountsUnitOfWork, *, email: str, password_hash: str) -> AuthResult:
    now = utcnow()
    with uow:
        user = uow.users.add(email=email, password_hash=password_hash, created_at=now)
        refresh = start_session(uow, user_id=user.id, now=now)
        uow.commit()
    return issue_tokens(user, refresh, now)


# login


def user_login(*, uow: AccountsUnitOfWork, data: LoginInput, source: str) -> AuthResult:
    """A new session for valid credentials; the same UNAUTHENTICATED for any bad pair.

    ``source`` is the client's address, for the per-address limit and the throttle.
    """
    address = auth_request_admit(uow=uow, source=source)
    attempt = LoginAttempt(email=data.email, source=address, created_at=utcnow())
    user = _check_password(uow, attempt, data.password, failure=LOGIN_FAILED)
    return _start_login(uow, user=user, attempt=attempt)


@retry_transaction
def _start_login(uow: AccountsUnitOfWork, *, user: UserRecord, attempt: LoginAttempt) -> AuthResult:
    now = utcnow()
    with uow:
        login_throttle.forget_attempts(uow, attempt)
        login_throttle.remember_address(uow, user_id=user.id, attempt=attempt)
        refresh = start_session(uow, user_id=user.id, now=now)
        uow.commit()
    return issue_tokens(user, refresh, now)


# the password check shared by login, changePassword and deleteAccount


def _check_password(
    uow: AccountsUnitOfWork, attempt: LoginAttempt, password: str, *, failure: str
) -> UserRecord:
    """The account of ``attempt.email`` if ``password`` is its password; else UNAUTHENTICATED."""
    known_address = _record_attempt(uow, attempt)
    user = _confirm_attempt(uow, attempt, known_address=known_address)
    if user is None:
        burn_verification_time(password)  # an unknown email takes as long as a wrong password
        raise _unauthenticated(failure)
    if not verify_password(password, user.password_hash):
        raise _unauthenticated(failure)
    return user


@retry_transaction
def _record_attempt(uow: AccountsUnitOfWork, attempt: LoginAttempt) -> bool:
    """Record the attempt unless the account is throttled; whether the address is known."""
    with uow:
        login_throttle.record_attempt(uow, attempt)
        known_address = login_throttle.is_known_address(uow, attempt)
        # Raising leaves without commit: a throttled attempt is not recorded.
        login_throttle.check_attempts(uow, attempt, known_address=known_address)
        uow.commit()
    return known_address


@retry_transaction
def _confirm_attempt(
    uow: AccountsUnitOfWork, attempt: LoginAttempt, *, known_address: bool
) -> UserRecord | None:
    """RATE_LIMITED if racing attempts took the account over its limit; else its user, if any."""
    with uow:  # reads only
        login_throttle.check_attempts(uow, attempt, known_address=known_address)
        return uow.users.get_by_email(attempt.email)


# changePassword


def user_change_password(
    *, uow: AccountsUnitOfWork, user: Principal, data: ChangePasswordInput, source: str
) -> AuthResult:
    """Set a new password, end every session of the user, and start a fresh one.

    The current password is checked as login checks it: a wrong one is
    UNAUTHENTICATED and counts as a failed login.
    """
    account, attempt = _confirm_own_password(
        uow, user=user, password=data.current_password, source=source
    )
    password_hash = hash_password(data.new_password)
    return _replace_password(uow, user=account, password_hash=password_hash, attempt=attempt)


def _confirm_own_password(
    uow: AccountsUnitOfWork, *, user: Principal, password: str, source: str
) -> tuple[UserRecord, LoginAttempt]:
    """The caller's account if ``password`` is theirs, checked as login checks it (the
    per-address limit first; a wrong one counts as a failed login); and the attempt."""
    address = auth_request_admit(uow=uow, source=source)
    attempt = LoginAttempt(email=user.email, source=address, created_at=utcnow())
    account = _check_password(uow, attempt, password, failure=WRONG_PASSWORD)
    if account.id != user.id:
        raise _unauthenticated(INVALID_TOKEN)
    return account, attempt


@retry_transaction
def _replace_password(
    uow: AccountsUnitOfWork, *, user: UserRecord, password_hash: str, attempt: LoginAttempt
) -> AuthResult:
    now = utcnow()
    with uow:
        if not uow.users.set_password_hash(user_id=user.id, password_hash=password_hash):
            raise _unauthenticated(INVALID_TOKEN)  # deleted meanwhile
        uow.sessions.end_for_user(user_id=user.id, now=now)
        login_throttle.forget_attempts(uow, attempt)
        login_throttle.remember_address(uow, user_id=user.id, attempt=attempt)
        refresh = start_session(uow, user_id=user.id, now=now)
        uow.commit()
    return issue_tokens(user, refresh, now)


# deleteAccount


def user_delete(
    *,
    uow: AccountsUnitOfWork,
    user: Principal,
    data: DeleteAccountInput,
    source: str,
    posts_cache: PostsCache,
) -> int:
    """Delete the caller's account with every post and session; the id it had.

    The password is checked as changePassword checks the current one. The email
    is free to sign up again afterwards.
    """
    account, _attempt = _confirm_own_password(uow, user=user, password=data.password, source=source)
    _delete_account(uow, user=account)
    posts_cache.discard(account.id)
    return account.id


@retry_transaction
def _delete_account(uow: AccountsUnitOfWork, *, user: UserRecord) -> None:
    with uow:
        # The database deletes the posts, sessions and known addresses with the user.
        if not uow.users.delete(user.id):
            raise _unauthenticated(INVALID_TOKEN)  # deleted meanwhile
        uow.login_attempts.delete_for_email(user.email)
        uow.commit()


# the caller of a request


@retry_transaction
def user_authenticate(*, uow: AccountsUnitOfWork, token: str, tokens: TokenVerifier) -> Principal:
    """The caller an access token stands for, in one SELECT (the token checked by the
    process's ``tokens``, which verifies each token once).

    UNAUTHENTICATED if the token is bad, its user gone, or its session ended or expired.
    """
    claims = tokens.claims(token)
    principal = uow.caller(user_id=claims.user_id, session_id=claims.session_id, now=utcnow())
    if principal is None:
        raise _unauthenticated(INVALID_TOKEN)
    return principal
