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
import os
import re
import shutil
import subprocess
from typing import Any, Literal

import pytest

from tests.live_server import PROJECT

RELAY_APP = PROJECT / "tests" / "clients" / "relay"
PERSISTED_QUERIES = RELAY_APP / "persisted-queries.json"
NODE_MAJOR = 20
NPM_CI_SECONDS = 300
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


def _node_major(node: str) -> int:
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout
    found = re.match(r"v(\d+)\.", version)
    return int(found.group(1)) if found else 0


def require_node() -> tuple[str, str]:
    """The paths of node (20 or later) and npm; the test skips without them, or fails
    when CI is set."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node and npm and _node_major(node) >= NODE_MAJOR:
        return node, npm
    message = (
        f"Node {NODE_MAJOR} or later and npm are needed for the Relay client test "
        f"(found node: {node}, npm: {npm})"
    )
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _run(argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=RELAY_APP, capture_output=True, text=True, timeout=timeout, check=False
    )


def prepare() -> str:
    """Node ready to run the app: its packages installed (``npm ci``, from the lock
    file, when node_modules is missing), and its compiled artifacts and persisted
    documents current with schema.graphql and its sources (``relay-compiler
    --validate``). The path of node."""
    node, npm = require_node()
    if not (RELAY_APP / "node_modules" / ".package-lock.json").exists():
        installed = _run([npm, "ci", "--no-audit", "--no-fund"], NPM_CI_SECONDS)
        assert installed.returncode == 0, f"npm ci failed:\n{installed.stdout}{installed.stderr}"
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
