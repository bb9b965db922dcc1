"""Tiendanube's batched read of notices (``read_notices``): the ``product/updated`` echoes of the hub's own writes
read 30 products per ``GET /products?ids=`` call (a product named twice read once), a seller's edit made in the
store still read and told, a product the list leaves out read alone (deleted: closed), a failed list call failing
only its own products, and order events read one by one as before."""

from __future__ import annotations

from collections.abc import Callable

from alephee.http.context import AppContext
from alephee.marketplaces.contract import ChannelNotice, ListingReceipt, NoticeResult, TransientDeliveryError
from tests.channels.test_tiendanube_grouped import FIRST_PRODUCT, make_store, push
from tests.channels.tiendanube_fake import order_json, reply
from tests.fixtures.tenants import Tenant


def updated(n: int) -> ChannelNotice:
    return ChannelNotice(topic="product/updated", resource=str(FIRST_PRODUCT + n))


def test_the_echoes_of_a_grouped_write_are_read_thirty_products_a_call(
    ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    linked, listings = make_store(ctx, make_tenant, 40)
    assert all(isinstance(r, ListingReceipt) for r in push(linked, listings))
    before = len(linked.fake.requests)
    # Each product written echoes once; a hot product echoes twice within the batch.
    notices = [updated(n) for n in range(40)] + [updated(0)]

    answers = linked.channel.read_notices(linked.context, notices, concurrency=4)

    reads = [r for r in linked.fake.requests[before:] if r.method == "GET"]
    assert [r.url.path for r in reads] == ["/v1/1234567/products"] * 2
    assert [len(r.url.params["ids"].split(",")) for r in reads] == [30, 10]
    assert all(isinstance(a, NoticeResult) for a in answers)
    states = [a.listings[0] for a in answers if isinstance(a, NoticeResult)]
    assert [s.external_id for s in states] == [str(FIRST_PRODUCT + n) for n in range(40)] + [str(FIRST_PRODUCT)]
    # What the hub wrote is what it reads back: the copy it keeps.
    assert all(s.available_quantity == 3 for s in states)
    assert all(s.marketplace_state and s.marketplace_state["variants"][0]["stock"] == 3 for s in states)


def test_a_sellers_edit_in_the_store_still_comes_through(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> None:
    linked, listings = make_store(ctx, make_tenant, 3)
    push(linked, listings)
    # The seller changes one product's stock and hides another in the store's admin.
    linked.fake.products[FIRST_PRODUCT + 1]["variants"][0]["stock"] = 11
    linked.fake.products[FIRST_PRODUCT + 2]["published"] = False

    answers = linked.channel.read_notices(linked.context, [updated(0), updated(1), updated(2)])

    states = [a.listings[0] for a in answers if isinstance(a, NoticeResult)]
    assert [s.available_quantity for s in states] == [3, 11, 3]
    assert states[1].marketplace_state and states[1].marketplace_state["variants"][0]["stock"] == 11
    # Hidden by the seller while the hub's listing is active: told as the seller's pause.
    assert (states[2].status, states[2].sub_status) == ("paused", ("paused_by_seller",))
    assert len([r for r in linked.fake.sent("GET") if r.url.path.endswith("/products")]) == 1


def test_a_product_left_out_is_read_alone_and_a_failed_call_fails_only_its_products(
    ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    linked, _listings = make_store(ctx, make_tenant, 2)
    del linked.fake.products[FIRST_PRODUCT + 1]  # deleted in the store after its event
    linked.fake.orders[2**40] = order_json(2**40, [(FIRST_PRODUCT, 9000, "P0", 1, "100.00")])
    order = ChannelNotice(topic="order/paid", resource=str(2**40))

    first, gone, paid = linked.channel.read_notices(linked.context, [updated(0), updated(1), order])

    assert isinstance(first, NoticeResult) and first.listings[0].available_quantity == 7
    assert isinstance(gone, NoticeResult) and (gone.listings[0].status, gone.listings[0].external_id) == (
        "closed",
        str(FIRST_PRODUCT + 1),
    )
    assert isinstance(paid, NoticeResult) and paid.orders[0].external_order_id == str(2**40)
    alone = [r.url.path for r in linked.fake.sent("GET", "/products/")]
    assert alone == [f"/v1/1234567/products/{FIRST_PRODUCT + 1}"]

    # The store answers the list call 503: its products are read again later; the order is read.
    linked.fake.fail("GET", "/products", reply(503, {"message": "busy"}))
    failed, again = linked.channel.read_notices(linked.context, [updated(0), order])
    assert isinstance(failed, TransientDeliveryError)
    assert isinstance(again, NoticeResult) and again.orders


def test_an_orders_events_in_one_batch_read_it_once(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> None:
    linked, _listings = make_store(ctx, make_tenant, 1)
    linked.fake.orders[2**40] = order_json(2**40, [(FIRST_PRODUCT, 9000, "P0", 1, "100.00")])
    events = ("order/created", "order/paid")

    answers = linked.channel.read_notices(
        linked.context, [ChannelNotice(topic=event, resource=str(2**40)) for event in events], concurrency=2
    )

    assert [a.orders[0].external_order_id for a in answers if isinstance(a, NoticeResult)] == [str(2**40)] * 2
    assert len(linked.fake.sent("GET", "/orders/")) == 1
