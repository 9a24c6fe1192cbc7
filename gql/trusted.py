"""Trusted documents: an Apollo persisted-query manifest, loaded once at start-up.

The manifest is what ``@apollo/generate-persisted-query-manifest`` writes:
``{"format": "apollo-persisted-query-manifest", "version": 1, "operations":
[{"id", "name", "type", "body"}]}``, each ``id`` the SHA-256 of its ``body``.
A malformed manifest stops start-up with a message that says what is wrong.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

FORMAT = "apollo-persisted-query-manifest"


def _fail(path: str, reason: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"GRAPHQL_TRUSTED_DOCUMENTS ({path}): {reason}")


def load_manifest(path: str) -> dict[str, str]:
    """The manifest's documents by the SHA-256 of their text."""
    try:
        manifest = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise _fail(path, f"cannot be read ({exc.strerror})") from None
    except ValueError:
        raise _fail(path, "is not UTF-8 JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _fail(path, f'"format" must be "{FORMAT}"')
    if manifest.get("version") != 1:
        raise _fail(path, '"version" must be 1')
    operations = manifest.get("operations")
    if not isinstance(operations, list):
        raise _fail(path, '"operations" must be a list')
    documents: dict[str, str] = {}
    for index, operation in enumerate(operations):
        if not isinstance(operation, dict):
            raise _fail(path, f"operation {index} is not an object")
        body, digest = operation.get("body"), operation.get("id")
        if not isinstance(body, str) or not body.strip():
            raise _fail(path, f'operation {index} has no "body"')
        actual = hashlib.sha256(body.encode("utf-8")).hexdigest()
        if digest != actual:
            raise _fail(path, f'operation {index}: "id" is not the SHA-256 of its body')
        documents[actual] = body
    return documents
