"""The GraphQL-over-HTTP specification's conformance audit (graphql-http's
serverAudits, the suite the specification's implementations list is made with)
against a live server started as ``make run`` starts it. Every audit must pass: the
MUSTs, the SHOULDs and the MAYs the contract's Transport section promises.

Needs Node 20 and npm (the packages come from the npm registry through the lock
file in tests/clients/graphql-http); without them the test skips, or fails when CI
is set.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import graphql_http_audit
from tests.live_server import server_env, serving

pytestmark = pytest.mark.live


def test_the_server_passes_every_graphql_over_http_audit(database_url: str, tmp_path: Path) -> None:
    node = graphql_http_audit.prepare()
    with serving(server_env(database_url, tmp_path / "var"), tmp_path / "server.log") as server:
        results = graphql_http_audit.run(node, f"{server.base}/graphql")

    assert len({result["id"] for result in results}) == len(results)
    failing = [result for result in results if result["status"] != "ok"]
    assert not failing, f"{len(failing)} of {len(results)} GraphQL-over-HTTP audits fail:\n" + (
        "\n".join(graphql_http_audit.describe(result) for result in failing)
    )
