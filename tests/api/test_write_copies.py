"""addPost of a 1 MiB text: how many copies of it the worker makes (issue 9: a few at most).

tracemalloc counts every allocation Python makes while the request is served,
deterministically; the driver's own buffers (C) are not counted, and are what
the driver needs anyway.
"""

from __future__ import annotations

import io
import json
import tracemalloc
from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIHandler

from tests.conftest import IS_MYSQL, Api

ADD = "mutation ($t: String!) { addPost(text: $t) { postId } }"
SIZE = 1024 * 1024 - 64


@pytest.mark.parametrize(
    ("text", "copies"),
    [
        ("x" * SIZE, 3),  # the body, the decoded text; nothing else of its size
        ("\u00e9" * (SIZE // 2), 5),  # UTF-8 twice the characters: one encoding to measure it
    ],
    ids=["ascii", "two bytes a character"],
)
def test_adding_a_1_mib_post_makes_a_few_copies_of_it_at_most(
    api: Api, alice: str, text: str, copies: int
) -> None:
    body = json.dumps({"query": ADD, "variables": {"t": text}}, ensure_ascii=False).encode()
    app = WSGIHandler()  # the app as the server calls it (the test client copies bodies)
    assert "errors" not in _post(app, _environ(body, alice))
    environ = _environ(body, alice)
    tracemalloc.start()
    try:
        answer = _post(app, environ)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "errors" not in answer, answer
    size = len(text.encode())
    if IS_MYSQL:
        # mysqlclient writes parameters into the SQL text itself, in Python: the text
        # encoded, then escaped, then the statement formatted around it (the driver's
        # copies, not ours).
        copies += 2
    assert peak <= copies * size, f"{peak / size:.2f}x the text"


def _environ(body: bytes, token: str) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/graphql",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "HTTP_HOST": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "REMOTE_ADDR": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
    }


def _post(app: WSGIHandler, environ: dict[str, Any]) -> dict[str, Any]:
    result = app(environ, lambda _status, _headers, _exc=None: None)
    try:
        answer: dict[str, Any] = json.loads(b"".join(result))
    finally:
        result.close()
    return answer
