"""The GraphiQL explorer page: pinned assets from our own origin, under a strict CSP.

The scripts and stylesheets are npm packages vendored under ``gql/static/graphiql/``
by ``make graphiql-assets``, listed with their checksums in its ``MANIFEST.json``;
the page loads them in manifest order, each with its Subresource Integrity, then
``graphiql-init.js``, which reads the page's JSON configuration and starts GraphiQL.
Nothing is loaded from anywhere else, so the page works offline.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import reverse

ASSETS_DIR = Path(__file__).resolve().parent / "static" / "graphiql"
MANIFEST = ASSETS_DIR / "MANIFEST.json"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        # No 'unsafe-inline': GraphiQL 3 and CodeMirror 5 style elements only through
        # the CSSOM (element.style), which CSP leaves alone; the browser test would
        # report any style attribute or <style> element they added.
        "style-src 'self'",
        # GraphiQL's stylesheet embeds its fonts and three images as data: URLs (and
        # the page's empty favicon is one).
        "font-src 'self' data:",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)

# What the Headers tab starts with: the shape of the header protected operations need.
EXAMPLE_HEADERS = '{"Authorization": "Bearer <token from signup or login>"}'

# The README's "Try it" operations, one tab each, named so that each tab has a title
# (a test keeps them in step with the README).
EXAMPLE_OPERATIONS = (
    """# Sign up (or log in: next tab), then put the token in the Headers tab below.
mutation Signup {
  signup(email: "ada@example.com", password: "correct horse battery staple") {
    token
    user { id email }
  }
}
""",
    """mutation Login {
  login(email: "ada@example.com", password: "correct horse battery staple") {
    token
  }
}
""",
    """# Needs the token in the Headers tab below.
mutation AddPost {
  addPost(text: "Hello, world 👋") {
    postId
    post { id text createdAt }
  }
}
""",
    """# Needs the token in the Headers tab below.
query GetPosts {
  getPosts { id text createdAt }        # newest first
}
""",
    """# The token as an argument (or in the Headers tab: then leave the argument out).
mutation DeletePost {
  deletePost(postId: "<postId from addPost or getPosts>", token: "<token>") { postId }
}
""",
    """# Needs the token in the Headers tab below.
query Viewer {
  viewer {
    email
    posts(first: 20) {
      totalCount
      edges { cursor node { id text createdAt } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
""",
    """# Needs the token in the Headers tab below; runs until you stop it.
subscription PostEvents {
  postEvents {
    ... on PostAdded { post { id text } postEdge { cursor } }
    ... on PostDeleted { deletedPostId }
  }
}
""",
)


@dataclass(frozen=True)
class VendoredFile:
    """One file of a vendored package, as MANIFEST.json records it."""

    package: str
    version: str
    path: str  # relative to ASSETS_DIR
    kind: str  # "script", "style" or "license"
    sha256: str
    integrity: str  # Subresource Integrity ("sha512-<base64>")

    @property
    def url(self) -> str:
        url: str = static(f"graphiql/{self.path}")
        return url


@functools.cache
def vendored_files() -> tuple[VendoredFile, ...]:
    """Every vendored file, in the order the page loads them."""
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    return tuple(
        VendoredFile(
            package=package["name"],
            version=package["version"],
            path=entry["path"],
            kind=entry["kind"],
            sha256=entry["sha256"],
            integrity=entry["integrity"],
        )
        for package in manifest["packages"]
        for entry in package["files"]
    )


def graphiql_response(request: HttpRequest) -> HttpResponse:
    """The explorer page, with its Content-Security-Policy header."""
    files = vendored_files()
    config = {
        "url": reverse("graphql"),
        "headers": EXAMPLE_HEADERS,
        "tabs": [{"query": query, "headers": EXAMPLE_HEADERS} for query in EXAMPLE_OPERATIONS],
    }
    context = {
        "styles": [file for file in files if file.kind == "style"],
        "scripts": [file for file in files if file.kind == "script"],
        "page_style": static("graphiql/graphiql-page.css"),
        "page_script": static("graphiql/graphiql-init.js"),
        "config": config,
    }
    response = HttpResponse(render_to_string("gql/graphiql.html", context, request=request))
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response
