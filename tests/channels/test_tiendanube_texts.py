"""A change of a hub product's texts alone (its name, description, a variation's barcode) reaches the Tiendanube
store: the catalog write queues one ``listing.update`` for the product's Tiendanube listings (never for its
Mercado Libre ones, whose updates send no texts), and the delivery writes only what the store shows differently
(``PUT /products/{id}`` with the changed field alone; nothing when the store already shows it)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from alephee.channels.tiendanube import mapping as tn
from alephee.http.context import AppContext
from alephee.listings.marketplace_state import keep_state
from alephee.listings.models import Listing
from alephee.marketplaces.contract import ListingReceipt
from alephee.marketplaces.models import OutboxMessage
from alephee.marketplaces.topics import listing_push
from alephee.products.importer import import_catalog
from alephee.products.models import Product
from alephee.products.schemas import VARIATION_CHILD, VARIATION_MASTER
from tests.channels.tiendanube_fake import MARKETPLACE, FakeTiendanube, Linked, add_listing, link, product_json
from tests.fixtures.products import add_price_list, add_product
from tests.fixtures.tenants import Tenant

MERCADOLIBRE = 1
STORE_PRODUCT = 5000
PRODUCT_PATH = f"/products/{STORE_PRODUCT}"


@dataclass
class Shop:
    tenant: Tenant
    linked: Linked
    product_id: int
    listing_id: int
    ml_listing_id: int

    @property
    def fake(self) -> FakeTiendanube:
        return self.linked.fake


def _ml_listing(session: Any, account_id: int, product_id: int, title: str) -> int:
    listing = Listing(
        account_id=account_id,
        marketplace_id=MERCADOLIBRE,
        product_id=product_id,
        external_id="MLA900000001",
        title=title,
        sku="P0",
        price=Decimal("100"),
        available_quantity=7,
        status="active",
    )
    session.add(listing)
    session.flush()
    return listing.id


@pytest.fixture
def shop(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> Shop:
    """Product P0 (priced and stocked as both listings show it) listed on the Tiendanube store, whose product and
    the hub's kept copy agree with the hub, and on Mercado Libre; no outbox row is pending."""
    tenant = make_tenant(marketplaces=(MARKETPLACE, MERCADOLIBRE))
    fake = FakeTiendanube()
    fake.products[STORE_PRODUCT] = product_json(STORE_PRODUCT, [(9000, "P0", "100.00", 7, [])])
    with ctx.db.writing() as session:
        price_list = add_price_list(session, tenant.account_id, "Lista", is_default=True)
        product_id = add_product(
            session, tenant.account_id, "P0", brand="Acme", name="Remera básica", quantity=7, prices={price_list: "100"}
        )
        product = session.get(Product, product_id)
        assert product is not None
        product.description = "Algodón"
        listing_id = add_listing(
            session, tenant.account_id, product_id, external_id=str(STORE_PRODUCT), sku="P0", title="Remera básica"
        )
        keep_state(session, listing_id, tn.kept_state(fake.products[STORE_PRODUCT]))
        ml_listing_id = _ml_listing(session, tenant.account_id, product_id, "Remera básica")
        session.execute(OutboxMessage.__table__.delete())
    return Shop(tenant, link(ctx, tenant.account_id, fake), product_id, listing_id, ml_listing_id)


def pending(ctx: AppContext) -> list[OutboxMessage]:
    with ctx.db.reading() as session:
        rows = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        session.expunge_all()
        return rows


def deliver(shop: Shop, rows: list[OutboxMessage]) -> list[Any]:
    """Deliver the Tiendanube rows as the worker's batched delivery does."""
    changes = [listing_push(r.payload, r.aggregate_id) for r in rows if r.marketplace_id == MARKETPLACE]
    return shop.linked.channel.push_listings(shop.linked.context, changes)


def store_writes(shop: Shop) -> list[tuple[str, str, Any]]:
    """Every write sent to the store, in order (method, path under the store, body)."""
    return [
        (r.method, shop.fake._path(r), json.loads(r.content) if r.content else None)
        for r in shop.fake.requests
        if r.method != "GET"
    ]


def keep(ctx: AppContext, shop: Shop, results: list[Any]) -> None:
    """Keep each receipt's copy as the worker does."""
    with ctx.db.writing() as session:
        for result in results:
            assert isinstance(result, ListingReceipt), result
            if result.state is not None and result.state_listing_id is not None:
                keep_state(session, result.state_listing_id, result.state)


def texts(text: str) -> dict[str, str]:
    """A text as the hub writes it: in each of the store's languages."""
    return {"es": text, "pt": text}


def product_reads(shop: Shop) -> int:
    return len([r for r in shop.fake.sent("GET") if "/products" in r.url.path])


def import_rows(ctx: AppContext, shop: Shop, *rows: dict[str, Any]) -> None:
    with ctx.db.writing() as session:
        report = import_catalog(session, ctx.settings, shop.tenant.account_id, list(enumerate(rows, start=1)))
        assert not report.errors, report.errors


def titles(ctx: AppContext, shop: Shop) -> tuple[str, str]:
    with ctx.db.reading() as session:
        tn_listing = session.get(Listing, shop.listing_id)
        ml_listing = session.get(Listing, shop.ml_listing_id)
        assert tn_listing is not None and ml_listing is not None
        return tn_listing.title, ml_listing.title


def test_a_rename_alone_puts_only_the_new_name(ctx: AppContext, shop: Shop) -> None:
    import_rows(ctx, shop, {"sku": "P0", "brand": "Acme", "name": "Remera premium"})

    [row] = pending(ctx)
    assert (row.marketplace_id, row.aggregate_id, row.topic) == (MARKETPLACE, shop.listing_id, "listing.update")
    # The Tiendanube listing was titled after the product: it follows; Mercado Libre's keeps what its item shows.
    assert titles(ctx, shop) == ("Remera premium", "Remera básica")

    keep(ctx, shop, deliver(shop, [row]))

    # The kept copy tells what differs: no read of the product first.
    assert store_writes(shop) == [("PUT", PRODUCT_PATH, {"name": texts("Remera premium")})]
    assert product_reads(shop) == 0
    assert shop.fake.products[STORE_PRODUCT]["name"] == texts("Remera premium")
    # The copy now holds what was written: delivering again sends nothing.
    deliver(shop, [row])
    assert len(store_writes(shop)) == 1 and product_reads(shop) == 0


def test_a_description_alone_puts_only_the_description(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    body = [{"SKU": "P0", "ProductAdditionalData": {"Description": "Algodón peinado"}}]
    response = client.post("/v2/products", params=shop.tenant.q(), json=body)
    assert response.status_code == 200, response.text

    [row] = pending(ctx)
    assert (row.marketplace_id, row.aggregate_id) == (MARKETPLACE, shop.listing_id)

    deliver(shop, [row])

    assert store_writes(shop) == [("PUT", PRODUCT_PATH, {"description": texts("Algodón peinado")})]
    assert product_reads(shop) == 0


def test_the_same_description_again_queues_nothing(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    body = [{"SKU": "P0", "ProductAdditionalData": {"Description": "Algodón"}}]
    response = client.post("/v2/products", params=shop.tenant.q(), json=body)
    assert response.status_code == 200, response.text

    assert pending(ctx) == []


def test_a_change_the_store_already_shows_sends_nothing(ctx: AppContext, shop: Shop) -> None:
    # The seller wrote the new text in the store first; the kept copy learnt it from the product's event.
    shop.fake.products[STORE_PRODUCT]["description"] = {"es": "Algodón peinado"}
    with ctx.db.writing() as session:
        keep_state(session, shop.listing_id, tn.kept_state(shop.fake.products[STORE_PRODUCT]))

    import_rows(ctx, shop, {"sku": "P0", "brand": "Acme", "description": "Algodón peinado"})
    rows = pending(ctx)
    assert [(r.marketplace_id, r.aggregate_id) for r in rows] == [(MARKETPLACE, shop.listing_id)]

    deliver(shop, rows)

    assert store_writes(shop) == [] and product_reads(shop) == 0


def test_a_listing_with_a_title_of_its_own_keeps_it_and_a_rename_queues_nothing(ctx: AppContext, shop: Shop) -> None:
    with ctx.db.writing() as session:
        listing = session.get(Listing, shop.listing_id)
        assert listing is not None
        listing.title = "Remera de la tienda"

    import_rows(ctx, shop, {"sku": "P0", "brand": "Acme", "name": "Remera premium"})

    assert pending(ctx) == []
    assert titles(ctx, shop) == ("Remera de la tienda", "Remera básica")


def test_a_product_only_on_mercadolibre_queues_nothing_for_a_text_change(ctx: AppContext, shop: Shop) -> None:
    with ctx.db.writing() as session:
        session.delete(session.get(Listing, shop.listing_id))

    import_rows(ctx, shop, {"sku": "P0", "brand": "Acme", "name": "Remera premium", "description": "Otra"})

    assert pending(ctx) == []
    assert titles_ml(ctx, shop) == "Remera básica"


def titles_ml(ctx: AppContext, shop: Shop) -> str:
    with ctx.db.reading() as session:
        listing = session.get(Listing, shop.ml_listing_id)
        assert listing is not None
        return listing.title


def test_a_stock_and_text_change_queues_one_row_and_sends_both(ctx: AppContext, shop: Shop) -> None:
    import_rows(ctx, shop, {"sku": "P0", "brand": "Acme", "name": "Remera premium", "quantity": 4})

    rows = pending(ctx)
    by_marketplace = sorted((r.marketplace_id, r.aggregate_id) for r in rows)
    assert by_marketplace == [(MERCADOLIBRE, shop.ml_listing_id), (MARKETPLACE, shop.listing_id)]

    deliver(shop, rows)

    writes = store_writes(shop)
    assert [(method, path) for method, path, _ in writes] == [("PATCH", "/products/stock-price"), ("PUT", PRODUCT_PATH)]
    assert writes[1][2] == {"name": texts("Remera premium")} and product_reads(shop) == 0
    assert shop.fake.products[STORE_PRODUCT]["variants"][0]["stock"] == 4


def test_a_variation_barcode_pushes_its_masters_listing(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> None:
    tenant = make_tenant(marketplaces=(MARKETPLACE,))
    fake = FakeTiendanube()
    fake.products[STORE_PRODUCT] = product_json(
        STORE_PRODUCT, [(9001, "REM-S", "100.00", 3, ["S"]), (9002, "REM-M", "100.00", 3, ["M"])], attributes=["Talle"]
    )
    with ctx.db.writing() as session:
        price_list = add_price_list(session, tenant.account_id, "Lista", is_default=True)
        master = add_product(
            session,
            tenant.account_id,
            "REM",
            brand="Acme",
            name="Remera básica",
            product_type=VARIATION_MASTER,
            prices={price_list: "100"},
        )
        for size in ("S", "M"):
            add_product(
                session,
                tenant.account_id,
                f"REM-{size}",
                brand="Acme",
                product_type=VARIATION_CHILD,
                parent_id=master,
                quantity=3,
                attributes=[{"Name": "Talle", "Value": size}],
                prices={price_list: "100"},
            )
        session.get(Product, master).description = "Algodón"  # type: ignore[union-attr]
        listing_id = add_listing(
            session, tenant.account_id, master, external_id=str(STORE_PRODUCT), sku="REM", quantity=6
        )
        keep_state(session, listing_id, tn.kept_state(fake.products[STORE_PRODUCT]))
        session.execute(OutboxMessage.__table__.delete())
    linked = link(ctx, tenant.account_id, fake)
    shop = Shop(tenant, linked, master, listing_id, 0)

    import_rows(ctx, shop, {"sku": "REM-M", "brand": "Acme", "gtin": "7790001000028"})

    rows = pending(ctx)
    assert [(r.marketplace_id, r.aggregate_id) for r in rows] == [(MARKETPLACE, listing_id)]
    deliver(shop, rows)
    assert store_writes(shop) == [("PUT", f"{PRODUCT_PATH}/variants/9002", {"barcode": "7790001000028"})]
