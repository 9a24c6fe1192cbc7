"""Subscriptions over HTTP streams and WebSocket: Strawberry's own transports, hosted on ASGI.

Strawberry's ``AsyncBaseHTTPView`` implements graphql-sse ("distinct connections":
``POST`` with ``Accept: text/event-stream``), Apollo's multipart subscriptions
(``Accept: multipart/mixed;subscriptionSpec="1.0"``, a heartbeat part) and
graphql-transport-ws; its integrations (``strawberry/asgi``,
``strawberry/litestar``) are thin adapters over it. This module is that adapter
for the bridge (config/bridge.py routes streaming requests, their bodies read, and
WebSocket upgrades on /graphql here): a request adapter, a WebSocket adapter, and
the view.
Everything runs on the event loop; an open stream holds no thread.

The document rules of queries hold for subscriptions: the schema the view hands
its transports is :class:`GuardedSchema`, whose ``stream`` runs the request
pipeline's steps (persisted and trusted documents, the never-seen-document
budget, the caps, validation, the caller) on a short-lived executor thread,
opens the caller's event feed (the per-user cap), and only then lets Strawberry
execute the prepared document. A refusal is the stream's one error, with the
contract's code.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeGuard
from urllib.parse import parse_qsl

from cross_web import AsyncHTTPRequestAdapter, FormData
from django.conf import settings
from django.http import HttpRequest
from graphql import GraphQLError
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.async_base_view import AsyncBaseHTTPView, AsyncWebSocketAdapter
from strawberry.http.exceptions import (
    NonJsonMessageReceived,
    NonTextMessageReceived,
    WebSocketDisconnected,
)
from strawberry.subscriptions import (
    GRAPHQL_SSE_PROTOCOL,
    GRAPHQL_TRANSPORT_WS_PROTOCOL,
    MULTIPART_SUBSCRIPTION_PROTOCOL,
)
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

from gql.asgi import Receive, Scope, Send, client_address, encoded, send_whole
from gql.context import Context
from gql.errors import shape_error
from gql.pipeline import Pipeline
from gql.pipeline.body import body_from
from gql.pipeline.caller import caller, request_token
from gql.pipeline.prepared import Operation, choose
from gql.pipeline.refusal import Refusal
from gql.schema import schema as app_schema
from observability.context import new_request_id, request_id_from
from observability.metrics import record_stream_event, record_streams_open
from persistence.uow import SqlUnitOfWork
from resolvers_services.accounts import user_authenticate
from resolvers_services.post_events import PostEventHub
from resolvers_services.tokens import access_token_expiry
from schemas.errors import DomainError, ErrorCode
from schemas.users import Principal

log = logging.getLogger("gql.streams")
access_log = logging.getLogger("posts_api.access")

WS_CONNECTION_INIT_SECONDS = 10
ONLY_SUBSCRIPTIONS = (
    "Only subscriptions run over this transport; send queries and mutations as POST "
    "application/json"
)


# --------------------------------------------------------------------------- requests


@dataclass(slots=True)
class StreamRequest:
    """An HTTP request as the bridge read it (its body whole)."""

    method: str
    path: str
    query_string: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    client: str
    request_id: str
    started: float = field(default_factory=time.monotonic)


@dataclass(slots=True, eq=False)  # each one itself: kept in a set while open
class SocketRequest:
    """A WebSocket on /graphql: its upgrade request, and its ASGI channels."""

    receive: Receive
    send: Send
    headers: Mapping[str, str]
    subprotocols: tuple[str, ...]
    client: str
    request_id: str
    started: float = field(default_factory=time.monotonic)
    adapter: ASGIWebSocketAdapter | None = None  # once Strawberry's handler runs


@dataclass(slots=True)
class StreamResponse:
    """What the view answers: a whole body, or a stream of text chunks."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    chunks: AsyncIterator[str] | None = None


class StreamRequestAdapter(AsyncHTTPRequestAdapter):
    """cross_web's view of a :class:`StreamRequest`."""

    def __init__(self, request: StreamRequest) -> None:
        self.request = request

    @property
    def query_params(self) -> Mapping[str, str | None]:
        return dict(parse_qsl(self.request.query_string))

    @property
    def path_params(self) -> Mapping[str, Any]:
        return {}

    @property
    def method(self) -> Any:
        return self.request.method.upper()

    @property
    def headers(self) -> Mapping[str, str]:
        return self.request.headers

    @property
    def content_type(self) -> str | None:
        return self.request.headers.get("content-type")

    @property
    def url(self) -> str:
        return self.request.path

    @property
    def cookies(self) -> Mapping[str, str]:
        return {}

    async def get_body(self) -> bytes:
        return self.request.body

    async def get_form_data(self) -> FormData:
        raise ValueError("form data is not accepted here")


class ASGIWebSocketAdapter(AsyncWebSocketAdapter):
    """Strawberry's WebSocket interface over an ASGI WebSocket.

    A close (4403, 4408, 1001 when draining...) also cancels the receive that is
    waiting for the client's next message: granian sends a close frame only once no
    receive holds the connection's read side. The handler's loop then ends only once
    the close frame is out (it cancels its own tasks, a close among them, as it ends).
    """

    def __init__(self, view: StreamView, request: SocketRequest, response: SocketRequest) -> None:
        super().__init__(view)  # type: ignore[arg-type] # Strawberry's hint fixes Context to None
        self.socket = response
        self.closed = False
        self._receiving: asyncio.Future[Any] | None = None
        self._closing: asyncio.Future[Any] | None = None
        response.adapter = self

    async def iter_json(
        self, *, ignore_parsing_errors: bool = False
    ) -> AsyncGenerator[object, None]:
        while not self.closed:
            self._receiving = asyncio.ensure_future(self.socket.receive())
            try:
                message = await self._receiving
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if self._closing is None or task is None or task.cancelling():
                    raise
                with contextlib.suppress(Exception):  # cancelled by close(): let it finish
                    await asyncio.shield(self._closing)
                return
            finally:
                self._receiving = None
            if message["type"] != "websocket.receive":  # websocket.disconnect
                self.closed = True
                return
            text = message.get("text")
            if text is None:
                raise NonTextMessageReceived
            try:
                yield self.view.decode_json(text)
            except json.JSONDecodeError as error:
                if not ignore_parsing_errors:
                    raise NonJsonMessageReceived from error

    async def send_json(self, message: Mapping[str, object]) -> None:
        if self.closed:
            raise WebSocketDisconnected
        text = json.dumps(message, separators=(",", ":"))
        try:
            await self.socket.send({"type": "websocket.send", "text": text})
        except Exception as error:  # the client left, however granian says it
            self.closed = True
            raise WebSocketDisconnected from error

    async def close(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        # granian starts closing when asked, and waits for the read side to be free.
        message = {"type": "websocket.close", "code": code, "reason": reason}
        self._closing = asyncio.ensure_future(self.socket.send(message))
        if self._receiving is not None:
            self._receiving.cancel()
        with contextlib.suppress(Exception):  # the client left first
            await asyncio.shield(self._closing)


# --------------------------------------------------------------------------- the guarded schema


@dataclass(slots=True)
class _Admitted:
    """A subscription the pipeline let through: its document, variables and caller."""

    text: str
    document: Any
    variables: dict[str, Any]
    operation: Operation
    principal: Principal
    token: str


class GuardedSchema:
    """What the view's transports execute with: the app's schema behind the request
    pipeline's document rules and the caller check, each stream opening its feed."""

    def __init__(self, hub: PostEventHub, pipeline: Callable[[], Pipeline]) -> None:
        self.hub = hub
        self.pipeline = pipeline
        self.config = app_schema.config

    async def stream(  # noqa: PLR0917 - Strawberry's Schema.stream signature, which transports call
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
    ) -> AsyncGenerator[ExecutionResult, None]:
        """The stream of one subscription, or of its one refusal."""
        connection: dict[str, Any] = context_value or {}
        request: StreamRequest | SocketRequest = connection["request"]
        if isinstance(request, StreamRequest):
            request.body = b""  # parsed: an open stream keeps none of its request body
        body_data = {
            "query": query,
            "variables": variable_values,
            "operationName": operation_name,
            "extensions": operation_extensions,
        }
        loop = asyncio.get_running_loop()
        stats = _StreamStats(request=request, transport=connection.get("transport", "ws"))
        try:
            admitted = await loop.run_in_executor(
                None, self._admit, body_data, request, connection.get("token")
            )
            stats.operation_name = admitted.operation.name
            stats.user_id = admitted.principal.id
            feed = await self.hub.open(
                user=admitted.principal, expires_at=access_token_expiry(admitted.token)
            )
        except Refusal as refusal:
            stats.outcome = refusal.code.value
            stats.log()
            return _refused(refusal.message, {"code": refusal.code.value, **refusal.extensions})
        except DomainError as error:
            stats.outcome = error.code.value
            stats.log()
            return _refused(error.message, error.extensions())
        context = Context(
            request=_django_request(request, admitted.token),
            posts_cache=self.pipeline().posts_cache,
            caller_or_error=admitted.principal,
            document=admitted.document,
            events=feed,
        )
        results = await app_schema.stream(
            admitted.text,
            variable_values=admitted.variables,
            context_value=context,
            operation_name=operation_name,
            allowed_operation_types=(OperationType.SUBSCRIPTION,),
        )
        return _shaped(results, feed.close, stats, lambda: feed.delivered)

    def _admit(
        self, data: dict[str, Any], request: StreamRequest | SocketRequest, ws_token: str | None
    ) -> _Admitted:
        """The pipeline's steps up to the caller (runs on an executor thread)."""
        pipeline = self.pipeline()
        body = body_from(data, read_only=False)
        source = pipeline.documents.source(body)
        if not source.looked_up and not pipeline.prepared.holds(source.sha256):
            pipeline.budget.spend(source=request.client)
        prepared = pipeline.prepared.get(source.text, source.sha256, pipeline.limits)
        operation = choose(prepared, body.operation_name)
        if operation.kind != "subscription":
            raise Refusal(ErrorCode.BAD_USER_INPUT, ONLY_SUBSCRIPTIONS)
        if source.register:
            pipeline.documents.store.register(
                uow=SqlUnitOfWork(), sha256=source.sha256, document=source.text
            )
        variables = operation.declared(body.variables)
        django_request = _django_request(request, ws_token)
        auth = caller(django_request, operation, variables, tokens=pipeline.tokens)
        if isinstance(auth, DomainError):
            raise auth
        # The token the caller was resolved from (the stream ends when it expires).
        token = request_token(django_request, operation, variables)
        return _Admitted(
            text=source.text,
            document=prepared.document,
            variables=variables,
            operation=operation,
            principal=auth,
            token=token,
        )


def _django_request(request: StreamRequest | SocketRequest, ws_token: str | None) -> HttpRequest:
    """The little of a Django request the caller step and the context read."""
    django_request = HttpRequest()
    django_request.META["REMOTE_ADDR"] = request.client
    if isinstance(request, StreamRequest):
        authorization = request.headers.get("authorization")
        if authorization is not None:
            django_request.META["HTTP_AUTHORIZATION"] = authorization
    elif ws_token is not None:
        django_request.META["HTTP_AUTHORIZATION"] = f"Bearer {ws_token}"
    return django_request


async def _refused(
    message: str, extensions: dict[str, Any]
) -> AsyncGenerator[ExecutionResult, None]:
    yield PreExecutionError(data=None, errors=[GraphQLError(message, extensions=extensions)])


@dataclass(slots=True)
class _StreamStats:
    """What the stream's access line says."""

    request: StreamRequest | SocketRequest
    transport: str
    operation_name: str | None = None
    user_id: int | None = None
    outcome: str = "OK"
    events: int = 0

    def log(self) -> None:
        duration_ms = round((time.monotonic() - self.request.started) * 1000, 1)
        access_log.info(
            "STREAM /graphql %s %.1fms %s user=%s events=%d outcome=%s",
            self.transport,
            duration_ms,
            self.operation_name or "-",
            self.user_id if self.user_id is not None else "-",
            self.events,
            self.outcome,
            extra={
                "request_id": self.request.request_id,
                "path": "/graphql",
                "transport": self.transport,
                "duration_ms": duration_ms,
                "operation_name": self.operation_name,
                "operation_type": "subscription",
                "user_id": self.user_id,
                "events": self.events,
                "outcome": self.outcome,
            },
        )


async def _shaped(
    results: AsyncGenerator[Any, None],
    close: Callable[[], None],
    stats: _StreamStats,
    delivered: Callable[[], int],
) -> AsyncGenerator[ExecutionResult, None]:
    """The results with the contract's error shape; the feed closed and the stream
    logged however it ends."""
    try:
        async for result in results:
            if not result.errors:
                yield result
                continue
            errors = [shape_error(error) for error in result.errors]
            stats.outcome = str((errors[0].extensions or {}).get("code", "OK"))
            yield ExecutionResult(data=result.data, errors=errors, extensions=result.extensions)
    finally:
        close()
        await results.aclose()
        stats.events = delivered()
        stats.log()


# --------------------------------------------------------------------------- the view


class StreamView(
    AsyncBaseHTTPView[
        StreamRequest,
        StreamResponse,
        StreamResponse,
        SocketRequest,
        SocketRequest,
        dict[str, Any],
        None,
    ]
):
    """Strawberry's streaming transports, on ASGI."""

    allow_queries_via_get = False
    graphql_ide = None
    request_adapter_class = StreamRequestAdapter
    websocket_adapter_class = ASGIWebSocketAdapter  # type: ignore[assignment]
    protocols = (
        GRAPHQL_TRANSPORT_WS_PROTOCOL,
        GRAPHQL_SSE_PROTOCOL,
        MULTIPART_SUBSCRIPTION_PROTOCOL,
    )
    connection_init_wait_timeout = timedelta(seconds=WS_CONNECTION_INIT_SECONDS)
    max_subscriptions_per_connection = 10

    def __init__(self, hub: PostEventHub, pipeline: Callable[[], Pipeline]) -> None:
        self.hub = hub
        self.pipeline = pipeline
        self.schema = GuardedSchema(hub, pipeline)  # type: ignore[assignment]
        # A browser's WebSocket from another origin (Strawberry checks the Origin header):
        # the origins CORS allows, as for the HTTP transports.
        self.allowed_origins = frozenset(settings.CORS_ALLOWED_ORIGINS)

    async def get_root_value(self, request: StreamRequest | SocketRequest) -> None:
        return None

    async def get_context(
        self, request: StreamRequest | SocketRequest, response: StreamResponse | SocketRequest
    ) -> dict[str, Any]:
        transport = "ws"
        if isinstance(request, StreamRequest):
            accept = request.headers.get("accept", "")
            transport = "sse" if "text/event-stream" in accept else "multipart"
        return {"request": request, "transport": transport, "token": None}

    async def get_sub_response(self, request: StreamRequest) -> StreamResponse:
        return StreamResponse(status=200, headers=[])

    def create_response(self, response_data: Any, sub_response: StreamResponse) -> StreamResponse:
        body = json.dumps(response_data, separators=(",", ":")).encode()
        return StreamResponse(status=200, headers=[("content-type", "application/json")], body=body)

    async def create_streaming_response(
        self,
        request: StreamRequest,
        stream: Callable[[], AsyncGenerator[str, None]],
        sub_response: StreamResponse,
        headers: Mapping[str, str],
    ) -> StreamResponse:
        return StreamResponse(
            status=200,
            headers=[*sub_response.headers, *headers.items()],
            chunks=stream(),
        )

    async def render_graphql_ide(self, request: StreamRequest) -> StreamResponse:
        return StreamResponse(status=404, headers=[])

    def is_websocket_request(
        self, request: StreamRequest | SocketRequest
    ) -> TypeGuard[SocketRequest]:
        return isinstance(request, SocketRequest)

    async def pick_websocket_subprotocol(self, request: SocketRequest) -> str | None:
        return next((p for p in request.subprotocols if p in self.websocket_subprotocols), None)

    async def create_websocket_response(
        self, request: SocketRequest, subprotocol: str | None
    ) -> SocketRequest:
        await request.send({"type": "websocket.accept", "subprotocol": subprotocol})
        return request

    def get_websocket_headers(self, request: SocketRequest) -> Mapping[str, str]:
        return request.headers

    async def reject_websocket(self, request: SocketRequest) -> SocketRequest:
        await request.send({"type": "websocket.close", "code": 1008})  # before accept: a 403
        return request

    async def on_ws_connect(self, context: dict[str, Any]) -> None:
        """The caller of a WebSocket: ``connection_init``'s token, checked once (4403 if bad)."""
        params = context.get("connection_params") or {}
        token = _connection_token(params)
        if token is None:
            raise ConnectionRejectionError
        tokens = self.pipeline().tokens
        try:
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: user_authenticate(uow=SqlUnitOfWork(), token=token, tokens=tokens)
            )
        except DomainError:
            raise ConnectionRejectionError from None
        context["token"] = token

    def decode_json(self, data: str | bytes) -> object:
        return json.loads(data)


def _connection_token(params: Mapping[str, Any]) -> str | None:
    token = params.get("token")
    if isinstance(token, str) and token:
        return token
    authorization = params.get("Authorization", params.get("authorization"))
    if isinstance(authorization, str):
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return None


# --------------------------------------------------------------------------- ASGI


def wants_stream(scope: Scope, headers: Mapping[str, str]) -> bool:
    """Whether a request is a subscription for this module: a WebSocket on /graphql, or
    a POST to /graphql (``headers`` its headers) that accepts an event stream or a
    multipart subscription."""
    if scope["path"] != "/graphql":
        return False
    if scope["type"] == "websocket":
        return True
    if scope["type"] != "http" or scope["method"] != "POST":
        return False
    accept = headers.get("accept", "").lower()
    return "text/event-stream" in accept or (
        "multipart/mixed" in accept and "subscriptionspec" in accept
    )


async def _send_all(chunks: AsyncIterator[str], send: Send) -> None:
    """Send the stream's chunks as they come (each send waits while granian's stream is
    full: a client that stops reading stops the stream's events, and its feed ends it)."""
    with contextlib.suppress(Exception):  # the client left: the stream's finally logs it
        async for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk.encode(), "more_body": True})
        await send({"type": "http.response.body", "body": b""})


async def _disconnected(receive: Receive) -> None:
    """Return once the client has gone (its body is already read)."""
    while (await receive())["type"] != "http.disconnect":
        pass


class Streams:
    """The process's subscription transports and their hub (built once per worker)."""

    def __init__(self, hub: PostEventHub, pipeline: Callable[[], Pipeline]) -> None:
        self.hub = hub
        self.view = StreamView(hub, pipeline)
        self._watch: asyncio.Task[None] | None = None
        self._sockets: set[SocketRequest] = set()
        self._closing: set[asyncio.Task[None]] = set()

    @classmethod
    def start(
        cls,
        loop: asyncio.AbstractEventLoop,
        *,
        pipeline: Callable[[], Pipeline],
        max_per_user: int,
        draining: Callable[[], bool] = lambda: False,
        check_seconds: float = 0.5,
    ) -> Streams:
        """Build the hub and start its reader, and a watch for the instance draining
        (SIGTERM), on ``loop``. ``pipeline()`` is the process's request pipeline
        (config/bootstrap.py), whose steps every subscription passes."""
        hub = PostEventHub(
            max_per_user=max_per_user,
            uow_factory=SqlUnitOfWork,
            on_open_change=record_streams_open,
            on_delivered=record_stream_event,
        )
        streams = cls(hub, pipeline)
        loop.call_soon(hub.start)
        streams._watch = loop.create_task(streams._watch_drain(draining, check_seconds))
        return streams

    async def _watch_drain(self, draining: Callable[[], bool], check_seconds: float) -> None:
        while not draining():
            await asyncio.sleep(check_seconds)
        self.drain()

    async def serve_http(  # noqa: PLR0917 - one request, as the bridge holds it
        self,
        scope: Scope,
        headers: Mapping[str, str],
        body: bytes,
        receive: Receive,
        send: Send,
        head: list[tuple[str, str]],
    ) -> None:
        """Answer a streaming POST (its ``body`` read by the bridge within its bounds, its
        ``head`` headers those Django's middleware adds): Strawberry's SSE or multipart
        transport."""
        request_id = request_id_from(headers.get("x-request-id"))
        request = StreamRequest(
            method=scope["method"],
            path=scope["path"],
            query_string=scope["query_string"].decode("latin-1"),
            headers=headers,
            body=body,
            client=client_address(scope),
            request_id=request_id,
        )
        try:
            response = await self.view.run(request)
        except Exception as error:
            status = getattr(error, "status_code", 500)
            message = getattr(error, "reason", "Internal server error")
            if status == 500:
                log.exception("stream failed")
            code = ErrorCode.BAD_USER_INPUT if status < 500 else ErrorCode.INTERNAL_SERVER_ERROR
            payload = {"errors": [{"message": message, "extensions": {"code": code.value}}]}
            response = StreamResponse(
                status=status,
                headers=[("content-type", "application/json")],
                body=json.dumps(payload).encode(),
            )
        extra = [*head, ("x-request-id", request_id), ("cache-control", "no-store")]
        if response.chunks is None:
            await send_whole(send, response.status, [*response.headers, *extra], response.body)
            return
        names = {name.lower() for name, _ in response.headers}
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": encoded([*response.headers, *(h for h in extra if h[0] not in names)]),
            }
        )
        chunks = response.chunks
        sending = asyncio.ensure_future(_send_all(chunks, send))
        # A client that leaves is noticed at once, not at the next event or heartbeat.
        gone = asyncio.ensure_future(_disconnected(receive))
        try:
            await asyncio.wait({sending, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sending, gone):
                task.cancel()
            await asyncio.gather(sending, gone, return_exceptions=True)
            await chunks.aclose()  # type: ignore[attr-defined]

    async def serve_websocket(
        self, scope: Scope, headers: Mapping[str, str], receive: Receive, send: Send
    ) -> None:
        """Serve a WebSocket on /graphql (``headers`` its upgrade request's):
        Strawberry's graphql-transport-ws handler."""
        if (await receive())["type"] != "websocket.connect":
            return  # gone before the upgrade
        request = SocketRequest(
            receive=receive,
            send=send,
            headers=headers,
            subprotocols=tuple(scope.get("subprotocols") or ()),
            client=client_address(scope),
            request_id=request_id_from(headers.get("x-request-id")) or new_request_id(),
        )
        self._sockets.add(request)
        try:
            await self.view.run(request)
        finally:
            self._sockets.discard(request)

    def drain(self) -> None:
        """End every open stream cleanly (SIGTERM): HTTP streams with ``complete``, each
        WebSocket with close 1001 (going away), so that clients reconnect elsewhere."""
        self.hub.drain()
        for socket in self._sockets:
            if socket.adapter is not None:
                closing = asyncio.ensure_future(socket.adapter.close(1001, "Server shutting down"))
                self._closing.add(closing)
                closing.add_done_callback(self._closing.discard)

    async def stop(self) -> None:
        """End every stream and the hub's reader."""
        if self._watch is not None:
            self._watch.cancel()
        await self.hub.stop()
