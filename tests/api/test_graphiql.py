"""The GraphiQL page: only our own pinned assets, a strict CSP, and WhiteNoise serving them."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.http import FileResponse, HttpResponse
from django.test import Client
from graphql import build_schema, parse, validate

from gql.graphiql import ASSETS_DIR, EXAMPLE_HEADERS, vendored_files
from tests.live_server import server_env

ROOT = Path(__file__).resolve().parents[2]

# Spelled out rather than imported: loosening the policy must fail this test.
EXPECTED_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; font-src 'self' data:; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
FOREVER = "max-age=315360000, public, immutable"


class _Page(HTMLParser):
    """The tags of the page that load, run or style anything."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.links: list[dict[str, str | None]] = []
        self.styles = 0
        self.style_attributes = 0
        self.event_handlers = 0
        self._script_type: str | None = None
        self._script_id = ""
        self.data_blocks: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.style_attributes += "style" in attributes
        self.event_handlers += any(name.startswith("on") for name in attributes)
        if tag == "script":
            self.scripts.append(attributes)
            self._script_type = attributes.get("type")
            self._script_id = attributes.get("id") or ""
        elif tag == "link":
            self.links.append(attributes)
        elif tag == "style":
            self.styles += 1

    def handle_data(self, data: str) -> None:
        if self._script_type is not None and data.strip():
            self.data_blocks[self._script_id] = data

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script_type = None


def _get_page(client: Client | None = None) -> HttpResponse:
    response: HttpResponse = (client or Client()).get("/graphql", HTTP_ACCEPT="text/html")
    return response


def _parse(response: HttpResponse) -> _Page:
    page = _Page()
    page.feed(response.content.decode())
    return page


def _body(response: Any) -> bytes:
    if isinstance(response, FileResponse):
        return b"".join(response.streaming_content)
    return bytes(response.content)


def _sri(algorithm: str, data: bytes) -> str:
    return f"{algorithm}-{base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"


def _local_assets(page: _Page) -> list[str]:
    urls = [str(s["src"]) for s in page.scripts if s.get("src")]
    urls += [str(link["href"]) for link in page.links if link.get("rel") == "stylesheet"]
    return urls


@pytest.fixture
def collected(settings: Any, tmp_path: Path) -> Path:
    """Static files collected (and gzipped) as `make run` does, into a fresh STATIC_ROOT."""
    settings.STATIC_ROOT = tmp_path / "static"
    settings.WHITENOISE_USE_FINDERS = False
    call_command("collectstatic", interactive=False, verbosity=0)
    root: Path = settings.STATIC_ROOT
    return root


def test_the_page_is_served_with_a_strict_content_security_policy() -> None:
    response = _get_page()
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert response["Content-Security-Policy"] == EXPECTED_CSP
    assert response["X-Frame-Options"] == "DENY"


def test_the_page_runs_no_inline_script_and_sets_no_inline_style() -> None:
    page = _parse(_get_page())
    inline = [s for s in page.scripts if not s.get("src")]
    # The only script element without src is the JSON configuration: a data block
    # that the browser never executes, so the CSP needs no hash for it.
    assert inline == [{"id": "graphiql-config", "type": "application/json"}]
    assert page.styles == 0
    assert page.style_attributes == 0
    assert page.event_handlers == 0


def test_every_script_and_stylesheet_comes_from_our_own_origin() -> None:
    page = _parse(_get_page())
    assert len(_local_assets(page)) == 6  # react, react-dom, graphiql js + css, ours js + css
    for tag in [*page.scripts, *page.links]:
        url = tag.get("src") or tag.get("href")
        if url is None:
            continue  # the JSON data block
        if tag.get("rel") == "icon":
            assert url == "data:,"  # no favicon request at all
            continue
        assert url.startswith("/static/graphiql/"), url
        assert "//" not in url, url
        assert ":" not in url, url


def test_every_vendored_script_and_stylesheet_is_pinned_by_its_integrity() -> None:
    page = _parse(_get_page())
    on_page = {str(s["src"]): s.get("integrity") for s in page.scripts if s.get("src")}
    on_page |= {
        str(link["href"]): link.get("integrity")
        for link in page.links
        if link.get("rel") == "stylesheet"
    }
    loaded = [file for file in vendored_files() if file.kind in {"script", "style"}]
    assert {file.url: file.integrity for file in loaded}.items() <= on_page.items()
    scripts = [str(s["src"]) for s in page.scripts if s.get("src")]
    # UMD globals: React before ReactDOM before GraphiQL, our start-up script last.
    assert [url.rsplit("/", 1)[-1] for url in scripts] == [
        "react.production.min.js",
        "react-dom.production.min.js",
        "graphiql.min.js",
        "graphiql-init.js",
    ]


def test_the_manifest_matches_every_vendored_file_on_disk() -> None:
    listed = {file.path for file in vendored_files()}
    for file in vendored_files():
        data = (ASSETS_DIR / file.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == file.sha256, f"{file.path} changed"
        assert _sri("sha512", data) == file.integrity, f"{file.path} changed"
        assert file.path.startswith(f"{file.package}@{file.version}/"), file.path
    on_disk = {
        str(path.relative_to(ASSETS_DIR))
        for directory in ASSETS_DIR.glob("*@*")
        for path in directory.rglob("*")
        if path.is_file()
    }
    assert on_disk == listed, "vendored files not in MANIFEST.json (or listed but missing)"
    packages = {(file.package, file.version) for file in vendored_files()}
    assert {name for name, _ in packages} == {"react", "react-dom", "graphiql"}
    assert len(packages) == 3  # one version of each


def test_the_headers_tab_starts_with_an_example_bearer_token_line() -> None:
    config = json.loads(_parse(_get_page()).data_blocks["graphiql-config"])
    assert EXAMPLE_HEADERS == '{"Authorization": "Bearer <token from signup or login>"}'
    assert config["headers"] == EXAMPLE_HEADERS
    assert all(tab["headers"] == EXAMPLE_HEADERS for tab in config["tabs"])
    assert config["url"] == "/graphql"


def _readme_operations() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Try it", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```graphql\n(.*?)```", section, flags=re.DOTALL)


def _without_comment_lines_and_names(document: str) -> str:
    lines = [line for line in document.splitlines(keepends=True) if not line.startswith("#")]
    return re.sub(
        r"^(query|mutation|subscription) \w+ \{", r"\1 {", "".join(lines), flags=re.MULTILINE
    )


def test_the_editor_tabs_are_the_readme_examples() -> None:
    config = json.loads(_parse(_get_page()).data_blocks["graphiql-config"])
    tabs = [_without_comment_lines_and_names(tab["query"]) for tab in config["tabs"]]
    examples = _readme_operations()
    # signup, login, addPost, getPosts, deletePost, a page of posts, the live events
    assert len(examples) == 7
    assert tabs == examples


def test_every_example_tab_is_valid_against_the_schema() -> None:
    config = json.loads(_parse(_get_page()).data_blocks["graphiql-config"])
    schema = build_schema((ROOT / "schema.graphql").read_text(encoding="utf-8"))
    for tab in config["tabs"]:
        assert validate(schema, parse(tab["query"])) == [], tab["query"]


def test_with_the_explorer_off_there_is_no_page(settings: Any) -> None:
    settings.GRAPHQL_EXPLORER = False
    response = _get_page()
    # A GET is then a GraphQL request like any other: without a query, a JSON 400.
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert b"graphiql" not in response.content.lower()


@pytest.mark.usefixtures("collected")
def test_vendored_files_are_served_with_their_type_and_cached_for_good() -> None:
    client = Client()
    for file in vendored_files():
        if file.kind == "license":
            continue
        response = client.get(file.url)
        assert response.status_code == 200, file.url
        expected = "text/javascript" if file.kind == "script" else "text/css"
        assert response["Content-Type"].startswith(expected), file.url
        assert response["Cache-Control"] == FOREVER, file.url
        assert response["X-Content-Type-Options"] == "nosniff"
        assert _sri("sha512", _body(response)) == file.integrity, file.url


@pytest.mark.usefixtures("collected")
def test_our_own_unversioned_files_are_cached_briefly() -> None:
    client = Client()
    for url, content_type in (
        ("/static/graphiql/graphiql-init.js", "text/javascript"),
        ("/static/graphiql/graphiql-page.css", "text/css"),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response["Content-Type"].startswith(content_type)
        # Not versioned by path: a change must reach browsers within a minute.
        assert response["Cache-Control"] == "max-age=60, public"


@pytest.mark.usefixtures("collected")
def test_a_client_that_accepts_gzip_gets_the_precompressed_variant() -> None:
    graphiql_js = next(f for f in vendored_files() if f.path.endswith("graphiql.min.js"))
    original = (ASSETS_DIR / graphiql_js.path).read_bytes()
    client = Client()

    compressed = client.get(graphiql_js.url, HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert compressed["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in compressed["Vary"]
    body = _body(compressed)
    assert len(body) < len(original) // 2
    assert gzip.decompress(body) == original

    plain = client.get(graphiql_js.url)
    assert not plain.has_header("Content-Encoding")
    assert _body(plain) == original


def test_every_asset_on_the_page_is_served(collected: Path) -> None:
    client = Client()
    for url in _local_assets(_parse(_get_page(client))):
        assert client.get(url).status_code == 200, url


def test_without_collectstatic_the_files_are_served_from_the_source_tree(
    settings: Any, tmp_path: Path
) -> None:
    # What settings choose when STATIC_ROOT was never collected (a fresh clone).
    settings.STATIC_ROOT = tmp_path / "never-collected"
    settings.WHITENOISE_USE_FINDERS = True
    client = Client()
    with pytest.warns(UserWarning, match="No directory at"):
        response = _get_page(client)  # the first request builds the middleware
    page = _parse(response)
    for url in _local_assets(page):
        response = client.get(url)
        assert response.status_code == 200, url
        assert not response.has_header("Content-Encoding")


def _uses_finders(database_url: str, var_dir: Path) -> str:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from django.conf import settings as s; print(s.WHITENOISE_USE_FINDERS)",
        ],
        cwd=ROOT,
        env={**server_env(database_url, var_dir), "DEBUG": "0"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def test_settings_serve_from_the_source_tree_only_until_collectstatic_has_run(
    database_url: str, tmp_path: Path
) -> None:
    assert _uses_finders(database_url, tmp_path) == "True"
    (tmp_path / "static").mkdir()
    assert _uses_finders(database_url, tmp_path) == "False"
