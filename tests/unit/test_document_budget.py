"""The never-seen-document budget, against a clock the test moves."""

from __future__ import annotations

import pytest

from resolvers_services.document_budget import NewDocumentBudget
from schemas.errors import DomainError, ErrorCode


class Clock:
    def __init__(self) -> None:
        self.now = 6000.0  # the start of a minute

    def __call__(self) -> float:
        return self.now


def _refused(budget: NewDocumentBudget, source: str) -> DomainError:
    with pytest.raises(DomainError) as caught:
        budget.spend(source=source)
    return caught.value


def test_an_address_may_spend_its_budget_and_is_refused_past_it_with_when_to_retry() -> None:
    clock = Clock()
    budget = NewDocumentBudget(per_minute=3, timer=clock)
    for _ in range(3):
        budget.spend(source="203.0.113.7")
    error = _refused(budget, "203.0.113.7")
    assert error.code is ErrorCode.RATE_LIMITED
    retry = error.extra["retryAfterSeconds"]
    assert isinstance(retry, int)
    assert 0 < retry <= 120
    # Refusals are not counted: once the window has slid by that long, one more fits.
    clock.now += retry
    budget.spend(source="203.0.113.7")


def test_addresses_have_budgets_of_their_own_and_an_ipv6_64_shares_one() -> None:
    budget = NewDocumentBudget(per_minute=2, timer=Clock())
    for _ in range(2):
        budget.spend(source="2001:db8::1")
    _refused(budget, "2001:db8::ffff")  # the same /64
    budget.spend(source="2001:db8:0:1::1")  # another /64
    budget.spend(source="203.0.113.7")


def test_the_budget_slides_with_the_minute() -> None:
    clock = Clock()
    budget = NewDocumentBudget(per_minute=4, timer=clock)
    for _ in range(4):
        budget.spend(source="203.0.113.7")
    clock.now += 60  # the next minute: the previous one's 4 still weigh fully
    _refused(budget, "203.0.113.7")
    clock.now += 30  # half of it has slid out: 2 fit
    budget.spend(source="203.0.113.7")
    budget.spend(source="203.0.113.7")
    _refused(budget, "203.0.113.7")
    clock.now += 120  # long quiet: the whole budget again
    for _ in range(4):
        budget.spend(source="203.0.113.7")


def test_it_remembers_a_bounded_number_of_addresses() -> None:
    budget = NewDocumentBudget(per_minute=1, timer=Clock(), max_addresses=10)
    for n in range(1000):
        budget.spend(source=f"10.0.{n // 256}.{n % 256}")
    assert len(budget._counts) == 10
