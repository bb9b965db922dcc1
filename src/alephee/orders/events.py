"""The orders' webhook events (``order.created``, ``order.status_changed``, ``order.cancelled``,
``order.payment_approved``, ``document.forwarded``/``document.refused``): one-line calls made at the orders'
central points, each building the event's ``Data`` from the order and recording it with ``webhooks.events.emit``
in the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from alephee.orders.statuses import is_cancelled
from alephee.webhooks.events import (
    DOCUMENT_FORWARDED,
    DOCUMENT_REFUSED,
    ORDER_CANCELLED,
    ORDER_CREATED,
    ORDER_PAYMENT_APPROVED,
    ORDER_STATUS_CHANGED,
    emit,
)


def _order_data(order: Any) -> dict[str, Any]:
    return {
        "MarketplaceId": order.marketplace_id,
        "ExternalOrderId": order.external_order_id,
        "PackId": order.pack_id,
        "Status": order.status,
        "PaymentPending": bool(order.payment_pending),
        "Integrated": bool(order.integrated),
        "IntegratedOrderId": order.integrated_order_id,
    }


def order_created(session: Session, order: Any) -> None:
    """``order.created`` for a stored order (``orders.models.Order``, flushed so it has an id)."""
    emit(session, order.account_id, ORDER_CREATED, {"OrderId": order.id}, _order_data(order))


def order_status_changed(session: Session, order: Any, previous_status: int | None) -> None:
    """``order.status_changed`` (and ``order.cancelled`` when the new status is of the cancelled type, whether
    or not the order was already integrated) after ``order.status`` moved from ``previous_status``."""
    if previous_status == order.status:
        return
    data = {**_order_data(order), "PreviousStatus": previous_status}
    emit(session, order.account_id, ORDER_STATUS_CHANGED, {"OrderId": order.id}, data)
    if is_cancelled(order.status) and (previous_status is None or not is_cancelled(previous_status)):
        emit(session, order.account_id, ORDER_CANCELLED, {"OrderId": order.id}, data)


def order_payment_approved(session: Session, order: Any) -> None:
    """``order.payment_approved`` once an order's payment stops being pending."""
    emit(session, order.account_id, ORDER_PAYMENT_APPROVED, {"OrderId": order.id}, _order_data(order))


def order_payment_update(session: Session, order: Any, pending: bool) -> None:
    """Call right before ``order.payment_pending`` takes ``pending``: ``order.payment_approved`` when a pending
    payment becomes approved, nothing otherwise."""
    if order.payment_pending and not pending:
        data = {**_order_data(order), "PaymentPending": False}
        emit(session, order.account_id, ORDER_PAYMENT_APPROVED, {"OrderId": order.id}, data)


def document_outcome(
    session: Session,
    account_id: int,
    order_id: int,
    *,
    forwarded: bool,
    document_type: int | None = None,
    document_number: str | None = None,
    reason: str | None = None,
) -> None:
    """``document.forwarded`` / ``document.refused``: what the marketplace did with an order's document."""
    emit(
        session,
        account_id,
        DOCUMENT_FORWARDED if forwarded else DOCUMENT_REFUSED,
        {"OrderId": order_id},
        {"DocumentType": document_type, "DocumentNumber": document_number, "Reason": reason},
    )
