"""Secrets that default to values generated once and kept in a git-ignored file.

With nothing configured, ``make run`` must work and tokens must survive a
restart, so the first process that needs the secrets writes them to a local
file. The file is published with ``os.link`` (which fails if the target
exists), so racing gunicorn workers all end up with the one value that won.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path


def _read(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


def load_local_secrets(path: Path, names: tuple[str, ...]) -> dict[str, str]:
    """Return the secrets ``names`` from ``path``, generating any that are missing."""
    stored = _read(path)
    if all(name in stored for name in names):
        return stored
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    wanted = {**{name: secrets.token_urlsafe(48) for name in names}, **stored}
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(wanted, indent=2), encoding="utf-8")
    os.chmod(tmp, 0o600)
    try:
        if stored:
            os.replace(tmp, path)  # an older file lacking a name: extend it
        else:
            os.link(tmp, path)
    except FileExistsError:
        pass  # another process published first; its values win
    finally:
        tmp.unlink(missing_ok=True)
    return _read(path)
