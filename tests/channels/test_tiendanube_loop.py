"""The whole Tiendanube loop on a real server, as ``make run`` runs it: ``alephee demo`` connects the demo account
to a store on the local stand-in, ``alephee serve --with-worker`` publishes the catalog there through the real
connector over HTTP, a buyer's checkout arrives by signed webhook, and the app's suspension and resumption pause
and resume the connection — with no failed outbox row and nothing sent beyond this machine."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from alephee.channels.models import CONNECTED, PAUSED, ChannelConnection
from alephee.channels.tiendanube.auth import STANDIN_APP_ID, STANDIN_CLIENT_SECRET
from alephee.channels.tiendanube.standin.app import TiendanubeStandIn
from alephee.demo import ensure_demo
from alephee.http.context import AppContext
from alephee.listings.models import Listing
from alephee.listings.publish import PENDING_PREFIX
from alephee.marketplaces.models import OutboxMessage
from alephee.orders.models import Order
from tests.fixtures.database import make_settings
from tests.fixtures.servers import LiveServer, free_port, start_server

MARKETPLACE = 40


def eventually(check: Callable[[], Any], server: LiveServer, what: str, timeout: float = 120) -> Any:
    """Poll ``check`` until it answers something truthy (the server's log in the failure message)."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen; server log:\n{server.log_path.read_text()[-4000:]}")
        time.sleep(0.2)


@pytest.mark.slow
def test_demo_store_runs_the_whole_loop(ctx: AppContext, tmp_path: Path) -> None:
    port = free_port()
    hub = f"http://127.0.0.1:{port}"
    standin_file = str(tmp_path / "tiendanube-standin.sqlite3")
    settings = make_settings(
        ctx.settings.database_url, public_url=hub, tiendanube_standin_path=standin_file, demo_mercadolibre=False
    )
    with ctx.db.writing() as session:
        account_id = ensure_demo(session, settings).account_id
    with ctx.db.reading() as session:
        store_id = session.scalar(
            select(ChannelConnection.seller_id).where(
                ChannelConnection.account_id == account_id, ChannelConnection.marketplace_id == MARKETPLACE
            )
        )
    assert store_id is not None

    server = start_server(
        ctx.settings.database_url,
        tmp_path,
        {
            "ALEPHEE_PUBLIC_URL": hub,
            "ALEPHEE_TIENDANUBE_STANDIN_PATH": standin_file,
            "ALEPHEE_TIENDANUBE_STANDIN_MARKET_SECONDS": "0",
            "ALEPHEE_WORKER_INTERVAL_SECONDS": "0.2",
            # What the suspension held is retried soon after the resumption.
            "ALEPHEE_OUTBOX_HELD_RETRY_SECONDS": "1",
        },
        args=("--with-worker",),
        port=port,
    )
    # The buyers' side of the store: the same file, its webhooks signed by the stand-in's app.
    standin = TiendanubeStandIn(
        standin_file, app_id=STANDIN_APP_ID, client_secret=STANDIN_CLIENT_SECRET, retry_delays=(0.5, 1.0)
    )
    try:

        def published() -> list[str]:
            with ctx.db.reading() as session:
                ids = session.scalars(
                    select(Listing.external_id).where(
                        Listing.account_id == account_id, Listing.marketplace_id == MARKETPLACE
                    )
                ).all()
            return list(ids) if ids and not any(i.startswith(PENDING_PREFIX) for i in ids) else []

        product_ids = eventually(published, server, "publishing the demo catalog in the store")
        products = {str(p["id"]): p for p in standin.products(store_id)}
        assert set(product_ids) <= set(products)

        # A buyer checks out: order/created and order/paid reach the hub signed, the worker reads the order.
        variant = products[product_ids[0]]["variants"][0]["id"]
        sale = standin.place_order(store_id, [(variant, 1)])

        def arrived() -> int:
            with ctx.db.reading() as session:
                count = session.scalar(
                    select(func.count()).where(Order.account_id == account_id, Order.marketplace_id == MARKETPLACE)
                )
            return int(count or 0)

        assert eventually(arrived, server, f"order {sale['id']} arriving by webhook") == 1

        def status() -> str | None:
            with ctx.db.reading() as session:
                return session.scalar(
                    select(ChannelConnection.status).where(
                        ChannelConnection.account_id == account_id, ChannelConnection.marketplace_id == MARKETPLACE
                    )
                )

        standin.suspend(store_id)
        eventually(lambda: status() == PAUSED, server, "app/suspended pausing the connection")
        standin.resume(store_id)
        eventually(lambda: status() == CONNECTED, server, "app/resumed resuming the connection")

        def settled() -> bool:
            with ctx.db.reading() as session:
                open_rows = session.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.account_id == account_id, OutboxMessage.status.in_(("pending", "in_flight")))
                )
            return open_rows == 0

        eventually(settled, server, "the outbox draining")
        with ctx.db.reading() as session:
            failed = session.execute(
                select(OutboxMessage.topic, OutboxMessage.last_error).where(OutboxMessage.status == "failed")
            ).all()
        assert failed == []
    finally:
        standin.close()
        server.stop()
