"""«Confirmar pedido» orders exactly the cart the buyer was shown: a cart changed elsewhere (another tab, another
browser) or a price changed since the page was drawn sends the buyer back to the cart with a message, and nothing
is ordered or reserved. Checked over HTTP and with concurrent confirmations on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from alephee.errors import DomainError
from alephee.http.context import AppContext
from alephee.orders.models import Order
from alephee.portal import cart as portal_cart
from alephee.portal import checkout as portal_checkout
from alephee.portal.models import PortalCart
from alephee.products.models import ProductPrice
from tests.fixtures.portal import Shop, b2b_stock, cart_form, cart_of, flash_of, open_viewer, sign_in, spanish


def _add(client: TestClient, csrf: str, product_id: int, quantity: int) -> None:
    response = client.post(
        "/b2b/cart/add",
        data={"csrf": csrf, "product_id": str(product_id), "quantity": str(quantity)},
        follow_redirects=False,
    )
    assert response.status_code == 303


def _confirm(client: TestClient, form: dict[str, str]) -> str:
    response = client.post("/b2b/cart/place", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def _order_lines(client: TestClient, shop: Shop) -> dict[str, int]:
    response = client.get("/v2/orders", params=shop.tenant.q(statusType=0))
    (order,) = response.json()["Results"]
    return {i["Product"]["Sku"]: i["Quantity"] for i in order["Items"]}


def _orders_count(ctx: AppContext) -> int:
    with ctx.db.reading() as session:
        return int(session.scalar(select(func.count()).select_from(Order)) or 0)


def _set_price(ctx: AppContext, shop: Shop, sku: str, price_with_taxes: str) -> None:
    with ctx.db.writing() as session:
        session.execute(
            update(ProductPrice)
            .where(ProductPrice.product_id == shop.products[sku], ProductPrice.price_list_id == shop.b2b_list_id)
            .values(price_with_taxes=Decimal(price_with_taxes))
        )


def test_a_tab_confirms_only_the_cart_it_shows(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    csrf = sign_in(client, shop)
    _add(client, csrf, shop.products["TAL-001"], 1)
    tab_a = cart_form(client)  # tab A shows 1 drill
    assert "cart_version" in tab_a
    _add(client, csrf, shop.products["BUJ-002"], 3)  # tab B adds 3 spark plugs
    before = b2b_stock(ctx, shop)

    assert _confirm(client, tab_a) == "/b2b/cart"
    page = client.get("/b2b/cart").text
    assert flash_of(page) == spanish(portal_cart.CART_CHANGED)
    assert "Bujía iridio" in page  # the cart as it is now, for the buyer to look at again
    assert _orders_count(ctx) == 0
    assert b2b_stock(ctx, shop) == before
    assert cart_of(ctx, shop) == {"TAL-001": 1, "BUJ-002": 3}

    # Confirming the cart as shown now orders both lines.
    assert _confirm(client, cart_form(client)).startswith("/b2b/orders/")
    assert _order_lines(client, shop) == {"TAL-001": 1, "BUJ-002": 3}
    assert cart_of(ctx, shop) == {}


def test_every_change_of_the_cart_makes_an_open_page_stale(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    csrf = sign_in(client, shop)
    drill, plug = shop.products["TAL-001"], shop.products["BUJ-002"]
    _add(client, csrf, drill, 2)
    _add(client, csrf, plug, 1)
    changes: list[Callable[[], object]] = [
        lambda: _add(client, csrf, drill, 1),
        lambda: client.post("/b2b/cart/update", data={"csrf": csrf, f"qty-{plug}": "2"}),
        lambda: client.post("/b2b/cart/remove", data={"csrf": csrf, "product_id": str(plug)}),
    ]
    for change in changes:
        stale = cart_form(client)
        change()
        assert _confirm(client, stale) == "/b2b/cart"
        assert flash_of(client.get("/b2b/cart").text) == spanish(portal_cart.CART_CHANGED)
    assert _orders_count(ctx) == 0
    assert cart_of(ctx, shop) == {"TAL-001": 3}


def test_a_confirmation_without_the_cart_version_orders_nothing(
    ctx: AppContext, client: TestClient, shop: Shop
) -> None:
    csrf = sign_in(client, shop)
    _add(client, csrf, shop.products["TAL-001"], 1)
    form = cart_form(client)
    for version in (None, "", "abc", "-1", "9" * 40, str(int(form["cart_version"]) + 1)):
        sent = {k: v for k, v in form.items() if k != "cart_version"}
        if version is not None:
            sent["cart_version"] = version
        assert _confirm(client, sent) == "/b2b/cart", version
        assert flash_of(client.get("/b2b/cart").text) == spanish(portal_cart.CART_CHANGED)
    assert _orders_count(ctx) == 0 and cart_of(ctx, shop) == {"TAL-001": 1}
    assert _confirm(client, cart_form(client)).startswith("/b2b/orders/")


def test_the_same_page_confirmed_twice_places_one_order(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    csrf = sign_in(client, shop)
    _add(client, csrf, shop.products["TAL-001"], 2)
    form = cart_form(client)
    assert _confirm(client, form).startswith("/b2b/orders/")
    assert _confirm(client, form) == "/b2b/cart"
    assert flash_of(client.get("/b2b/cart").text) == spanish(portal_cart.CART_EMPTY)
    assert _orders_count(ctx) == 1 and b2b_stock(ctx, shop)["TAL-001"] == 8


def test_a_price_change_sends_the_buyer_back_to_the_cart(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    csrf = sign_in(client, shop)
    _add(client, csrf, shop.products["TAL-001"], 2)
    _add(client, csrf, shop.products["BUJ-002"], 1)
    shown = cart_form(client)
    assert "$ 1.710,00" in client.get("/b2b/cart").text  # 2 × 855.00
    _set_price(ctx, shop, "TAL-001", "2000")  # the ERP doubles the drill's price meanwhile: 2000 −10% −5% = 1710
    before = b2b_stock(ctx, shop)

    assert _confirm(client, shown) == "/b2b/cart"
    page = client.get("/b2b/cart").text
    assert flash_of(page) == spanish(
        portal_checkout.PRICE_CHANGED, changes="«Taladro percutor 13 mm»: de $ 855,00 a $ 1.710,00 por unidad"
    )
    assert "$ 3.420,00" in page  # the new line total is on screen
    assert _orders_count(ctx) == 0 and b2b_stock(ctx, shop) == before
    assert cart_of(ctx, shop) == {"TAL-001": 2, "BUJ-002": 1}

    # Confirmed again from the page showing the new price: ordered at that price.
    assert _confirm(client, cart_form(client)).startswith("/b2b/orders/")
    (order,) = client.get("/v2/orders", params=shop.tenant.q(statusType=0)).json()["Results"]
    prices = {i["Product"]["Sku"]: i["UnitPrice"] for i in order["Items"]}
    assert prices == {"TAL-001": 1710.0, "BUJ-002": 225.45}


def test_a_price_drop_also_needs_a_new_look(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    csrf = sign_in(client, shop)
    _add(client, csrf, shop.products["BUJ-002"], 2)
    shown = cart_form(client)
    _set_price(ctx, shop, "BUJ-002", "200")
    assert _confirm(client, shown) == "/b2b/cart"
    assert "de $ 225,45 a $ 180,00 por unidad" in (flash_of(client.get("/b2b/cart").text) or "")
    assert _orders_count(ctx) == 0


def test_forged_shown_prices_order_nothing(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    csrf = sign_in(client, shop)
    plug = shop.products["BUJ-002"]
    _add(client, csrf, plug, 1)
    form = cart_form(client)
    for price in ("", "1", "abc", "NaN", "Infinity", "1e999999", "9" * 200, "225,45"):
        assert _confirm(client, {**form, f"price-{plug}": price}) == "/b2b/cart", price
        assert "«Bujía iridio»" in (flash_of(client.get("/b2b/cart").text) or ""), price
    assert _orders_count(ctx) == 0
    assert _confirm(client, form).startswith("/b2b/orders/")


def _versions(ctx: AppContext) -> dict[int, int]:
    with ctx.db.reading() as session:
        return {
            user_id: version for user_id, version in session.execute(select(PortalCart.user_id, PortalCart.version))
        }


def test_the_cart_version_is_stored_with_the_cart(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    csrf = sign_in(client, shop)
    assert cart_form(client) == {}
    _add(client, csrf, shop.products["TAL-001"], 1)
    ((user_id, first),) = _versions(ctx).items()
    assert cart_form(client)["cart_version"] == str(first)
    _add(client, csrf, shop.products["TAL-001"], 1)
    assert _versions(ctx) == {user_id: first + 1}
    # The version survives the session: a new login link shows the same cart at the same version.
    sign_in(client, shop)
    assert cart_form(client)["cart_version"] == str(first + 1)


def _concurrently(*actions: Callable[[], object]) -> list[object]:
    barrier = threading.Barrier(len(actions))
    outcomes: list[object] = [None] * len(actions)

    def run(index: int, action: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=10)
            outcomes[index] = action()
        except DomainError as exc:
            outcomes[index] = exc.message

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_concurrent_confirmations_of_one_shown_cart_place_one_order(
    ctx: AppContext, make_shop: Callable[..., Shop]
) -> None:
    shop = make_shop()
    viewer = open_viewer(ctx, shop)
    with ctx.db.writing() as session:
        portal_cart.add_to_cart(session, ctx.settings, viewer, shop.products["TAL-001"], "3")
    with ctx.db.reading() as session:
        shown = portal_cart.cart_view(session, viewer).shown

    def confirm() -> object:
        with ctx.db.writing() as session:
            return portal_checkout.place_order(session, ctx.settings, viewer, shown)

    outcomes = _concurrently(*[confirm] * 4)
    assert len([o for o in outcomes if isinstance(o, int)]) == 1, outcomes
    assert all(o in (portal_cart.CART_EMPTY, portal_cart.CART_CHANGED) for o in outcomes if not isinstance(o, int)), (
        outcomes
    )
    assert b2b_stock(ctx, shop)["TAL-001"] == 7


def test_a_line_added_while_confirming_is_never_ordered_unseen(ctx: AppContext, make_shop: Callable[..., Shop]) -> None:
    shop = make_shop()
    viewer = open_viewer(ctx, shop)
    for _ in range(6):  # several rounds: each interleaving must keep the invariant
        with ctx.db.writing() as session:
            portal_cart.add_to_cart(session, ctx.settings, viewer, shop.products["TAL-001"], "1")
        with ctx.db.reading() as session:
            shown = portal_cart.cart_view(session, viewer).shown

        def confirm(shown: portal_cart.ShownCart = shown) -> object:
            with ctx.db.writing() as session:
                return portal_checkout.place_order(session, ctx.settings, viewer, shown)

        def add_elsewhere() -> object:
            with ctx.db.writing() as session:
                return portal_cart.add_to_cart(session, ctx.settings, viewer, shop.products["BUJ-002"], "1")

        placed, _ = _concurrently(confirm, add_elsewhere)
        cart = cart_of(ctx, shop)
        if isinstance(placed, int):
            # The order holds what was shown; the plug added meanwhile waits in the cart.
            assert cart == {"BUJ-002": 1}, (placed, cart)
        else:
            assert placed == portal_cart.CART_CHANGED
            assert cart == {"TAL-001": 1, "BUJ-002": 1}, cart
        with ctx.db.writing() as session:  # start the next round from an empty cart
            for product_id in (shop.products["TAL-001"], shop.products["BUJ-002"]):
                portal_cart.remove_from_cart(session, viewer, product_id)
    placed_orders = _orders_count(ctx)
    assert b2b_stock(ctx, shop)["BUJ-002"] == 3  # never reserved: no order ever held an unseen plug
    assert b2b_stock(ctx, shop)["TAL-001"] == 10 - placed_orders
