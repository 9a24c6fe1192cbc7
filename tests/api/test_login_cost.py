"""Login costs one bcrypt check and little else (issue 9: at most 1.1x that check).

Both are measured as this process's CPU (the test client serves the request
in-process), the minimum over a few rounds, at the production cost of 12.
"""

from __future__ import annotations

import time

import pytest
from django.conf import settings

from resolvers_services.passwords import hash_password, verify_password
from tests.conftest import PASSWORD, Api

pytestmark = pytest.mark.budget

ROUNDS = 7


def _cpu(action: object) -> float:
    started = time.process_time()
    action()  # type: ignore[operator]
    return time.process_time() - started


def test_a_login_costs_at_most_1_1x_one_bcrypt_check(api: Api) -> None:
    settings.BCRYPT_ROUNDS = 12
    assert "errors" not in api.signup("cost@example.com")
    assert "errors" not in api.login("cost@example.com")  # warm: the address is known
    stored = hash_password(PASSWORD)

    # Interleaved, the cheapest of each: a machine busy for a while slows both alike.
    checks, logins = [], []
    for _ in range(ROUNDS):
        checks.append(_cpu(lambda: verify_password(PASSWORD, stored)))
        logins.append(_cpu(lambda: api.login("cost@example.com")))
    check, login = min(checks), min(logins)
    figures = f"login {login * 1000:.0f} ms CPU, one bcrypt check {check * 1000:.0f} ms"
    print(figures)
    assert login <= 1.1 * check, figures
