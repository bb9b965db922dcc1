"""Tiendanube's batched delivery (``push_listings``): price/stock-only changes of many products compared with the
products' kept copies and sent together in ``PATCH /products/stock-price`` calls of at most 50 variants with no
read first; other changes (no copy, a publication to change) read the product and go alone; a refused variant
fails its own listing only, after a fresh read (its copy may be stale)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alephee.channels.tiendanube import mapping as tn
from alephee.http.context import AppContext
from alephee.listings.marketplace_state import keep_state
from alephee.listings.models import Listing
from alephee.marketplaces.contract import (
    ListingPush,
    ListingReceipt,
    ListingStatusPush,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from tests.channels.tiendanube_fake import (
    MARKETPLACE,
    FakeTiendanube,
    Linked,
    add_listing,
    link,
    product_json,
    reply,
)
from tests.fixtures.products import add_product
from tests.fixtures.tenants import Tenant

FIRST_PRODUCT = 5000


def make_store(
    ctx: AppContext, make_tenant: Callable[..., Tenant], count: int, *, kept: bool = True, quantity: int = 3
) -> tuple[Linked, list[int]]:
    """``count`` simple products P<n> listed on the store (product 5000+n, variant 9000+n, stock 7 there) whose
    hub quantity is ``quantity``; with ``kept``, each listing keeps the product's copy."""
    tenant = make_tenant(marketplaces=(MARKETPLACE,))
    fake = FakeTiendanube()
    listings = []
    with ctx.db.writing() as session:
        for n in range(count):
            product_id = FIRST_PRODUCT + n
            fake.products[product_id] = product_json(product_id, [(9000 + n, f"P{n}", "100.00", 7, [])])
            hub = add_product(session, tenant.account_id, f"P{n}", brand="Acme", quantity=quantity)
            listing_id = add_listing(
                session, tenant.account_id, hub, external_id=str(product_id), sku=f"P{n}", quantity=quantity
            )
            if kept:
                keep_state(session, listing_id, tn.kept_state(fake.products[product_id]))
            listings.append(listing_id)
    return link(ctx, tenant.account_id, fake), listings


def push(linked: Linked, listings: list[int]) -> list[Any]:
    return linked.channel.push_listings(linked.context, [ListingPush(listing_id=n) for n in listings])


def product_reads(linked: Linked) -> list[Any]:
    """The ``GET`` requests of products (the store's languages, read once per process, are not one)."""
    return [r for r in linked.fake.sent("GET") if "/products" in r.url.path]


def stock(linked: Linked, n: int) -> Any:
    return linked.fake.products[FIRST_PRODUCT + n]["variants"][0]["stock"]


def test_many_products_go_in_calls_of_at_most_50_variants_without_reading_them(
    ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    linked, listings = make_store(ctx, make_tenant, 60)

    results = push(linked, listings)

    calls = linked.fake.bodies("PATCH", "/products/stock-price")
    assert [sum(len(p["variants"]) for p in call) for call in calls] == [50, 10]
    assert not product_reads(linked)
    assert all(stock(linked, n) == 3 for n in range(60))
    first = results[0]
    assert isinstance(first, ListingReceipt) and first.state_listing_id == listings[0]
    assert first.state is not None and first.state["variants"][0]["stock"] == 3


def test_nothing_differing_from_the_copy_sends_nothing(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> None:
    linked, listings = make_store(ctx, make_tenant, 2, quantity=7)

    results = push(linked, listings)

    # Only the store's languages were read (once per process: the copy's texts are compared in them).
    assert [r.url.path for r in linked.fake.requests] == ["/v1/1234567/store"]
    # Nothing was written: the stored copies stay as they are.
    assert all(isinstance(r, ListingReceipt) and r.state is None for r in results)


def test_changes_the_copy_cannot_tell_read_the_product_and_go_alone(
    ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    linked, listings = make_store(ctx, make_tenant, 3)
    with ctx.db.writing() as session:
        no_copy = session.get(Listing, listings[1])
        hidden = session.get(Listing, listings[2])
        assert no_copy is not None and hidden is not None
        keep_state(session, no_copy.id, {})  # an empty state forgets the copy
        hidden.status, hidden.status_reason = "paused", "user"
    changes = [
        ListingPush(listing_id=listings[0]),
        ListingPush(listing_id=listings[1]),
        ListingStatusPush(status="paused", listing_id=listings[2]),
    ]

    results = linked.channel.push_listings(linked.context, changes)

    assert all(isinstance(r, ListingReceipt) for r in results)
    # Both read in one call (``GET /products?ids=``), then each delivered alone.
    [read] = product_reads(linked)
    assert read.url.path == "/v1/1234567/products"
    assert read.url.params["ids"] == f"{FIRST_PRODUCT + 1},{FIRST_PRODUCT + 2}"
    grouped = linked.fake.bodies("PATCH", "/products/stock-price")[0]
    assert grouped == [{"id": FIRST_PRODUCT, "variants": [{"id": 9000, "inventory_levels": [{"stock": 3}]}]}]
    assert linked.fake.bodies("PUT", f"/products/{FIRST_PRODUCT + 2}") == [{"published": False}]
    assert [stock(linked, n) for n in range(3)] == [3, 3, 3]


def test_a_refused_variant_fails_its_own_listing_after_a_fresh_read(
    ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    linked, listings = make_store(ctx, make_tenant, 3)
    linked.fake.refuse_variants = {9001}

    results = push(linked, listings)

    assert isinstance(results[0], ListingReceipt) and isinstance(results[2], ListingReceipt)
    assert isinstance(results[1], PermanentDeliveryError)
    assert results[1].message == "Tiendanube did not apply: P1: not applied"
    # One grouped call, then the refused listing read and sent alone.
    assert [r.url.path for r in product_reads(linked)] == [f"/v1/1234567/products/{FIRST_PRODUCT + 1}"]
    assert len(linked.fake.bodies("PATCH", "/products/stock-price")) == 2
    assert (stock(linked, 0), stock(linked, 1), stock(linked, 2)) == (3, 7, 3)


def test_a_stale_copy_is_corrected_by_the_fresh_read(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> None:
    linked, listings = make_store(ctx, make_tenant, 2)
    # The store replaced the variant of product 5001 (another id): the copy names one that no longer exists.
    linked.fake.products[FIRST_PRODUCT + 1] = product_json(FIRST_PRODUCT + 1, [(9100, "P1", "100.00", 7, [])])

    results = push(linked, listings)

    assert all(isinstance(r, ListingReceipt) for r in results)
    assert stock(linked, 1) == 3
    state = results[1].state
    assert state is not None and state["variants"][0]["id"] == 9100


def test_a_call_refused_as_a_whole_sends_each_listing_alone(
    ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    linked, listings = make_store(ctx, make_tenant, 2)
    linked.fake.fail("PATCH", "/products/stock-price", reply(422, {"code": 422, "message": "Unprocessable"}))

    results = push(linked, listings)

    assert all(isinstance(r, ListingReceipt) for r in results)
    # Read again after the refusal (both in one call), then sent alone.
    assert len(product_reads(linked)) == 1 and len(linked.fake.bodies("PATCH", "/products/stock-price")) == 3
    assert (stock(linked, 0), stock(linked, 1)) == (3, 3)


def test_a_busy_store_fails_the_listings_of_the_call_for_a_retry(
    ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    linked, listings = make_store(ctx, make_tenant, 2)
    linked.fake.fail("PATCH", "/products/stock-price", reply(429, {"code": 429}, **{"x-rate-limit-reset": "3000"}))

    results = push(linked, listings)

    assert all(isinstance(r, TransientDeliveryError) for r in results)
    assert not product_reads(linked)


def test_an_edit_the_copy_shows_is_sent_without_reading_the_product(
    ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    linked, listings = make_store(ctx, make_tenant, 2)
    with ctx.db.writing() as session:
        listing = session.get(Listing, listings[1])
        assert listing is not None
        listing.title = "Remera nueva"

    results = push(linked, listings)

    assert all(isinstance(r, ListingReceipt) for r in results)
    # Both go grouped: the copy tells the renamed one's edit, sent alone in a product PUT after the stock.
    assert product_reads(linked) == []
    assert linked.fake.bodies("PUT", f"/products/{FIRST_PRODUCT}") == []
    edits = linked.fake.bodies("PUT", f"/products/{FIRST_PRODUCT + 1}")
    assert len(edits) == 1 and set(edits[0]["name"].values()) == {"Remera nueva"} and "variants" not in edits[0]
    assert stock(linked, 0) == 3 and stock(linked, 1) == 3


def test_after_an_edit_the_next_change_goes_grouped(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> None:
    linked, listings = make_store(ctx, make_tenant, 1)
    with ctx.db.writing() as session:
        listing = session.get(Listing, listings[0])
        assert listing is not None
        listing.title = "Remera nueva"
    [edited] = push(linked, listings)
    assert isinstance(edited, ListingReceipt) and edited.state is not None
    with ctx.db.writing() as session:
        listing = session.get(Listing, listings[0])
        assert listing is not None
        keep_state(session, listing.id, edited.state)  # as the worker keeps it
        listing.available_quantity = 5
    reads = len(product_reads(linked))

    push(linked, listings)

    # The copy already shows the new name: a stock change alone needs no read.
    assert len(product_reads(linked)) == reads and stock(linked, 0) == 5


def test_products_to_read_are_read_30_a_call_and_one_left_out_alone(
    ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    linked, listings = make_store(ctx, make_tenant, 33, kept=False)
    del linked.fake.products[FIRST_PRODUCT + 32]  # deleted in the store

    results = push(linked, listings)

    reads = product_reads(linked)
    assert [len(r.url.params["ids"].split(",")) for r in reads[:2]] == [30, 3]
    assert [r.url.path for r in reads[2:]] == [f"/v1/1234567/products/{FIRST_PRODUCT + 32}"]
    assert all(isinstance(r, ListingReceipt) for r in results[:32])
    assert isinstance(results[32], PermanentDeliveryError)
    assert all(stock(linked, n) == 3 for n in range(32))


def test_a_refused_edit_from_the_copy_fails_its_listing_alone(
    ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    linked, listings = make_store(ctx, make_tenant, 2)
    with ctx.db.writing() as session:
        listing = session.get(Listing, listings[1])
        assert listing is not None
        listing.title = "Remera nueva"
    linked.fake.faults[("PUT", f"/products/{FIRST_PRODUCT + 1}")] = [reply(422, {"name": ["is invalid"]})]

    first, second = push(linked, listings)

    assert isinstance(first, ListingReceipt) and stock(linked, 0) == 3
    assert isinstance(second, PermanentDeliveryError)
    # Its price and stock went through with the others; the edit is made again when the listing is retried.
    assert stock(linked, 1) == 3
