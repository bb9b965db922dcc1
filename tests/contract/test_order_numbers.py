"""Numbers of the order document are numbers, never null, whatever the order's source (CF-20.2.4; typed ERP
models such as C# ``decimal`` or Delphi ``Double`` fail on null): orders created through POST /v2/orders,
pulled from the sandbox marketplace, made by the demo, and placed in the B2B portal. Every numeric field of
every rendered order (GET /v2/orders, the cart endpoint) is walked along the wire types of ``orders.schemas``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from alephee.http.context import AppContext
from alephee.orders import demo
from alephee.sandbox import state as sandbox
from tests.fixtures import marketplaces as _marketplaces
from tests.fixtures import orders as _order_fixtures
from tests.fixtures import portal as _portal
from tests.fixtures.marketplaces import pull
from tests.fixtures.orders import REPORTED, AddOrder, assert_numbers, order_info
from tests.fixtures.portal import cart_form, sign_in
from tests.fixtures.products import add_product
from tests.fixtures.tenants import Tenant


def _orders(client: TestClient, tenant: Tenant, **query: Any) -> list[dict[str, Any]]:
    # idFrom: integrated orders too (some demo orders are).
    response = client.get("/v2/orders", params=tenant.q(idFrom=1, **query))
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["Results"]
    return results


def test_orders_created_through_the_api(
    client: TestClient, ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    shop = make_tenant(marketplaces=(24,))
    with ctx.db.writing() as session:
        add_product(session, shop.account_id, "ABC-1", brand="ACME", quantity=10)
    # The minimal body: one payment with its amount only, a shipping cost as a number.
    minimal = order_info("WEB-1")
    loose = {"Product": {"Sku": "NOT-IN-CATALOG"}, "Quantity": 1, "StockMovement": False, "UnitPrice": 5, "Status": 10}
    minimal["Items"].append(loose)
    # Shipping as an object with only its total, two payments, instalments.
    parts = order_info(
        "WEB-2",
        Payments=[{"Amount": 2500, "Installments": 3}, {"Amount": 620, "ShippingAmount": 20}],
        Shipping={**minimal["Shipping"], "Cost": {"Cost": 150}, "ReceiverCost": 120},
    )
    for body in (minimal, parts):
        response = client.post("/v2/orders", params=shop.q(), json=body)
        assert response.status_code == 201, response.text
        assert_numbers([response.json()])
    first, second = _orders(client, shop)
    assert assert_numbers([first, second]) >= REPORTED
    # What the client left out is derived from what it sent (CF-20.1.5 rule 6, CF-20.2.6), else 0.
    [payment] = first["Payments"]
    assert (payment["ShippingAmount"], payment["TransactionAmount"], payment["SubTotal"]) == (0, 3000, 3000)
    assert payment["InstallmentAmount"] == 3000 and first["Items"][1]["Product"]["Id"] == 0
    assert (first["Shipping"]["Cost"], first["Shipping"]["ReceiverCost"], first["Shipping"]["SenderCost"]) == (0, 0, 0)
    a, b = second["Payments"]
    # ReceiverCost 120: 20 paid with the second payment, the rest with the first one that did not say.
    assert (a["ShippingAmount"], b["ShippingAmount"]) == (100, 20)
    assert (a["TransactionAmount"], b["TransactionAmount"], a["InstallmentAmount"]) == (2400, 600, 833.33)
    assert (second["Shipping"]["ReceiverCost"], second["Shipping"]["SenderCost"]) == (120, 30)
    # The financing surcharge formula of the tips can be computed: Amount - TransactionAmount - ReceiverCost.
    surcharge = sum(p["Amount"] - p["TransactionAmount"] for p in second["Payments"]) - 120
    assert surcharge == 0


def test_orders_pulled_from_the_sandbox(
    client: TestClient, ctx: AppContext, open_shop: Callable[..., _marketplaces.Shop]
) -> None:
    shop = open_shop()
    with ctx.db.writing() as session:
        for n, (external, quantity) in enumerate(
            [(shop.external_ids["KIT-MATERO"], 2), (shop.external_ids["REM-01"], 3), ("MLA999999", 1)]
        ):
            sandbox.create_order(
                session,
                account_id=shop.account_id,
                marketplace_id=100,
                external_order_id=f"88{n}",
                items=[{"external_listing_id": external, "quantity": quantity, "unit_price": "10", "sku": "S"}],
                payments=[{"id": f"p{n}", "status": "approved", "amount": "10"}],
            )
    assert pull(ctx).created == 3
    orders = _orders(client, shop.tenant)
    assert assert_numbers(orders) >= REPORTED
    kit = next(o for o in orders if o["ExternalOrderId"] == "880")["Items"]
    assert [i["Type"]["Value"] for i in kit] == ["KIT", "COMPONENT", "COMPONENT"]
    assert all(c["UnitPrice"] == 0 and c["CalculatedComponentUnitPrice"] > 0 for c in kit[1:])
    assert all(c["CalculatedComponentFullUnitPrice"] > 0 for c in kit[1:])


def test_demo_orders(client: TestClient, ctx: AppContext, make_tenant: Callable[..., Tenant]) -> None:
    seller = make_tenant(marketplaces=_order_fixtures.MARKETPLACES)
    with ctx.db.writing() as session:
        demo.create_demo_orders(session, ctx.settings, seller.account_id)
    orders = [o for offset in range(0, demo.DEMO_ORDERS, 100) for o in _orders(client, seller, offset=offset)]
    seen = assert_numbers(orders)
    assert seen >= REPORTED and "Adjustments[].Item.Id" in seen and "ActiveClaims[].ExternalClaimId" in seen
    components = [i for o in orders for i in o["Items"] if i["Type"]["Value"] == "COMPONENT"]
    assert components and all(i["UnitPrice"] == 0 for i in components)
    packs = {o["PackId"] for o in orders if o["PackId"]}
    for pack in sorted(packs)[:3]:
        body = client.get(f"/v2/orders/packs/{pack}", params=seller.q()).json()
        assert_numbers(body["Orders"])


def test_orders_placed_in_the_b2b_portal(
    client: TestClient, ctx: AppContext, make_shop: Callable[..., _portal.Shop], add_order: AddOrder
) -> None:
    shop = make_shop()
    csrf = sign_in(client, shop)
    for sku, quantity in (("TAL-001", 2), ("KIT-005", 1)):
        response = client.post(
            "/b2b/cart/add",
            data={"csrf": csrf, "product_id": str(shop.products[sku]), "quantity": str(quantity)},
            follow_redirects=False,
        )
        assert response.status_code == 303
    # Confirm what the cart page shows (its version and prices), as the buyer's browser does.
    shown = {k: v for k, v in cart_form(client).items() if not k.startswith("qty-")}
    response = client.post("/b2b/cart/place", data={**shown, "csrf": csrf}, follow_redirects=False)
    assert response.status_code == 303, response.text
    [order] = _orders(client, shop.tenant)
    assert assert_numbers([order]) >= REPORTED
    assert [i["UnitPrice"] for i in order["Items"] if i["Type"]["Value"] == "COMPONENT"] == [0, 0]
    assert all(i["SaleFee"] == 0 and i["UnitPriceCost"] == 0 for i in order["Items"])
