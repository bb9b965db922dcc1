"""``alephee channel sync`` with a channel written for the test: orders pulled from a given time, the seller's
listings linked to products by SKU, own code and variation SKU (never twice), missed notifications fed into the
inbox, the connection's last sync stamped; and the worker's pull passing over a disconnected connection."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from alephee.channels.models import DISCONNECTED, ChannelConnection
from alephee.http.context import AppContext
from alephee.listings import statuses
from alephee.listings.models import Listing
from alephee.marketplaces.contract import ChannelNotice, ListingState, PermanentDeliveryError
from alephee.marketplaces.models import ChannelNotification
from alephee.orders.models import Order
from alephee.products.schemas import VARIATION_CHILD, VARIATION_MASTER
from alephee.registry import build_worker
from tests.channels.inbox_fakes import SELLER, FakeInbound, MissedFeeds, connect, sale
from tests.fixtures.products import add_product
from tests.fixtures.tenants import Tenant


@dataclass
class Catalog:
    tenant: Tenant
    products: dict[str, int]


@pytest.fixture
def catalog(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> Catalog:
    tenant = make_tenant(marketplaces=(1,))
    connect(ctx, tenant.account_id)
    with ctx.db.writing() as session:
        account = tenant.account_id
        products = {
            "H7": add_product(session, account, "H7", quantity=5),
            "ERP-9": add_product(session, account, "BOSCH-9", own_code="ERP-9", quantity=2),
        }
        master = add_product(session, account, "SHIRT", product_type=VARIATION_MASTER)
        products["SHIRT"] = master
        products["SHIRT-M"] = add_product(
            session, account, "SHIRT-M", product_type=VARIATION_CHILD, parent_id=master, quantity=3
        )
    return Catalog(tenant, products)


def seller_listings() -> list[list[ListingState]]:
    return [
        [
            ListingState(
                external_id="MLA1", status="active", title="Lámpara H7", sku="H7", price=Decimal("1500"),
                available_quantity=5, sold_quantity=2, permalink="https://articulo.mercadolibre.com.ar/MLA-1",
            ),
            ListingState(external_id="MLA2", status="paused", sub_status=("out_of_stock",), title="Bosch", sku="ERP-9"),
        ],
        [
            ListingState(
                external_id="MLA3", status="active", title="Remera", variations=(("111", "SHIRT-L"), ("112", "SHIRT-M"))
            ),
            ListingState(external_id="MLA4", status="active", title="Sin SKU"),
            ListingState(external_id="MLA5", status="active", title="Otro", sku="NOPE"),
        ],
    ]  # fmt: skip


def listings(ctx: AppContext) -> dict[str, Listing]:
    with ctx.db.reading() as session:
        return {row.external_id: row for row in session.scalars(select(Listing))}


def connection(ctx: AppContext, account_id: int) -> ChannelConnection:
    with ctx.db.reading() as session:
        row = session.scalar(select(ChannelConnection).where(ChannelConnection.account_id == account_id))
        assert row is not None
        return row


def test_sync_links_listings_pulls_orders_and_reads_missed_notices(
    ctx: AppContext, catalog: Catalog, cli: Callable[..., Any], use_channel: Callable[[str, Any], None]
) -> None:
    channel = MissedFeeds(
        pages=seller_listings(),
        orders=[sale(listing="MLA1")],
        missed=[
            ChannelNotice(topic="items", resource="/items/MLA1", seller_id=str(SELLER)),
            ChannelNotice(topic="items", resource="/items/MLA7", seller_id="42"),
        ],
    )
    use_channel("mercadolibre", channel)
    account = str(catalog.tenant.account_id)
    out = cli("channel", "sync", "--account", account, "--marketplace", "1", "--since", "2026-11-01T03:04:05Z")
    assert out == {
        "Orders": {"Created": 1, "Updated": 0, "Unchanged": 0, "Skipped": 0},
        "Listings": {"Linked": 3, "Updated": 0, "Unmatched": 2},
        "Notices": 1,
        "Reconciled": None,  # Mercado Libre has nothing to reconcile
        "PostSale": None,  # this channel searches no questions nor claims
    }
    assert channel.cursors[0] == "2026-11-01T03:04:05Z"
    rows = listings(ctx)
    assert sorted(rows) == ["MLA1", "MLA2", "MLA3"]
    products = catalog.products
    assert (rows["MLA1"].product_id, rows["MLA1"].title, rows["MLA1"].price) == (
        products["H7"],
        "Lámpara H7",
        Decimal("1500"),
    )
    assert (rows["MLA1"].available_quantity, rows["MLA1"].sold_quantity, rows["MLA1"].status) == (5, 2, "active")
    assert (rows["MLA2"].product_id, rows["MLA2"].sku, rows["MLA2"].seller_sku) == (
        products["ERP-9"],
        "BOSCH-9",
        "ERP-9",
    )
    assert (rows["MLA2"].status, rows["MLA2"].status_reason) == (statuses.PAUSED, statuses.REASON_STOCK)
    # A variation's SKU links the listing to the variation's master product.
    assert rows["MLA3"].product_id == products["SHIRT"]
    with ctx.db.reading() as session:
        [order] = session.scalars(select(Order)).all()
        assert order.external_order_id == "2000001"
        [notice] = session.scalars(select(ChannelNotification)).all()
        assert (notice.resource, notice.account_id) == ("/items/MLA1", catalog.tenant.account_id)
    first = connection(ctx, catalog.tenant.account_id)
    assert first.last_sync_at is not None and first.last_error is None

    # Again: nothing is created twice; the stored cursor is where the orders start.
    channel.missed = []
    again = cli("channel", "sync", "--account", account, "--marketplace", "1")
    assert again["Listings"] == {"Linked": 0, "Updated": 3, "Unmatched": 2}
    assert again["Orders"]["Created"] == 0 and again["Notices"] == 0
    assert channel.cursors[1] == "after-1"
    assert sorted(listings(ctx)) == ["MLA1", "MLA2", "MLA3"]


def test_without_a_cursor_orders_are_read_from_a_day_ago(
    ctx: AppContext, catalog: Catalog, cli: Callable[..., Any], use_channel: Callable[[str, Any], None]
) -> None:
    channel = FakeInbound()
    use_channel("mercadolibre", channel)
    out = cli("channel", "sync", "--account", str(catalog.tenant.account_id), "--marketplace", "1")
    assert out["Notices"] == 0 and out["Listings"] == {"Linked": 0, "Updated": 0, "Unmatched": 0}
    [start] = channel.cursors
    assert start is not None and start.endswith("Z") and len(start) == len("2026-12-03T19:00:00Z")


def test_a_failed_sync_records_the_error_on_the_connection(
    ctx: AppContext, catalog: Catalog, cli: Callable[..., Any], use_channel: Callable[[str, Any], None]
) -> None:
    channel = FakeInbound()

    def refuse(*args: Any) -> Any:
        raise PermanentDeliveryError("invalid access token")

    channel.list_listings = refuse  # type: ignore[method-assign]
    use_channel("mercadolibre", channel)
    result = cli("channel", "sync", "--account", str(catalog.tenant.account_id), "--marketplace", "1", ok=False)
    assert json.loads(result.stderr) == {"Status": 502, "Message": "invalid access token"}
    row = connection(ctx, catalog.tenant.account_id)
    assert (row.last_error, row.last_sync_at) == ("invalid access token", None)


def test_sync_refuses_a_disconnected_or_missing_connection(
    ctx: AppContext,
    make_tenant: Callable[..., Tenant],
    cli: Callable[..., Any],
    use_channel: Callable[[str, Any], None],
) -> None:
    tenant = make_tenant(marketplaces=(1,))
    use_channel("mercadolibre", FakeInbound())
    missing = cli("channel", "sync", "--account", str(tenant.account_id), "--marketplace", "1", ok=False)
    assert json.loads(missing.stderr)["Status"] == 404
    connect(ctx, tenant.account_id, status=DISCONNECTED)
    disconnected = cli("channel", "sync", "--account", str(tenant.account_id), "--marketplace", "1", ok=False)
    assert json.loads(disconnected.stderr) == {
        "Status": 412,
        "Message": "The connection is disconnected; connect it again with alephee channel connect",
    }


def test_the_worker_pull_passes_over_disconnected_connections_and_stamps_connected_ones(
    ctx: AppContext, make_tenant: Callable[..., Tenant], use_channel: Callable[[str, Any], None]
) -> None:
    connected = make_tenant(marketplaces=(1,))
    connect(ctx, connected.account_id)
    disconnected = make_tenant(marketplaces=(1,))
    connect(ctx, disconnected.account_id, seller_id=77, status=DISCONNECTED)
    channel = FakeInbound(orders=[sale()])
    use_channel("mercadolibre", channel)
    worker = build_worker(ctx.db, ctx.settings, purge=False)
    assert worker.puller is not None
    stats = worker.puller.run()
    assert (stats.feeds, stats.failed, stats.created) == (1, 0, 1)
    assert len(channel.cursors) == 1
    assert connection(ctx, connected.account_id).last_sync_at is not None
    assert connection(ctx, disconnected.account_id).last_sync_at is None
