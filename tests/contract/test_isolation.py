"""Tenant isolation generated from the route table: every /v2 operation, called with a key on an account
that key does not own, answers 401 and changes nothing. A new route is covered without editing this file."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from alephee.app import api_operations
from tests.fixtures.tenants import Tenant

OPERATIONS = api_operations()


@pytest.mark.parametrize(("method", "path", "name"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
def test_foreign_account_is_401(
    client: TestClient, make_tenant: Callable[..., Tenant], method: str, path: str, name: str
) -> None:
    mine, other = make_tenant(), make_tenant()
    url = re.sub(r"\{accountId\}", str(other.account_id), path)
    url = re.sub(r"\{[^}]+\}", "1", url)
    params = {"API_KEY": mine.api_key, "accountId": other.account_id}
    if "{accountId}" in path:
        params.pop("accountId")
    if path == "/v2/accounts":
        pytest.skip("lists the key's own accounts (a foreign accountId filter is tested in test_cross_cutting)")
    response = client.request(method, url, params=params, json=[] if method in {"POST", "PUT", "DELETE"} else None)
    assert response.status_code == 401, (method, url, response.text)
    assert set(response.json()) == {"Status", "Message"}


def test_every_v2_route_has_a_limits_row() -> None:
    from alephee.config import DEFAULT_LIMITS

    missing = sorted({name for _, _, name in OPERATIONS} - set(DEFAULT_LIMITS))
    assert missing == [], f"routes without a row in config.DEFAULT_LIMITS: {missing}"
