"""Trusted documents, loaded once at start-up from one of two files:

- an Apollo persisted-query manifest, as ``@apollo/generate-persisted-query-manifest``
  writes it: ``{"format": "apollo-persisted-query-manifest", "version": 1,
  "operations": [{"id", "name", "type", "body"}]}``;
- the file relay-compiler writes with ``persistConfig: {file, algorithm: "SHA256"}``:
  a JSON object of id to document text.

Either way each id must be the SHA-256 of its text. A malformed file stops
start-up with a message that says what is wrong.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

FORMAT = "apollo-persisted-query-manifest"
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


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
    if isinstance(manifest, dict) and manifest and all(map(_SHA256_HEX.fullmatch, manifest)):
        return _relay_documents(path, manifest)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _fail(path, f'"format" must be "{FORMAT}" (or the file be relay-compiler\'s)')
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


def _relay_documents(path: str, documents: dict[str, object]) -> dict[str, str]:
    """relay-compiler's persisted-queries file: its documents by their SHA-256."""
    for digest, body in documents.items():
        if not isinstance(body, str) or not body.strip():
            raise _fail(path, f'document "{digest[:80]}" has no text')
        if hashlib.sha256(body.encode("utf-8")).hexdigest() != digest:
            raise _fail(path, f'"{digest[:80]}" is not the SHA-256 of its document')
    return dict(documents)  # type: ignore[arg-type] # every value checked above
