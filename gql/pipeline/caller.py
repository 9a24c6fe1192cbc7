"""Step 6, the caller: who is calling, resolved once per request before execution, from
the Authorization header or the operation's ``token`` argument (a literal, a
variable, or a variable's default), which must agree when both are given."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest

from gql.context import NOT_AUTHENTICATED
from gql.pipeline.prepared import Operation
from persistence.uow import SqlUnitOfWork
from resolvers_services.accounts import user_authenticate
from resolvers_services.tokens import TokenVerifier
from schemas.errors import DomainError, ErrorCode
from schemas.users import Principal

_BEARER = "bearer"


def caller(
    request: HttpRequest,
    operation: Operation,
    variables: Mapping[str, Any],
    *,
    tokens: TokenVerifier,
) -> Principal | DomainError:
    """The caller, or why there is none (resolvers that need one raise it); ``tokens``
    is the process's verifier."""
    if not operation.needs_caller:
        return NOT_AUTHENTICATED
    try:
        token = request_token(request, operation, variables)
        return user_authenticate(uow=SqlUnitOfWork(), token=token, tokens=tokens)
    except DomainError as error:
        return error


def request_token(request: HttpRequest, operation: Operation, variables: Mapping[str, Any]) -> str:
    """The one token of the request: the header's, the arguments', or both when equal."""
    header = header_token(request)
    arguments = set(operation.token_literals)
    for name, default in operation.token_variables:
        value = variables.get(name, default)
        if isinstance(value, str):
            arguments.add(value)
    if len(arguments) > 1:
        raise DomainError(ErrorCode.UNAUTHENTICATED, "The token arguments differ")
    argument = next(iter(arguments), None)
    if header is not None and argument is not None and header != argument:
        raise DomainError(
            ErrorCode.UNAUTHENTICATED, "The token argument and the Authorization header differ"
        )
    token = header if header is not None else argument
    if not token:
        raise NOT_AUTHENTICATED
    return token


def header_token(request: HttpRequest) -> str | None:
    """The Bearer token of the Authorization header, if there is one."""
    # META, not request.headers: that builds a dict of every header on first use.
    header: str | None = request.META.get("HTTP_AUTHORIZATION")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != _BEARER or not token or " " in token:
        raise DomainError(
            ErrorCode.UNAUTHENTICATED, "Malformed Authorization header; expected 'Bearer <token>'"
        )
    return token
