"""Concurrent placements never oversell the B2B stock and never place one cart twice (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import func, select

from alephee.accounts import service as accounts
from alephee.errors import DomainError
from alephee.http.context import AppContext
from alephee.orders.models import Order
from alephee.portal import cart as portal_cart
from alephee.portal import checkout as portal_checkout
from alephee.portal.sessions import Viewer
from tests.fixtures.portal import Shop, b2b_stock, open_viewer

BUYERS = 8


def _run_together(ctx: AppContext, viewers: list[Viewer]) -> list[int | str]:
    """Place every viewer's cart at the same moment, each in its own session and thread."""
    barrier = threading.Barrier(len(viewers))
    outcomes: list[int | str] = [""] * len(viewers)

    def place(index: int, viewer: Viewer) -> None:
        try:
            with ctx.db.reading() as reading:  # what this buyer's cart page shows
                shown = portal_cart.cart_view(reading, viewer).shown
            barrier.wait(timeout=10)
            with ctx.db.writing() as session:
                outcomes[index] = portal_checkout.place_order(session, ctx.settings, viewer, shown)
        except DomainError as exc:
            outcomes[index] = exc.message

    threads = [threading.Thread(target=place, args=(i, v)) for i, v in enumerate(viewers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_concurrent_buyers_never_oversell(ctx: AppContext, make_shop: Callable[..., Shop]) -> None:
    price = "price_with_taxes@Lista mayorista"
    shop = make_shop(
        catalog=[
            {"sku": "ESC-1", "brand": "Bosch", "name": "Escobilla", "b2b_quantity": 5, price: "10"},
            {"sku": "FIL-2", "brand": "Bosch", "name": "Filtro", "b2b_quantity": 100, price: "20"},
        ]
    )
    emails = [f"comprador{i}@cliente.example" for i in range(BUYERS)]
    with ctx.db.writing() as session:
        for email in emails:
            accounts.create_user(session, shop.account_id, email)
    viewers = [open_viewer(ctx, shop, email) for email in emails]
    for viewer in viewers:
        with ctx.db.writing() as session:
            # Every cart asks for 2 of the 5 brushes, plus a filter: two rows locked per order, in id order.
            portal_cart.add_to_cart(session, ctx.settings, viewer, shop.products["FIL-2"], "1")
            portal_cart.add_to_cart(session, ctx.settings, viewer, shop.products["ESC-1"], "2")

    outcomes = _run_together(ctx, viewers)

    placed = [o for o in outcomes if isinstance(o, int)]
    refused = [o for o in outcomes if isinstance(o, str)]
    assert len(placed) == 2, outcomes
    assert all("No hay stock suficiente" in message for message in refused), refused
    stock = b2b_stock(ctx, shop)
    assert stock == {"ESC-1": 1, "FIL-2": 98}
    with ctx.db.reading() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 2


def test_one_cart_is_placed_once(ctx: AppContext, make_shop: Callable[..., Shop]) -> None:
    shop = make_shop()
    viewer = open_viewer(ctx, shop)
    with ctx.db.writing() as session:
        portal_cart.add_to_cart(session, ctx.settings, viewer, shop.products["TAL-001"], "3")
    outcomes = _run_together(ctx, [viewer] * 4)
    placed = [o for o in outcomes if isinstance(o, int)]
    assert len(placed) == 1, outcomes
    assert [o for o in outcomes if isinstance(o, str)] == [portal_cart.CART_EMPTY] * 3
    assert b2b_stock(ctx, shop)["TAL-001"] == 7
