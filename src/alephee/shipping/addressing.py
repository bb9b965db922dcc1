"""Which orders a shipping request addresses: the order id from the URL or the body, the account's order, the
orders travelling in the same shipment and their shipping row."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from alephee import clock
from alephee.errors import InvalidInput
from alephee.http.numbers import int_from_text
from alephee.http.params import MAX_INT64
from alephee.orders import statuses as st
from alephee.orders.access import OrderNotFound, order_row
from alephee.orders.models import Order
from alephee.shipping.models import OrderShipping
from alephee.shipping.values import (
    NotAnInteger,
    as_int,
)

MAX_ORDER_ID = MAX_INT64


class OrderIdRequired(InvalidInput):
    """No order id in the path, the query string or the body (400)."""

    message = "orderId is required (in the path or the query string)"


class OrderIdInvalid(InvalidInput):
    """The order id of the URL is not an integer (400)."""

    message = "orderId must be an integer"


class OrderIdMismatch(InvalidInput):
    """The body's ``OrderId`` names another order than the URL (400)."""

    message = "OrderId in the body ({body}) does not match the orderId of the URL ({url})"

    def __init__(self, body_id: int, url_id: int) -> None:
        super().__init__(self.message.format(body=body_id, url=url_id))


def parse_order_id(raw: str | None) -> int | None:
    """An order id from the URL (None when absent; 400 when not an integer). Out-of-range ids are kept:
    they simply match no order."""
    if raw is None or not raw.strip():
        return None
    number = int_from_text(raw)
    if number is None:
        raise OrderIdInvalid()
    return number


def resolve_order_id(url_id: int | None, body_id: Any) -> int:
    """The order a write addresses: the URL's, else the body's ``OrderId``; both given must agree."""
    from_body = as_int(body_id) if body_id is not None else None
    if body_id is not None and from_body is None:
        raise NotAnInteger("OrderId")
    if url_id is not None and from_body is not None and url_id != from_body:
        raise OrderIdMismatch(from_body, url_id)
    order_id = url_id if url_id is not None else from_body
    if order_id is None:
        raise OrderIdRequired()
    return order_id


def order_for(session: Session, account_id: int, order_id: int) -> Order:
    """The account's order (404 when absent, deleted, another account's or out of range)."""
    if not 1 <= order_id <= MAX_ORDER_ID:
        raise OrderNotFound()
    return order_row(session, account_id, order_id)


def shipment_orders(session: Session, order: Order) -> list[Order]:
    """The order and every order travelling with it (same cart and shipment), locked, ascending ids."""
    together = Order.id == order.id
    if order.pack_id and order.external_shipping_id is not None:
        together = or_(
            together, and_(Order.pack_id == order.pack_id, Order.external_shipping_id == order.external_shipping_id)
        )
    query = (
        select(Order)
        .where(Order.account_id == order.account_id, Order.status != st.DELETED, together)
        .order_by(Order.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(query)) or [order]


def shipping_row(session: Session, order: Order) -> OrderShipping:
    row = session.get(OrderShipping, order.id)
    if row is None:
        row = OrderShipping(order_id=order.id, account_id=order.account_id, updated_at=clock.utcnow())
        session.add(row)
    return row
