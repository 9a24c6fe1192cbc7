"""The state of the request being served, one object per request, held in a ContextVar.

The request-id middleware starts it (``begin``) and ends it (``end``); anything
below may read it (``current``) or add what only it knows (``annotate``): the
GraphQL pipeline the operation, the caller and the outcome. A ContextVar, not a
global or a thread-local, so that each request thread and any async code sees
its own request and nobody else's.
"""

from __future__ import annotations

import enum
import re
import time
import uuid
from contextvars import ContextVar, Token
from dataclasses import dataclass, field

# The client's X-Request-ID is used as it is only when it cannot smuggle anything
# into a log line or a header: short, and nothing but these characters.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
NO_REQUEST_ID = "-"


def new_request_id() -> str:
    """A fresh request id (uuid4, hex)."""
    return uuid.uuid4().hex


def request_id_from(header: str | None) -> str:
    """The client's request id when it is safe, otherwise a fresh one."""
    if header is not None and _SAFE_REQUEST_ID.fullmatch(header):
        return header
    return new_request_id()


@dataclass(slots=True)
class RequestState:
    """What is known about the request being served; ``started_at`` is time.perf_counter()."""

    request_id: str
    operation_name: str | None = None
    operation_type: str | None = None
    user_id: int | None = None
    outcome: str | None = None
    started_at: float = field(default_factory=time.perf_counter)


class _Unset(enum.Enum):
    UNSET = enum.auto()


_UNSET = _Unset.UNSET
_current: ContextVar[RequestState | None] = ContextVar("posts_api_request", default=None)


def begin(request_id: str) -> Token[RequestState | None]:
    """Start serving a request: its state becomes ``current()`` in this context."""
    return _current.set(RequestState(request_id=request_id))


def end(token: Token[RequestState | None]) -> None:
    """Stop serving the request ``token`` came from."""
    _current.reset(token)


def current() -> RequestState:
    """The state of the request being served.

    Outside a request (a management command, a test calling a service) it is a
    fresh throw-away state with request id ``-``: annotating it changes nothing.
    """
    state = _current.get()
    return state if state is not None else RequestState(request_id=NO_REQUEST_ID)


def current_request_id() -> str:
    """The id of the request being served, or ``-`` outside a request."""
    state = _current.get()
    return state.request_id if state is not None else NO_REQUEST_ID


def annotate(
    *,
    operation_name: str | _Unset | None = _UNSET,
    operation_type: str | _Unset | None = _UNSET,
    user_id: int | _Unset | None = _UNSET,
    outcome: str | _Unset | None = _UNSET,
) -> None:
    """Record facts about the current request for its access line and metrics.

    Only the arguments given are changed. ``outcome`` is the ``extensions.code``
    of the response's first error, or ``"OK"``. Outside a request: nothing happens.
    """
    state = _current.get()
    if state is None:
        return
    if not isinstance(operation_name, _Unset):
        state.operation_name = operation_name
    if not isinstance(operation_type, _Unset):
        state.operation_type = operation_type
    if not isinstance(user_id, _Unset):
        state.user_id = user_id
    if not isinstance(outcome, _Unset):
        state.outcome = outcome
