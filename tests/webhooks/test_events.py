"""``events``: what each domain call records, subscription matching, and stock-alert levels."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import select, update

from alephee.http.context import AppContext
from alephee.listings import events as listing_events
from alephee.orders import events as order_events
from alephee.products import stock_alerts
from alephee.products.hooks import CatalogChange
from alephee.products.models import Brand, Product
from alephee.webhooks import events
from alephee.webhooks.models import WebhookEvent, WebhookStockAlert
from tests.fixtures.tenants import Tenant
from tests.fixtures.webhooks import Hooks


def _order(account_id: int, status: int, **fields: object) -> SimpleNamespace:
    values: dict[str, object] = {
        "id": 77,
        "account_id": account_id,
        "marketplace_id": 100,
        "external_order_id": "2000001",
        "pack_id": None,
        "status": status,
        "payment_pending": False,
        "integrated": True,
        "integrated_order_id": "ERP-1",
    }
    values.update(fields)
    return SimpleNamespace(**values)


def _types(ctx: AppContext) -> list[str]:
    with ctx.db.reading() as session:
        return list(session.scalars(select(WebhookEvent.type).order_by(WebhookEvent.id)))


def test_a_cancellation_after_integration_is_both_a_status_change_and_a_cancellation(
    ctx: AppContext, tenant: Tenant
) -> None:
    with ctx.db.writing() as session:
        order_events.order_status_changed(session, _order(tenant.account_id, 90), 10)
        order_events.order_status_changed(session, _order(tenant.account_id, 91), 90)  # cancelled → awaiting refund
        order_events.order_status_changed(session, _order(tenant.account_id, 20), 20)  # no change: nothing
    assert _types(ctx) == ["order.status_changed", "order.cancelled", "order.status_changed"]
    with ctx.db.reading() as session:
        cancelled = session.scalar(select(WebhookEvent).where(WebhookEvent.type == "order.cancelled"))
    assert cancelled is not None
    assert cancelled.data == {
        "OrderId": 77,
        "MarketplaceId": 100,
        "ExternalOrderId": "2000001",
        "PackId": None,
        "Status": 90,
        "PaymentPending": False,
        "Integrated": True,
        "IntegratedOrderId": "ERP-1",
        "PreviousStatus": 10,
    }
    assert (cancelled.subject_type, cancelled.subject_id) == ("order", 77)


def test_created_payment_listing_and_document_events(ctx: AppContext, tenant: Tenant) -> None:
    listing = SimpleNamespace(
        id=5,
        account_id=tenant.account_id,
        product_id=9,
        marketplace_id=100,
        external_id="MLA1",
        sku="S-1",
        status="paused",
        status_reason="stock",
    )
    with ctx.db.writing() as session:
        order_events.order_created(session, _order(tenant.account_id, 0, payment_pending=True))
        order_events.order_payment_approved(session, _order(tenant.account_id, 0))
        listing_events.listing_status_changed(session, listing, "active")
        listing_events.listing_status_changed(session, listing, "paused")  # unchanged: nothing
        order_events.document_outcome(
            session, tenant.account_id, 77, forwarded=True, document_type=0, document_number="A1"
        )
        order_events.document_outcome(
            session, tenant.account_id, 77, forwarded=False, reason="receipts stay in the hub"
        )
    assert _types(ctx) == [
        "order.created",
        "order.payment_approved",
        "listing.status_changed",
        "document.forwarded",
        "document.refused",
    ]
    with ctx.db.reading() as session:
        rows = {e.type: e for e in session.scalars(select(WebhookEvent))}
    assert rows["order.created"].data["PaymentPending"] is True
    assert rows["listing.status_changed"].data == {
        "ListingId": 5,
        "ProductId": 9,
        "MarketplaceId": 100,
        "ExternalId": "MLA1",
        "Sku": "S-1",
        "Status": "paused",
        "StatusReason": "stock",
        "PreviousStatus": "active",
    }
    assert (rows["listing.status_changed"].subject_type, rows["listing.status_changed"].subject_id) == ("listing", 5)
    assert rows["document.refused"].data["Reason"] == "receipts stay in the hub"


def test_unknown_types_are_a_programming_error(ctx: AppContext, tenant: Tenant) -> None:
    with ctx.db.writing() as session, pytest.raises(ValueError):
        events.emit(session, tenant.account_id, "order.teleported", {"OrderId": 1})


def test_subscriptions_are_matched_by_type(hooks: Hooks, tenant: Tenant, ctx: AppContext) -> None:
    hooks.subscribe(tenant.account_id, "http://127.0.0.1:9/a", ["order.created", "ORDER.CANCELLED "])
    with ctx.db.writing() as session:
        events.emit(session, tenant.account_id, events.ORDER_CREATED, {"OrderId": 1})
        events.emit(session, tenant.account_id, events.ORDER_STATUS_CHANGED, {"OrderId": 1})
        events.emit(session, tenant.account_id, events.ORDER_CANCELLED, {"OrderId": 1})
    hooks.subscribe(tenant.account_id, "http://127.0.0.1:9/b", ["*"])
    with ctx.db.writing() as session:
        events.emit(session, tenant.account_id, events.ORDER_STATUS_CHANGED, {"OrderId": 1})
    assert [m.topic for m in hooks.outbox()] == [
        "webhook.order.created",
        "webhook.order.cancelled",
        "webhook.order.status_changed",
    ]
    assert [s.event_types for s in hooks.subscriptions()] == [["order.created", "order.cancelled"], ["*"]]


def _product(ctx: AppContext, account_id: int, quantity: int, red: int = 2, yellow: int = 5) -> int:
    with ctx.db.writing() as session:
        brand = Brand(account_id=account_id, name="Acme", name_key="acme")
        session.add(brand)
        session.flush()
        product = Product(
            account_id=account_id,
            brand_id=brand.id,
            sku="SKU-1",
            name="Thing",
            quantity=quantity,
            alert_red=red,
            alert_yellow=yellow,
        )
        session.add(product)
        session.flush()
        return product.id


def _set_stock(ctx: AppContext, account_id: int, product_id: int, quantity: int) -> None:
    with ctx.db.writing() as session:
        session.execute(update(Product).where(Product.id == product_id).values(quantity=quantity))
        stock_alerts.on_catalog_change(
            session, CatalogChange(account_id=account_id, stock_product_ids=frozenset({product_id}))
        )


def test_stock_alerts_fire_once_per_level_reached(ctx: AppContext, tenant: Tenant) -> None:
    assert stock_alerts.alert_level(5, 2, 5) == "yellow" and stock_alerts.alert_level(2, 2, 5) == "red"
    assert stock_alerts.alert_level(0, 0, 0) is None  # thresholds of 0 are not set
    product_id = _product(ctx, tenant.account_id, 10)
    levels = []
    for quantity in (10, 5, 3, 2, 0, 4, 9, 1):
        _set_stock(ctx, tenant.account_id, product_id, quantity)
        with ctx.db.reading() as session:
            levels.append(
                [
                    (e.data["Level"], e.data["Quantity"])
                    for e in session.scalars(select(WebhookEvent).order_by(WebhookEvent.id))
                ]
            )
    # 5 → yellow, 3 same level, 2 → red, 0 same, 4 → back to yellow, 9 clears, 1 → red again.
    assert levels[-1] == [("yellow", 5), ("red", 2), ("yellow", 4), ("red", 1)]
    with ctx.db.reading() as session:
        event = session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)).first()
        alert = session.get(WebhookStockAlert, product_id)
    assert event is not None and event.type == "product.stock_alert"
    assert event.data == {
        "ProductId": product_id,
        "Sku": "SKU-1",
        "Quantity": 5,
        "Level": "yellow",
        "RedQty": 2,
        "YellowQty": 5,
    }
    assert alert is not None and alert.level == "red"


def test_products_without_thresholds_never_alert(ctx: AppContext, tenant: Tenant) -> None:
    product_id = _product(ctx, tenant.account_id, 3, red=0, yellow=0)
    _set_stock(ctx, tenant.account_id, product_id, 0)
    assert _types(ctx) == []
