"""The never-seen-document budget (the contract, Transport): a client address may make a
process prepare at most GRAPHQL_NEW_DOCUMENTS_PER_ADDRESS_PER_MINUTE documents it does
not hold; past that RATE_LIMITED with retryAfterSeconds, before anything is parsed.
Documents the process holds, and persisted and trusted ones looked up, cost nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from devkit.client import sha256_hex
from gql.pipeline import prepared as prepared_module
from tests.api.test_trusted_documents import manifest, write
from tests.conftest import Api, db_scalar, reset_caches

BUDGET = 3


@pytest.fixture
def prepared(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The budget set to 3, and the documents the process prepares (parses), recorded."""
    settings.GRAPHQL_NEW_DOCUMENTS_PER_ADDRESS_PER_MINUTE = BUDGET
    reset_caches()
    texts: list[str] = []
    real = prepared_module.prepare

    def recording(text: str, *args: Any, **kwargs: Any) -> Any:
        texts.append(text)
        return real(text, *args, **kwargs)

    monkeypatch.setattr(prepared_module, "prepare", recording)
    return texts


def _new(n: int) -> str:
    return f"query New{n} {{ __typename }}"


def _assert_rate_limited(body: dict[str, Any]) -> None:
    assert body.get("data") is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    retry = error["extensions"]["retryAfterSeconds"]
    assert isinstance(retry, int)
    assert 0 < retry <= 120


def test_past_the_budget_a_new_document_is_rate_limited_before_it_is_parsed(
    api: Api, prepared: list[str]
) -> None:
    for n in range(BUDGET):
        assert api.post(_new(n))["data"] == {"__typename": "Query"}
    body = api.post(_new(BUDGET))
    _assert_rate_limited(body)
    assert _new(BUDGET) not in prepared
    # A document that does not even parse is refused the same way, unparsed.
    _assert_rate_limited(api.post("{ not a document"))


def test_documents_the_process_holds_cost_nothing(api: Api, prepared: list[str]) -> None:
    for n in range(BUDGET):
        api.post(_new(n))
    for _ in range(5):
        for n in range(BUDGET):
            assert api.post(_new(n))["data"] == {"__typename": "Query"}
    assert len(prepared) == BUDGET
    # Refused documents are held too: sending one again costs nothing either.
    _assert_rate_limited(api.post(_new(BUDGET)))


def test_another_address_has_a_budget_of_its_own(api: Api, prepared: list[str]) -> None:
    for n in range(BUDGET):
        api.post(_new(n))
    _assert_rate_limited(api.post(_new(BUDGET)))
    other = api.post(_new(BUDGET), REMOTE_ADDR="198.51.100.9")
    assert other["data"] == {"__typename": "Query"}


def test_registering_through_apq_counts_and_looking_up_by_hash_costs_nothing(
    api: Api, prepared: list[str]
) -> None:
    def register(text: str) -> dict[str, Any]:
        extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(text)}}
        return api.send({"query": text, "extensions": extensions})

    for n in range(BUDGET):
        assert register(_new(n))["data"] == {"__typename": "Query"}
    body = register(_new(BUDGET))
    _assert_rate_limited(body)
    assert db_scalar("SELECT COUNT(*) FROM persisted_queries") == BUDGET  # not stored
    reset_caches()  # another process: it holds none of them, and its budget is whole
    for _ in range(BUDGET):
        api.post(f"query Spend{_} {{ __typename }}")
    for n in range(BUDGET):
        extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(_new(n))}}
        assert api.send({"extensions": extensions})["data"] == {"__typename": "Query"}


def test_trusted_documents_cost_nothing(api: Api, tmp_path: Path, prepared: list[str]) -> None:
    documents = [(f"New{n}", "query", _new(n)) for n in range(BUDGET + 2)]
    settings.GRAPHQL_TRUSTED_DOCUMENTS = write(tmp_path / "manifest.json", manifest(*documents))
    reset_caches()
    for _, _, text in documents:
        assert api.post(text)["data"] == {"__typename": "Query"}
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(_new(BUDGET + 1))}}
    assert api.send({"extensions": extensions})["data"] == {"__typename": "Query"}
