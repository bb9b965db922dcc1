"""The buyer's orders on the portal: the list of what the user placed, and one order as the hub holds it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from alephee.errors import NotFound
from alephee.http.i18n import N_
from alephee.orders import statuses as st
from alephee.orders.models import Order
from alephee.orders.query import render_one
from alephee.portal.catalog import PortalNotFound
from alephee.portal.formatting import buyer_status
from alephee.portal.models import PortalOrder
from alephee.portal.sessions import Viewer

ORDER_NOT_FOUND = N_("The order does not exist.")
ORDERS_PAGE_SIZE = 20


class OrderNotFound(PortalNotFound):
    """The order does not exist or was placed by someone else (404)."""

    message = ORDER_NOT_FOUND


# --- the buyer's orders --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderRow:
    """One of the viewer's orders in the list."""

    id: int
    created_at: datetime
    lines: int
    units: int
    total: Decimal
    currency: str | None
    status: int
    status_label: str


@dataclass(frozen=True, slots=True)
class OrdersPage:
    """A page of the viewer's orders, newest first."""

    rows: list[OrderRow]
    page: int
    pages: int
    total: int


def my_orders(session: Session, viewer: Viewer, page: int) -> OrdersPage:
    """The orders the viewer placed on the portal, with each order's current status."""
    where = and_(
        PortalOrder.account_id == viewer.account_id,
        PortalOrder.user_id == viewer.user_id,
        Order.status != st.DELETED,
    )
    base = select(PortalOrder, Order.status).join(Order, Order.id == PortalOrder.order_id).where(where)
    total = int(session.scalar(select(func.count()).select_from(base.subquery())) or 0)
    pages = max(1, -(-total // ORDERS_PAGE_SIZE))
    page = min(max(1, page), pages)
    rows = session.execute(
        base.order_by(PortalOrder.order_id.desc()).offset((page - 1) * ORDERS_PAGE_SIZE).limit(ORDERS_PAGE_SIZE)
    ).all()
    out = []
    for portal_order, status in rows:
        out.append(
            OrderRow(
                id=portal_order.order_id,
                created_at=portal_order.created_at,
                lines=portal_order.lines,
                units=portal_order.units,
                total=portal_order.total,
                currency=portal_order.currency,
                status=status,
                status_label=buyer_status(status, viewer.language),
            )
        )
    return OrdersPage(out, page, pages, total)


@dataclass(frozen=True, slots=True)
class OrderPage:
    """One of the viewer's orders as the hub holds it (wire shape) plus the portal's totals."""

    id: int
    order: dict[str, Any]
    summary: PortalOrder
    status_label: str


def my_order(session: Session, viewer: Viewer, order_id: int) -> OrderPage:
    """An order the viewer placed (404 for anyone else's)."""
    summary = session.get(PortalOrder, order_id)
    if summary is None or summary.account_id != viewer.account_id or summary.user_id != viewer.user_id:
        raise OrderNotFound
    try:
        order = render_one(session, viewer.account_id, order_id)
    except NotFound:
        raise OrderNotFound from None
    return OrderPage(order_id, order, summary, buyer_status(int(order["Status"]["Key"]), viewer.language))
