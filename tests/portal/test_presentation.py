"""How the portal speaks to the buyer: money in es-AR style everywhere (also in the discounts stored with an order),
status names that mean something to a buyer, singular and plural, a logout that leaves /b2b/logout, and the price
note only on pages that show prices."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

from fastapi.testclient import TestClient
from sqlalchemy import update

from alephee.http import i18n
from alephee.http.context import AppContext
from alephee.orders import statuses as st
from alephee.orders.models import Order
from alephee.portal.formatting import BUYER_STATUS_LABELS, buyer_status, format_money, format_rate, plural
from alephee.portal.routes import COOKIE
from alephee.products.models import Product
from tests.fixtures.portal import Shop, cart_form, flash_of, sign_in

PRICE_NOTE = "los precios incluyen impuestos"


def _add(client: TestClient, csrf: str, product_id: int, quantity: int) -> None:
    response = client.post(
        "/b2b/cart/add",
        data={"csrf": csrf, "product_id": str(product_id), "quantity": str(quantity)},
        follow_redirects=False,
    )
    assert response.status_code == 303


def _place(client: TestClient, csrf: str) -> int:
    response = client.post("/b2b/cart/place", data={**cart_form(client), "csrf": csrf}, follow_redirects=False)
    location = str(response.headers["location"])
    assert location.startswith("/b2b/orders/"), location
    return int(location.rsplit("/", 1)[1])


def _text(html: str) -> str:
    """A page's visible words, tags removed and blanks collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_money_rates_and_counted_words() -> None:
    assert format_money(Decimal("80840.1")) == "$ 80.840,10"
    assert format_money(Decimal("1234567.005"), "ARS") == "$ 1.234.567,01"
    assert format_money(0.5, "USD") == "US$ 0,50"
    assert format_money(None) == "—"
    assert format_rate(Decimal("2.5000")) == "2,5" and format_rate(Decimal("10.0000")) == "10"
    assert [plural(n, "disponible", "disponibles") for n in (0, 1, 2)] == ["disponibles", "disponible", "disponibles"]


def test_discount_lines_of_an_order_are_es_ar_money(
    ctx: AppContext, client: TestClient, make_shop: Callable[..., Shop]
) -> None:
    price = "price_with_taxes@Lista mayorista"
    shop = make_shop(
        list_discount=Decimal("2.5"),
        catalog=[
            {"sku": "CA-1003", "brand": "Prysmian", "name": "Cable 2,5 mm (100 m)", "b2b_quantity": 100,
             price: "64672.08", "b2b_discount_rate@Lista mayorista": "12.5"},
        ],
    )  # fmt: skip
    csrf = sign_in(client, shop)
    _add(client, csrf, shop.products["CA-1003"], 50)
    order_id = _place(client, csrf)
    (order,) = client.get("/v2/orders", params=shop.tenant.q(statusType=0)).json()["Results"]
    # Per unit: 64672.08 −2.5% = 63055.28 (list −1616.80), −12.5% = 55173.37 (product −7881.91).
    assert [a["Description"] for a in order["Adjustments"]] == [
        "Descuento de la lista Lista mayorista 2,5% ($ 80.840,00 en total)",
        "Descuento B2B del producto 12,5% ($ 7.881,91 por unidad)",
    ]
    page = _text(client.get(f"/b2b/orders/{order_id}").text)
    assert "($ 80.840,00 en total)" in page and "($ 7.881,91 por unidad)" in page


def test_every_status_a_buyer_can_see_has_a_buyer_name() -> None:
    visible = st.ALL_STATUSES - {st.DELETED}
    assert set(BUYER_STATUS_LABELS) == visible
    assert len(set(BUYER_STATUS_LABELS.values())) == len(visible)  # no two statuses read the same
    for status in visible:
        assert buyer_status(status) not in ("", "Sin estado", str(status))
    assert buyer_status(12345) == "En proceso"


def test_the_buyer_sees_the_buyer_name_of_each_status(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    csrf = sign_in(client, shop)
    _add(client, csrf, shop.products["TAL-001"], 1)
    order_id = _place(client, csrf)
    for status in sorted(st.ALL_STATUSES - {st.DELETED}):
        with ctx.db.writing() as session:  # wherever the ERP or the life cycle takes the order
            session.execute(
                update(Order)
                .where(Order.id == order_id)
                .values(status=status, status_type=st.status_type_of(status), version=Order.version + 1)
            )
        ctx.db.clear_process_caches()
        name = buyer_status(status)
        for path in ("/b2b/orders", f"/b2b/orders/{order_id}"):
            page = _text(client.get(path).text)
            assert name in page, (path, status)
            assert "Sin estado" not in page, (path, status)
            for type_label in st.STATUS_TYPE_LABELS.values():
                assert f"({type_label})" not in page, (path, status)
            if st.STATUS_LABELS[status] != name:
                assert st.STATUS_LABELS[status] not in page, (path, status)


def test_one_unit_is_singular(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    csrf = sign_in(client, shop)
    drill = shop.products["TAL-001"]
    _add(client, csrf, drill, 1)
    with ctx.db.writing() as session:
        session.execute(update(Product).where(Product.id == drill).values(b2b_quantity=1))
    page = _text(client.get("/b2b/cart").text)
    assert "1 disponible" in page and "1 disponibles" not in page
    assert ", 1 unidad" in page and "1 unidades" not in page
    # Over the stock: the line's warning and the capping message.
    _add(client, csrf, drill, 1)
    page = _text(client.get("/b2b/cart").text)
    assert "Solo hay 1 u. disponible de «Taladro percutor 13 mm»" in page
    client.post("/b2b/cart/add", data={"csrf": csrf, "product_id": str(shop.products["BUJ-002"]), "quantity": "2"})
    page = _text(client.get("/b2b/cart").text)
    assert "3 disponibles" in page and ", 3 unidades" in page


def test_a_line_above_a_stock_of_one_says_so_in_the_singular(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    csrf = sign_in(client, shop)
    drill = shop.products["TAL-001"]
    _add(client, csrf, drill, 3)
    with ctx.db.writing() as session:
        session.execute(update(Product).where(Product.id == drill).values(b2b_quantity=1))
    assert "Solo queda 1 u.: bajá la cantidad." in _text(client.get("/b2b/cart").text)
    with ctx.db.writing() as session:
        session.execute(update(Product).where(Product.id == drill).values(b2b_quantity=2))
    assert "Solo quedan 2 u.: bajá la cantidad." in _text(client.get("/b2b/cart").text)


def test_logout_redirects_to_the_signed_out_page(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    csrf = sign_in(client, shop)
    response = client.post("/b2b/logout", data={"csrf": csrf}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/b2b/signed-out"
    assert f'{COOKIE}=""' in response.headers["set-cookie"]
    page = client.get("/b2b/signed-out")
    assert page.status_code == 200 and "Cerraste sesión" in page.text
    assert client.get("/b2b/catalog").status_code == 401
    # A second logout (another tab, session already gone) lands on the same page.
    again = client.post("/b2b/logout", data={"csrf": csrf}, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == "/b2b/signed-out"
    # The signed-out page does not pretend: a signed-in browser goes to the catalog.
    sign_in(client, shop)
    back = client.get("/b2b/signed-out", follow_redirects=False)
    assert back.status_code == 303 and back.headers["location"] == "/b2b/catalog"


def test_the_price_note_is_only_on_pages_with_prices(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    assert PRICE_NOTE not in client.get("/b2b/").text  # how to get in
    csrf = sign_in(client, shop)
    assert PRICE_NOTE not in client.get("/b2b/cart").text  # empty cart
    assert PRICE_NOTE not in client.get("/b2b/orders").text  # no orders yet
    assert PRICE_NOTE not in client.get("/b2b/catalog?q=nothing-matches").text
    assert PRICE_NOTE not in client.get("/b2b/no/such/page").text
    assert PRICE_NOTE not in client.get(f"/b2b/products/{shop.products['SIN-004']}").text  # not on the portal
    assert PRICE_NOTE in client.get("/b2b/catalog").text
    assert PRICE_NOTE in client.get(f"/b2b/products/{shop.products['TAL-001']}").text
    _add(client, csrf, shop.products["TAL-001"], 1)
    assert PRICE_NOTE in client.get("/b2b/cart").text
    order_id = _place(client, csrf)
    assert PRICE_NOTE in client.get("/b2b/orders").text
    assert PRICE_NOTE in client.get(f"/b2b/orders/{order_id}").text
    response = client.post("/b2b/logout", data={"csrf": csrf})
    assert response.url.path == "/b2b/signed-out"
    assert PRICE_NOTE not in response.text


def test_the_switch_to_english_turns_messages_and_status_names_english(client: TestClient, shop: Shop) -> None:
    csrf = sign_in(client, shop)
    client.cookies.set(i18n.COOKIE, "en")
    _add(client, csrf, shop.products["TAL-001"], 1)
    assert flash_of(client.get("/b2b/cart").text) == "You added 1 unit of «Taladro percutor 13 mm» to the cart."
    _add(client, csrf, shop.products["MAR-003"], 1)  # no B2B stock: refused, the refusal in English too
    assert flash_of(client.get("/b2b/cart").text) == "«Martillo carpintero» cannot be bought right now."
    order_id = _place(client, csrf)
    assert flash_of(client.get(f"/b2b/orders/{order_id}").text) == f"Done! Your order #{order_id} was sent."
    assert "Order received" in _text(client.get("/b2b/orders").text)
    client.cookies.set(i18n.COOKIE, "es")
    page = _text(client.get("/b2b/orders").text)
    assert buyer_status(st.NO_STATUS) == "Recibido" and "Recibido" in page and "Order received" not in page
