"""A sale lowers the hub's copy of the sold item (MLC-66, SYNC-31), through the real connector against the local
stand-in, whether the order comes from its notification or from the orders backstop: Mercado Libre lowers the
item's stock itself, so the hub's own stock move that follows sends nothing; a copy that already shows the sale
is not lowered twice; when the hub's stock differs from what Mercado Libre shows, the push still goes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from alephee.channels.mercadolibre.sold import lowered_copy
from alephee.http.context import AppContext
from alephee.listings.models import Listing
from alephee.products.stock import move_stock
from alephee.sync.links import link_listings
from alephee.sync.pull import Puller
from alephee.sync.worker import Worker
from tests.channels.mercadolibre_standin_kit import MLA, Linked, notify
from tests.channels.test_mercadolibre_variations import sent_to, stored_item
from tests.fixtures.mercadolibre import item_body
from tests.fixtures.products import add_price_list, add_product, quantity_of

SOLD_AT = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def linked_item(ctx: AppContext, linked: Linked, sku: str, quantity: int) -> tuple[dict[str, Any], int]:
    """An item the seller had, linked to a product with the same stock (its copy kept by the linking)."""
    attributes = [{"id": "BRAND", "value_name": "Marca"}, {"id": "SELLER_SKU", "value_name": sku}]
    item = linked.standin.create_item(item_body(attributes=attributes, available_quantity=quantity))
    with ctx.db.writing() as session:
        general = add_price_list(session, linked.tenant.account_id, "General")
        product_id = add_product(session, linked.tenant.account_id, sku, quantity=quantity, prices={general: "350"})
    assert linked.ctx.settings is not None
    link_listings(ctx.db, linked.ctx.settings, linked.channel, linked.tenant.account_id, MLA)
    drain(ctx, linked)
    return item, product_id


def drain(ctx: AppContext, linked: Linked) -> None:
    assert linked.ctx.settings is not None
    Worker(ctx.db, linked.ctx.settings, pull=False).drain()


def kept_quantity(ctx: AppContext, item_id: str) -> int | None:
    with ctx.db.reading() as session:
        listing = session.scalars(select(Listing).where(Listing.external_id == item_id)).one()
        kept = listing.marketplace_state
        return None if kept is None else kept.get("available_quantity")


def puts(sent: list[httpx.Request], item_id: str) -> int:
    return sum(1 for r in sent if r.method == "PUT" and r.url.path == f"/items/{item_id}")


def sale_told(ctx: AppContext, linked: Linked, order: dict[str, Any]) -> list[httpx.Request]:
    """Notify the order's ``orders_v2`` and let the worker finish; the requests sent to Mercado Libre meanwhile."""
    sent = sent_to(linked)
    notify(ctx, linked, "orders_v2", f"/orders/{order['id']}")
    drain(ctx, linked)
    return sent


def assert_shown_without_a_push(
    ctx: AppContext, linked: Linked, sent: list[httpx.Request], item_id: str, product_id: int, quantity: int
) -> None:
    """The hub's stock, the kept copy and Mercado Libre all show ``quantity``, and the item was not pushed."""
    with ctx.db.reading() as session:
        assert quantity_of(session, product_id) == quantity
    assert puts(sent, item_id) == 0
    assert kept_quantity(ctx, item_id) == quantity
    assert stored_item(linked, item_id)["available_quantity"] == quantity


def test_a_sale_sends_no_push_of_the_quantity_mercado_libre_already_shows(ctx: AppContext, linked: Linked) -> None:
    item, product_id = linked_item(ctx, linked, "MATE-1", 4)
    order = linked.standin.buy(item["id"], 1)

    sent = sale_told(ctx, linked, order)

    assert_shown_without_a_push(ctx, linked, sent, item["id"], product_id, 3)


def test_a_sale_found_by_the_orders_backstop_lowers_the_copy_too(ctx: AppContext, linked: Linked) -> None:
    item, product_id = linked_item(ctx, linked, "MATE-5", 4)
    linked.standin.buy(item["id"], 2)
    sent = sent_to(linked)
    assert linked.ctx.settings is not None

    stats = Puller(ctx.db, linked.ctx.settings).run()  # the notification was missed: the backstop finds the sale
    drain(ctx, linked)

    assert stats.created == 1
    with ctx.db.reading() as session:
        assert quantity_of(session, product_id) == 2
    assert puts(sent, item["id"]) == 0
    assert kept_quantity(ctx, item["id"]) == 2


def test_a_copy_that_already_shows_the_sale_is_not_lowered_again(ctx: AppContext, linked: Linked) -> None:
    item, product_id = linked_item(ctx, linked, "MATE-2", 4)
    order = linked.standin.buy(item["id"], 1)
    notify(ctx, linked, "items", f"/items/{item['id']}")  # the sale's own notification, read first
    drain(ctx, linked)
    assert kept_quantity(ctx, item["id"]) == 3

    sent = sale_told(ctx, linked, order)

    assert_shown_without_a_push(ctx, linked, sent, item["id"], product_id, 3)


def test_a_hub_stock_that_differs_from_mercado_libre_is_still_pushed(ctx: AppContext, linked: Linked) -> None:
    item, product_id = linked_item(ctx, linked, "MATE-3", 4)
    order = linked.standin.buy(item["id"], 1)
    with ctx.db.writing() as session:
        move_stock(session, linked.tenant.account_id, product_id, -1)  # another channel sold one meanwhile
    sent = sale_told(ctx, linked, order)

    with ctx.db.reading() as session:
        assert quantity_of(session, product_id) == 2
    pushed = [r for r in sent if r.method == "PUT" and r.url.path == f"/items/{item['id']}"]
    assert pushed and pushed[-1].content == b'{"available_quantity":2}'
    assert stored_item(linked, item["id"])["available_quantity"] == 2


def copy(version: datetime, quantity: int, **more: Any) -> dict[str, Any]:
    return {"version": version.isoformat(timespec="microseconds"), "id": "MLA1", "status": "active",
            "sub_status": [], "available_quantity": quantity, "price": 10} | more  # fmt: skip


def test_only_the_sales_after_the_copy_lower_it() -> None:
    older, newer = SOLD_AT - timedelta(seconds=1), SOLD_AT + timedelta(seconds=1)
    lowered = lowered_copy(copy(older, 5), [(SOLD_AT, 2), (older - timedelta(seconds=1), 1)])
    assert (
        lowered is not None and lowered["available_quantity"] == 3 and lowered["version"] == copy(older, 5)["version"]
    )
    assert lowered_copy(copy(newer, 5), [(SOLD_AT, 2)]) is None  # read after the sale: it shows it already
    assert lowered_copy(copy(SOLD_AT, 5), [(SOLD_AT, 2)]) is None  # the same moment: taken as showing it


def test_a_copy_is_left_alone_when_it_cannot_tell() -> None:
    before = SOLD_AT - timedelta(seconds=1)
    assert lowered_copy(copy(before, 2), [(SOLD_AT, 2)]) is None  # at 0 Mercado Libre pauses it: the push decides
    assert lowered_copy({}, [(SOLD_AT, 1)]) is None  # an item with variations keeps no copy
    assert lowered_copy(None, [(SOLD_AT, 1)]) is None
    assert lowered_copy(copy(before, 5) | {"version": ""}, [(SOLD_AT, 1)]) is None
    assert lowered_copy(copy(before, 5) | {"available_quantity": None}, [(SOLD_AT, 1)]) is None


def test_a_sale_of_a_capped_listing_brings_mercado_libre_back_to_the_cap(ctx: AppContext, linked: Linked) -> None:
    attributes = [{"id": "BRAND", "value_name": "Marca"}, {"id": "SELLER_SKU", "value_name": "MATE-CAP"}]
    item = linked.standin.create_item(item_body(attributes=attributes, available_quantity=5))
    with ctx.db.writing() as session:
        general = add_price_list(session, linked.tenant.account_id, "General")
        product_id = add_product(
            session, linked.tenant.account_id, "MATE-CAP", quantity=20, max_pub=5, prices={general: "350"}
        )
    assert linked.ctx.settings is not None
    link_listings(ctx.db, linked.ctx.settings, linked.channel, linked.tenant.account_id, MLA)
    drain(ctx, linked)
    order = linked.standin.buy(item["id"], 2)
    assert stored_item(linked, item["id"])["available_quantity"] == 3  # Mercado Libre took the units
    sent = sale_told(ctx, linked, order)

    with ctx.db.reading() as session:
        assert quantity_of(session, product_id) == 18
        listing = session.scalars(select(Listing).where(Listing.external_id == item["id"])).one()
        assert listing.available_quantity == 5  # still capped: the stock move changed nothing on the listing
    pushed = [r for r in sent if r.method == "PUT" and r.url.path == f"/items/{item['id']}"]
    assert len(pushed) == 1 and pushed[0].content == b'{"available_quantity":5}'
    assert stored_item(linked, item["id"])["available_quantity"] == 5


def test_a_sale_of_an_uncapped_listing_queues_nothing_more(ctx: AppContext, linked: Linked) -> None:
    item, product_id = linked_item(ctx, linked, "MATE-6", 6)
    order = linked.standin.buy(item["id"], 2)
    notify(ctx, linked, "orders_v2", f"/orders/{order['id']}")
    sent = sent_to(linked)
    drain(ctx, linked)

    with ctx.db.reading() as session:
        assert quantity_of(session, product_id) == 4
    assert puts(sent, item["id"]) == 0
