"""The orders domain applying a marketplace's news about a known order (``orders.marketplace_news``): status
only where the marketplace drives it and the transition table allows, cancellations always (stock given back
once), shipments never backwards, payments and claims merged, carts refreshed, and a no-op writes nothing."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
from sqlalchemy import func, select

from alephee.http.context import AppContext
from alephee.orders import rendering
from alephee.orders import shipping_rules as ship
from alephee.orders import statuses as st
from alephee.orders.access import marketplace_family
from alephee.orders.marketplace_news import MarketplaceNews, apply_marketplace_news, shipment_rank
from alephee.orders.models import Order, OrderHistory
from alephee.orders.schemas import PaymentOut
from alephee.products.models import Brand, Product
from alephee.webhooks import events
from alephee.webhooks.models import WebhookEvent
from tests.fixtures.orders import AddOrder
from tests.fixtures.tenants import Tenant


def apply(ctx: AppContext, tenant: Tenant, order_id: int, news: MarketplaceNews) -> bool:
    """Apply ``news`` in one committed transaction, as the puller does."""
    with ctx.db.writing() as session:
        order = session.get(Order, order_id)
        assert order is not None
        family = marketplace_family(session, order.marketplace_id)
        return apply_marketplace_news(session, tenant.account_id, order, news, family=family)


def row(ctx: AppContext, order_id: int) -> Order:
    with ctx.db.reading() as session:
        order = session.get(Order, order_id)
        assert order is not None
        session.expunge(order)
        return order


def detail(ctx: AppContext, order_id: int) -> dict[str, Any]:
    return rendering.detail_of(row(ctx, order_id).detail)


def as_told(order: Order) -> MarketplaceNews:
    """News repeating what the hub already knows (nothing said about payments, claims or the cart)."""
    return MarketplaceNews(
        status=order.status,
        shipment_status=order.shipment_status,
        shipment_substatus=order.shipment_substatus,
        payment_pending=order.payment_pending,
    )


def history(ctx: AppContext, order_id: int) -> list[tuple[str, str, int | None, int | None]]:
    with ctx.db.reading() as session:
        rows = session.execute(
            select(OrderHistory.actor, OrderHistory.action, OrderHistory.from_status, OrderHistory.to_status)
            .where(OrderHistory.order_id == order_id)
            .order_by(OrderHistory.id)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def event_types(ctx: AppContext, order_id: int) -> list[str]:
    with ctx.db.reading() as session:
        return list(
            session.scalars(
                select(WebhookEvent.type)
                .where(WebhookEvent.subject_id == order_id, WebhookEvent.type != events.ORDER_CREATED)
                .order_by(WebhookEvent.id)
            )
        )


def snapshot(ctx: AppContext) -> tuple[Any, ...]:
    """Everything a news could write: order rows (with version), history rows, events, stock."""
    with ctx.db.reading() as session:
        return (
            session.execute(
                select(Order.id, Order.version, Order.updated_at, Order.status_date, Order.detail).order_by(Order.id)
            ).all(),
            session.scalar(select(func.count()).select_from(OrderHistory)),
            session.scalar(select(func.count()).select_from(WebhookEvent)),
            session.execute(select(Product.id, Product.quantity).order_by(Product.id)).all(),
        )


def wire_payment(payment_id: str, status: str, key: int) -> dict[str, Any]:
    return PaymentOut.model_validate(
        {"ExternalPaymentId": payment_id, "Amount": "100.00", "Status": {"Key": key, "Value": status}}
    ).model_dump(mode="json")


def test_a_no_op_returns_false_and_writes_nothing(ctx: AppContext, seller: Tenant, add_order: AddOrder) -> None:
    order_id = add_order(seller, shipment_status=ship.READY_TO_SHIP, shipment_substatus=ship.SUB_PRINTED)
    stored = row(ctx, order_id)
    before = snapshot(ctx)
    assert apply(ctx, seller, order_id, as_told(stored)) is False
    # The same payments as stored (ids and statuses) and a claim-less, cart-less entry are no news either.
    same_payments = tuple(detail(ctx, order_id)["Payments"])
    assert apply(ctx, seller, order_id, replace(as_told(stored), payments=same_payments)) is False
    # A shipment behind the stored one is ignored, not a change.
    behind = replace(as_told(stored), shipment_substatus=ship.SUB_READY_TO_PRINT)
    assert apply(ctx, seller, order_id, behind) is False
    assert snapshot(ctx) == before
    assert row(ctx, order_id).version == stored.version


def test_status_is_applied_only_where_the_marketplace_drives_it_and_the_table_allows(
    ctx: AppContext, seller: Tenant, add_order: AddOrder
) -> None:
    # ME2 on Mercado Libre: the marketplace drives the status.
    driven = add_order(seller, logistic_type=ship.ME2)
    before = row(ctx, driven)
    assert apply(ctx, seller, driven, replace(as_told(before), status=st.SHIPPED)) is True
    after = row(ctx, driven)
    assert (after.status, after.status_type) == (st.SHIPPED, st.TYPE_PENDING)
    assert after.status_date > before.status_date and after.updated_at > before.updated_at
    assert after.version > before.version
    assert history(ctx, driven) == [("marketplace", "status", st.READY_TO_SHIP, st.SHIPPED)]
    assert event_types(ctx, driven) == [events.ORDER_STATUS_CHANGED]
    # The transition table has no way back from shipped to ready to ship.
    assert apply(ctx, seller, driven, replace(as_told(after), status=st.READY_TO_SHIP)) is False
    delivered = replace(as_told(after), status=st.DELIVERED)
    assert apply(ctx, seller, driven, delivered) is True
    assert row(ctx, driven).date_closed is not None  # delivered closes the order
    assert apply(ctx, seller, driven, delivered) is False  # idempotent

    # Custom logistics on Mercado Libre: the seller drives the status, the marketplace's progress is ignored.
    manual = add_order(seller, logistic_type=ship.CUSTOM)
    stored = row(ctx, manual)
    assert apply(ctx, seller, manual, replace(as_told(stored), status=st.SHIPPED)) is False
    assert row(ctx, manual).status == st.READY_TO_SHIP and row(ctx, manual).version == stored.version
    assert history(ctx, manual) == [] and event_types(ctx, manual) == []


def _catalogue_product(ctx: AppContext, account_id: int, quantity: int) -> int:
    with ctx.db.writing() as session:
        brand = Brand(account_id=account_id, name="Acme", name_key="acme")
        session.add(brand)
        session.flush()
        product = Product(account_id=account_id, brand_id=brand.id, sku="NEWS-1", name="Thing", quantity=quantity)
        session.add(product)
        session.flush()
        return product.id


def _sold_from(ctx: AppContext, order_id: int, product_id: int) -> None:
    """Make the order's (single, non-kit) line a sale of ``product_id`` that took stock when it arrived."""
    with ctx.db.writing() as session:
        order = session.get(Order, order_id)
        assert order is not None
        data = rendering.detail_of(order.detail)
        [item] = data["Items"]
        item["Product"]["Id"] = product_id
        order.detail = orjson.dumps(data).decode()
        order.stock_moved = True


def test_a_cancellation_always_applies_and_gives_the_stock_back_once(
    ctx: AppContext, seller: Tenant, add_order: AddOrder
) -> None:
    product_id = _catalogue_product(ctx, seller.account_id, quantity=5)
    # Custom logistics: the seller drives the status, yet the marketplace's cancellation still applies.
    order_id = add_order(seller, logistic_type=ship.CUSTOM, lines=[(0, 2)])
    _sold_from(ctx, order_id, product_id)
    before = row(ctx, order_id)
    cancelled = replace(as_told(before), status=st.CANCELLED, shipment_status=ship.CANCELLED, shipment_substatus=None)
    assert apply(ctx, seller, order_id, cancelled) is True
    after = row(ctx, order_id)
    assert (after.status, after.status_type) == (st.CANCELLED, st.TYPE_CANCELLED)
    assert (after.shipment_status, after.shipment_substatus) == (ship.CANCELLED, None)
    assert after.stock_reverted is True and after.date_closed is not None
    assert history(ctx, order_id) == [("marketplace", "status", st.READY_TO_SHIP, st.CANCELLED)]
    assert event_types(ctx, order_id) == [events.ORDER_STATUS_CHANGED, events.ORDER_CANCELLED]
    with ctx.db.reading() as session:
        assert session.get(Product, product_id).quantity == 7  # type: ignore[union-attr]

    # The same cancellation pulled again: nothing is written and the stock is not given back twice.
    state = snapshot(ctx)
    assert apply(ctx, seller, order_id, cancelled) is False
    assert snapshot(ctx) == state
    with ctx.db.reading() as session:
        assert session.get(Product, product_id).quantity == 7  # type: ignore[union-attr]


def test_fraud_is_applied_to_a_seller_driven_order(ctx: AppContext, seller: Tenant, add_order: AddOrder) -> None:
    order_id = add_order(seller, logistic_type=ship.CUSTOM)
    assert apply(ctx, seller, order_id, replace(as_told(row(ctx, order_id)), status=st.FRAUDULENT)) is True
    assert row(ctx, order_id).status == st.FRAUDULENT
    # No stock was taken by this order: nothing to give back, and it is not marked as given back.
    assert row(ctx, order_id).stock_reverted is False


def test_the_shipment_rank_never_goes_backwards(ctx: AppContext, seller: Tenant, add_order: AddOrder) -> None:
    assert shipment_rank(None, None) == -1
    assert shipment_rank(ship.READY_TO_SHIP, ship.SUB_PRINTED) > shipment_rank(ship.READY_TO_SHIP, None)
    assert shipment_rank(ship.SHIPPED, "whatever") == shipment_rank(ship.SHIPPED, None)

    driven = add_order(seller, shipment_status=ship.READY_TO_SHIP, shipment_substatus=ship.SUB_PRINTED)
    stored = row(ctx, driven)
    # The hub printed the label; the marketplace does not know yet.
    assert apply(ctx, seller, driven, replace(as_told(stored), shipment_substatus=ship.SUB_READY_TO_PRINT)) is False
    assert apply(ctx, seller, driven, replace(as_told(stored), shipment_status=ship.PENDING)) is False
    assert apply(ctx, seller, driven, replace(as_told(stored), shipment_status=None, shipment_substatus=None)) is False
    assert row(ctx, driven).version == stored.version
    shipped = replace(as_told(stored), status=st.SHIPPED, shipment_status=ship.SHIPPED, shipment_substatus=None)
    assert apply(ctx, seller, driven, shipped) is True
    after = row(ctx, driven)
    assert (after.shipment_status, after.shipment_substatus) == (ship.SHIPPED, None)
    assert after.shipment_updated_at is not None and after.shipment_updated_at > stored.shipment_updated_at

    # A seller-driven order follows the marketplace only until the label is printed.
    manual = add_order(seller, logistic_type=ship.CUSTOM, shipment_status=ship.PENDING)
    base = row(ctx, manual)
    ready = replace(as_told(base), shipment_status=ship.READY_TO_SHIP, shipment_substatus=ship.SUB_READY_TO_PRINT)
    assert apply(ctx, seller, manual, ready) is True
    after = row(ctx, manual)
    assert (after.shipment_status, after.shipment_substatus) == (ship.READY_TO_SHIP, ship.SUB_READY_TO_PRINT)
    # A shipment change alone is no status news: no history row, status_date unchanged.
    assert history(ctx, manual) == [] and after.status_date == base.status_date
    beyond = replace(as_told(after), status=st.SHIPPED, shipment_status=ship.SHIPPED, shipment_substatus=None)
    assert apply(ctx, seller, manual, beyond) is False
    assert row(ctx, manual).shipment_status == ship.READY_TO_SHIP


def test_payments_are_merged_and_an_approval_is_announced(ctx: AppContext, seller: Tenant, add_order: AddOrder) -> None:
    order_id = add_order(seller, payment_pending=True)
    before = row(ctx, order_id)
    [stored_payment] = detail(ctx, order_id)["Payments"]
    assert before.payment_pending is True
    payments = (
        wire_payment(stored_payment["ExternalPaymentId"], "rejected", 4),
        wire_payment("P-2", "approved", 1),
    )
    approved = replace(as_told(before), payment_pending=False, payments=payments)
    assert apply(ctx, seller, order_id, approved) is True
    after = row(ctx, order_id)
    assert after.payment_pending is False and after.status_date > before.status_date
    assert detail(ctx, order_id)["Payments"] == list(payments)
    assert history(ctx, order_id) == [("marketplace", "payment", st.READY_TO_SHIP, st.READY_TO_SHIP)]
    assert event_types(ctx, order_id) == [events.ORDER_PAYMENT_APPROVED]
    assert apply(ctx, seller, order_id, approved) is False

    # A new payment list with the approval unchanged replaces the stored one; no second approval event.
    more = replace(approved, payments=(*payments, wire_payment("P-3", "approved", 1)))
    assert apply(ctx, seller, order_id, more) is True
    assert [p["ExternalPaymentId"] for p in detail(ctx, order_id)["Payments"]] == [
        stored_payment["ExternalPaymentId"],
        "P-2",
        "P-3",
    ]
    assert event_types(ctx, order_id) == [events.ORDER_PAYMENT_APPROVED]
    # No payments said: the stored list stays.
    assert apply(ctx, seller, order_id, replace(more, payments=())) is False
    assert len(detail(ctx, order_id)["Payments"]) == 3


def test_claims_are_added_once(ctx: AppContext, seller: Tenant, add_order: AddOrder) -> None:
    order_id = add_order(seller)
    base = as_told(row(ctx, order_id))
    # Demo orders may arrive with a claim of their own (random content): the news only adds to those.
    known = detail(ctx, order_id)["ActiveClaims"]
    first = replace(base, claims=({"ExternalClaimId": 77, "DateCreated": "2024-05-10T10:00:00Z"},))
    assert apply(ctx, seller, order_id, first) is True
    claim = {"ExternalClaimId": 77, "DateCreated": "2024-05-10T10:00:00Z"}
    assert detail(ctx, order_id)["ActiveClaims"] == [*known, claim]
    assert apply(ctx, seller, order_id, first) is False
    second = replace(base, claims=(*first.claims, {"ExternalClaimId": 78, "DateCreated": None}))
    assert apply(ctx, seller, order_id, second) is True
    ids = [c["ExternalClaimId"] for c in detail(ctx, order_id)["ActiveClaims"]]
    assert ids == [*(c["ExternalClaimId"] for c in known), 77, 78]
    assert [h[1] for h in history(ctx, order_id)] == ["claim", "claim"]
    assert event_types(ctx, order_id) == []  # claims have no webhook event


def test_a_claim_without_an_id_is_added_once(ctx: AppContext, seller: Tenant, add_order: AddOrder) -> None:
    order_id = add_order(seller)
    known = detail(ctx, order_id)["ActiveClaims"]
    # The marketplace gave no usable id: stored as 0 (a number), and the same news again changes nothing.
    news = replace(as_told(row(ctx, order_id)), claims=({"ExternalClaimId": None, "DateCreated": None},))
    assert apply(ctx, seller, order_id, news) is True
    assert detail(ctx, order_id)["ActiveClaims"] == [*known, {"ExternalClaimId": 0, "DateCreated": None}]
    assert apply(ctx, seller, order_id, news) is False
    assert [h[1] for h in history(ctx, order_id)] == ["claim"]


def test_a_cart_change_refreshes_the_old_and_the_new_cart(ctx: AppContext, seller: Tenant, add_order: AddOrder) -> None:
    moved = add_order(seller, pack_id="2000001", pack_size=2, external_shipping_id=40001)
    stays = add_order(seller, pack_id="2000001", pack_size=2, external_shipping_id=40001)
    assert row(ctx, moved).pack_complete is True and row(ctx, stays).pack_complete is True
    split = replace(as_told(row(ctx, moved)), pack_id="2000002", pack_size=1, external_shipping_id=40002)
    assert apply(ctx, seller, moved, split) is True
    after = row(ctx, moved)
    assert (after.pack_id, after.pack_size, after.source_pack_id) == ("2000002", 1, "2000001")
    assert after.external_shipping_id == 40002 and after.pack_complete is True
    assert row(ctx, stays).pack_complete is False  # its cart now misses an order
    assert history(ctx, moved) == []  # a cart change writes no history row (as before the move)
    assert apply(ctx, seller, moved, split) is False
