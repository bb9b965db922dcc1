"""DELETE /v2/orders (CF-21.7): soft-deleting an order created through the API and giving back, at most once,
the stock its creation took.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from alephee import clock
from alephee.errors import InvalidInput, NotFound, PreconditionFailed
from alephee.http.fields import IdIn
from alephee.orders import events as webhook_events
from alephee.orders import statuses as st
from alephee.orders.access import lock_order
from alephee.orders.ingest import refresh_pack
from alephee.orders.models import ORIGIN_API, OrderCreation, history_row, insert_history
from alephee.products import stock as products


class OrderIdRequired(InvalidInput):
    """orderId is missing or not an integer (400)."""

    message = "orderId is required and must be an integer"


class NotAnApiOrder(PreconditionFailed):
    """Only orders created through POST /v2/orders can be deleted (412)."""

    message = "Only orders created through POST /v2/orders can be deleted"


# The order id rule of every batch element (``http.fields.IdIn``), read here from the query.
_ORDER_ID: TypeAdapter[int] = TypeAdapter(IdIn)


def parse_order_id(raw: str | None) -> int:
    """A required ``orderId`` query value (400 when absent, not an integer or out of range)."""
    try:
        return _ORDER_ID.validate_python(raw.strip() if raw is not None else None)
    except ValidationError:
        raise OrderIdRequired() from None


def delete_order(session: Session, account_id: int, actor: str, order_id: int, revert_stock: bool) -> None:
    """Soft-delete an API-created order (status 70) and, with ``revert_stock``, give back exactly the stock
    its creation took. Deleting again is a no-op success; the stock is never given back twice.
    No commit: the caller owns the transaction."""
    order = lock_order(session, account_id, order_id, deleted=True)
    if order.origin != ORIGIN_API:
        raise NotAnApiOrder()
    now = clock.utcnow()
    history: list[dict[str, Any]] = []
    creation = session.get(OrderCreation, order.id)
    if order.status != st.DELETED:
        previous = order.status
        order.status = st.DELETED
        order.status_type = None
        order.status_date = now
        order.date_closed = order.date_closed or now
        order.updated_at = now
        history.append(history_row(order, actor, "delete", now, from_status=previous, to_status=st.DELETED))
        webhook_events.order_status_changed(session, order, previous)
        if creation is not None:
            creation.deleted_at = now
    if revert_stock and order.stock_moved and not order.stock_reverted:
        moves = creation.stock_moves if creation is not None else []
        back: dict[int, int] = {}
        for move in moves:
            back[int(move["product_id"])] = back.get(int(move["product_id"]), 0) + int(move["moved"])
        for product_id in sorted(back):
            if back[product_id]:
                try:
                    products.move_stock(session, account_id, product_id, back[product_id])
                except NotFound:
                    continue  # the product left the catalogue since: nothing to give back to
        order.stock_reverted = True
        order.updated_at = now
        if creation is not None:
            creation.stock_reverted_at = now
        history.append(history_row(order, actor, "revert_stock", now, from_status=st.DELETED, to_status=st.DELETED))
    session.flush()
    if order.pack_id:
        refresh_pack(session, account_id, order.pack_id)
    if history:
        insert_history(session, history)
