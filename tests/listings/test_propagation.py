"""Stock and price changes of the catalog reach listings (LST-14 to LST-21), with an outbox row per change."""

from __future__ import annotations

from decimal import Decimal

from fastapi.testclient import TestClient

from alephee.http.context import AppContext
from alephee.listings import publish, statuses
from alephee.products import stock as products
from alephee.products.schemas import VARIATION_CHILD, VARIATION_MASTER
from tests.fixtures.listings import Shop, listing, outbox
from tests.fixtures.products import add_product


def _post(client: TestClient, shop: Shop, body: list[dict[str, object]], **params: object) -> None:
    response = client.post("/v2/products", params=shop.tenant.q(**params), json=body)
    assert response.status_code == 200, response.text


def test_published_listings_follow_the_catalog(ctx: AppContext, shop: Shop) -> None:
    main = listing(ctx, shop.listings[("MKNJ-122", 100)])
    assert (main.status, main.available_quantity, main.price) == (statuses.ACTIVE, 10, Decimal(2000))
    assert main.external_id.startswith("MLA") and len(main.external_id) == 13
    assert main.permanent_link == f"https://articulo.mercadolibre.com.ar/MLA-{main.external_id[3:]}"
    amazon = listing(ctx, shop.listings[("MKNJ-122", 20)])
    assert amazon.external_id.startswith("B0") and amazon.listing_type is None and amazon.health is None
    empty = listing(ctx, shop.listings[("EMPTY", 100)])
    assert (empty.status, empty.status_reason) == (statuses.PAUSED, statuses.REASON_STOCK)
    kit = listing(ctx, shop.listings[("KIT", 100)])
    assert (kit.available_quantity, kit.price) == (3, Decimal(2400))
    [(topic, payload)] = outbox(ctx, main.id)
    assert topic == "listing.update"
    assert payload["external_id"] == main.external_id and payload["price"] == "2000.00"
    assert payload["quantity"] == 10 and payload["status"] == "active" and payload["listing_type"] == "gold_special"


def test_stock_to_zero_pauses_and_restock_reactivates(client: TestClient, ctx: AppContext, shop: Shop) -> None:
    lid = shop.listings[("MKNJ-122", 100)]
    _post(client, shop, [{"SKU": "MKNJ-122", "Stock": {"Quantity": 0}}])
    paused = listing(ctx, lid)
    assert (paused.status, paused.status_reason, paused.available_quantity) == ("paused", "stock", 0)
    assert all(listing(ctx, shop.listings[("MKNJ-122", m)]).status == "paused" for m in (1, 20))
    _post(client, shop, [{"SKU": "MKNJ-122", "Stock": {"Movement": 4}}])
    active = listing(ctx, lid)
    assert (active.status, active.status_reason, active.available_quantity) == ("active", None, 4)
    topics = [(t, p.get("status"), p.get("quantity")) for t, p in outbox(ctx, lid)]
    assert topics[1:] == [("listing.update", "paused", 0), ("listing.update", "active", 4)]


def test_listings_paused_by_the_user_stay_paused(client: TestClient, ctx: AppContext, shop: Shop) -> None:
    lid = shop.listings[("MKNJ-122", 100)]
    body = [{"ExternalPublications": [shop.external[("MKNJ-122", 100)]], "Status": 2}]
    response = client.put("/v2/productlistings/update-status", params=shop.tenant.q(), json=body)
    assert response.status_code == 200, response.text
    _post(client, shop, [{"SKU": "MKNJ-122", "Stock": {"Quantity": 0}}])
    _post(client, shop, [{"SKU": "MKNJ-122", "Stock": {"Quantity": 8}}])
    row = listing(ctx, lid)
    assert (row.status, row.status_reason, row.available_quantity) == ("paused", "user", 8)
    assert listing(ctx, shop.listings[("MKNJ-122", 1)]).status == "active"


def test_min_and_max_publication_quantities(client: TestClient, ctx: AppContext, shop: Shop) -> None:
    lid = shop.listings[("MKNJ-122", 100)]
    _post(client, shop, [{"SKU": "MKNJ-122", "Stock": {"MaxPublicationQuantity": 6}}])
    assert listing(ctx, lid).available_quantity == 6
    _post(client, shop, [{"SKU": "MKNJ-122", "Stock": {"MinPublicationQuantity": 10}}])
    assert (listing(ctx, lid).status, listing(ctx, lid).available_quantity) == ("paused", 0)
    _post(client, shop, [{"SKU": "MKNJ-122", "Stock": {"Movement": 1}}])
    assert (listing(ctx, lid).status, listing(ctx, lid).available_quantity) == ("active", 6)


def test_kit_listings_follow_their_components(client: TestClient, ctx: AppContext, shop: Shop) -> None:
    kit = shop.listings[("KIT", 100)]
    _post(client, shop, [{"SKU": "H4", "Stock": {"Movement": -3}}])
    assert (listing(ctx, kit).status, listing(ctx, kit).available_quantity) == ("paused", 0)
    _post(client, shop, [{"SKU": "H4", "Stock": {"Quantity": 2}}])
    assert (listing(ctx, kit).status, listing(ctx, kit).available_quantity) == ("active", 2)


def test_price_list_change_reprices_auto_listings(client: TestClient, ctx: AppContext, shop: Shop) -> None:
    lid = shop.listings[("MKNJ-122", 100)]
    _post(client, shop, [{"SKU": "MKNJ-122", "Price": {"PriceWithTaxes": 2500}}])
    assert listing(ctx, lid).price == Decimal(2500)
    # Another list does not move it.
    _post(client, shop, [{"SKU": "MKNJ-122", "Price": {"PriceWithTaxes": 1}}], priceListId=shop.wholesale)
    assert listing(ctx, lid).price == Decimal(2500)
    # A listing with a margin follows with it; a fixed price does not follow.
    margin = {"Margin": 10, "AddedFixedValue": 5}
    client.put(
        "/v2/productlistings",
        params=shop.tenant.q(),
        json=[{"ExternalPublications": [shop.external[("MKNJ-122", 1)]], "Price": margin}],
    )
    client.put(
        "/v2/productlistings",
        params=shop.tenant.q(),
        json=[{"ExternalPublications": [shop.external[("MKNJ-122", 20)]], "Price": {"Price": 999.99}}],
    )
    _post(client, shop, [{"SKU": "MKNJ-122", "Price": {"PriceWithTaxes": 3000}}])
    assert listing(ctx, shop.listings[("MKNJ-122", 1)]).price == Decimal("3305.00")
    assert listing(ctx, shop.listings[("MKNJ-122", 20)]).price == Decimal("999.99")
    assert outbox(ctx, lid)[-1][1]["price"] == "3000.00"


def test_fiscal_change_reprices_through_the_catalog(client: TestClient, ctx: AppContext, shop: Shop) -> None:
    lid = shop.listings[("MKNJ-122", 100)]
    _post(client, shop, [{"SKU": "MKNJ-122", "Price": {"Price": 1000}}])
    assert listing(ctx, lid).price == Decimal(1210)
    client.put("/v2/products/fiscal", params=shop.tenant.q(), json=[{"SKU": "MKNJ-122", "TaxRate": 10.5}])
    assert listing(ctx, lid).price == Decimal(1105)


def test_move_stock_for_orders_propagates(ctx: AppContext, shop: Shop) -> None:
    with ctx.db.writing() as session:
        products.move_stock(session, shop.tenant.account_id, shop.products["KIT"], -3)
    assert listing(ctx, shop.listings[("H4", 100)]).status == "paused"
    assert listing(ctx, shop.listings[("KIT", 100)]).status == "paused"


def test_a_variations_price_pushes_its_masters_listing(client: TestClient, ctx: AppContext, shop: Shop) -> None:
    account = shop.tenant.account_id
    with ctx.db.writing() as session:
        master = add_product(session, account, "REM", product_type=VARIATION_MASTER, prices={shop.price_list: "100"})
        for colour in ("Rojo", "Azul"):
            add_product(
                session,
                account,
                f"REM-{colour}",
                product_type=VARIATION_CHILD,
                parent_id=master,
                quantity=3,
                attributes=[{"Name": "Color", "Value": colour}],
                prices={shop.price_list: "100"},
            )
        [published] = publish.publish_products(session, account, [publish.PublishSpec(master, 100)])
    before = len(outbox(ctx, published.id))
    # Only a variation's price changes: the master's own price and quantity do not, its listing is pushed.
    _post(client, shop, [{"SKU": "REM-Azul", "Price": {"PriceWithTaxes": 120}}])
    pushes = outbox(ctx, published.id)[before:]
    assert [topic for topic, _ in pushes] == ["listing.update"]
    assert listing(ctx, published.id).price == Decimal(100)
    # A variation's price repeated unchanged pushes nothing.
    _post(client, shop, [{"SKU": "REM-Azul", "Price": {"PriceWithTaxes": 120}}])
    assert len(outbox(ctx, published.id)) == before + 1


def test_unchanged_listings_get_no_outbox_row(client: TestClient, ctx: AppContext, shop: Shop) -> None:
    lid = shop.listings[("MKNJ-122", 100)]
    before = len(outbox(ctx, lid))
    _post(client, shop, [{"SKU": "MKNJ-122", "Stock": {"Quantity": 10}, "Price": {"PriceWithTaxes": 2000}}])
    assert len(outbox(ctx, lid)) == before


def test_get_products_shows_grouped_publications(client: TestClient, ctx: AppContext, shop: Shop) -> None:
    body = client.get("/v2/products", params=shop.tenant.q(SKU="MKNJ-122")).json()
    publications = body["Results"][0]["Publications"]
    assert [p["MarketPlace"] for p in publications] == [
        {"Key": 1, "Value": "Mercado Libre Argentina"},
        {"Key": 20, "Value": "Amazon"},
        {"Key": 100, "Value": "Sandbox Mercado Libre Argentina"},
    ]
    sandbox = publications[2]["Details"]
    assert sandbox == [
        {
            "Status": {"Id": 1, "Name": "Active"},
            "Quantity": 1,
            "ExternalIds": {shop.external[("MKNJ-122", 100)]: shop.listings[("MKNJ-122", 100)]},
        }
    ]
