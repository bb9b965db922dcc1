"""Scheduling of orders (CF-30): read from the order as GET /v2/orders renders it (status, logistic type,
dates), the milestones stored in ``order_shipping``, the order history and configured deadlines, in that order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alephee import clock
from alephee.config import Settings
from alephee.http.paging import Page, SortOption
from alephee.orders import shipping_rules as ship
from alephee.orders import statuses as st
from alephee.orders.models import ORIGIN_MARKETPLACE, Order, OrderHistory
from alephee.orders.rendering import RENDER_COLUMNS, render_orders
from alephee.orders.schemas import KeyValue, MarketPlaceRef, SellerAccountOut
from alephee.shipping.addressing import (
    MAX_ORDER_ID,
    OrderNotFound,
    order_for,
    shipment_orders,
    shipping_row,
)
from alephee.shipping.models import OrderShipping
from alephee.shipping.schemas import (
    SchedulingDelivered,
    SchedulingDelivery,
    SchedulingHandling,
    SchedulingInfo,
    SchedulingSchedule,
    SchedulingShipping,
)

SCHEDULING_SORTS = (SortOption("Id", "Order by internal ID asc"),)

UNKNOWN_MILESTONE = "Unknown shipping milestone '{name}'"

# --- scheduling milestones ------------------------------------------------------------------------------------

MILESTONES = frozenset(
    {
        "scheduled_at",
        "expires_at",
        "handling_approved_at",
        "handling_limit_at",
        "delivery_estimated_at",
        "delivery_limit_at",
        "shipped_at",
        "first_visit_at",
        "delivered_at",
        "not_delivered_at",
        "returned_at",
    }
)
# Order statuses whose first time (order history) dates a milestone when none was stored.
STATUS_MILESTONES: dict[int, str] = {
    st.SHIPPED: "shipped_at",
    st.DELIVERED: "delivered_at",
    st.RECIPIENT_NOT_FOUND: "not_delivered_at",
    st.LOGISTICS_ISSUE: "not_delivered_at",
}
# Orders that reached Delivered: their DateClosed is the delivery moment.
_DELIVERED_STATUSES = frozenset({st.DELIVERED, st.CANCELLED_AFTER_DELIVERY})


def record_milestones(session: Session, account_id: int, order_id: int, **dates: datetime | None) -> None:
    """Store dates a marketplace reports for a shipment (keywords: ``MILESTONES``; None erases one), for
    every order travelling together. For the marketplace side; does not commit."""
    unknown = sorted(set(dates) - MILESTONES)
    if unknown:
        raise ValueError(UNKNOWN_MILESTONE.format(name=unknown[0]))
    order = order_for(session, account_id, order_id)
    now = clock.utcnow()
    for member in shipment_orders(session, order):
        row = shipping_row(session, member)
        for name, value in dates.items():
            setattr(row, name, value)
        row.updated_at = now
    session.flush()


def _parse_wire_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _first_history(session: Session, order_ids: Sequence[int]) -> dict[tuple[int, str], datetime]:
    """(order id, milestone) → first time the order reached a status of ``STATUS_MILESTONES``."""
    if not order_ids:
        return {}
    rows = session.execute(
        select(OrderHistory.order_id, OrderHistory.to_status, func.min(OrderHistory.at))
        .where(OrderHistory.order_id.in_(order_ids), OrderHistory.to_status.in_(list(STATUS_MILESTONES)))
        .group_by(OrderHistory.order_id, OrderHistory.to_status)
    ).all()
    found: dict[tuple[int, str], datetime] = {}
    for order_id, status, at in rows:
        key = (order_id, STATUS_MILESTONES[status])
        if key not in found or at < found[key]:
            found[key] = at
    return found


def _scheduling(
    settings: Settings, row: Any, order: dict[str, Any], history: dict[tuple[int, str], datetime]
) -> SchedulingInfo:
    extra: OrderShipping | None = row.OrderShipping
    shipping = order["Shipping"]

    def stored(name: str) -> datetime | None:
        return getattr(extra, name) if extra is not None else None

    def seen(name: str) -> datetime | None:
        return stored(name) or history.get((row.id, name))

    created = _parse_wire_time(shipping.get("DateCreated"))
    expiration = stored("expires_at")
    if expiration is None and created and row.origin == ORIGIN_MARKETPLACE and settings.shipping_feedback_days > 0:
        expiration = created + timedelta(days=settings.shipping_feedback_days)
    approved = stored("handling_approved_at")
    if approved is None and not row.payment_pending:
        dates = [_parse_wire_time(p.get("DateApproved")) for p in order.get("Payments") or []]
        approved = min((d for d in dates if d is not None), default=None)
    limit = stored("handling_limit_at")
    if limit is None and approved and ship.seller_handles(row.logistic_type) and settings.shipping_handling_hours > 0:
        limit = approved + timedelta(hours=settings.shipping_handling_hours)
    delivered = seen("delivered_at")
    if delivered is None and row.status in _DELIVERED_STATUSES:
        delivered = row.date_closed
    return SchedulingInfo(
        Id=str(row.id),
        SellerAccount=SellerAccountOut.model_validate(order["SellerAccount"]),
        Marketplace=MarketPlaceRef.model_validate(order["MarketPlace"]),
        Shipping=SchedulingShipping(
            Status=KeyValue.model_validate(shipping["Status"]),
            LogisticType=KeyValue.model_validate(shipping["LogisticType"]),
            Schedule=SchedulingSchedule(
                Created=created,
                Updated=_parse_wire_time(shipping.get("LastUpdated")),
                FirstPrinted=row.label_first_printed_at,
                Schedule=stored("scheduled_at"),
                Expiration=expiration,
            ),
            Handling=SchedulingHandling(Approved=approved, Limit=limit),
            Delivery=SchedulingDelivery(
                Estimated=stored("delivery_estimated_at") or _parse_wire_time(shipping.get("EstimatedDeliveryDate")),
                Limit=stored("delivery_limit_at"),
                Shipped=seen("shipped_at"),
                FirstVisit=stored("first_visit_at"),
            ),
            Delivered=SchedulingDelivered(
                Date=delivered, NotDelivered=seen("not_delivered_at"), Returned=stored("returned_at")
            ),
        ),
    )


def _scheduling_query(account_id: int) -> Any:
    columns = (*RENDER_COLUMNS, Order.label_first_printed_at, Order.origin, Order.payment_pending)
    return (
        select(*columns, OrderShipping)
        .select_from(Order)
        .outerjoin(OrderShipping, OrderShipping.order_id == Order.id)
        .where(Order.account_id == account_id, Order.status != st.DELETED)
    )


def _schedulings(session: Session, settings: Settings, rows: Sequence[Any]) -> list[SchedulingInfo]:
    rendered = render_orders(session, rows)
    history = _first_history(session, [row.id for row in rows])
    return [_scheduling(settings, row, order, history) for row, order in zip(rows, rendered, strict=True)]


def get_scheduling(session: Session, settings: Settings, account_id: int, order_id: int) -> SchedulingInfo:
    """GET scheduling of one order (CF-30.2)."""
    if not 1 <= order_id <= MAX_ORDER_ID:
        raise OrderNotFound()
    row = session.execute(_scheduling_query(account_id).where(Order.id == order_id)).first()
    if row is None:
        raise OrderNotFound()
    return _schedulings(session, settings, [row])[0]


def list_scheduling(
    session: Session, settings: Settings, account_id: int, page: Page
) -> tuple[int, list[SchedulingInfo]]:
    """GET scheduling without orderId: the account's orders, by Id, in the paged envelope."""
    rows = session.execute(_scheduling_query(account_id).order_by(Order.id).offset(page.offset).limit(page.limit)).all()
    if page.offset == 0 and len(rows) < page.limit:
        total = len(rows)
    else:
        total = int(
            session.scalar(
                select(func.count())
                .select_from(Order)
                .where(Order.account_id == account_id, Order.status != st.DELETED)
            )
            or 0
        )
    return total, _schedulings(session, settings, rows)
