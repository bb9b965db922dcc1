"""Numbers written with digits other than ASCII 0-9 (or with underscores, or thousands of digits) are a client
error in every place a number is read: a 400 in the documented shape for a query or path value, the
documented per-element error in a batch, whose other elements are applied. Never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from alephee.http.context import AppContext
from alephee.orders.schemas import ORDER_ID_REQUIRED
from tests.fixtures import orders as _orders_fixtures
from tests.fixtures.errors import assert_error
from tests.fixtures.orders import AddOrder
from tests.fixtures.products import add_product, quantity_of
from tests.fixtures.tenants import Tenant

ODD = ["²", "٣", "３", "1_000", "9" * 5000]


def arabic_indic(number: int) -> str:
    """``number`` written in Arabic-Indic digits (``int()`` reads it; the API must not)."""
    return str(number).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))


@pytest.mark.parametrize("odd", ODD)
def test_integrate_applies_the_good_element_beside_a_bad_order_id(
    client: TestClient, seller: Tenant, add_order: AddOrder, odd: str
) -> None:
    order_id = add_order(seller)
    body = [{"OrderId": order_id, "OwnOrderId": "ERP-607", "Integrated": True, "ErpStatus": "ok"}, {"OrderId": odd}]
    response = client.put("/v2/orders/integrate", params=seller.q(), json=body)
    assert response.status_code == 200, response.text
    first, second = response.json()["Results"]
    assert first["Status"] == "200" and first["OrderStatus"]["OrderId"] == order_id
    assert second == {"Status": "400", "Message": ORDER_ID_REQUIRED, "OrderStatus": {"OrderId": odd}}
    [order] = client.get("/v2/orders", params=seller.q(Integrated="true")).json()["Results"]
    assert order["Id"] == order_id and order["IntegratedOrderId"] == "ERP-607"


def test_status_update_and_delete_refuse_odd_order_ids(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    order_id = add_order(seller)
    body = [{"OrderId": "²", "Status": 17}, {"OrderId": arabic_indic(order_id), "Status": 17}]
    response = client.put("/v2/orders", params=seller.q(), json=body)
    assert response.status_code == 200, response.text
    assert [r["Status"] for r in response.json()["Results"]] == [400, 400]
    for odd in [*ODD, arabic_indic(order_id)]:
        assert_error(client.delete("/v2/orders", params=seller.q(orderId=odd)), 400)


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/v2/orders", "idFrom"),
        ("/v2/orders", "marketplaceId"),
        ("/v2/orders", "offset"),
        ("/v2/products", "types"),
        ("/v2/products", "catalogStatus"),
        ("/v2/products", "priceListId"),
        ("/v2/productlistings/search", "status"),
        ("/v2/productlistings/search", "marketplaceId"),
        ("/v2/orders/shipping/packinfo", "orderId"),
    ],
)
@pytest.mark.parametrize("odd", ODD)
def test_query_numbers_are_400(client: TestClient, seller: Tenant, path: str, name: str, odd: str) -> None:
    assert_error(client.get(path, params=seller.q(**{name: odd})), 400)


@pytest.mark.parametrize("path", ["/v2/products", "/v2/products/fiscal", "/v2/productlistings/search"])
@pytest.mark.parametrize("odd", ODD)
def test_brand_filter_by_odd_digits_is_a_name_that_matches_nothing(
    client: TestClient, seller: Tenant, path: str, odd: str
) -> None:
    response = client.get(path, params=seller.q(brand=odd))
    assert response.status_code == 200 and response.json()["Total"] == 0


@pytest.mark.parametrize(
    "path", ["/v2/orders/{}/documents", "/v2/orders/{}/shipping/packinfo", "/v2/orders/{}/shippinglabel"]
)
@pytest.mark.parametrize("odd", ODD)
def test_path_ids_are_400(client: TestClient, seller: Tenant, path: str, odd: str) -> None:
    assert_error(client.get(path.format(odd), params=seller.q()), 400)


def test_account_id_in_other_digits_is_not_the_account(client: TestClient, seller: Tenant) -> None:
    """``int("٣")`` is 3: the account must be named with ASCII digits, in the query and in the path."""
    other_digits = arabic_indic(seller.account_id)
    assert_error(client.get("/v2/orders", params=seller.q(accountId=other_digits)), 401)
    assert_error(client.get(f"/v2/accounts/{other_digits}/pricelists", params=seller.key()), 401)
    assert_error(client.get("/v2/accounts", params=seller.key(accountId=other_digits)), 401)


def _stock(ctx: AppContext, product_id: int) -> int:
    with ctx.db.reading() as session:
        return quantity_of(session, product_id)


@pytest.mark.parametrize("odd", ODD)
def test_product_batch_refuses_the_bad_element_and_applies_the_others(
    client: TestClient, ctx: AppContext, seller: Tenant, odd: str
) -> None:
    with ctx.db.writing() as session:
        good = add_product(session, seller.account_id, "GOOD-1", quantity=1)
        bad_quantity = add_product(session, seller.account_id, "BAD-QTY", quantity=1)
        bad_brand = add_product(session, seller.account_id, "BAD-BRAND", quantity=1)
    body: list[dict[str, Any]] = [
        {"SKU": "GOOD-1", "Stock": {"Quantity": 5}},
        {"SKU": "BAD-QTY", "Stock": {"Quantity": odd}},
        {"SKU": "BAD-BRAND", "Brand": odd, "Stock": {"Quantity": 7}},
    ]
    response = client.post("/v2/products", params=seller.q(), json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["Quantities"]["Error"] == 2 and result["Quantities"]["Total"] == 3
    assert sorted(item["ItemNumber"] for item in result["Items"]) == [1, 2]
    assert (_stock(ctx, good), _stock(ctx, bad_quantity), _stock(ctx, bad_brand)) == (5, 1, 1)


@pytest.mark.parametrize("odd", ODD)
def test_order_create_refuses_odd_codes(client: TestClient, seller: Tenant, odd: str) -> None:
    body = _orders_fixtures.order_info(f"ODD-{len(odd)}-{ord(odd[0])}", marketplace_id=100)
    body["Payments"][0]["Method"] = {"Key": odd, "Value": "card"}
    body["Items"][0]["Quantity"] = odd
    assert_error(client.post("/v2/orders", params=seller.q(), json=body), 400)
