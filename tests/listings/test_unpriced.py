"""A product without a price in the listing's price list is never published active: its listing stays paused
(reason ``no_price``, visible in the search, the outbox payload and the sandbox) until a price arrives."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from alephee.accounts import service as accounts
from alephee.accounts.schemas import AccountType
from alephee.bootstrap import prepare_database
from alephee.cli import app
from alephee.config import Settings
from alephee.db import Database, alembic_config
from alephee.demo import ensure_demo
from alephee.http.context import AppContext
from alephee.listings import publish, statuses
from alephee.listings.models import Listing
from alephee.marketplaces.models import OutboxMessage, SandboxListing
from alephee.products.importer import import_catalog
from alephee.sandbox import state as sandbox
from alephee.sync.worker import Worker
from tests.fixtures.database import create_pg_database, drop_pg_database
from tests.fixtures.listings import listing, outbox
from tests.fixtures.products import add_price_list, add_product
from tests.fixtures.tenants import Tenant

runner = CliRunner()


@dataclass
class Unpriced:
    """A seller with a priced product (``PRICED``) and an unpriced one (``BARE``, 5 in stock), both published
    on the sandbox marketplace 100."""

    tenant: Tenant
    price_list: int
    priced: int
    bare: int
    bare_product: int


@pytest.fixture
def unpriced(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> Unpriced:
    tenant = make_tenant(marketplaces=(100,))
    with ctx.db.writing() as session:
        general = add_price_list(session, tenant.account_id, "Lista general")
        priced = add_product(session, tenant.account_id, "PRICED", quantity=4, prices={general: "1500"})
        bare = add_product(session, tenant.account_id, "BARE", quantity=5)
        created = publish.publish_products(
            session, tenant.account_id, [publish.PublishSpec(priced, 100), publish.PublishSpec(bare, 100)]
        )
        return Unpriced(tenant, general, created[0].id, created[1].id, bare)


def _search(client: TestClient, tenant: Tenant, **params: Any) -> dict[str, Any]:
    response = client.get("/v2/productlistings/search", params=tenant.q(**params))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _post_products(client: TestClient, tenant: Tenant, body: list[dict[str, Any]], **params: Any) -> None:
    response = client.post("/v2/products", params=tenant.q(**params), json=body)
    assert response.status_code == 200, response.text


def _set_status(client: TestClient, tenant: Tenant, sku: str, code: int) -> dict[str, Any]:
    response = client.put("/v2/productlistings/update-status", params=tenant.q(), json=[{"SKU": sku, "Status": code}])
    return response.json()["Results"][0]  # type: ignore[no-any-return]


def test_an_unpriced_product_is_published_paused_with_its_reason(
    ctx: AppContext, client: TestClient, unpriced: Unpriced
) -> None:
    row = listing(ctx, unpriced.bare)
    assert (row.status, row.status_reason, row.price) == (statuses.PAUSED, statuses.REASON_NO_PRICE, None)
    assert listing(ctx, unpriced.priced).status == statuses.ACTIVE
    found = {r["SKU"]: r for r in _search(client, unpriced.tenant)["Results"]}
    bare, priced = found["BARE"], found["PRICED"]
    assert (bare["Status"]["Key"], bare["Status"]["Name"], bare["StatusReason"]) == (2, "Paused", "no_price")
    assert bare["Price"] == 0 and bare["AvailableQuantity"] == 5
    assert (priced["Status"]["Name"], priced["StatusReason"], priced["Price"]) == ("Active", None, 1500.0)
    assert [r["SKU"] for r in _search(client, unpriced.tenant, status=1)["Results"]] == ["PRICED"]
    [(topic, payload)] = outbox(ctx, unpriced.bare)
    assert topic == "listing.update"
    assert (payload["status"], payload["status_reason"], payload["price"]) == ("paused", "no_price", None)
    # The marketplace shows it paused with the reason, without a price, and buyers cannot buy it.
    Worker(ctx.db, ctx.settings, pull=False).drain()
    with ctx.db.reading() as session:
        shown = session.scalar(select(SandboxListing).where(SandboxListing.listing_id == unpriced.bare))
        assert shown is not None
        assert sandbox.listing_json(shown) | {"UpdatedAt": None} == sandbox.listing_json(shown) | {
            "Status": "paused",
            "SubStatus": "no_price",
            "SellerStatus": "paused",
            "Price": None,
            "UpdatedAt": None,
        }


def test_activating_an_unpriced_listing_is_refused(client: TestClient, ctx: AppContext, unpriced: Unpriced) -> None:
    result = _set_status(client, unpriced.tenant, "BARE", 1)
    assert result["Status"] == 412 and "no price" in result["Message"]
    assert listing(ctx, unpriced.bare).status == statuses.PAUSED


def test_a_price_from_the_api_activates_the_listing(client: TestClient, ctx: AppContext, unpriced: Unpriced) -> None:
    _post_products(client, unpriced.tenant, [{"SKU": "BARE", "Price": {"PriceWithTaxes": 800}}])
    row = listing(ctx, unpriced.bare)
    assert (row.status, row.status_reason, row.price) == (statuses.ACTIVE, None, Decimal(800))
    _published, (topic, payload) = outbox(ctx, unpriced.bare)
    assert topic == "listing.update"
    assert (payload["status"], payload["status_reason"], payload["price"]) == ("active", None, "800.00")
    shown = _search(client, unpriced.tenant, sku="BARE")["Results"][0]
    assert (shown["Status"]["Name"], shown["StatusReason"], shown["Price"]) == ("Active", None, 800.0)


def test_a_price_without_stock_leaves_it_paused_for_stock(
    client: TestClient, ctx: AppContext, unpriced: Unpriced
) -> None:
    _post_products(client, unpriced.tenant, [{"SKU": "BARE", "Stock": {"Quantity": 0}}])
    assert listing(ctx, unpriced.bare).status_reason == statuses.REASON_NO_PRICE
    _post_products(client, unpriced.tenant, [{"SKU": "BARE", "Price": {"PriceWithTaxes": 800}}])
    row = listing(ctx, unpriced.bare)
    assert (row.status, row.status_reason, row.price) == (statuses.PAUSED, statuses.REASON_STOCK, Decimal(800))
    _post_products(client, unpriced.tenant, [{"SKU": "BARE", "Stock": {"Quantity": 3}}])
    assert (listing(ctx, unpriced.bare).status, listing(ctx, unpriced.bare).available_quantity) == ("active", 3)


def test_a_listing_paused_by_the_seller_is_not_activated_by_a_price(
    client: TestClient, ctx: AppContext, unpriced: Unpriced
) -> None:
    # Pausing a listing the hub had paused makes it the seller's pause.
    result = _set_status(client, unpriced.tenant, "BARE", 2)
    assert result["Status"] == 200, result
    assert listing(ctx, unpriced.bare).status_reason == statuses.REASON_USER
    assert outbox(ctx, unpriced.bare)[-1][1] | {"listing_id": 0} == {
        "listing_id": 0,
        "external_id": listing(ctx, unpriced.bare).external_id,
        "status": "paused",
        "status_reason": "user",
    }
    _post_products(client, unpriced.tenant, [{"SKU": "BARE", "Price": {"PriceWithTaxes": 800}}])
    row = listing(ctx, unpriced.bare)
    assert (row.status, row.status_reason, row.price) == (statuses.PAUSED, statuses.REASON_USER, Decimal(800))
    # The seller activates it when they choose.
    assert _set_status(client, unpriced.tenant, "BARE", 1)["Status"] == 200
    assert listing(ctx, unpriced.bare).status == statuses.ACTIVE


def test_a_catalog_import_price_activates_the_listing(ctx: AppContext, unpriced: Unpriced) -> None:
    with ctx.db.writing() as session:
        report = import_catalog(
            session,
            ctx.settings,
            unpriced.tenant.account_id,
            [(1, {"sku": "BARE", "brand": "BUJ", "name": "Bare", "price_with_taxes": "950"})],
        )
        assert report.errors == []
    row = listing(ctx, unpriced.bare)
    assert (row.status, row.status_reason, row.price) == (statuses.ACTIVE, None, Decimal(950))


def test_a_new_default_price_list_pauses_and_its_prices_activate(
    client: TestClient, ctx: AppContext, unpriced: Unpriced
) -> None:
    with ctx.db.writing() as session:
        summer = accounts.create_price_list(session, unpriced.tenant.account_id, "Verano", is_default=True).id
    # The listing follows the account's default list, which has no price for the product yet.
    row = listing(ctx, unpriced.priced)
    assert (row.status, row.status_reason, row.price) == (statuses.PAUSED, statuses.REASON_NO_PRICE, Decimal(1500))
    assert outbox(ctx, unpriced.priced)[-1][1]["status_reason"] == "no_price"
    _post_products(client, unpriced.tenant, [{"SKU": "PRICED", "Price": {"PriceWithTaxes": 1700}}], priceListId=summer)
    row = listing(ctx, unpriced.priced)
    assert (row.status, row.status_reason, row.price) == (statuses.ACTIVE, None, Decimal(1700))


def test_removing_the_price_pauses_the_listing(
    client: TestClient, ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    distributor = make_tenant("distributor", marketplaces=(100,))
    with ctx.db.writing() as session:
        accounts.set_account_flags(session, distributor.account_id, allow_pricelist_delete=True)
        general = add_price_list(session, distributor.account_id, "Lista general")
        product = add_product(session, distributor.account_id, "GONE", quantity=2, prices={general: "100"})
        [published] = publish.publish_products(session, distributor.account_id, [publish.PublishSpec(product, 100)])
        listing_id = published.id
    assert listing(ctx, listing_id).status == statuses.ACTIVE
    token = client.get(f"/v2/accounts/{distributor.account_id}/logintoken", params=distributor.key(module=2))
    body = {"PriceListId": general, "Products": [{"SKU": "GONE"}]}
    params = distributor.q(confirmationToken=token.json()["Token"])
    response = client.request("DELETE", "/v2/products/prices", params=params, json=body)
    assert response.status_code == 200, response.text
    row = listing(ctx, listing_id)
    assert (row.status, row.status_reason) == (statuses.PAUSED, statuses.REASON_NO_PRICE)


def test_the_demo_publishes_nothing_without_a_price(ctx: AppContext) -> None:
    with ctx.db.writing() as session:
        account_id = ensure_demo(session, ctx.settings).account_id
    with ctx.db.reading() as session:
        listings = session.scalars(select(Listing).where(Listing.account_id == account_id)).all()
        assert listings and all(x.price is not None and x.price > Decimal("0.01") for x in listings)
        assert not [x.sku for x in listings if x.status_reason == statuses.REASON_NO_PRICE]
        payloads = session.scalars(select(OutboxMessage.payload).where(OutboxMessage.topic == "listing.update"))
        assert all(p["price"] is not None and Decimal(p["price"]) > Decimal("0.01") for p in payloads)


# --- migration ----------------------------------------------------------------------------------------------


@pytest.fixture
def fresh_database(backend: str, tmp_path: Path) -> Iterator[str]:
    """A new migrated database of the backend under test."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
        prepare_database(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
        yield url
        return
    name = f"alephee_mig_{uuid.uuid4().hex[:10]}"
    try:
        url = create_pg_database(name)
        prepare_database(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
        yield url
    finally:
        drop_pg_database(name)


def test_the_migration_pauses_listings_published_without_a_price(fresh_database: str) -> None:
    db = Database(Settings(database_url=fresh_database, _env_file=None))  # type: ignore[call-arg]
    try:
        with db.writing() as session:
            account = accounts.create_account(session, name="Before", account_type=AccountType.SELLER)
            accounts.add_marketplace(session, account.id, 100)
            general = add_price_list(session, account.id, "General")
            priced = add_product(session, account.id, "P", quantity=3, prices={general: "10"})
            bare = add_product(session, account.id, "B", quantity=3)
            specs = [publish.PublishSpec(priced, 100), publish.PublishSpec(bare, 100)]
            ids = [x.id for x in publish.publish_products(session, account.id, specs)]
            session.execute(sa.delete(OutboxMessage))
    finally:
        db.dispose()
    config = alembic_config(fresh_database)
    command.downgrade(config, "0003")
    engine = sa.create_engine(fresh_database)
    try:
        with engine.begin() as conn:
            # What the previous version did: the unpriced listing active at the 0.01 placeholder.
            conn.execute(sa.text("UPDATE listings SET status = 'active', status_reason = NULL"))
            prices = dict(conn.execute(sa.text("SELECT id, price FROM listings")).all())
            assert prices[ids[1]] in (100, Decimal("0.0100"))  # SQLite keeps ten-thousandths
        command.upgrade(config, "heads")
        with engine.connect() as conn:
            rows = {r.id: r for r in conn.execute(sa.text("SELECT id, status, status_reason, price FROM listings"))}
            assert (rows[ids[0]].status, rows[ids[0]].status_reason) == ("active", None)
            assert (rows[ids[1]].status, rows[ids[1]].status_reason, rows[ids[1]].price) == ("paused", "no_price", None)
            queued = conn.execute(sa.text("SELECT topic, aggregate_id, payload, status FROM outbox")).all()
            assert [(q.topic, q.aggregate_id, q.status) for q in queued] == [("listing.status", ids[1], "pending")]
            payload = queued[0].payload if isinstance(queued[0].payload, dict) else json.loads(queued[0].payload)
            assert (payload["status"], payload["status_reason"]) == ("paused", "no_price")
            assert conn.execute(sa.select(func.count()).select_from(sa.table("listings"))).scalar() == 2
    finally:
        engine.dispose()


def test_cli_sandbox_listings_show_the_reason(ctx: AppContext, unpriced: Unpriced) -> None:
    Worker(ctx.db, ctx.settings, pull=False).drain()
    env = {"ALEPHEE_DATABASE_URL": ctx.settings.database_url}
    result = runner.invoke(app, ["sandbox", "listings", "--account", str(unpriced.tenant.account_id)], env=env)
    assert result.exit_code == 0, result.output
    shown = {r["SKU"]: r for r in json.loads(result.stdout)}
    assert (shown["BARE"]["Status"], shown["BARE"]["SubStatus"], shown["BARE"]["Price"]) == ("paused", "no_price", None)
    assert shown["PRICED"]["Status"] == "active"
