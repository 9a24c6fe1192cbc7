"""Retrying a transaction when the database asks for it (deadlock, lock timeout).

``@retry_transaction`` decorates a function whose body holds one ``with uow:
... uow.commit()`` block, so the transaction stays visible where it is owned and
the whole function runs again on a conflict.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from observability.metrics import record_db_error
from persistence.errors import DatabaseUnavailable, TransientError
from schemas.errors import DomainError, ErrorCode

P = ParamSpec("P")
T = TypeVar("T")
log = logging.getLogger(__name__)

ATTEMPTS = 5


def _unavailable() -> DomainError:
    return DomainError(
        ErrorCode.INTERNAL_SERVER_ERROR,
        "The service is temporarily unavailable; try again shortly",
        extra={"retryable": True},
    )


def _with_retries(work: Callable[[], T]) -> T:
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return work()
        except TransientError:
            record_db_error("retry" if attempt < ATTEMPTS else "retries_exhausted")
            if attempt == ATTEMPTS:
                log.exception("transaction still conflicting after %d attempts", attempt)
                raise
            time.sleep(0.01 * 2**attempt)
        except DatabaseUnavailable:
            record_db_error("unavailable")
            log.exception("database unavailable")
            raise _unavailable() from None
    raise AssertionError("unreachable")


def retry_transaction(function: Callable[P, T]) -> Callable[P, T]:
    """Run ``function`` again when its transaction hits a deadlock or lock timeout.

    ``function`` must hold exactly one transaction (``with uow:``), so a retry
    repeats nothing that was already committed. An unreachable database becomes
    a retryable INTERNAL_SERVER_ERROR.
    """

    @functools.wraps(function)
    def retried(*args: P.args, **kwargs: P.kwargs) -> T:
        return _with_retries(lambda: function(*args, **kwargs))

    return retried
