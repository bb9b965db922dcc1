"""The whole Mercado Libre loop on a real server, as ``make run`` runs it: ``alephee demo`` connects the demo
account to the local stand-in, ``alephee serve --with-worker`` publishes the catalog there through the real
connector over HTTP, a buyer's purchase arrives by notification, and the label, the invoice, a message and the
shipment travel both ways — with no failed outbox row and nothing sent beyond this machine."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from alephee.channels.mercadolibre.auth import STANDIN
from alephee.channels.models import ChannelConnection
from alephee.demo import DEMO_API_KEY, ensure_demo
from alephee.http.context import AppContext
from alephee.listings.models import Listing
from alephee.listings.publish import PENDING_PREFIX
from alephee.marketplaces.models import OutboxMessage
from alephee.orders.models import Order
from tests.fixtures.database import make_settings
from tests.fixtures.servers import eventually, free_port, start_server

STANDIN_PATH = "/_standin/mercadolibre"
INVOICE = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.mark.slow
def test_demo_runs_the_whole_loop_through_the_stand_in(ctx: AppContext, tmp_path: Path) -> None:
    port = free_port()
    hub = f"http://127.0.0.1:{port}"
    standin_file = str(tmp_path / "mercadolibre-standin.sqlite3")
    settings = make_settings(
        ctx.settings.database_url, public_url=hub, mercadolibre_standin_path=standin_file, demo_tiendanube=False
    )
    with ctx.db.writing() as session:
        account_id = ensure_demo(session, settings).account_id
    with ctx.db.reading() as session:
        connection = session.scalar(
            select(ChannelConnection).where(
                ChannelConnection.account_id == account_id, ChannelConnection.marketplace_id == 1
            )
        )
        assert connection is not None and connection.api_base == STANDIN and connection.marketplace_id == 1

    server = start_server(
        ctx.settings.database_url,
        tmp_path,
        {
            "ALEPHEE_PUBLIC_URL": hub,
            "ALEPHEE_MERCADOLIBRE_STANDIN_PATH": standin_file,
            "ALEPHEE_MERCADOLIBRE_STANDIN_MARKET_SECONDS": "0",
            "ALEPHEE_WORKER_INTERVAL_SECONDS": "0.2",
        },
        args=("--with-worker",),
        port=port,
    )
    api = httpx.Client(base_url=hub, timeout=30)
    key = {"API_KEY": DEMO_API_KEY, "accountId": account_id}
    try:
        # Published: every demo listing on marketplace 1 got its id from the stand-in.
        def published() -> list[str]:
            with ctx.db.reading() as session:
                ids = session.scalars(
                    select(Listing.external_id)
                    .where(Listing.account_id == account_id, Listing.marketplace_id == 1, Listing.parent_id.is_(None))
                    .order_by(Listing.id)
                ).all()
            return list(ids) if ids and not any(i.startswith(PENDING_PREFIX) for i in ids) else []

        item_ids = eventually(published, server, "publishing the demo catalog on the stand-in")
        assert all(i.startswith("MLA") for i in item_ids)
        # The variation master is one item whose variations' ids are on its child listings.
        with ctx.db.reading() as session:
            variation_ids = session.scalars(
                select(Listing.external_id).where(
                    Listing.account_id == account_id, Listing.marketplace_id == 1, Listing.child_kind == "variation"
                )
            ).all()
        assert variation_ids and all(i.isdigit() for i in variation_ids)
        master = api.get(f"{STANDIN_PATH}/items/{item_ids[-1]}").json()
        assert {str(v["id"]) for v in master["variations"]} == set(variation_ids)

        # Sold: a buyer purchases on the stand-in; the notification brings the order in.
        sale = api.post(f"{STANDIN_PATH}/_test/orders", json={"item_id": item_ids[0], "quantity": 1})
        assert sale.status_code in (200, 201), sale.text
        external = str(sale.json()["id"])

        def arrived() -> int | None:
            with ctx.db.reading() as session:
                return session.scalar(
                    select(Order.id).where(Order.account_id == account_id, Order.external_order_id == external)
                )

        order_id = eventually(arrived, server, "the sale arriving by notification")

        # Label: fetched from the stand-in (its PDF), which marks it printed.
        label = api.get(f"/v2/orders/{order_id}/shippinglabel", params={**key, "format": "PDF"})
        assert label.status_code == 200, label.text
        assert label.content.startswith(b"%PDF-")

        # Invoice and message: forwarded by the worker to the pack's fiscal documents and conversation.
        invoice = api.post(
            f"/v2/orders/{order_id}/documents",
            params={**key, "documentType": 0, "documentNumber": "A-0001-00000001"},
            files={"file": ("factura.pdf", INVOICE, "application/pdf")},
        )
        assert invoice.status_code in (200, 201), invoice.text
        message = api.post(
            f"/v2/orders/{order_id}/messages",
            params={**key, "messageOptions": 4, "message": "¡Gracias por tu compra! Ya preparamos el envío."},
        )
        assert message.status_code in (200, 201), message.text

        # Shipped: the carrier moves the shipment; the hub's order follows.
        shipment = sale.json()["shipping"]["id"]
        moved = api.post(f"{STANDIN_PATH}/_test/shipments/{shipment}/status", json={"status": "shipped"})
        assert moved.status_code == 200, moved.text

        def shipped() -> bool:
            with ctx.db.reading() as session:
                return session.scalar(select(Order.shipment_status).where(Order.id == order_id)) == "shipped"

        eventually(shipped, server, "the shipment news reaching the order")

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
            topics = set(
                session.scalars(
                    select(OutboxMessage.topic).where(
                        OutboxMessage.marketplace_id == 1, OutboxMessage.status == "delivered"
                    )
                )
            )
        assert {"listing.update", "order.document", "order.message"} <= topics
    finally:
        api.close()
        server.stop()
