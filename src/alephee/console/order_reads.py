"""The console's orders: one account's orders with the filters of GET /v2/orders (``orders.query``: the same
parsing, the same statement), and an order's page — the order as the API renders it (items, buyer, payments,
shipping, documents) with its messages and its status history as a timeline."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alephee.config import Settings
from alephee.console.health import AccountScope
from alephee.http.paging import Page
from alephee.orders import statuses as st
from alephee.orders.access import OrderNotFound
from alephee.orders.models import Order, OrderHistory, OrderMessage
from alephee.orders.query import FILTER_DOCS, ID_SORT, ORDER_SORTS, OrderFilters, order_query, parse_filters, render_one
from alephee.orders.rendering import RENDER_COLUMNS, render_orders

PAGE_SIZE = 25
# The query names of the filters the console's form offers (those of GET /v2/orders).
FILTER_NAMES = tuple(name for name in FILTER_DOCS if name != "additionalInfo")


def order_filters(raw: Mapping[str, str]) -> OrderFilters:
    """The filters of GET /v2/orders read from the console's form (400 on a malformed value, as the API). An
    empty field is no filter, so ``Integrated`` left empty has the API's default."""
    values = {name: raw[name] for name in FILTER_NAMES if raw.get(name, "").strip()}
    return parse_filters(values)


def console_page(offset: int) -> Page:
    """Page ``offset`` of the orders list, newest id last as the API sorts."""
    return Page(
        offset=max(0, offset),
        limit=PAGE_SIZE,
        sort=ID_SORT,
        sort_requested=False,
        partial=False,
        available=ORDER_SORTS,
    )


def find_orders(
    session: Session, settings: Settings, account_id: int, filters: OrderFilters, offset: int
) -> tuple[int, list[dict[str, Any]]]:
    """The total and one page of the account's orders that GET /v2/orders would return for ``filters``,
    rendered as the API renders them."""
    query = order_query(session, settings, account_id, filters, console_page(offset))
    rows = session.execute(query.statement, query.params).all()
    total = int(rows[0][0]) if rows else 0
    ids = [row[1] for row in rows if row[1] is not None]
    if not ids:
        return total, []
    found = session.execute(select(*RENDER_COLUMNS).where(Order.id.in_(ids)).order_by(Order.id)).all()
    return total, render_orders(session, found, frozenset())


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One change of an order, as the timeline shows it."""

    at: Any
    actor: str
    action: str
    from_status: str | None
    to_status: str | None
    detail: str | None


@dataclass(frozen=True, slots=True)
class OrderPage:
    """An order's page: the rendered order, its messages and its timeline (oldest first)."""

    account_id: int
    order: dict[str, Any]
    messages: list[OrderMessage]
    timeline: list[TimelineEntry]
    printable: bool


def _status_label(code: int | None) -> str | None:
    return None if code is None else f"{code} {st.STATUS_LABELS.get(code, '')}".strip()


def order_account(session: Session, accounts: AccountScope, order_id: int) -> int:
    """The account of one of the operator's orders; ``OrderNotFound`` when it is not theirs (or not at all)."""
    account_id = session.scalar(select(Order.account_id).where(Order.id == order_id, Order.status != st.DELETED))
    if account_id is None or (accounts is not None and account_id not in accounts):
        raise OrderNotFound()
    return account_id


def order_page(session: Session, accounts: AccountScope, order_id: int) -> OrderPage:
    """One of the operator's orders with its messages and its status history."""
    account_id = order_account(session, accounts, order_id)
    order = render_one(session, account_id, order_id)
    messages = list(
        session.scalars(select(OrderMessage).where(OrderMessage.order_id == order_id).order_by(OrderMessage.id))
    )
    row = session.get(Order, order_id)
    assert row is not None
    # The sale opens the timeline; every recorded change follows.
    timeline = [TimelineEntry(row.sale_date, "marketplace", "sale", None, None, None)]
    for h in session.scalars(select(OrderHistory).where(OrderHistory.order_id == order_id).order_by(OrderHistory.id)):
        detail = ", ".join(
            f"{name}: {value}"
            for name, value in (
                ("IntegratedOrderId", h.integrated_order_id),
                ("ErpStatus", h.erp_status),
                ("TrackingNumber", h.tracking_number),
                ("TrackingStatus", h.tracking_status),
            )
            if value
        )
        timeline.append(
            TimelineEntry(
                h.at, h.actor, h.action, _status_label(h.from_status), _status_label(h.to_status), detail or None
            )
        )
    printable = row.external_shipping_id is not None
    return OrderPage(account_id, order, messages, timeline, printable)
