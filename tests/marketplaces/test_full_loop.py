"""The whole loop on a real server with its worker (``alephee serve --with-worker``): import a catalog, publish
it on the sandbox, buyers purchase, the ERP integrates the orders, stock and listings follow, time passes on
the marketplace, a late cancellation is found, and restocking reactivates a paused listing."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from alephee import clock
from alephee.accounts import service as accounts
from alephee.http.context import AppContext
from alephee.http.wire import format_utc
from alephee.listings.models import Listing
from alephee.marketplaces.models import OutboxMessage, SandboxListing, SandboxOrder
from alephee.products.models import Product
from alephee.sandbox import state as sandbox
from tests.fixtures.marketplaces import start_server_with
from tests.fixtures.tenants import Tenant

CATALOG_CSV = """sku,brand,name,quantity,min_publication_quantity,price_with_taxes
MATE-01,Pampa,Mate de calabaza,12,0,1500
YERBA-1K,Pampa,Yerba mate 1 kg,20,0,900
BOMBI-01,Pampa,Bombilla de acero,9,0,450
TERMO-1L,Stanley,Termo 1 litro,4,3,52000
"""
INITIAL = {"MATE-01": 12, "YERBA-1K": 20, "BOMBI-01": 9, "TERMO-1L": 4}
# A seed whose buyers sell the thermos (its listing pauses: MinPublicationQuantity 3) and whose sales include
# a cancellation after integration (the default mix, sandbox seed 1).
SEED = "10"
ORDERS = "8"


def eventually(check: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy (the worker works in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def arrived(ctx: AppContext, account_id: int) -> list[SandboxOrder]:
    """The sandbox orders the hub can have pulled (released into the feed)."""
    with ctx.db.reading() as session:
        return list(
            session.scalars(
                select(SandboxOrder).where(SandboxOrder.account_id == account_id, SandboxOrder.change_seq > 0)
            )
        )


def units(orders: list[SandboxOrder]) -> dict[str, int]:
    out: dict[str, int] = {}
    for order in orders:
        for item in order.detail["items"]:
            out[item["sku"]] = out.get(item["sku"], 0) + item["quantity"]
    return out


def outbox_idle(ctx: AppContext) -> bool:
    with ctx.db.reading() as session:
        return not session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status.in_(("pending", "in_flight")), OutboxMessage.marketplace_id == 100)
        )


@pytest.mark.slow
def test_the_full_loop(
    ctx: AppContext, tmp_path: Path, make_tenant: Callable[..., Tenant], cli: Callable[..., Any]
) -> None:
    seller = make_tenant(marketplaces=(100,))
    account = str(seller.account_id)
    with ctx.db.writing() as session:
        sandbox.ensure_state(session, seed=1)
        accounts.create_price_list(session, seller.account_id, "General", currency="ARS", is_default=True)
    catalog = tmp_path / "catalog.csv"
    catalog.write_text(CATALOG_CSV, encoding="utf-8")
    assert cli("catalog", "import", str(catalog), "--account", account)["Created"] == 4
    assert cli("catalog", "publish", "--account", account, "--marketplace", "100")["Published"] == 4

    server = start_server_with(
        ctx.settings.database_url, tmp_path, "--with-worker", env={"ALEPHEE_WORKER_INTERVAL_SECONDS": "0.2"}
    )
    http = httpx.Client(base_url=server.base_url, params=seller.q(), timeout=30)
    try:
        # Listings active on the sandbox marketplace (delivered by the server's worker).
        def sandbox_listings() -> dict[str, SandboxListing]:
            with ctx.db.reading() as session:
                rows = session.scalars(select(SandboxListing).where(SandboxListing.account_id == seller.account_id))
                return {row.sku or "": row for row in rows}

        eventually(lambda: len(sandbox_listings()) == 4, what="the listings on the sandbox")
        assert {(sku, row.status, row.available_quantity) for sku, row in sandbox_listings().items()} == {
            (sku, "active", quantity) for sku, quantity in INITIAL.items()
        }

        # Buyers purchase; the worker pulls the orders; the ERP sees the approved ones.
        report = cli("sandbox", "sell", "--account", account, "--orders", ORDERS, "--seed", SEED)
        assert report["Orders"] == int(ORDERS) and report["LateCancellations"] >= 1
        sold = arrived(ctx, seller.account_id)
        expected = sorted(o.external_order_id for o in sold if o.payment_status == "approved")

        def not_integrated() -> list[dict[str, Any]]:
            response = http.get("/v2/orders", params={**seller.q(), "Integrated": "false"})
            assert response.status_code == 200, response.text
            results: list[dict[str, Any]] = response.json()["Results"]
            return results

        orders = eventually(
            lambda: (found := not_integrated()) and sorted(o["ExternalOrderId"] for o in found) == expected and found,
            what="the orders in GET /v2/orders?Integrated=false",
        )
        body = [{"OrderId": o["Id"], "OwnOrderId": f"ERP-{o['Id']}", "ErpStatus": "imported"} for o in orders]
        integrated = http.put("/v2/orders/integrate", json=body).json()
        assert {r["Status"] for r in integrated["Results"]} == {"200"}
        assert not_integrated() == []

        # Stock and listing quantities dropped by exactly what was sold (pending payments reserve stock too).
        eventually(lambda: outbox_idle(ctx), what="the listing pushes")
        taken = units(sold)
        assert taken.get("TERMO-1L"), "the seed must sell the thermos"
        with ctx.db.reading() as session:
            quantities = dict(
                session.execute(
                    select(Product.sku, Product.quantity).where(Product.account_id == seller.account_id)
                ).all()
            )
            listings = {
                sku: (quantity, status, reason)
                for sku, quantity, status, reason in session.execute(
                    select(Product.sku, Listing.available_quantity, Listing.status, Listing.status_reason).join(
                        Product, Product.id == Listing.product_id
                    )
                )
            }
        market = sandbox_listings()
        for sku, initial in INITIAL.items():
            assert quantities[sku] == initial - taken.get(sku, 0), sku
            assert market[sku].available_quantity == listings[sku][0], sku
            if sku != "TERMO-1L":
                assert listings[sku] == (initial - taken.get(sku, 0), "active", None), sku
        assert listings["TERMO-1L"] == (0, "paused", "stock")
        assert (market["TERMO-1L"].status, market["TERMO-1L"].seller_status) == ("paused", "paused")

        # Time passes on the marketplace: payments settle, shipments move, a buyer cancels.
        t0 = clock.utcnow()
        time.sleep(1.1)  # status dates have whole seconds
        moved = cli("sandbox", "advance", "--hours", "48")
        assert moved["Events"].get("ship") and moved["Events"].get("cancel")

        def cancelled_after_integration() -> list[dict[str, Any]]:
            params = {**seller.q(), "statusType": "99", "statusDateFrom": format_utc(t0)}
            response = http.get("/v2/orders", params=params)
            assert response.status_code == 200, response.text
            results: list[dict[str, Any]] = response.json()["Results"]
            return results

        late = [
            o.external_order_id
            for o in arrived(ctx, seller.account_id)
            if o.status == "cancelled" and o.payment_status == "refunded"
        ]
        assert late
        found = eventually(
            lambda: (
                (rows := cancelled_after_integration())
                and sorted(o["ExternalOrderId"] for o in rows) == sorted(late)
                and rows
            ),
            what="the late-cancellation query",
        )
        assert all(o["Integrated"] and o["IntegratedOrderId"] == f"ERP-{o['Id']}" for o in found)

        def statuses() -> dict[str, int]:
            response = http.get("/v2/orders", params={**seller.q(), "Integrated": "true"})
            return {o["ExternalOrderId"]: o["Status"]["Key"] for o in response.json()["Results"]}

        progressed = eventually(lambda: (s := statuses()) and 20 in s.values() and s, what="shipped orders")
        assert set(progressed.values()) <= {10, 11, 20, 80, 90}

        # Restocking through POST /v2/products reactivates the listing paused for stock, on the sandbox too.
        restock = http.post("/v2/products", json=[{"SKU": "TERMO-1L", "Stock": {"Quantity": 10}}])
        assert restock.status_code == 200 and restock.json()["Quantities"]["Ok"] == 1
        eventually(
            lambda: (row := sandbox_listings()["TERMO-1L"]).status == "active" and row.available_quantity == 10,
            what="the thermos listing active again on the sandbox",
        )
        with ctx.db.reading() as session:
            listing = session.scalar(
                select(Listing).join(Product, Product.id == Listing.product_id).where(Product.sku == "TERMO-1L")
            )
            assert listing is not None and (listing.status, listing.available_quantity) == ("active", 10)
    finally:
        http.close()
        server.stop()
