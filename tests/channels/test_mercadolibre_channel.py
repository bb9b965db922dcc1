"""The Mercado Libre channel's listings against a fake API: creating an item from the hub's product (every field,
the category mapping or the cached prediction), refusing before creating anything when data is missing, updates
that send the listing's latest state and only what differs, seller pause vs. stock pause, the token refreshed
once after a 401, and Mercado Libre's errors as transient or permanent delivery errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, select

from alephee.channels import connections
from alephee.channels.models import ChannelCategoryMapping
from alephee.clock import utcnow
from alephee.http.context import AppContext
from alephee.listings.marketplace_state import keep_state
from alephee.listings.models import Listing
from alephee.marketplaces.contract import (
    ConnectionHeld,
    ListingPush,
    ListingStatusPush,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from alephee.marketplaces.registry import get_channel
from alephee.products.models import Product
from tests.channels.mercadolibre_fake import FakeMercadoLibre, Linked, add_listing, link, reply
from tests.fixtures.products import add_product
from tests.fixtures.tenants import Tenant

PICTURES = ["https://img.example/taladro-1.jpg", "https://img.example/taladro-2.jpg"]


@dataclass
class Shop:
    linked: Linked
    product_id: int
    listing_id: int

    @property
    def fake(self) -> FakeMercadoLibre:
        return self.linked.fake


def make_shop(
    ctx: AppContext,
    make_tenant: Callable[..., Tenant],
    *,
    pictures: list[str] | None = PICTURES,
    category: str | None = "Herramientas/Taladros",
    condition: str | None = None,
    description: str | None = "Taladro percutor de 750 W con maletín.",
    **listing: Any,
) -> Shop:
    tenant = make_tenant(marketplaces=(1,))
    with ctx.db.writing() as session:
        product_id = add_product(session, tenant.account_id, "TAL-1", brand="Bosch", own_code="ERP-1", quantity=7)
        product = session.get(Product, product_id)
        assert product is not None
        product.pictures = pictures
        product.category = category
        product.condition = condition
        product.description = description
        product.gtin = "7898095297749"
        listing_id = add_listing(session, tenant.account_id, product_id, **listing)
    return Shop(link(ctx, tenant.account_id, FakeMercadoLibre()), product_id, listing_id)


def map_category(ctx: AppContext, shop: Shop, category: str, external: str, source: str = "seller") -> None:
    with ctx.db.writing() as session:
        session.add(
            ChannelCategoryMapping(
                account_id=shop.linked.account_id,
                marketplace_id=1,
                category=category,
                external_category_id=external,
                source=source,
                updated_at=utcnow(),
            )
        )


def set_listing(ctx: AppContext, listing_id: int, **values: Any) -> None:
    with ctx.db.writing() as session:
        if "marketplace_state" in values:  # kept as the worker keeps it, in its own table
            keep_state(session, listing_id, values.pop("marketplace_state"))
        row = session.get(Listing, listing_id)
        assert row is not None
        for key, value in values.items():
            setattr(row, key, value)


def body(request: Any) -> Any:
    return json.loads(request.content)


def push(shop: Shop) -> ListingPush:
    return ListingPush(listing_id=shop.listing_id)


def test_registered_as_the_mercadolibre_connector() -> None:
    channel = get_channel("mercadolibre")
    assert channel.connector == "mercadolibre" and channel.in_database is False


def test_create_sends_every_field_then_the_description(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> None:
    shop = make_shop(ctx, make_tenant, title="Taladro Percutor Bosch 750w " + "x" * 80, listing_type=1)
    map_category(ctx, shop, "Herramientas/Taladros", "MLA3530")

    receipt = shop.linked.channel.publish_listing(shop.linked.context, push(shop))

    [create] = shop.fake.sent("POST", "/items")[:1]
    assert create.headers["authorization"] == f"Bearer {shop.fake.valid_token}"
    assert create.headers["content-type"] == "application/json"
    sent = body(create)
    assert sent == {
        "title": ("Taladro Percutor Bosch 750w " + "x" * 80)[:60],
        "category_id": "MLA3530",
        "price": 1210.5,
        "currency_id": "ARS",
        "available_quantity": 7,
        "buying_mode": "buy_it_now",
        "condition": "new",
        "listing_type_id": "gold_pro",
        "pictures": [{"source": url} for url in PICTURES],
        "attributes": [
            {"id": "BRAND", "value_name": "Bosch"},
            {"id": "SELLER_SKU", "value_name": "ERP-1"},
            {"id": "GTIN", "value_name": "7898095297749"},
        ],
    }
    item_id = receipt.external_id
    assert item_id.startswith("MLA") and receipt.status == "active" and receipt.available_quantity == 7
    [description] = shop.fake.sent("POST", f"/items/{item_id}/description")
    assert body(description) == {"plain_text": "Taladro percutor de 750 W con maletín."}
    assert not shop.fake.sent("GET", "/sites/")  # the seller's mapping wins: no prediction asked


def test_create_predicts_the_category_once_and_caches_it(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> None:
    shop = make_shop(ctx, make_tenant, category=None, description=None, listing_type=None, condition="used")
    shop.fake.predictions = [
        {"domain_id": "MLA-DRILLS", "category_id": "MLA414038", "category_name": "Taladros", "attributes": []}
    ]

    shop.linked.channel.publish_listing(shop.linked.context, push(shop))

    [predict] = shop.fake.sent("GET", "/sites/MLA/domain_discovery/search")
    assert predict.url.params["q"] == "Taladro Percutor Bosch 750w"
    sent = body(shop.fake.sent("POST", "/items")[0])
    assert (sent["category_id"], sent["listing_type_id"], sent["condition"]) == ("MLA414038", "gold_special", "used")
    assert not shop.fake.sent("POST", "/items/MLA")  # no description to add
    with ctx.db.reading() as session:
        [cached] = session.scalars(select(ChannelCategoryMapping)).all()
        assert (cached.category, cached.external_category_id, cached.source) == (
            "title:taladro percutor bosch 750w",
            "MLA414038",
            "predicted",
        )

    # A second listing with the same title uses the cached prediction.
    set_listing(ctx, shop.listing_id, external_id="pending-second")
    shop.linked.channel.publish_listing(shop.linked.context, push(shop))
    assert len(shop.fake.sent("GET", "/sites/")) == 1 and len(shop.fake.sent("POST", "/items")) == 2


def test_missing_data_names_every_piece_and_creates_nothing(
    ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    shop = make_shop(ctx, make_tenant, pictures=None, price=None, status="paused", status_reason="no_price")
    shop.fake.predictions = []

    with pytest.raises(PermanentDeliveryError) as refused:
        shop.linked.channel.publish_listing(shop.linked.context, push(shop))

    message = refused.value.message
    assert "price" in message and "pictures" in message
    assert "category (none mapped for 'Herramientas/Taladros' and none predicted from the title)" in message
    assert not shop.fake.sent("POST", "/items") and shop.fake.items == {}
    with ctx.db.reading() as session:
        assert session.scalars(select(ChannelCategoryMapping)).all() == []


def test_created_paused_when_the_seller_paused_it_and_never_when_finished(
    ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    shop = make_shop(ctx, make_tenant, status="paused", status_reason="user")
    map_category(ctx, shop, "Herramientas/Taladros", "MLA3530")
    receipt = shop.linked.channel.publish_listing(shop.linked.context, push(shop))
    assert body(shop.fake.sent("PUT", f"/items/{receipt.external_id}")[0]) == {"status": "paused"}
    assert receipt.status == "paused"

    set_listing(ctx, shop.listing_id, external_id="pending-finished", status="finished", status_reason=None)
    finished = shop.linked.channel.publish_listing(shop.linked.context, push(shop))
    assert (finished.external_id, finished.status) == ("pending-finished", "closed")
    assert len(shop.fake.sent("POST", "/items")) == 2  # the first item and its description only


def test_update_sends_the_latest_state_and_only_what_differs(
    ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    shop = make_shop(ctx, make_tenant)
    map_category(ctx, shop, "Herramientas/Taladros", "MLA3530")
    item_id = shop.linked.channel.publish_listing(shop.linked.context, push(shop)).external_id
    set_listing(ctx, shop.listing_id, external_id=item_id)

    # Ten queued changes were made; the delivery of any of them sends what the listing holds now.
    set_listing(ctx, shop.listing_id, price=Decimal("1300"), available_quantity=4)
    stale = ListingPush(listing_id=shop.listing_id, price=Decimal("999"), quantity=1)
    receipt = shop.linked.channel.publish_listing(shop.linked.context, stale)

    [update] = shop.fake.sent("PUT", f"/items/{item_id}")
    assert body(update) == {"available_quantity": 4, "price": 1300}
    assert (receipt.external_id, receipt.status, receipt.available_quantity) == (item_id, "active", 4)

    # Nothing differs any more: no write at all.
    shop.linked.channel.publish_listing(shop.linked.context, stale)
    assert len(shop.fake.sent("PUT", f"/items/{item_id}")) == 1


def test_seller_pause_vs_stock_pause(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> None:
    shop = make_shop(ctx, make_tenant, external_id="MLA1000000001")
    item = {
        "id": "MLA1000000001",
        "status": "active",
        "sub_status": [],
        "available_quantity": 7,
        "price": 1210.5,
    }
    shop.fake.items["MLA1000000001"] = dict(item)
    channel, context = shop.linked.channel, shop.linked.context

    # The hub paused it for stock: quantity 0, Mercado Libre pauses it itself (out_of_stock).
    set_listing(ctx, shop.listing_id, status="paused", status_reason="stock")
    receipt = channel.publish_listing(context, push(shop))
    assert body(shop.fake.sent("PUT", "/items/")[-1]) == {"available_quantity": 0}
    assert receipt.status == "paused"

    # Restocked: the quantity alone reactivates it.
    set_listing(ctx, shop.listing_id, status="active", status_reason=None, available_quantity=5)
    channel.publish_listing(context, push(shop))
    assert body(shop.fake.sent("PUT", "/items/")[-1]) == {"available_quantity": 5}
    assert shop.fake.items["MLA1000000001"]["status"] == "active"

    # The seller paused it: status paused (stays paused even when stock changes).
    set_listing(ctx, shop.listing_id, status="paused", status_reason="user")
    channel.set_listing_status(context, ListingStatusPush(status="paused", listing_id=shop.listing_id, reason="user"))
    assert body(shop.fake.sent("PUT", "/items/")[-1]) == {"status": "paused"}
    assert shop.fake.items["MLA1000000001"]["sub_status"] == ["paused_by_seller"]

    # Undone by the seller: active.
    set_listing(ctx, shop.listing_id, status="active", status_reason=None)
    channel.set_listing_status(context, ListingStatusPush(status="active", listing_id=shop.listing_id))
    assert body(shop.fake.sent("PUT", "/items/")[-1]) == {"status": "active"}

    # Finished in the hub: closed, and nothing else.
    set_listing(ctx, shop.listing_id, status="finished", available_quantity=2)
    channel.set_listing_status(context, ListingStatusPush(status="closed", listing_id=shop.listing_id))
    assert body(shop.fake.sent("PUT", "/items/")[-1]) == {"status": "closed"}


def test_variations_are_sent_all_together_with_each_childs_state(
    ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    shop = make_shop(ctx, make_tenant, external_id="MLA1000000001")
    shop.fake.items["MLA1000000001"] = {
        "id": "MLA1000000001",
        "status": "active",
        "sub_status": [],
        "available_quantity": 9,
        "price": 1210.5,
        "variations": [
            {"id": 79253320985, "price": 1210.5, "available_quantity": 4},
            {"id": 79253320986, "price": 1210.5, "available_quantity": 5},
        ],
    }
    with ctx.db.writing() as session:
        child = add_listing(
            session,
            shop.linked.account_id,
            shop.product_id,
            external_id="79253320985",
            quantity=1,
            parent_id=shop.listing_id,
            child_kind="variation",
        )

    # A change of one variation is delivered through its item, with every variation id.
    shop.linked.channel.publish_listing(shop.linked.context, ListingPush(listing_id=child))
    [update] = shop.fake.sent("PUT", "/items/MLA1000000001")
    assert body(update) == {
        "variations": [
            {"id": 79253320985, "available_quantity": 1, "price": 1210.5},
            {"id": 79253320986, "available_quantity": 5, "price": 1210.5},
        ]
    }


def test_price_refused_by_a_price_automation(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> None:
    shop = make_shop(ctx, make_tenant, external_id="MLA1000000001")
    shop.fake.items["MLA1000000001"] = {"id": "MLA1000000001", "status": "active", "sub_status": [], "price": 1000}
    shop.fake.items["MLA1000000001"]["available_quantity"] = 7
    shop.fake.fail(
        "PUT",
        "/items/",
        reply(
            400,
            {
                "message": "Validation error",
                "error": "validation_error",
                "status": 400,
                "cause": [{"code": "item.price.automation", "message": "Item has an active price automation"}],
            },
        ),
    )
    with pytest.raises(PermanentDeliveryError, match=r"^price not updated: item\.price\.automation: Item has an"):
        shop.linked.channel.publish_listing(shop.linked.context, push(shop))

    # With other fields the PUT succeeds but ignores the price, with a warning.
    set_listing(ctx, shop.listing_id, available_quantity=3)
    shop.fake.put_extra = {"warnings": [{"code": "price.ignored", "message": "price automation active: not updated"}]}
    with pytest.raises(PermanentDeliveryError, match=r"price not updated: price\.ignored"):
        shop.linked.channel.publish_listing(shop.linked.context, push(shop))
    assert shop.fake.items["MLA1000000001"]["available_quantity"] == 3


def test_a_401_refreshes_the_token_once_and_retries(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> None:
    shop = make_shop(ctx, make_tenant, external_id="MLA1000000001")
    shop.fake.items["MLA1000000001"] = {"id": "MLA1000000001", "status": "active", "sub_status": [], "price": 1210.5}
    shop.fake.items["MLA1000000001"]["available_quantity"] = 1
    shop.fake.valid_token = "APP_USR-revoked-elsewhere"  # the stored token no longer works

    shop.linked.channel.publish_listing(shop.linked.context, push(shop))

    assert shop.fake.token_calls == 1
    [refresh] = shop.fake.sent("POST", "/oauth/token")
    assert b"grant_type=refresh_token" in refresh.content
    reads = shop.fake.sent("GET", "/items/MLA1000000001")
    assert [r.headers["authorization"] for r in reads] == [
        "Bearer APP_USR-first",
        "Bearer APP_USR-refreshed-1",
    ]
    assert body(shop.fake.sent("PUT", "/items/")[0]) == {"available_quantity": 7}


def test_429_is_transient_with_its_retry_after(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> None:
    shop = make_shop(ctx, make_tenant, external_id="MLA1000000001")
    too_many = {"message": "Too Many Requests", "error": "too_many_requests", "status": 429, "cause": []}
    shop.fake.fail("GET", "/items/", reply(429, too_many, **{"Retry-After": "7"}))
    with pytest.raises(TransientDeliveryError) as waited:
        shop.linked.channel.publish_listing(shop.linked.context, push(shop))
    assert waited.value.retry_after == 7 and "429" in waited.value.message
    assert not isinstance(waited.value, PermanentDeliveryError)

    shop.fake.fail("GET", "/items/", reply(409, {"message": "item optimistic locking error: conflict", "status": 409}))
    with pytest.raises(TransientDeliveryError) as raced:
        shop.linked.channel.publish_listing(shop.linked.context, push(shop))
    assert raced.value.retry_after is None

    shop.fake.fail("GET", "/items/", reply(503, {"message": "service_not_available", "status": 503}))
    with pytest.raises(TransientDeliveryError):
        shop.linked.channel.publish_listing(shop.linked.context, push(shop))


def test_400_is_permanent_and_names_every_cause(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> None:
    shop = make_shop(ctx, make_tenant)
    map_category(ctx, shop, "Herramientas/Taladros", "MLA99")
    shop.fake.fail(
        "POST",
        "/items",
        reply(
            400,
            {
                "message": "Validation error",
                "error": "validation_error",
                "status": 400,
                "cause": [
                    {"type": "error", "code": "item.category_id.invalid", "message": "Category MLA99 does not exist"},
                    {"type": "warning", "code": "item.title.length", "message": "Title is long"},
                    {
                        "type": "error",
                        "code": "error.item.attribute.business_conditional.value_name",
                        "message": "Attribute [GENDER] is not valid",
                    },
                ],
            },
        ),
    )
    with pytest.raises(PermanentDeliveryError) as refused:
        shop.linked.channel.publish_listing(shop.linked.context, push(shop))
    assert refused.value.message == (
        "Mercado Libre refused to publish the listing: item.category_id.invalid: Category MLA99 does not exist; "
        "error.item.attribute.business_conditional.value_name: Attribute [GENDER] is not valid"
    )


def test_a_disconnected_connection_holds_the_row(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> None:
    shop = make_shop(ctx, make_tenant, external_id="MLA1000000001")
    with ctx.db.writing() as session:
        connections.disconnect(session, shop.linked.account_id, 1, now=utcnow(), reason="invalid_grant")
    with pytest.raises(ConnectionHeld) as held:
        shop.linked.channel.publish_listing(shop.linked.context, push(shop))
    assert isinstance(held.value, TransientDeliveryError) and "disconnected" in held.value.message
    assert shop.fake.requests == []


def test_a_lost_grant_on_refresh_holds_the_row(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> None:
    shop = make_shop(ctx, make_tenant, external_id="MLA1000000001")
    shop.fake.valid_token = "APP_USR-revoked"
    invalid_grant = {"error": "invalid_grant", "error_description": "the refresh token is invalid", "status": 400}
    shop.fake.fail("POST", "/oauth/token", reply(400, invalid_grant))
    with pytest.raises(ConnectionHeld):
        shop.linked.channel.publish_listing(shop.linked.context, push(shop))
    with ctx.db.reading() as session:
        assert connections.connection_of(session, shop.linked.account_id, 1).status == "disconnected"


def test_update_compares_with_the_kept_state_and_reads_only_when_refused(
    ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    shop = make_shop(ctx, make_tenant, external_id="MLA1000000001")
    item = {
        "id": "MLA1000000001",
        "status": "active",
        "sub_status": [],
        "available_quantity": 7,
        "price": 1210.5,
        "last_updated": "2026-12-04T10:00:00.000-03:00",
    }
    shop.fake.items["MLA1000000001"] = dict(item)
    channel, context = shop.linked.channel, shop.linked.context

    # Nothing kept yet: read first; the answer is what the hub keeps (versioned by last_updated, in UTC).
    set_listing(ctx, shop.listing_id, available_quantity=5)
    receipt = channel.publish_listing(context, push(shop))
    assert len(shop.fake.sent("GET", "/items/")) == 1
    assert receipt.state_listing_id == shop.listing_id and receipt.state is not None
    assert receipt.state["version"] == "2026-12-04T13:00:00.000000+00:00"
    assert receipt.state["available_quantity"] == 5 and receipt.state["status"] == "active"

    # Kept: the next change is compared with it, with no read.
    set_listing(ctx, shop.listing_id, available_quantity=3, marketplace_state=receipt.state)
    channel.publish_listing(context, push(shop))
    assert len(shop.fake.sent("GET", "/items/")) == 1
    assert body(shop.fake.sent("PUT", "/items/")[-1]) == {"available_quantity": 3}

    # Same state as kept: no call at all.
    set_listing(ctx, shop.listing_id, available_quantity=5)
    before = len(shop.fake.requests)
    assert channel.publish_listing(context, push(shop)).state is None
    assert len(shop.fake.requests) == before

    # The kept state is stale (refused): the item is read and compared again, once.
    set_listing(ctx, shop.listing_id, available_quantity=2)
    refusal = {"message": "Validation error", "error": "validation_error", "status": 400, "cause": []}
    shop.fake.fail("PUT", "/items/", reply(400, refusal))
    channel.publish_listing(context, push(shop))
    assert len(shop.fake.sent("GET", "/items/")) == 2
    assert shop.fake.items["MLA1000000001"]["available_quantity"] == 2


def test_a_batch_reads_its_listings_with_a_fixed_number_of_statements(
    ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    # The listings read first are the ones each change then finds in the session: no statement per listing.
    shop = make_shop(ctx, make_tenant)
    channel, context = shop.linked.channel, shop.linked.context
    with ctx.db.writing() as session:
        listings = [shop.listing_id] + [
            add_listing(session, shop.linked.account_id, shop.product_id, external_id=f"MLA{700 + n}")
            for n in range(1, 12)
        ]
    for n, listing_id in enumerate(listings):
        item_id = f"MLA{700 + n}"
        shop.fake.items[item_id] = {"id": item_id, "status": "active", "sub_status": [], "available_quantity": 7}
        set_listing(ctx, listing_id, external_id=item_id, available_quantity=2)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engines = (ctx.db.read_engine, ctx.db.write_engine)
    for engine in engines:
        event.listen(engine, "before_cursor_execute", seen)
    try:
        results = channel.push_listings(context, [ListingPush(listing_id=n) for n in listings])
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", seen)

    assert all(r.__class__.__name__ == "ListingReceipt" for r in results)
    assert all(shop.fake.items[f"MLA{700 + n}"]["available_quantity"] == 2 for n in range(len(listings)))
    # The listings, their kept copies, their variations and the connection: four, whatever the group's size.
    assert len(statements) == 4, statements


def test_an_item_with_variations_is_always_read_first(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> None:
    shop = make_shop(ctx, make_tenant, external_id="MLA1000000001")
    shop.fake.items["MLA1000000001"] = {
        "id": "MLA1000000001",
        "status": "active",
        "sub_status": [],
        "price": 1210.5,
        "last_updated": "2026-12-04T10:00:00.000-03:00",
        "variations": [{"id": 79253320985, "price": 1210.5, "available_quantity": 4}],
    }
    receipt = shop.linked.channel.publish_listing(shop.linked.context, push(shop))
    assert receipt.state == {}  # nothing to keep: what was kept is forgotten
    set_listing(ctx, shop.listing_id, marketplace_state=receipt.state, price=Decimal(9))
    shop.linked.channel.publish_listing(shop.linked.context, push(shop))
    assert len(shop.fake.sent("GET", "/items/")) == 2


def test_a_batch_reads_once_pushes_each_item_and_fails_only_the_refused_one(
    ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    shop = make_shop(ctx, make_tenant)
    channel, context = shop.linked.channel, shop.linked.context
    items = []
    with ctx.db.writing() as session:
        listings = [shop.listing_id] + [
            add_listing(session, shop.linked.account_id, shop.product_id, external_id=f"MLA{500 + n}") for n in (1, 2)
        ]
    for n, listing_id in enumerate(listings):
        item_id = f"MLA{500 + n}"
        shop.fake.items[item_id] = {
            "id": item_id,
            "status": "active",
            "sub_status": [],
            "available_quantity": 7,
            "price": 1210.5,
        }
        set_listing(ctx, listing_id, external_id=item_id, available_quantity=2)
        items.append(item_id)
    shop.fake.fail(
        "PUT", f"/items/{items[1]}", reply(400, {"message": "Item under review", "error": "bad", "cause": []})
    )
    changes = [ListingPush(listing_id=n) for n in listings] + [ListingPush(listing_id=10**9)]

    results = channel.push_listings(context, changes)

    assert [type(r).__name__ for r in results] == [
        "ListingReceipt",
        "PermanentDeliveryError",
        "ListingReceipt",
        "PermanentDeliveryError",
    ]
    assert results[3].message == f"listing {10**9} not found"
    assert shop.fake.items[items[0]]["available_quantity"] == 2 and shop.fake.items[items[2]]["available_quantity"] == 2
    assert shop.fake.items[items[1]]["available_quantity"] == 7
