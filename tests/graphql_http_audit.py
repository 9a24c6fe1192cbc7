"""The GraphQL-over-HTTP conformance audit in tests/clients/graphql-http: graphql-http's
``serverAudits`` (pinned in its package-lock.json), run by ``audit.mjs`` under Node
against a live server, one JSON line per audit."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from tests.live_server import PROJECT
from tests.node_clients import install, require_node

AUDIT_APP = PROJECT / "tests" / "clients" / "graphql-http"
AUDIT_SECONDS = 300


def prepare() -> str:
    """Node ready to run the audit (``npm ci`` first when node_modules is missing); the
    path of node."""
    node, npm = require_node("the GraphQL-over-HTTP audit")
    install(AUDIT_APP, npm)
    return node


def run(node: str, url: str) -> list[dict[str, Any]]:
    """Every audit's result against the endpoint ``url``: ``id``, ``name``, ``status``
    ('ok', or 'error' / 'warn' / 'notice' for a failed MUST / SHOULD / MAY) and
    ``reason``. Fails the test if the runner itself broke."""
    completed = subprocess.run(
        [node, "audit.mjs", url],
        cwd=AUDIT_APP,
        capture_output=True,
        text=True,
        timeout=AUDIT_SECONDS,
        check=False,
    )
    # pytest.fail, not assert: a broken runner is not a failed audit.
    try:
        results = [json.loads(line) for line in completed.stdout.splitlines() if line.strip()]
    except json.JSONDecodeError:
        results = []
    failed = any(result.get("status") != "ok" for result in results)
    if not results or completed.returncode != int(failed):
        pytest.fail(
            f"audit.mjs broke (exit {completed.returncode}):\n{completed.stdout}{completed.stderr}"
        )
    return results


def describe(result: dict[str, Any]) -> str:
    """One failed audit, as a line of an assertion message."""
    http = result.get("http") or {}
    answered = f" (answered {http['status']} {http['contentType']})" if http else ""
    return f"{result['id']} [{result['status']}] {result['name']}: {result['reason']}{answered}"
