"""Hostile input on the cross-cutting layer: every case is a clear 4xx in the documented shape, nothing stored.

Domain-specific hostile input (documents, path traversal in file names) is tested with its domain.
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from tests.fixtures.errors import assert_error
from tests.fixtures.tenants import Tenant

JSON = {"content-type": "application/json"}


def _path(tenant: Tenant) -> str:
    return f"/v2/accounts/{tenant.account_id}/fiscaltaxrules"


def _stored(client: TestClient, tenant: Tenant) -> int:
    return int(client.get(_path(tenant), params=tenant.key()).json()["Total"])


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"[" * 100_000 + b"]" * 100_000, 400),  # deeply nested
        (b'[{"Code": "A", "Name": "a", "Percentage": NaN}]', 400),
        (b'[{"Code": "A", "Name": "a", "Percentage": Infinity}]', 400),
        (b'[{"Code": "A", "Name": "a", "Percentage": -Infinity}]', 400),
        (b'[{"Code": "A", "Name": "a", "Percentage": ' + b"1" * 10_000 + b"}]", 400),
        (b'[{"Code": "A", "Name": "\xff\xfe\xfd", "Percentage": 1}]', 400),  # invalid UTF-8
        (b"\x00\x01\x02", 400),
        (b'{"Code": "A"', 400),
        (b"null", 400),
        (b'"just a string"', 400),
    ],
)
def test_malformed_bodies_are_400_and_store_nothing(
    client: TestClient, tenant: Tenant, body: bytes, status: int
) -> None:
    assert_error(client.put(_path(tenant), params=tenant.key(), content=body, headers=JSON), status)
    assert _stored(client, tenant) == 0


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "multipart/form-data; boundary=x"])
def test_wrong_content_types_are_415(client: TestClient, tenant: Tenant, content_type: str) -> None:
    body = json.dumps([{"Code": "A", "Name": "a", "Percentage": 1}]).encode()
    response = client.put(_path(tenant), params=tenant.key(), content=body, headers={"content-type": content_type})
    assert_error(response, 415)
    assert _stored(client, tenant) == 0


def test_huge_element_values_are_refused_per_element(client: TestClient, tenant: Tenant) -> None:
    body = [{"Code": "A" * 5000, "Name": "a", "Percentage": 1}, {"Code": "B", "Name": "b" * 100_000, "Percentage": 1}]
    response = client.put(_path(tenant), params=tenant.key(), json=body)
    assert response.status_code == 412
    assert response.json()["Quantities"]["Error"] == 2
    assert _stored(client, tenant) == 0


def test_sql_and_html_in_strings_are_plain_data(client: TestClient, tenant: Tenant) -> None:
    nasty = "'; DROP TABLE accounts; -- <script>alert(1)</script>"
    response = client.put(_path(tenant), params=tenant.key(), json=[{"Code": "X1", "Name": nasty, "Percentage": 1}])
    assert response.status_code == 200
    rules = client.get(_path(tenant), params=tenant.key()).json()["Results"]
    assert rules[0]["Name"] == nasty
    assert client.get("/v2/accounts", params=tenant.key()).status_code == 200  # the table is still there


def test_hostile_query_strings(client: TestClient, tenant: Tenant) -> None:
    path = f"/v2/accounts/{tenant.account_id}/stores"
    for params in (
        {"limit": "1" * 5000},
        {"offset": "99999999999999999999999999"},
        {"sort": "Id; DROP TABLE stores"},
        {"marketplace": "1 OR 1=1"},
        {"allowPickupInStores": "<script>"},
    ):
        response = client.get(path, params=tenant.key(**params))
        assert 400 <= response.status_code < 500, (params, response.text)
        assert set(response.json()) == {"Status", "Message"}
    assert_error(client.get(path, params={"API_KEY": "' OR '1'='1"}), 401)
    assert_error(client.get(path.replace(str(tenant.account_id), "1%20OR%201=1"), params=tenant.key()), 401)
