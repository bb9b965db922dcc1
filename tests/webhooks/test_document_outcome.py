"""What the marketplace did with a forwarded document reaches the integrator: document.forwarded when the
order.document row is delivered, document.refused when it fails for good."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alephee.http.context import AppContext
from alephee.marketplaces.delivery import OutboxItem, register_sender, unregister_sender
from alephee.marketplaces.outbox import enqueue
from tests.fixtures.tenants import Tenant
from tests.fixtures.webhooks import Hooks, Receiver


class _Marketplace:
    """Accepts documents sent to it (stands for a channel that took the invoice)."""

    def in_database(self, _session: Any, _item: OutboxItem) -> bool:
        return False

    def send(self, _session: Any, _item: OutboxItem) -> None:
        return None


def _document_row(ctx: AppContext, account_id: int, marketplace_id: int) -> None:
    with ctx.db.writing() as session:
        enqueue(
            session,
            account_id=account_id,
            topic="order.document",
            aggregate_type="order",
            aggregate_id=4242,
            payload={"OrderId": 4242, "DocumentType": 0, "DocumentNumber": "A-0001-00000042"},
            marketplace_id=marketplace_id,
        )


def test_forwarded_and_refused_documents_are_announced(
    ctx: AppContext, make_tenant: Callable[..., Tenant], hooks: Hooks, receiver: Receiver
) -> None:
    tenant = make_tenant(marketplaces=(100,))
    hooks.subscribe(tenant.account_id, receiver.url, ["document.forwarded", "document.refused"])
    # Marketplace 20 (Amazon) has no connector: the row fails for good → document.refused.
    _document_row(ctx, tenant.account_id, 20)
    hooks.drain()
    previous = register_sender("order.document", _Marketplace())
    try:
        _document_row(ctx, tenant.account_id, 100)
        hooks.drain()
    finally:
        unregister_sender("order.document", previous)
    events = [(r.json["Type"], r.json["Data"]) for r in receiver.delivered()]
    assert [t for t, _ in events] == ["document.refused", "document.forwarded"]
    refused, forwarded = events[0][1], events[1][1]
    assert refused["OrderId"] == forwarded["OrderId"] == 4242
    assert forwarded["DocumentNumber"] == "A-0001-00000042" and forwarded["DocumentType"] == 0
    assert refused["Reason"]
