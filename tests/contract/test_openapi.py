"""The OpenAPI document at /swagger/docs/v2 is a valid, typed description that client generators can use
(http/openapi.py), while the API keeps reading its parameters its own way (400 in the documented shape,
case-insensitive names)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from alephee.app import OPENAPI_URL
from alephee.http.openapi import PARAMETER_SCHEMAS, RESPONSE_HEADERS
from tests.fixtures.errors import assert_error
from tests.fixtures.tenants import Tenant


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    return client.get(OPENAPI_URL).json()  # type: ignore[no-any-return]


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, ops in document["paths"].items() for method, op in ops.items()]


def _parameter(document: dict[str, Any], method: str, path: str, name: str, where: str = "query") -> dict[str, Any]:
    operation = document["paths"][path][method]
    return next(p for p in operation["parameters"] if p["name"] == name and p["in"] == where)


def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_parameter_is_typed(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        for parameter in operation.get("parameters", []):
            assert parameter["name"] in PARAMETER_SCHEMAS, (method, path, parameter["name"])
            schema = parameter["schema"]
            assert schema.get("type") in ("integer", "boolean", "string"), (method, path, parameter)
            assert "anyOf" not in schema


@pytest.mark.parametrize(
    ("method", "path", "name", "schema"),
    [
        ("get", "/v2/orders", "idFrom", {"type": "integer", "format": "int64"}),
        ("get", "/v2/orders", "statusType", {"type": "integer"}),
        ("get", "/v2/orders", "Integrated", {"type": "boolean"}),
        ("get", "/v2/orders", "includePendingPayments", {"type": "boolean"}),
        ("get", "/v2/orders", "dateCreatedFrom", {"type": "string", "format": "date-time"}),
        ("get", "/v2/orders", "offset", {"type": "integer", "minimum": 0}),
        ("get", "/v2/orders", "limit", {"type": "integer", "minimum": 1}),
        ("delete", "/v2/orders", "orderId", {"type": "integer", "format": "int64"}),
        ("delete", "/v2/orders", "revertStock", {"type": "boolean"}),
        ("get", "/v2/products", "priceListId", {"type": "integer"}),
        ("get", "/v2/products", "dateUpdatedFrom", {"type": "string", "format": "date-time"}),
        ("get", "/v2/productlistings/search", "includeChilds", {"type": "boolean"}),
        ("get", "/v2/accounts/{accountId}/stores", "allowPickupInStores", {"type": "boolean"}),
        ("get", "/v2/accounts/{accountId}/logintoken", "ttl", {"type": "integer"}),
    ],
)
def test_parameter_types(document: dict[str, Any], method: str, path: str, name: str, schema: dict[str, Any]) -> None:
    documented = _parameter(document, method, path, name)["schema"]
    assert {key: documented.get(key) for key in schema} == schema


def test_path_ids_are_integers(document: dict[str, Any]) -> None:
    assert (
        _parameter(document, "get", "/v2/orders/{orderId}/documents", "orderId", "path")["schema"]["type"] == "integer"
    )
    assert _parameter(document, "get", "/v2/accounts/{accountId}/stores", "accountId", "path")["schema"]["type"] == (
        "integer"
    )
    assert _parameter(document, "get", "/v2/orders/packs/{packId}", "packId", "path")["schema"]["type"] == "string"


def test_the_key_is_a_security_scheme_and_the_account_is_required(document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"]["ApiKey"]["in"] == "query"
    assert document["components"]["securitySchemes"]["ApiKey"]["name"] == "API_KEY"
    for method, path, operation in _operations(document):
        assert operation["security"] == [{"ApiKey": []}], (method, path)
        assert all(p["name"] != "API_KEY" for p in operation["parameters"]), (method, path)
    for method, path in (("get", "/v2/orders"), ("put", "/v2/orders/integrate"), ("post", "/v2/products")):
        account = _parameter(document, method, path, "accountId")
        assert account["required"] is True and account["schema"]["type"] == "integer"
    # Optional where the account comes from the path, or where it is only a filter (GET /v2/accounts).
    assert _parameter(document, "get", "/v2/accounts", "accountId")["required"] is False
    assert _parameter(document, "get", "/v2/accounts/{accountId}/stores", "accountId")["required"] is False


def test_every_response_documents_the_rate_limit_headers(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        for status, response in operation["responses"].items():
            headers = response.get("headers", {})
            for name in (*RESPONSE_HEADERS, "x-request-id"):
                assert headers[name]["required"] is True, (method, path, status, name)
    assert document["paths"]["/v2/orders"]["get"]["responses"]["200"]["headers"]["x-ratelimit-remaining"]["schema"] == {
        "type": "integer"
    }


def test_files_have_binary_schemas(document: dict[str, Any]) -> None:
    documents = document["paths"]["/v2/orders/{orderId}/documents"]["get"]["responses"]["200"]["content"]
    label = document["paths"]["/v2/orders/{orderId}/shippinglabel"]["get"]["responses"]["200"]["content"]
    binary = {"type": "string", "format": "binary"}
    assert documents == {
        media: {"schema": binary} for media in ("application/pdf", "application/xml", "image/png", "image/jpeg")
    }
    assert label == {
        "application/pdf": {"schema": binary},
        "text/plain": {"schema": {"type": "string"}},  # ZPL
        "application/zip": {"schema": binary},
    }


def test_model_names_are_unique(document: dict[str, Any]) -> None:
    """Generators name classes after the schemas' titles: two ``DiscountOut`` would be one class."""
    schemas = document["components"]["schemas"]
    titles = Counter(schema.get("title", name) for name, schema in schemas.items())
    assert [title for title, count in titles.items() if count > 1] == []
    assert not [name for name in schemas if name.startswith("alephee__")]
    assert {"OrdersDiscountOut", "ListingsDiscountOut"} <= set(schemas)


def test_documented_types_do_not_change_how_values_are_read(client: TestClient, tenant: Tenant) -> None:
    """Still our 400 (never FastAPI's 422), still the lenient spellings real clients send."""
    response = client.get("/v2/orders", params=tenant.q(idFrom="abc"))
    assert_error(response, 400)
    assert response.json()["Message"] == "'idFrom' must be an integer"
    assert_error(client.get("/v2/products", params=tenant.q(priceListId="x")), 400)
    assert_error(
        client.get(f"/v2/accounts/{tenant.account_id}/stores", params=tenant.key(allowPickupInStores="x")), 400
    )
    assert (
        client.get(
            "/v2/orders", params={"api_key": tenant.api_key, "ACCOUNTID": tenant.account_id, "integrated": "yes"}
        ).status_code
        == 200
    )
    assert client.get("/v2/orders", params=tenant.q(dateCreatedFrom="2024-05-01")).status_code == 200
