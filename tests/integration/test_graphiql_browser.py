"""GraphiQL in a real headless Chromium against a real server: offline, under its CSP.

Every request the page makes is routed through the test: anything not to the
server's own origin is aborted and recorded, so a single CDN reference fails the
test. Debian's Chromium is driven by Playwright (its own browser download cannot
be reached from here); without it the test skips, or fails when CI is set.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, Route, expect, sync_playwright

from tests.live_server import PROJECT, Server, server_env, start_server

pytestmark = [pytest.mark.live, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 30_000  # two shared cores: generous, only ever reached on failure

# Installed before any script of the page runs, so no violation goes unseen.
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push({
    directive: event.violatedDirective,
    blocked: event.blockedURI,
    source: event.sourceFile,
    line: event.lineNumber,
    sample: event.sample,
  });
});
"""
RESULT_PANE_TEXT = """() => {
  const pane = document.querySelector(".graphiql-response .CodeMirror");
  return pane ? pane.CodeMirror.getValue() : "";
}"""


GRAPHIQL_DEBOUNCE_MS = 100


def _chromium() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    message = f"{CHROMIUM} is missing: `apt-get install -y chromium` (.ci/run installs it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def _server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    env = server_env(database_url, tmp_path / "var")
    # Collected and gzipped as `make run` does: the browser gets what production serves.
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=PROJECT,
        env=env,
        check=True,
        timeout=120,
    )
    server = start_server(env, tmp_path / "gunicorn.log")
    try:
        server.wait_healthy()
        yield server
    finally:
        server.stop()


def _replace_text(page: Page, editor: Locator, text: str) -> None:
    """Type ``text`` into a CodeMirror editor in place of what it holds, as a person would."""
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.type(text)
    # The run button reads the editor: run only once it shows what was typed.
    expect(editor).to_contain_text(text)


def _show_first_tab(page: Page, editor: Locator, text: str) -> None:
    """Click the first tab until the editor shows its ``text``, as a person would click
    again. The editor takes the tab's text after the click, not at once, and on a busy
    machine GraphiQL once kept the new tab's text after the click (CI, 2026-12-06)."""
    tab = page.locator(".graphiql-tab-button").first
    for _ in range(2):
        tab.click()
        try:
            expect(editor).to_contain_text(text, timeout=3000)
        except AssertionError:
            continue
        return
    tab.click()
    expect(editor).to_contain_text(text)


def _run_and_read_result(page: Page, field: str) -> dict[str, Any]:
    """Press the run button and return the result pane's JSON once it answers ``field``."""
    # GraphiQL parses the editor 100 ms after its last change (a debounce in @graphiql/react)
    # and sends the operationName it found then: a run pressed sooner sent the previous tab's
    # name ("Unknown operation named 'Signup'", seen on a busy machine). Not a cost bound.
    page.wait_for_timeout(GRAPHIQL_DEBOUNCE_MS * 3)
    page.locator(".graphiql-execute-button").click()
    # Not page.wait_for_function: it evaluates a string in the page, which the CSP
    # rightly refuses ('unsafe-eval'). Locator assertions need no eval.
    expect(page.locator(".graphiql-response")).to_contain_text(f'"{field}"')
    result: dict[str, Any] = json.loads(page.evaluate(RESULT_PANE_TEXT))
    return result


def _violations_reported(page: Page) -> list[dict[str, Any]]:
    """The violations recorded so far, after the event loop had a chance to report them."""
    deadline = time.monotonic() + 5
    while True:
        violations: list[dict[str, Any]] = page.evaluate("window.__cspViolations")
        if violations or time.monotonic() > deadline:
            return violations
        page.wait_for_timeout(50)


def test_graphiql_works_offline_under_its_csp_and_sends_the_headers_tab(
    database_url: str, tmp_path: Path
) -> None:
    executable = _chromium()
    with _server(database_url, tmp_path) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(executable), args=LAUNCH_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            elsewhere: list[str] = []

            def only_our_origin(route: Route) -> None:
                if route.request.url.startswith(f"{server.base}/"):
                    route.continue_()
                else:
                    elsewhere.append(route.request.url)
                    route.abort()

            page.route("**/*", only_our_origin)
            page.on("websocket", lambda socket: elsewhere.append(socket.url))
            problems: list[str] = []
            page.on(
                "console",
                lambda message: (
                    problems.append(f"console.{message.type}: {message.text}")
                    if message.type == "error" or "Content Security Policy" in message.text
                    else None
                ),
            )
            page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
            static: dict[str, tuple[int, str | None]] = {}
            page.on(
                "response",
                lambda response: (
                    static.__setitem__(
                        response.url, (response.status, response.headers.get("content-encoding"))
                    )
                    if "/static/" in response.url
                    else None
                ),
            )
            page.add_init_script(RECORD_CSP_VIOLATIONS)

            page.goto(f"{server.base}/graphql")

            # The editor renders, with the README's examples as tabs and the example header.
            query_editor = page.locator(".graphiql-query-editor .CodeMirror")
            headers_editor = page.locator(
                ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"
            )
            expect(query_editor).to_be_visible()
            expect(query_editor).to_contain_text("mutation Signup")
            expect(page.locator(".graphiql-tab-button")).to_have_count(7)
            expect(headers_editor).to_contain_text(
                '{"Authorization": "Bearer <token from signup or login>"}'
            )

            # A query typed into a new tab, run with the run button.
            page.locator(".graphiql-tab-add").click()
            expect(page.locator(".graphiql-tab-button")).to_have_count(8)
            _replace_text(page, query_editor, "{ __typename }")
            assert _run_and_read_result(page, "__typename") == {"data": {"__typename": "Query"}}

            # The first tab's signup, then its token in the Headers tab of another one.
            # A run pressed before the editor shows the tab's text sent an empty document
            # once (a CI run on a busy machine).
            _show_first_tab(page, query_editor, "mutation Signup")
            signup = _run_and_read_result(page, "signup")
            token = signup["data"]["signup"]["token"]
            page.locator(".graphiql-tab-add").click()
            expect(page.locator(".graphiql-tab-button")).to_have_count(9)
            _replace_text(page, query_editor, "{ getPosts { id } }")
            _replace_text(page, headers_editor, f'{{"Authorization": "Bearer {token}"}}')
            assert _run_and_read_result(page, "getPosts") == {"data": {"getPosts": []}}

            # The live events tab: the subscription runs over Server-Sent Events, and a
            # post added elsewhere shows in the result pane as it is committed (added
            # again each second until it shows: the stream may not be open at first).
            page.locator(".graphiql-tab-button").nth(6).click()
            expect(query_editor).to_contain_text("subscription PostEvents")
            _replace_text(page, headers_editor, f'{{"Authorization": "Bearer {token}"}}')
            page.wait_for_timeout(GRAPHIQL_DEBOUNCE_MS * 3)
            page.locator(".graphiql-execute-button").click()
            shown = page.locator(".graphiql-response")
            for attempt in range(15):
                server.graphql(
                    "mutation($t: String!) { addPost(text: $t) { postId } }",
                    {"t": f"live {attempt}"},
                    token=token,
                )
                try:
                    expect(shown).to_contain_text('"text": "live', timeout=1000)
                    break
                except AssertionError:
                    continue
            expect(shown).to_contain_text('"postEvents"')
            expect(shown).to_contain_text('"text": "live')
            page.locator(".graphiql-execute-button").click()  # stop

            assert elsewhere == [], "requests that left the origin"
            page.wait_for_timeout(200)  # violation events are queued tasks: let any land
            assert page.evaluate("window.__cspViolations") == []
            assert problems == []
            assert static, "no static file was loaded"
            assert all(status == 200 for status, _ in static.values()), static
            graphiql_js = next(url for url in static if url.endswith("/graphiql.min.js"))
            assert static[graphiql_js][1] == "gzip"

            # The violation recorder itself works: a deliberate inline style is reported.
            page.evaluate("document.body.setAttribute('style', 'color: red')")
            reported = _violations_reported(page)
            assert reported, "a deliberate inline style was not reported"
            assert reported[0]["directive"].startswith("style-src"), reported
        finally:
            browser.close()
