"""``alephee serve --with-worker`` serves ``app.create_app_with_worker``: the embedded worker delivers
webhooks and keeps the feed purge queued."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from sqlalchemy import select

from alephee.app import create_app
from alephee.http.context import AppContext
from alephee.marketplaces.delivery import unregister_sender
from alephee.marketplaces.models import OutboxMessage
from alephee.webhooks import events
from tests.fixtures.database import make_settings
from tests.fixtures.tenants import Tenant
from tests.fixtures.webhooks import Hooks, Receiver


def test_the_embedded_worker_delivers_webhooks(ctx: AppContext, tenant: Tenant, receiver: Receiver) -> None:
    settings = make_settings(
        ctx.settings.database_url, worker_interval_seconds=0.05, webhook_allow_private_targets=True
    )
    app = create_app(settings, with_worker=True)
    try:
        harness = Hooks(ctx)
        harness.subscribe(tenant.account_id, receiver.url)
        with TestClient(app):
            event_id = harness.emit(tenant.account_id, events.ORDER_CREATED, {"OrderId": 1})
            deadline = time.monotonic() + 10
            while not receiver.delivered() and time.monotonic() < deadline:
                time.sleep(0.05)
        assert [r.json["Id"] for r in receiver.delivered()] == [event_id]
        with ctx.db.reading() as session:
            purges = session.scalars(select(OutboxMessage.status).where(OutboxMessage.topic == events.PURGE_TOPIC))
            assert "pending" in set(purges)  # queued at start, run, and queued again
    finally:
        unregister_sender(events.TOPIC_PREFIX)
        app.state.ctx.db.dispose()
