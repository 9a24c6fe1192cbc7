"""Node for the client tests (tests/clients/*): node 20 or later and npm, found or the
test skips (fails when CI is set), and each client's packages installed from its lock
file."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

NODE_MAJOR = 20
NPM_CI_SECONDS = 300


def _node_major(node: str) -> int:
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout
    found = re.match(r"v(\d+)\.", version)
    return int(found.group(1)) if found else 0


def require_node(needed_for: str) -> tuple[str, str]:
    """The paths of node (20 or later) and npm; the test skips without them, or fails
    when CI is set."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node and npm and _node_major(node) >= NODE_MAJOR:
        return node, npm
    message = (
        f"Node {NODE_MAJOR} or later and npm are needed for {needed_for} "
        f"(found node: {node}, npm: {npm})"
    )
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def install(directory: Path, npm: str) -> None:
    """``npm ci`` in ``directory`` (from its package-lock.json) when its node_modules is
    missing."""
    if (directory / "node_modules" / ".package-lock.json").exists():
        return
    installed = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=NPM_CI_SECONDS,
        check=False,
    )
    if installed.returncode != 0:
        pytest.fail(f"npm ci failed in {directory}:\n{installed.stdout}{installed.stderr}")
