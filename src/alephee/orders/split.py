"""POST /v2/orders/{orderId}/split (CF-21.4): moving a Mercado Libre order out of its cart into its own cart
and shipment, and the preconditions that refuse it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alephee import clock
from alephee.errors import InvalidInput, PreconditionFailed
from alephee.http.numbers import int_from_text
from alephee.marketplaces.outbox import enqueue
from alephee.orders import shipping_rules as ship
from alephee.orders import statuses as st
from alephee.orders.access import OrderNotFound, locked_orders, marketplace_family, order_payload
from alephee.orders.ingest import refresh_pack
from alephee.orders.models import ORIGIN_MARKETPLACE, Order, history_row, insert_history

SPLIT_REASONS = {1: "fragile", 2: "another_warehouse", 3: "irregular_shape", 4: "other_motive"}


class SplitReasonRequired(InvalidInput):
    """splitReasonId is missing (400)."""

    message = "splitReasonId is required: 1 (fragile), 2 (another_warehouse), 3 (irregular_shape) or 4 (other_motive)"


class BadSplitReason(InvalidInput):
    """splitReasonId is not 1, 2, 3 or 4 (400)."""

    message = "Invalid splitReasonId '{value}': use 1, 2, 3 or 4"


class SplitOnlyMercadoLibre(PreconditionFailed):
    """Only Mercado Libre orders can be split (412)."""

    message = "Only Mercado Libre orders can be split"


SPLIT_NOT_IN_CART = "The order does not belong to a shopping cart (pack)"
SPLIT_SINGLE_ORDER = "The order's cart holds no other order: there is nothing to split"
SPLIT_DELIVERED = "The order was already delivered"
SPLIT_SHIPMENT_GONE = "The order's shipment is already '{status}': it can no longer be split"
SPLIT_CANCELLED = "The order is cancelled"
SPLIT_LABEL_SUBSTATUS = "The order's shipping label is in substate '{substatus}': it cannot be split now"


# New ids after a split, derived from the order id (an order leaves a cart once: its new cart holds only it).
SPLIT_PACK_BASE = 2_000_008_000_000_000
SPLIT_SHIPPING_BASE = 50_000_000_000
SPLIT_BLOCKING_SHIPMENTS = frozenset({ship.SHIPPED, ship.DELIVERED, ship.NOT_DELIVERED, ship.CANCELLED})


class SplitRefused(PreconditionFailed):
    """The order cannot leave its cart now: not in a cart with other orders, delivered, cancelled, shipped, or
    its label is PENDING/STALE (412)."""


def split_pack_id(order_id: int) -> str:
    """The cart id an order gets when it is split out of its cart."""
    return str(SPLIT_PACK_BASE + order_id)


def parse_split_reason(raw: str | None) -> int:
    """``splitReasonId`` (400 when absent or not 1-4)."""
    if raw is None or not raw.strip():
        raise SplitReasonRequired()
    reason = int_from_text(raw)
    if reason is None or reason not in SPLIT_REASONS:
        raise BadSplitReason(BadSplitReason.message.format(value=raw.strip()))
    return reason


def _split_out(order: Order) -> dict[str, Any]:
    return {
        "OrderId": order.id,
        "PackId": order.pack_id,
        "SourcePackId": order.source_pack_id,
        "ExternalShippingId": order.external_shipping_id,
    }


def split_refusal(order: Order, carts_orders: int) -> str | None:
    """Why the order cannot leave its cart now (CF-21.4.2 rule 3), or None."""
    if not order.pack_id:
        return SPLIT_NOT_IN_CART
    if carts_orders < 2:
        return SPLIT_SINGLE_ORDER
    if order.status == st.DELIVERED or order.shipment_status == ship.DELIVERED:
        return SPLIT_DELIVERED
    if st.is_cancelled(order.status):
        return SPLIT_CANCELLED
    if order.shipment_status in SPLIT_BLOCKING_SHIPMENTS:
        return SPLIT_SHIPMENT_GONE.format(status=order.shipment_status)
    if order.shipment_substatus in ship.SPLIT_BLOCKED_SUBSTATUSES:
        return SPLIT_LABEL_SUBSTATUS.format(substatus=order.shipment_substatus.upper())
    return None


def split_order(session: Session, account_id: int, actor: str, order_id: int, reason: int) -> dict[str, Any]:
    """Move one order out of its Mercado Libre cart into its own cart and shipment. A repeat (the order was
    already split out) returns the same result and queues nothing.
    No commit: the caller owns the transaction."""
    # Read the cart without a lock, then lock every order of it in ascending id order (two splits of the
    # same cart never wait on each other in a cycle), then check again under the lock.
    first = session.scalar(
        select(Order.pack_id).where(Order.id == order_id, Order.account_id == account_id, Order.status != st.DELETED)
    )
    pack_id = first
    ids = [order_id]
    if pack_id:
        ids = sorted(
            set(
                session.scalars(
                    select(Order.id).where(
                        Order.account_id == account_id, Order.pack_id == pack_id, Order.status != st.DELETED
                    )
                )
            )
            | {order_id}
        )
    locked = locked_orders(session, account_id, ids)
    order = locked.get(order_id)
    if order is None:
        raise OrderNotFound()
    if marketplace_family(session, order.marketplace_id) != "mercadolibre" or order.origin != ORIGIN_MARKETPLACE:
        raise SplitOnlyMercadoLibre()
    if order.pack_id == split_pack_id(order.id):
        session.rollback()
        return _split_out(order)  # already split out: a retry after a timeout
    if order.pack_id != pack_id:
        raise SplitRefused(SPLIT_NOT_IN_CART if not order.pack_id else SPLIT_SINGLE_ORDER)
    cart = [o for o in locked.values() if o.pack_id == pack_id]
    refusal = split_refusal(order, len(cart))
    if refusal:
        raise SplitRefused(refusal)
    now = clock.utcnow()
    old_pack = order.pack_id
    assert old_pack is not None
    order.source_pack_id = order.source_pack_id or old_pack
    order.pack_id = split_pack_id(order.id)
    order.pack_size = 1
    order.pack_complete = True
    order.external_shipping_id = SPLIT_SHIPPING_BASE + order.id
    if order.shipment_status == ship.READY_TO_SHIP:
        order.shipment_substatus = ship.SUB_READY_TO_PRINT  # a new shipment: a new label to print
    order.label_first_printed_at = None
    order.shipment_updated_at = now
    order.updated_at = now
    for other in cart:
        if other.id != order.id:
            other.pack_size = max(1, (other.pack_size or len(cart)) - 1)
            other.updated_at = now
    session.flush()
    refresh_pack(session, account_id, old_pack)
    insert_history(session, [history_row(order, actor, "split", now)])
    enqueue(
        session,
        account_id=account_id,
        topic="order.split",
        aggregate_type="order",
        aggregate_id=order.id,
        payload=order_payload(
            order,
            PackId=old_pack,
            SplitReasonId=reason,
            NewPackId=order.pack_id,
            NewExternalShippingId=order.external_shipping_id,
        ),
        marketplace_id=order.marketplace_id,
    )
    out = _split_out(order)
    return out
