"""Database faults: a TCP proxy between the app and MySQL/MariaDB that cuts or blackholes.

While the database is unreachable, requests fail fast and cleanly (a GraphQL
error, no stack trace) and /healthz says so; once it is back, requests succeed
again without restarting anything; and no post whose id was acknowledged to the
client is ever lost, even while the connection flaps.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from sqlalchemy import bindparam, create_engine, text
from sqlalchemy.engine import make_url

from persistence.db import reset_engine
from tests.conftest import Api, leaks_in, row_id

pytestmark = [pytest.mark.mysql, pytest.mark.slow]

# A hang check, not a performance check.
FAST_SECONDS = 10.0
# Beyond the usual markers: the driver's words and the database's address.
DRIVER_MARKERS = ("Lost connection", "127.0.0.1")


class FaultyProxy:
    """A TCP proxy on 127.0.0.1:<free port> to the database, with switchable faults.

    ``cut()`` resets every connection and every new one at once; ``blackhole()``
    accepts connections but forwards and answers nothing (a network partition);
    ``restore()`` forwards again.
    """

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._mode = "pass"
        self._sockets: set[socket.socket] = set()
        self._closed = False
        threading.Thread(target=self._accept_loop, name="proxy-accept", daemon=True).start()

    @property
    def mode(self) -> str:
        return self._mode

    def cut(self) -> None:
        with self._lock:
            self._mode = "cut"
            doomed, self._sockets = self._sockets, set()
        for sock in doomed:
            _reset(sock)

    def blackhole(self) -> None:
        with self._lock:
            self._mode = "blackhole"

    def restore(self) -> None:
        doomed: set[socket.socket] = set()
        with self._lock:
            if self._mode == "blackhole":
                # Its connections have lost bytes mid-protocol: they cannot resume.
                doomed, self._sockets = self._sockets, set()
            self._mode = "pass"
        for sock in doomed:
            _reset(sock)

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.close()
        self.cut()

    def _track(self, *socks: socket.socket) -> bool:
        with self._lock:
            if self._mode == "cut":
                return False
            self._sockets.update(socks)
            return True

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            mode = self._mode
            if mode == "cut":
                _reset(client)
                continue
            if mode == "blackhole":
                if not self._track(client):
                    _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _reset(client)
                continue
            if not self._track(client, upstream):
                _reset(client)
                _reset(upstream)
                continue
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if self._mode == "blackhole":
                    continue  # swallowed: nobody hears anything
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._sockets.discard(src)
                self._sockets.discard(dst)
            _reset(src)
            _reset(dst)


def _reset(sock: socket.socket) -> None:
    """Close with an RST, as a dead server or a firewall would."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


@pytest.fixture
def proxy(database_url: str) -> Iterator[FaultyProxy]:
    """The app's DATABASE_URL pointed through a FaultyProxy to the test database."""
    real = make_url(database_url)
    faulty = FaultyProxy(real.host or "127.0.0.1", real.port or 3306)
    saved = {
        name: getattr(settings, name)
        for name in ("DATABASE_TIMEOUT_SECONDS", "DATABASE_QUERY_TIMEOUT_SECONDS")
        if hasattr(settings, name)
    }
    settings.DATABASE_URL = real.set(host="127.0.0.1", port=faulty.port).render_as_string(
        hide_password=False
    )
    reset_engine()
    yield faulty
    faulty.restore()
    settings.DATABASE_URL = database_url
    for name, value in saved.items():
        setattr(settings, name, value)
    reset_engine()
    faulty.close()


@pytest.fixture
def api() -> Api:
    # An unhandled exception comes back as the 500 a real client would get.
    return Api(Client(raise_request_exception=False))


def timed(request: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    body = request()
    return body, time.monotonic() - started


def assert_clean_failure(body: dict[str, Any], elapsed: float, what: str) -> str:
    """A fast GraphQL error without internals; returns 'HTTP <status> <code>: <message>'."""
    assert elapsed < FAST_SECONDS, f"{what} took {elapsed:.1f}s while the database was down"
    assert body.get("errors"), f"{what} succeeded with the database down: {body}"
    error = body["errors"][0]
    code = error.get("extensions", {}).get("code")
    assert code == "INTERNAL_SERVER_ERROR", f"{what}: {body}"
    shown = json.dumps(body)
    leaked = leaks_in(shown, extra=DRIVER_MARKERS)
    assert not leaked, f"{what} leaks {leaked}: {shown[:500]}"
    return f"HTTP {body['_status']} {code}: {error['message']!r}"


def healthz(client: Client) -> tuple[int, dict[str, Any], float]:
    started = time.monotonic()
    response = client.get("/healthz")
    elapsed = time.monotonic() - started
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    return response.status_code, response.json(), elapsed


def eventually_ok(request: Callable[[], dict[str, Any]], what: str) -> dict[str, Any]:
    """The request succeeds within a few tries (the pool may have dead connections)."""
    body: dict[str, Any] = {}
    for _ in range(3):
        body = request()
        if "errors" not in body:
            return body
        time.sleep(0.2)
    raise AssertionError(f"{what} still failing after the database came back: {body}")


def test_cut_database_fails_fast_and_cleanly_then_recovers(
    api: Api, proxy: FaultyProxy, capsys: pytest.CaptureFixture[str]
) -> None:
    token = api.token_for("fault@example.com")
    before = api.add_post("written before the cut", token=token)
    assert "errors" not in before, before
    post_id = before["data"]["addPost"]["postId"]
    client = Client(raise_request_exception=False)
    assert healthz(client)[0] == 200

    proxy.cut()
    outcomes: dict[str, str] = {}
    requests: dict[str, Callable[[], dict[str, Any]]] = {
        "getPosts": lambda: api.get_posts(token=token),
        "addPost": lambda: api.add_post("written during the cut", token=token),
        "deletePost": lambda: api.delete_post(post_id, token=token),
        "login": lambda: api.login("fault@example.com"),
        "signup": lambda: api.signup("fault2@example.com"),
    }
    for name, request in requests.items():
        body, elapsed = timed(request)
        outcomes[name] = f"{assert_clean_failure(body, elapsed, name)} in {elapsed:.2f}s"
    status, health, elapsed = healthz(client)
    outcomes["healthz"] = f"HTTP {status} {health} in {elapsed:.2f}s"
    assert status != 200, health
    assert elapsed < FAST_SECONDS

    proxy.restore()
    posts = eventually_ok(lambda: api.get_posts(token=token), "getPosts")
    assert [post["id"] for post in posts["data"]["getPosts"]] == [post_id]
    eventually_ok(lambda: api.add_post("written after the cut", token=token), "addPost")
    eventually_ok(lambda: api.login("fault@example.com"), "login")
    assert healthz(client)[0] == 200
    assert [p["text"] for p in api.posts(token)] == [
        "written after the cut",
        "written before the cut",
    ]
    with capsys.disabled():
        print("\nwhile the database was cut:")
        for name, outcome in outcomes.items():
            print(f"  {name}: {outcome}")


def test_no_acknowledged_post_is_lost_while_the_connection_flaps(
    api: Api, proxy: FaultyProxy, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    token = api.token_for("flap@example.com")
    acknowledged: dict[int, str] = {}
    failures: list[str] = []
    problems: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    rng = random.Random(1234)

    def flapper() -> None:
        while not stop.is_set():
            stop.wait(rng.uniform(0.05, 0.4))
            proxy.cut()
            stop.wait(rng.uniform(0.02, 0.3))
            proxy.restore()

    def writer(number: int) -> None:
        own = Api(Client(raise_request_exception=False))
        for i in range(10_000):
            if stop.is_set():
                return
            text_ = f"writer {number} post {i} {uuid.uuid4().hex}"
            try:
                body, elapsed = timed(lambda: own.add_post(text_, token=token))  # noqa: B023
            except Exception as exc:  # a non-JSON answer, say
                with lock:
                    problems.append(f"{type(exc).__name__}: {exc}"[:300])
                continue
            with lock:
                if elapsed >= FAST_SECONDS:
                    problems.append(f"addPost took {elapsed:.1f}s")
                if "errors" in body:
                    try:
                        failures.append(assert_clean_failure(body, elapsed, "addPost"))
                    except AssertionError as exc:
                        problems.append(str(exc)[:300])
                else:
                    acknowledged[row_id(body["data"]["addPost"]["postId"])] = text_

    threads = [threading.Thread(target=flapper)] + [
        threading.Thread(target=writer, args=(n,)) for n in range(3)
    ]
    for thread in threads:
        thread.start()
    time.sleep(6)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a request hung"
    proxy.restore()

    assert not problems, problems[:10]
    assert acknowledged, "no addPost succeeded at all"
    assert failures, "the flapping never hit a request; the test tested nothing"

    real = create_engine(database_url)
    try:
        with real.connect() as conn:
            rows = conn.execute(
                text("SELECT id, text FROM posts WHERE id IN :ids").bindparams(
                    bindparam("ids", expanding=True)
                ),
                {"ids": list(acknowledged)},
            ).all()
    finally:
        real.dispose()
    stored = {row.id: row.text for row in rows}
    lost = {pid: t for pid, t in acknowledged.items() if stored.get(pid) != t}
    assert not lost, f"{len(lost)} acknowledged posts lost: {list(lost.items())[:5]}"

    # And the user sees every one of them (read-your-writes survives the flapping).
    listed = eventually_ok(lambda: api.get_posts(token=token), "getPosts")
    listed_ids = {row_id(post["id"]) for post in listed["data"]["getPosts"]}
    assert set(acknowledged) <= listed_ids, sorted(set(acknowledged) - listed_ids)[:10]
    with capsys.disabled():
        print(
            f"\nflapping: {len(acknowledged)} posts acknowledged (all stored), "
            f"{len(failures)} clean failures: {dict(Counter(failures))}"
        )


def _bounded(request: Callable[[], Any], bound: float, proxy: FaultyProxy) -> tuple[Any, float]:
    """Run ``request`` in a thread; past ``bound`` seconds, cut the proxy to free it and fail."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["value"] = request()
        except Exception as exc:
            result["error"] = exc

    started = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=bound)
    elapsed = time.monotonic() - started
    if thread.is_alive():
        proxy.cut()  # the RST ends the wait, so the test does not hang with the app
        thread.join(timeout=30)
        raise AssertionError(
            f"still waiting after {elapsed:.1f}s on a blackholed database "
            f"(bound {bound:.1f}s from the configured timeouts)"
        )
    if "error" in result:
        raise result["error"]
    return result["value"], elapsed


def _timeouts() -> tuple[float, float]:
    connect = float(settings.DATABASE_TIMEOUT_SECONDS)
    query = float(getattr(settings, "DATABASE_QUERY_TIMEOUT_SECONDS", 30))
    return connect, query


def test_blackholed_new_connections_give_up_after_the_connect_timeout(
    api: Api, proxy: FaultyProxy, capsys: pytest.CaptureFixture[str]
) -> None:
    """No pooled connection to reuse: the wait is the connect timeout."""
    settings.DATABASE_TIMEOUT_SECONDS = 2
    reset_engine()
    token = api.token_for("blackhole@example.com")
    reset_engine()  # an empty pool: every request must connect anew
    connect, _query = _timeouts()
    bound = 2 * connect + 2  # one connect per transaction tried, plus slack

    proxy.blackhole()
    client = Client(raise_request_exception=False)
    body, elapsed = _bounded(lambda: api.get_posts(token=token), bound, proxy)
    outcome = assert_clean_failure(body, elapsed, "getPosts")
    (status, health, health_elapsed), _ = _bounded(lambda: healthz(client), bound, proxy)
    assert status != 200, health
    proxy.restore()
    eventually_ok(lambda: api.get_posts(token=token), "getPosts")
    with capsys.disabled():
        print(
            f"\nblackholed connect (connect timeout {connect:.0f}s): getPosts {outcome} "
            f"in {elapsed:.2f}s; healthz {status} in {health_elapsed:.2f}s"
        )


def test_blackholed_pooled_connection_gives_up_after_the_configured_timeouts(
    api: Api, proxy: FaultyProxy, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pooled connection goes silent mid-use: pre-ping and query wait at most the timeouts.

    The timeouts are shortened for the test (the defaults are 5 s to connect and
    settings.DATABASE_QUERY_TIMEOUT_SECONDS, 10 s, per read or write).
    """
    settings.DATABASE_TIMEOUT_SECONDS = 2
    if hasattr(settings, "DATABASE_QUERY_TIMEOUT_SECONDS"):
        settings.DATABASE_QUERY_TIMEOUT_SECONDS = 2
    reset_engine()
    connect, query = _timeouts()
    token = api.token_for("silent@example.com")
    assert "errors" not in api.add_post("warm the pool", token=token)
    # Worst case: the pre-ping waits out the read timeout, then a reconnect waits
    # out the connect timeout; slack for the request itself.
    bound = query + connect + 2

    proxy.blackhole()
    body, elapsed = _bounded(lambda: api.get_posts(token=token), bound, proxy)
    outcome = assert_clean_failure(body, elapsed, "getPosts")
    proxy.restore()
    eventually_ok(lambda: api.get_posts(token=token), "getPosts")
    with capsys.disabled():
        print(
            f"\nblackholed pooled connection (connect {connect:.0f}s, read {query:.0f}s): "
            f"getPosts {outcome} in {elapsed:.2f}s"
        )
