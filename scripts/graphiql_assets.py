#!/usr/bin/env python3
"""Refresh the vendored GraphiQL assets (``make graphiql-assets``); not run by CI.

For each pinned npm package below: ``npm pack`` the exact version into a
temporary directory, check the tarball's SHA-512 against the ``integrity`` the
registry publishes for that version (and against the one recorded in the
manifest, if the version is unchanged: a published version never changes), copy
the few files the page needs (and the package's licence) to
``gql/static/graphiql/<package>@<version>/``, delete other versions' files, and
rewrite ``MANIFEST.json`` with each file's size, SHA-256 and SRI integrity.

The page (``gql/graphiql.py``) loads the scripts and stylesheets in manifest
order with their integrity; a test checks every file on disk against the
manifest. To upgrade, change ``PINS``, run ``make graphiql-assets``, check the
page in a browser (the slow test does), commit the files and the manifest.

Standard library only; needs ``npm`` on the PATH.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
ASSETS = REPO / "gql" / "static" / "graphiql"
MANIFEST = ASSETS / "MANIFEST.json"


@dataclass(frozen=True)
class Pin:
    """One npm package at an exact version, and the files of it the page loads."""

    name: str
    version: str
    # path inside the package -> "script" | "style" (loaded by the page, in this order)
    files: dict[str, str]
    license_file: str = "LICENSE"

    @property
    def directory(self) -> str:
        return f"{self.name}@{self.version}"


# GraphiQL 3.x is the last line with a UMD build that needs no bundler and no
# web workers (4.x and later load Monaco as ES modules from a CDN); React 18 is
# what it was built against. Order matters: React, then ReactDOM, then GraphiQL.
PINS: tuple[Pin, ...] = (
    Pin("react", "18.3.1", {"umd/react.production.min.js": "script"}),
    Pin("react-dom", "18.3.1", {"umd/react-dom.production.min.js": "script"}),
    Pin("graphiql", "3.9.0", {"graphiql.min.css": "style", "graphiql.min.js": "script"}),
)


def sri(algorithm: str, data: bytes) -> str:
    """A Subresource Integrity / npm ``integrity`` value, e.g. ``sha512-<base64>``."""
    return f"{algorithm}-{base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"


def npm(*args: str, cwd: Path) -> Any:
    """Run ``npm <args> --json`` and return its parsed output."""
    result = subprocess.run(  # noqa: S603 - fixed argv; names and versions come from PINS
        ["npm", *args, "--json"],  # noqa: S607 - npm from the PATH, as a developer runs it
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(result.stdout)


def fetch(pin: Pin, workdir: Path, recorded: dict[str, str]) -> tuple[Path, str]:
    """The verified tarball of ``pin`` and its integrity."""
    spec = f"{pin.name}@{pin.version}"
    published = npm("view", spec, "dist.integrity", cwd=workdir)
    packed = npm("pack", spec, "--ignore-scripts", "--pack-destination", str(workdir), cwd=workdir)
    tarball = workdir / packed[0]["filename"]
    actual = sri("sha512", tarball.read_bytes())
    if actual != published:
        raise SystemExit(f"{spec}: tarball is {actual}, the registry publishes {published}")
    if recorded.get(spec, actual) != actual:
        raise SystemExit(f"{spec}: tarball is {actual}, MANIFEST.json recorded {recorded[spec]}")
    return tarball, actual


def extract(pin: Pin, tarball: Path, destination: Path) -> list[dict[str, Any]]:
    """Copy the pinned files of ``pin`` out of ``tarball``; their manifest entries."""
    entries = []
    wanted = {**pin.files, pin.license_file: "license"}
    with tarfile.open(tarball, "r:gz") as archive:
        for inner, kind in wanted.items():
            member = archive.getmember(f"package/{inner}")
            source = archive.extractfile(member) if member.isreg() else None
            if source is None:
                raise SystemExit(f"{pin.directory}: {inner} is not a regular file")
            data = source.read()
            relative = f"{pin.directory}/{inner}"
            target = destination / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            entries.append(
                {
                    "path": relative,
                    "kind": kind,
                    "bytes": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "integrity": sri("sha512", data),
                }
            )
    return entries


def recorded_integrities() -> dict[str, str]:
    """``name@version`` -> tarball integrity, from the current manifest (if any)."""
    if not MANIFEST.exists():
        return {}
    manifest = json.loads(MANIFEST.read_text())
    return {f"{p['name']}@{p['version']}": p["integrity"] for p in manifest["packages"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.parse_args(argv)
    if shutil.which("npm") is None:
        raise SystemExit("npm is required (apt-get install npm)")
    recorded = recorded_integrities()
    packages = []
    with tempfile.TemporaryDirectory(prefix="graphiql-assets-") as tmp:
        workdir, staging = Path(tmp) / "npm", Path(tmp) / "assets"
        workdir.mkdir()
        for pin in PINS:
            tarball, integrity = fetch(pin, workdir, recorded)
            files = extract(pin, tarball, staging)
            packages.append(
                {"name": pin.name, "version": pin.version, "integrity": integrity, "files": files}
            )
            print(f"{pin.directory}: {', '.join(f['path'] for f in files)}")
        # Every package directory is replaced whole, so no stale version is left behind.
        for child in ASSETS.glob("*@*"):
            shutil.rmtree(child)
        for child in staging.iterdir():
            shutil.copytree(child, ASSETS / child.name)
    manifest = {
        "comment": (
            "Vendored GraphiQL assets, written by `make graphiql-assets` "
            "(scripts/graphiql_assets.py). Do not edit by hand: a test checks "
            "every file against this manifest."
        ),
        "packages": packages,
    }
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {MANIFEST.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
