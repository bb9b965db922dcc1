"""Placing an order: one order in the hub on the B2B marketplace, status 0, B2B prices and Adjustments, B2B stock
reserved atomically; the ERP sees it at once and the buyer follows its status."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from alephee.http.context import AppContext
from alephee.orders.models import Order
from alephee.portal.models import PortalOrder
from alephee.products.models import Product
from tests.fixtures.portal import Shop, b2b_stock, cart_form, cart_of, flash_of, sign_in


def _add(client: TestClient, csrf: str, product_id: int, quantity: int) -> None:
    response = client.post(
        "/b2b/cart/add",
        data={"csrf": csrf, "product_id": str(product_id), "quantity": str(quantity)},
        follow_redirects=False,
    )
    assert response.status_code == 303


def _place(client: TestClient, csrf: str, **fields: str) -> str:
    """Press "Confirmar pedido" on the cart page as it is now: its cart version and prices, no quantities unless
    ``fields`` give them."""
    shown = {k: v for k, v in cart_form(client).items() if not k.startswith("qty-")}
    form = {**shown, "csrf": csrf, **fields}
    response = client.post("/b2b/cart/place", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def _erp_orders(client: TestClient, shop: Shop, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/v2/orders", params=shop.tenant.q(**params))
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["Results"]
    return results


def _orders_count(ctx: AppContext) -> int:
    with ctx.db.reading() as session:
        return int(session.scalar(select(func.count()).select_from(Order)) or 0)


def test_placing_an_order(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    csrf = sign_in(client, shop)
    p = shop.products
    _add(client, csrf, p["TAL-001"], 2)
    _add(client, csrf, p["BUJ-002"], 3)
    _add(client, csrf, p["KIT-005"], 1)
    before = b2b_stock(ctx, shop)
    with ctx.db.reading() as session:
        quantities_before = dict(session.execute(select(Product.sku, Product.quantity)).all())

    location = _place(client, csrf, notes="Entregar por la mañana\r\nDepósito 2")
    assert location.startswith("/b2b/orders/")
    order_id = int(location.rsplit("/", 1)[1])

    # The ERP sees it at once: status 0 (statusType 0, New), on marketplace 30.
    results = _erp_orders(client, shop, statusType=0)
    assert [o["Id"] for o in results] == [order_id]
    order = results[0]
    assert order["Status"] == {"Key": 0, "Value": "Sin estado"}
    assert order["StatusType"] == {"Key": 0, "Value": "Nuevo"}
    assert order["MarketPlace"]["Key"] == 30
    assert order["ExternalOrderId"].startswith("B2B-")
    assert order["Buyer"]["Email"] == shop.user_email
    assert order["Buyer"]["Name"] == "Compras Cliente"
    assert order["Notes"] == "Entregar por la mañana\nDepósito 2"
    assert order["SellerAccount"]["Id"] == shop.account_id
    items = {(i["Type"]["Value"], i["Product"]["Sku"]): i for i in order["Items"]}
    assert set(items) == {
        ("PRODUCT", "TAL-001"), ("PRODUCT", "BUJ-002"), ("KIT", "KIT-005"),
        ("COMPONENT", "TAL-001"), ("COMPONENT", "BUJ-002"),
    }  # fmt: skip
    drill = items[("PRODUCT", "TAL-001")]
    assert (drill["Quantity"], drill["UnitPrice"], drill["FullUnitPrice"]) == (2, 855.0, 1000.0)  # 1000 −10% −5%
    plug = items[("PRODUCT", "BUJ-002")]
    assert (plug["Quantity"], plug["UnitPrice"], plug["FullUnitPrice"]) == (3, 225.45, 250.5)  # 250.50 −10%
    kit = items[("KIT", "KIT-005")]
    assert (kit["Quantity"], kit["UnitPrice"], kit["FullUnitPrice"]) == (1, 1620.0, 1800.0)
    component = items[("COMPONENT", "BUJ-002")]
    assert component["ParentItemId"] == kit["Id"]
    assert component["Quantity"] == 4 and component["UnitPrice"] == 0  # no price of its own
    # The kit's price is shared by the components' list prices: 1000 + 4 × 250.50 = 2002.
    assert component["CalculatedComponentUnitPrice"] == 202.7  # 1620 × 1002 / 2002 / 4
    assert items[("COMPONENT", "TAL-001")]["CalculatedComponentUnitPrice"] == 809.19
    assert order["Adjustments"] == [
        {
            "Type": {"Key": 1, "Value": "Bonificación"},
            "Code": "B2B-LISTA",
            "Description": "Descuento de la lista Lista mayorista 10% ($ 455,15 en total)",
            "Item": None,
            "Value": {"Type": {"Key": 1, "Value": "Porcentaje"}, "Value": 10.0},
        },
        {
            "Type": {"Key": 1, "Value": "Bonificación"},
            "Code": "B2B-PRODUCTO",
            "Description": "Descuento B2B del producto 5% ($ 45,00 por unidad)",
            "Item": {"Id": shop.products["TAL-001"], "Brand": "Bosch", "Sku": "TAL-001", "SellerSku": "TAL-001"},
            "Value": {"Type": {"Key": 1, "Value": "Porcentaje"}, "Value": 5.0},
        },
    ]
    total = 2 * 855 + 3 * 225.45 + 1620
    payment = order["Payments"][0]
    assert payment["Total"] == total and payment["Method"] == {"Key": 6, "Value": "cuenta_corriente"}
    assert order["Shipping"]["LogisticType"]["Value"] == "to_be_agreed"

    # B2B stock reserved exactly (a kit reserves its own B2B stock); the general stock is untouched.
    after = b2b_stock(ctx, shop)
    assert after == {**before, "TAL-001": 8, "BUJ-002": 0, "KIT-005": 1}
    with ctx.db.reading() as session:
        assert dict(session.execute(select(Product.sku, Product.quantity)).all()) == quantities_before
        summary = session.get(PortalOrder, order_id)
        assert summary is not None
        assert (summary.lines, summary.units, summary.total) == (3, 6, Decimal(str(total)))
    assert cart_of(ctx, shop) == {}

    # The buyer sees the order and its status.
    page = client.get(location)
    assert page.status_code == 200
    assert f"¡Listo! Tu pedido #{order_id} fue enviado." in page.text
    assert "Recibido" in page.text and "$ 4.006,35" in page.text
    assert page.text.count("incluido en el kit") == 2  # the kit's two components: no price of their own
    listing = client.get("/b2b/orders").text
    assert f"#{order_id}" in listing and "Recibido" in listing


def test_the_order_follows_its_life_cycle(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    csrf = sign_in(client, shop)
    _add(client, csrf, shop.products["TAL-001"], 1)
    order_id = int(_place(client, csrf).rsplit("/", 1)[1])
    response = client.put("/v2/orders", params=shop.tenant.q(), json=[{"OrderId": order_id, "Status": 10}])
    assert response.status_code == 200, response.text
    assert _erp_orders(client, shop, statusType=0) == []
    assert [o["Id"] for o in _erp_orders(client, shop, statusType=1)] == [order_id]
    page = client.get(f"/b2b/orders/{order_id}").text
    assert "En preparación" in page
    assert "En preparación" in client.get("/b2b/orders").text


def test_an_empty_cart_places_nothing(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    csrf = sign_in(client, shop)
    assert _place(client, csrf) == "/b2b/cart"
    assert flash_of(client.get("/b2b/cart").text) == "Tu carrito está vacío."
    assert _orders_count(ctx) == 0


def test_a_shortage_reserves_nothing(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    csrf = sign_in(client, shop)
    p = shop.products
    _add(client, csrf, p["TAL-001"], 2)
    _add(client, csrf, p["BUJ-002"], 3)
    with ctx.db.writing() as session:  # the ERP lowers the stock after the buyer filled the cart
        session.execute(update(Product).where(Product.id == p["BUJ-002"]).values(b2b_quantity=1))
    before = b2b_stock(ctx, shop)
    assert _place(client, csrf) == "/b2b/cart"
    assert "No hay stock suficiente de: «Bujía iridio»" in (flash_of(client.get("/b2b/cart").text) or "")
    assert b2b_stock(ctx, shop) == before
    assert cart_of(ctx, shop) == {"TAL-001": 2, "BUJ-002": 3}
    assert _orders_count(ctx) == 0


def test_quantities_on_screen_are_applied_before_placing(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    csrf = sign_in(client, shop)
    drill = shop.products["TAL-001"]
    _add(client, csrf, drill, 2)
    # Above the stock: lowered, and the buyer looks again instead of ordering.
    assert _place(client, csrf, **{f"qty-{drill}": "50"}) == "/b2b/cart"
    assert cart_of(ctx, shop) == {"TAL-001": 10}
    assert _orders_count(ctx) == 0
    # Within the stock: ordered as typed.
    assert _place(client, csrf, **{f"qty-{drill}": "7"}).startswith("/b2b/orders/")
    assert b2b_stock(ctx, shop)["TAL-001"] == 3


def test_a_product_that_left_the_portal_blocks_the_order(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    csrf = sign_in(client, shop)
    _add(client, csrf, shop.products["TAL-001"], 1)
    with ctx.db.writing() as session:
        session.execute(update(Product).where(Product.id == shop.products["TAL-001"]).values(catalog_status=5))
    assert _place(client, csrf) == "/b2b/cart"
    assert "ya no están disponibles" in (flash_of(client.get("/b2b/cart").text) or "")
    assert _orders_count(ctx) == 0 and cart_of(ctx, shop) == {"TAL-001": 1}


def test_without_the_b2b_marketplace_the_portal_refuses(
    ctx: AppContext, client: TestClient, make_shop: Callable[..., Shop]
) -> None:
    shop = make_shop(marketplace=False)
    csrf = sign_in(client, shop)
    _add(client, csrf, shop.products["TAL-001"], 1)
    assert _place(client, csrf) == "/b2b/cart"
    assert "no tiene conectado el canal Alephee B2B" in (flash_of(client.get("/b2b/cart").text) or "")
    assert _orders_count(ctx) == 0
    assert b2b_stock(ctx, shop)["TAL-001"] == 10
    assert cart_of(ctx, shop) == {"TAL-001": 1}


def test_without_a_b2b_list_the_default_list_is_used(
    ctx: AppContext, client: TestClient, make_shop: Callable[..., Shop]
) -> None:
    shop = make_shop(b2b_list=False, list_discount=Decimal("20"))
    csrf = sign_in(client, shop)
    _add(client, csrf, shop.products["BUJ-002"], 1)
    _place(client, csrf)
    (order,) = _erp_orders(client, shop, statusType=0)
    (item,) = order["Items"]
    assert (item["UnitPrice"], item["FullUnitPrice"]) == (200.4, 250.5)  # 250.50 −20%
    assert order["Adjustments"][0]["Description"] == "Descuento de la lista Lista general 20% ($ 50,10 en total)"


def test_orders_are_private_to_their_buyer(
    ctx: AppContext, client: TestClient, session_app: object, shop: Shop, make_shop: Callable[..., Shop]
) -> None:
    from alephee.accounts import service as accounts

    with ctx.db.writing() as session:
        accounts.create_user(session, shop.account_id, "otra@cliente.example")
    csrf = sign_in(client, shop)
    _add(client, csrf, shop.products["TAL-001"], 1)
    order_id = int(_place(client, csrf).rsplit("/", 1)[1])
    other_shop = make_shop(email="compras@otro.example")
    with TestClient(session_app) as second:  # type: ignore[arg-type]
        sign_in(second, shop, email="otra@cliente.example")
        assert second.get(f"/b2b/orders/{order_id}").status_code == 404
        assert f"#{order_id}" not in second.get("/b2b/orders").text
        sign_in(second, other_shop)
        assert second.get(f"/b2b/orders/{order_id}").status_code == 404
    # Marketplace orders of the account are never shown on the portal.
    assert client.get(f"/b2b/orders/{order_id + 1}").status_code == 404


def test_order_totals_on_the_cart_page(client: TestClient, shop: Shop) -> None:
    csrf = sign_in(client, shop)
    _add(client, csrf, shop.products["TAL-001"], 2)
    _add(client, csrf, shop.products["BUJ-002"], 3)
    page = client.get("/b2b/cart").text
    # List price 2 × 1000 + 3 × 250.50 = 2751.50; list −275.15; product −90.00; total 2386.35.
    for text in ("$ 2.751,50", "−$ 275,15", "−$ 90,00", "$ 2.386,35"):
        assert text in page, text


def test_the_erp_cancels_a_portal_order_and_the_b2b_stock_comes_back(
    ctx: AppContext, client: TestClient, shop: Shop
) -> None:
    csrf = sign_in(client, shop)
    p = shop.products
    before = b2b_stock(ctx, shop)
    _add(client, csrf, p["TAL-001"], 2)
    _add(client, csrf, p["KIT-005"], 1)
    order_id = int(_place(client, csrf).rsplit("/", 1)[1])
    assert b2b_stock(ctx, shop) != before
    response = client.put("/v2/orders", params=shop.tenant.q(), json=[{"OrderId": order_id, "Status": 90}])
    assert response.status_code == 200
    assert response.json()["Results"][0]["Status"] == 200, response.text
    assert b2b_stock(ctx, shop) == before
    # A repeat changes nothing (the stock is given back once).
    client.put("/v2/orders", params=shop.tenant.q(), json=[{"OrderId": order_id, "Status": 90}])
    assert b2b_stock(ctx, shop) == before
    assert _erp_orders(client, shop, statusType=99)[0]["Id"] == order_id
