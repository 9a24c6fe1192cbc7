"""Metrics and logs of a real two-worker server: the scrape adds up every worker."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.live_server import Server, fetch, local_request, server_env, start_server

pytestmark = pytest.mark.live

REQUESTS = "posts_api_graphql_requests"
TOKEN = secrets.token_urlsafe(24)


@dataclass
class Instance:
    server: Server
    metrics_dir: Path


@pytest.fixture
def instance(database_url: str, tmp_path: Path) -> Iterator[Instance]:
    # Started as make run starts it: config/serve.py makes the instance's private
    # runtime directory (var/run/<port>-<pid>/) and claims its metrics directory.
    env = server_env(
        database_url,
        tmp_path / "var",
        METRICS_ENABLED="1",
        METRICS_TOKEN=TOKEN,
        LOG_FORMAT="json",
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    server = start_server(env, tmp_path / "server.log", workers=2)
    try:
        server.wait_healthy()
        [metrics_dir] = (tmp_path / "var" / "run").glob("*/metrics")
        yield Instance(server=server, metrics_dir=metrics_dir)
    finally:
        server.stop()


def requests_per_worker(directory: Path) -> dict[str, float]:
    """GraphQL requests counted in each worker's file, by pid."""
    counted = {}
    for path in directory.glob("counter_*.db"):
        metrics = MultiProcessCollector.merge([str(path)], accumulate=False)
        counted[path.stem.split("_")[1]] = sum(
            sample.value
            for metric in metrics
            if metric.name == REQUESTS
            for sample in metric.samples
            if sample.name == REQUESTS + "_total"
        )
    return counted


def scrape(server: Server) -> str:
    request = local_request(f"{server.base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    status, body = fetch(request, timeout=10)
    assert status == 200, body[:300]
    return body.decode("utf-8")


def scraped_total(exposition: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(exposition)
        if family.name == REQUESTS
        for sample in family.samples
        if sample.name == REQUESTS + "_total"
    )


def test_the_scrape_adds_up_every_worker(instance: Instance) -> None:
    server = instance.server
    sent = 0
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(20):  # until both workers have served some, 40 at a time
            bodies = list(pool.map(lambda _: server.graphql("{ __typename }"), range(40)))
            assert all(body == {"data": {"__typename": "Query"}, "_status": 200} for body in bodies)
            sent += len(bodies)
            served = requests_per_worker(instance.metrics_dir)
            if len([count for count in served.values() if count > 0]) >= 2:
                break
    served = requests_per_worker(instance.metrics_dir)
    assert len([count for count in served.values() if count > 0]) == 2, served
    assert sum(served.values()) == sent

    # Whichever worker answers the scrape, it reports the sum over both.
    for _ in range(4):
        exposition = scrape(server)
        assert scraped_total(exposition) == sent, exposition[:2000]
    families = {family.name for family in text_string_to_metric_families(exposition)}
    for name in ("posts_api_cache_requests", "process_resident_memory_bytes", "python_info"):
        assert name in families, name

    # Without the token: 401, in JSON.
    status, body = fetch(local_request(f"{server.base}/metrics"), timeout=10)
    assert status == 401
    assert json.loads(body)["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_the_server_writes_one_json_access_line_per_request_and_no_other_access_log(
    instance: Instance,
) -> None:
    server = instance.server
    request = local_request(
        f"{server.base}/graphql",
        data=b'{"query": "{ __typename }"}',
        headers={"Content-Type": "application/json", "X-Request-ID": "live-request-1"},
        method="POST",
    )
    assert fetch(request, timeout=10)[0] == 200
    status, _ = fetch(local_request(f"{server.base}/nowhere"), timeout=10)
    assert status == 404
    server.stop()  # flush and close the log
    lines = server.log.read_text().splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    access = [record for record in records if record["logger"] == "posts_api.access"]
    [mine] = [record for record in access if record["request_id"] == "live-request-1"]
    assert mine["method"] == "POST"
    assert mine["path"] == "/graphql"
    assert mine["status"] == 200
    assert mine["outcome"] == "OK"
    assert [record["status"] for record in access if record["path"] == "/nowhere"] == [404]
    # Every line of the app is JSON; gunicorn's own lines (start-up) are its error log,
    # and there is no second access log with the request in it.
    others = [line for line in lines if not line.startswith("{")]
    assert not any('"POST /graphql' in line or "POST /graphql HTTP" in line for line in others)
