"""Contract tests of spec 40 (products section) over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from alephee.accounts.schemas import AccountType
from alephee.context import AppContext
from alephee.products.models import Product, ProductPrice
from tests.conftest import Tenant
from tests.products.helpers import add_price_list, add_product

ENVELOPE = {"Total", "Paging", "SortBy", "AvailableSorts", "Results"}
NOT_FOUND_ES = "No tiene asignado ningún producto con el marca-código ingresado"


@pytest.fixture
def distributor(make_tenant: Callable[..., Tenant]) -> Tenant:
    return make_tenant(AccountType.DISTRIBUTOR)


def _post(client: TestClient, tenant: Tenant, body: Any, **params: Any) -> Any:
    return client.post("/v2/products", params=tenant.q(**params), json=body)


def test_documented_example_3_12(client: TestClient, ctx: AppContext, distributor: Tenant) -> None:
    with ctx.db.writing() as session:
        plist = add_price_list(session, distributor.account_id, "Lista general")
        pid = add_product(session, distributor.account_id, "CA1463-D", brand="BUJ", quantity=3)
    body = [
        {"Brand": "BUJ", "SKU": "CA1463-D", "Stock": {"Quantity": 15}, "Price": {"PriceWithTaxes": 6000.60}},
        {"Brand": "BUJ", "SKU": "CA1463-DDDD", "Stock": {"Quantity": 30}, "Price": {"PriceWithTaxes": 900}},
    ]
    response = _post(client, distributor, body, priceListId=plist)
    assert response.status_code == 200, response.text
    result = response.json()
    # The docs' example shows ItemNumber 0 for the second element; we use the 0-based position (spec 40 §0.4).
    assert result == {
        "Quantities": {"Ok": 1, "Error": 1, "Warning": 0, "Info": 0, "Total": 2},
        "Items": [
            {
                "ItemNumber": 1,
                "ValidationLevel": {"Id": 0, "Name": "Error"},
                "KeyField": "SKU",
                "KeyValue": "CA1463-DDDD",
                "keyValue": "CA1463-DDDD",
                "Messages": [
                    {
                        "Level": {"Id": 0, "Name": "Error"},
                        "Code": 6,
                        "Message": NOT_FOUND_ES,
                        "ValidatedValue": "CA1463-DDDD",
                    }
                ],
            }
        ],
    }
    with ctx.db.reading() as session:
        assert session.get(Product, pid).quantity == 15  # type: ignore[union-attr]
        price = session.get(ProductPrice, (pid, plist))
        assert price is not None
        assert price.price_with_taxes == Decimal("6000.6000")
        assert price.price == Decimal("4959.1736") and price.price_auto is True


def test_lower_case_client_body(client: TestClient, ctx: AppContext, tenant: Tenant) -> None:
    with ctx.db.writing() as session:
        pid = add_product(session, tenant.account_id, "1025700")
    response = client.post(
        "/v2/products",
        params={"api_key": tenant.api_key, "accountid": tenant.account_id},
        json=[{"sku": "1025700", "stock": {"quantity": 2}}],
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"Quantities": {"Ok": 1, "Error": 0, "Warning": 0, "Info": 0, "Total": 1}, "Items": []}
    with ctx.db.reading() as session:
        assert session.get(Product, pid).quantity == 2  # type: ignore[union-attr]
