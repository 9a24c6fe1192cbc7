"""Running a unit of work with a retry when the database asks for one."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from observability.metrics import record_db_error
from persistence.errors import DatabaseUnavailable, TransientError
from persistence.uow import UnitOfWork
from schemas.errors import DomainError, ErrorCode

T = TypeVar("T")
log = logging.getLogger(__name__)

ATTEMPTS = 5


def run_in_transaction(uow: UnitOfWork, work: Callable[[UnitOfWork], T]) -> T:
    """Run ``work`` inside ``with uow:``, retrying a deadlock or lock timeout a few times."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with uow:
                return work(uow)
        except TransientError:
            record_db_error("retry" if attempt < ATTEMPTS else "retries_exhausted")
            if attempt == ATTEMPTS:
                log.exception("transaction still conflicting after %d attempts", attempt)
                raise
            time.sleep(0.01 * 2**attempt)
        except DatabaseUnavailable:
            record_db_error("unavailable")
            log.exception("database unavailable")
            raise DomainError(
                ErrorCode.INTERNAL_SERVER_ERROR,
                "The service is temporarily unavailable; try again shortly",
                extra={"retryable": True},
            ) from None
    raise AssertionError("unreachable")
