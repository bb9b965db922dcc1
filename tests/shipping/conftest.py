"""Fixtures of the shipping tests: the orders fixtures (a seller and its order factory) and small helpers."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import Tenant
from tests.orders import conftest as _orders_fixtures

# The orders fixtures live in tests/orders/conftest.py; registered here under their names.
seller = _orders_fixtures.seller
add_order = _orders_fixtures.add_order

PACK = {
    "UnitType": 1,
    "Quantity": 2,
    "Dimensions": {"MeasureType": 2, "Height": 30, "Width": 40, "Depth": 25.5},
    "Weight": {"MeasureType": 1, "Gross": 3.75, "Liquid": 3.5},
}
PACK_OUT = {
    "UnitType": 1,
    "Quantity": 2,
    "Dimensions": {"MeasureType": 2, "Height": 30.0, "Width": 40.0, "Depth": 25.5},
    "Weight": {"MeasureType": 1, "Gross": 3.75, "Liquid": 3.5},
}


def order_of(client: TestClient, tenant: Tenant, order_id: int) -> dict[str, Any]:
    """The order as GET /v2/orders shows it."""
    body = client.get("/v2/orders", params=tenant.q(idFrom=order_id, idTo=order_id)).json()
    [order] = [o for o in body["Results"] if o["Id"] == order_id]
    return order
