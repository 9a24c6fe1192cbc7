"""The Relay app in tests/clients/relay: its persisted documents, and a runner for its
session (real relay-compiler artifacts, real relay-runtime, under Node) against a
live server.

``persisted_documents()`` is the file relay-compiler writes with ``persistConfig:
{file, algorithm: "SHA256"}``: give its path (``PERSISTED_QUERIES``) to a server as
GRAPHQL_TRUSTED_DOCUMENTS, and ``run(..., documents="id")`` sends only
``documentId: "sha256:<id>"``; with ``documents="text"`` the same documents travel as
``query`` (their text looked up in that file), for a server without it.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from typing import Any, Literal

from tests.live_server import PROJECT
from tests.node_clients import install, require_node

RELAY_APP = PROJECT / "tests" / "clients" / "relay"
PERSISTED_QUERIES = RELAY_APP / "persisted-queries.json"
COMPILER_SECONDS = 120
SESSION_SECONDS = 120


def persisted_documents() -> dict[str, str]:
    """relay-compiler's persisted documents: each document's text by its SHA-256 (hex)."""
    documents: dict[str, str] = json.loads(PERSISTED_QUERIES.read_text(encoding="utf-8"))
    return documents


def document_id(text: str) -> str:
    """The ``documentId`` a Relay app sends for ``text``: ``sha256:`` and its hex digest."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def persisted_document(name: str) -> str:
    """The text of the persisted operation named ``name`` (e.g. PostsAppListQuery)."""
    [text] = [
        text
        for text in persisted_documents().values()
        if re.match(rf"(query|mutation|subscription) {name}\b", text)
    ]
    return text


def _run(argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=RELAY_APP, capture_output=True, text=True, timeout=timeout, check=False
    )


def prepare() -> str:
    """Node ready to run the app: its packages installed (``npm ci``, from the lock
    file, when node_modules is missing), and its compiled artifacts and persisted
    documents current with schema.graphql and its sources (``relay-compiler
    --validate``). The path of node."""
    node, npm = require_node("the Relay client test")
    install(RELAY_APP, npm)
    compiler = RELAY_APP / "node_modules" / ".bin" / "relay-compiler"
    checked = _run([str(compiler), "--validate"], COMPILER_SECONDS)
    assert checked.returncode == 0, (
        "the Relay artifacts or persisted-queries.json are stale (or a document no longer "
        "validates against schema.graphql): run `npm run relay` in tests/clients/relay "
        f"and commit the result\n{checked.stdout}{checked.stderr}"
    )
    return node


def run(node: str, url: str, token: str, *, documents: Literal["id", "text"]) -> dict[str, Any]:
    """Run the app's session (tests/clients/relay/run.js) against ``url`` as ``token``'s
    user; what it saw. Fails the test with the app's own message if a check failed."""
    argv = [node, "run.js", "--url", url, "--token", token, "--documents", documents]
    completed = _run(argv, SESSION_SECONDS)
    assert completed.returncode == 0, f"the Relay app failed:\n{completed.stderr}"
    seen: dict[str, Any] = json.loads(completed.stdout)
    return seen
