"""A variation master published on Mercado Libre through the channel against the local stand-in: one item whose
variations carry each variation's attributes, stock, SKU and pictures at one price; their ids kept on the hub's
child listings (so a later stock change updates each variation by id); nothing created when a variation lacks
data; and a sale of one variation taking stock from that variation in the hub."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from alephee.channels.models import ChannelCategoryMapping
from alephee.clock import utcnow
from alephee.http.context import AppContext
from alephee.listings.models import Listing
from alephee.listings.publish import PENDING_PREFIX, publish_product
from alephee.listings.variations import VARIATION_KIND
from alephee.marketplaces.contract import ListingPush, PermanentDeliveryError
from alephee.products.models import Product
from alephee.products.schemas import VARIATION_MASTER
from alephee.sync.order_feed import OrderSync
from tests.channels.mercadolibre_standin_kit import MLA, Linked, linked_standin
from tests.fixtures.products import add_price_list, add_product, quantity_of
from tests.fixtures.tenants import Tenant

CATEGORY = "Ropa > Remeras"
MASTER_PICTURES = ["https://img.example/remera.jpg"]


@dataclass
class Catalog:
    linked: Linked
    master_id: int
    children: dict[str, int]
    listing_id: int


@pytest.fixture
def linked(ctx: AppContext, tmp_path: Path, make_tenant: Callable[..., Tenant]) -> Iterator[Linked]:
    with linked_standin(ctx, tmp_path, make_tenant) as kit:
        yield kit


def catalog(
    ctx: AppContext,
    linked: Linked,
    children: dict[str, tuple[dict[str, str], int, str]],
) -> Catalog:
    """A master with ``children`` (SKU → attributes, stock, price) published on marketplace 1."""
    account_id = linked.tenant.account_id
    with ctx.db.writing() as session:
        general = add_price_list(session, account_id, "General")
        master_id = add_product(
            session, account_id, "REM", product_type=VARIATION_MASTER, prices={general: "15900"}, name="Remera"
        )
        master = session.get(Product, master_id)
        assert master is not None
        master.pictures, master.category, master.description = MASTER_PICTURES, CATEGORY, "Remera de algodón."
        ids: dict[str, int] = {}
        for sku, (attributes, quantity, price) in children.items():
            ids[sku] = add_product(
                session,
                account_id,
                sku,
                product_type=5,
                parent_id=master_id,
                quantity=quantity,
                prices={general: price},
                attributes=[{"Name": name, "Value": value} for name, value in attributes.items()],
            )
            child = session.get(Product, ids[sku])
            assert child is not None
            child.pictures = [f"https://img.example/{sku.lower()}.jpg"]
        session.add(
            ChannelCategoryMapping(
                account_id=account_id,
                marketplace_id=1,
                category=CATEGORY,
                external_category_id="MLA109027",
                source="seller",
                updated_at=utcnow(),
            )
        )
        listing = publish_product(session, account_id, master_id, 1)
        # Tests connect marketplace 1 through a stand-in channel that does not assign ids: wait for Mercado Libre's.
        listing.external_id = f"{PENDING_PREFIX}{listing.id}"
        listing_id = listing.id
    return Catalog(linked, master_id, ids, listing_id)


def sent_to(linked: Linked) -> list[httpx.Request]:
    sent: list[httpx.Request] = []
    linked.http.event_hooks["request"].append(sent.append)
    return sent


def stored_item(linked: Linked, item_id: str) -> dict[str, Any]:
    with linked.standin.store.begin() as tx:
        item = tx.get("item", item_id)
    assert item is not None
    return item


def children_of(ctx: AppContext, listing_id: int) -> dict[int, Listing]:
    with ctx.db.reading() as session:
        rows = session.scalars(
            select(Listing).where(Listing.parent_id == listing_id, Listing.child_kind == VARIATION_KIND)
        ).all()
        return {row.product_id: row for row in rows}


TWO = {
    "REM-NEG-M": ({"Color": "Negro", "Talle": "M"}, 3, "15900"),
    "REM-NEG-L": ({"Color": "Negro", "Talle": "L"}, 0, "15900"),
}


def test_a_master_is_published_as_one_item_with_its_variations(ctx: AppContext, linked: Linked) -> None:
    shop = catalog(ctx, linked, TWO)
    receipt = linked.channel.publish_listing(linked.ctx, ListingPush(listing_id=shop.listing_id))

    item = stored_item(linked, receipt.external_id)
    assert item["price"] == 15900 and item["available_quantity"] == 3
    assert [p["url"] for p in item["pictures"]] == [
        *MASTER_PICTURES,
        "https://img.example/rem-neg-m.jpg",
        "https://img.example/rem-neg-l.jpg",
    ]
    by_sku = {v["attributes"][0]["value_name"]: v for v in item["variations"]}
    assert set(by_sku) == set(TWO)
    medium = by_sku["REM-NEG-M"]
    assert [(a["id"], a["value_name"]) for a in medium["attribute_combinations"]] == [
        ("COLOR", "Negro"),
        ("SIZE", "M"),
    ]
    assert (medium["available_quantity"], medium["price"]) == (3, 15900)
    assert medium["picture_ids"] == [item["pictures"][1]["id"]]
    with ctx.db.reading() as session:
        parent = session.get(Listing, shop.listing_id)
        # The item's id is kept with its variations' (a variation's push never finds the item still to create).
        assert parent is not None and parent.external_id == receipt.external_id
    children = children_of(ctx, shop.listing_id)
    assert {children[pid].external_id for pid in shop.children.values()} == {str(v["id"]) for v in by_sku.values()}
    assert children[shop.children["REM-NEG-M"]].external_id == str(medium["id"])


def test_after_publishing_a_variations_stock_change_updates_it_by_id(ctx: AppContext, linked: Linked) -> None:
    shop = catalog(ctx, linked, TWO)
    item_id = linked.channel.publish_listing(linked.ctx, ListingPush(listing_id=shop.listing_id)).external_id
    large = shop.children["REM-NEG-L"]
    with ctx.db.writing() as session:
        child = children_of(ctx, shop.listing_id)[large]
        row = session.get(Listing, child.id)
        assert row is not None
        row.available_quantity = 5
    sent = sent_to(linked)
    linked.channel.publish_listing(linked.ctx, ListingPush(listing_id=child.id))
    [put] = [r for r in sent if r.method == "PUT"]
    stored = stored_item(linked, item_id)
    assert {v["id"]: v["available_quantity"] for v in stored["variations"]} == {
        int(children_of(ctx, shop.listing_id)[shop.children["REM-NEG-M"]].external_id): 3,
        int(child.external_id): 5,
    }
    assert put.url.path == f"/items/{item_id}"


def test_a_variation_without_attributes_is_named_and_nothing_is_created(ctx: AppContext, linked: Linked) -> None:
    shop = catalog(ctx, linked, {**TWO, "REM-SUELTA": ({}, 1, "15900")})
    sent = sent_to(linked)
    with pytest.raises(PermanentDeliveryError, match=r"missing variation attributes \(REM-SUELTA\)"):
        linked.channel.publish_listing(linked.ctx, ListingPush(listing_id=shop.listing_id))
    assert not [r for r in sent if r.method == "POST"] and not children_of(ctx, shop.listing_id)


def test_a_fixed_price_listing_sells_every_variation_at_its_price(ctx: AppContext, linked: Linked) -> None:
    shop = catalog(ctx, linked, {**TWO, "REM-NEG-XL": ({"Color": "Negro", "Talle": "XL"}, 2, "17900")})
    with ctx.db.writing() as session:
        listing = session.get(Listing, shop.listing_id)
        assert listing is not None
        listing.price_mode = "fixed"
    receipt = linked.channel.publish_listing(linked.ctx, ListingPush(listing_id=shop.listing_id))
    item = stored_item(linked, receipt.external_id)
    assert {v["price"] for v in item["variations"]} == {15900} and len(item["variations"]) == 3


def test_a_sale_of_a_variation_takes_stock_from_that_variation(ctx: AppContext, linked: Linked) -> None:
    shop = catalog(ctx, linked, {**TWO, "REM-NEG-S": ({"Color": "Negro", "Talle": "S"}, 9, "15900")})
    receipt = linked.channel.publish_listing(linked.ctx, ListingPush(listing_id=shop.listing_id))
    item = stored_item(linked, receipt.external_id)
    medium = next(v for v in item["variations"] if v["attributes"][0]["value_name"] == "REM-NEG-M")
    order = linked.standin.buy(receipt.external_id, 2, variation_id=medium["id"])

    entry = next(
        o for o in linked.channel.pull_orders(linked.ctx, None).orders if o.external_order_id == str(order["id"])
    )
    assert entry.items[0].external_variation_id == str(medium["id"]) and entry.items[0].sku == "REM-NEG-M"
    with ctx.db.writing() as session:
        assert OrderSync(session, linked.tenant.account_id, MLA).apply(entry)
    with ctx.db.reading() as session:
        # The variation with the most stock (S, 9) is not the one sold.
        assert quantity_of(session, shop.children["REM-NEG-M"]) == 1
        assert quantity_of(session, shop.children["REM-NEG-S"]) == 9


def test_a_line_without_the_variations_sku_matches_by_the_variation_id(ctx: AppContext, linked: Linked) -> None:
    shop = catalog(ctx, linked, {**TWO, "REM-NEG-S": ({"Color": "Negro", "Talle": "S"}, 9, "15900")})
    receipt = linked.channel.publish_listing(linked.ctx, ListingPush(listing_id=shop.listing_id))
    item = stored_item(linked, receipt.external_id)
    medium = next(v for v in item["variations"] if v["attributes"][0]["value_name"] == "REM-NEG-M")
    # The seller removed the variation's SKU on Mercado Libre: the line names the item's SKU.
    with linked.standin.store.begin() as tx:
        stored = tx.get("item", receipt.external_id)
        assert stored is not None
        for variation in stored["variations"]:
            variation["attributes"] = []
        tx.put("item", stored["id"], stored, owner=stored["seller_id"])
    order = linked.standin.buy(receipt.external_id, 1, variation_id=medium["id"])
    entry = next(
        o for o in linked.channel.pull_orders(linked.ctx, None).orders if o.external_order_id == str(order["id"])
    )
    assert entry.items[0].sku == "REM"
    with ctx.db.writing() as session:
        assert OrderSync(session, linked.tenant.account_id, MLA).apply(entry)
    with ctx.db.reading() as session:
        assert quantity_of(session, shop.children["REM-NEG-M"]) == 2


def test_a_new_price_of_a_fixed_price_item_reaches_every_variation(ctx: AppContext, linked: Linked) -> None:
    shop = catalog(ctx, linked, TWO)
    with ctx.db.writing() as session:
        listing = session.get(Listing, shop.listing_id)
        assert listing is not None
        listing.price_mode = "fixed"
    item_id = linked.channel.publish_listing(linked.ctx, ListingPush(listing_id=shop.listing_id)).external_id
    with ctx.db.writing() as session:
        listing = session.get(Listing, shop.listing_id)
        assert listing is not None
        # A later PUT /v2/productlistings on the item: the child listings keep the price they were created with.
        listing.price = Decimal("18500")
    linked.channel.publish_listing(linked.ctx, ListingPush(listing_id=shop.listing_id))
    stored = stored_item(linked, item_id)
    assert {v["price"] for v in stored["variations"]} == {18500}, stored["variations"]
    assert stored["price"] == 18500
