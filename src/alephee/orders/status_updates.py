"""The ERP's batch writes on orders: PUT /v2/orders/integrate (integration marks) and PUT /v2/orders (status
and tracking, with the transition table and the automatic/manual rules of ``orders/statuses.py``). One result
per element in request order; good elements are applied, bad ones change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alephee import clock
from alephee.db import BulkStatement, RowWriter, arrays
from alephee.marketplaces.outbox import enqueue
from alephee.orders import events as webhook_events
from alephee.orders import shipping_rules as ship
from alephee.orders import statuses as st
from alephee.orders.access import (
    HUB_ORIGINS,
    IntegrationState,
    OrderNotFound,
    locked_integration_states,
    locked_orders,
    marketplace_family,
    order_payload,
)
from alephee.orders.models import ORIGIN_B2B, Order, OrderHistory, history_row, insert_history
from alephee.orders.reservations import release_b2b_reservation
from alephee.orders.schemas import IntegrateIn, OrderStatusIn

INTEGRATE_OK = "Ok"
# The columns PUT /v2/orders/integrate may set, by wire name.
_INTEGRATION_COLUMNS = {"Integrated": "integrated", "OwnOrderId": "integrated_order_id", "ErpStatus": "erp_status"}


# The marks of a batch, written in one statement (the version bump the ORM hooks of orders/models.py add to
# every other write is written here by hand).
_SQL_INTEGRATE = BulkStatement(
    "UPDATE orders SET integrated = ?, integrated_order_id = ?, erp_status = ?, updated_at = ?,"
    " version = version + 1 WHERE id = ?",
    "UPDATE orders AS o SET integrated = v.integrated, integrated_order_id = v.own, erp_status = v.erp,"
    " updated_at = v.t, version = o.version + 1"
    f" FROM unnest({arrays('boolean', 'varchar', 'varchar', 'timestamptz', 'integer')})"
    " AS v(integrated, own, erp, t, id) WHERE o.id = v.id",
)


@dataclass(frozen=True, slots=True)
class IntegrationMark:
    """One element of PUT /v2/orders/integrate as read: the order and the column values to set, or the
    problem that refuses it (then nothing of it is applied)."""

    raw: Any
    order_id: int | None = None
    changes: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None


def _integration_mark(raw: Any) -> IntegrationMark:
    """The element read through ``IntegrateIn``: the properties it sets become column changes (``Integrated``
    null changes nothing)."""
    element, problem = IntegrateIn.read(raw)
    if element is None:
        return IntegrationMark(raw, problem=problem)
    changes = {
        column: getattr(element, name)
        for name, column in _INTEGRATION_COLUMNS.items()
        if name in element.model_fields_set or name == "Integrated"
    }
    if changes["integrated"] is None:
        del changes["integrated"]
    return IntegrationMark(raw, element.OrderId, changes)


def integrate(session: Session, account_id: int, actor: str, elements: list[Any]) -> dict[str, Any]:
    """PUT /v2/orders/integrate (CF-21.2, authoritative example): results in request order with
    ``Status`` as a string, "Ok" / "Order not found", partial success. No commit (the caller owns the
    transaction)."""
    marks = [_integration_mark(raw) for raw in elements]
    now = clock.utcnow()
    orders = locked_integration_states(
        session, account_id, [m.order_id for m in marks if m.order_id is not None and m.problem is None]
    )
    history: list[dict[str, Any]] = []
    changed: dict[int, IntegrationState] = {}
    for mark in sorted((m for m in marks if m.order_id in orders and m.problem is None), key=lambda m: m.order_id or 0):
        order = orders[mark.order_id or 0]
        if all(getattr(order, column) == value for column, value in mark.changes.items()):
            continue  # a repeat after a timeout: nothing to do, nothing to record
        for column, value in mark.changes.items():
            setattr(order, column, value)
        changed[order.id] = order
        history.append(
            history_row(
                order,
                actor,
                "integrate",
                now,
                integrated=order.integrated,
                integrated_order_id=order.integrated_order_id,
                erp_status=order.erp_status,
            )
        )
    if changed:
        writer = RowWriter(session.connection())
        stamp = writer.stamp(now)
        writer.executemany(
            _SQL_INTEGRATE,
            [(o.integrated, o.integrated_order_id, o.erp_status, stamp, o.id) for o in changed.values()],
        )
        insert_history(session, history)
    results = []
    for mark in marks:
        if mark.problem is not None:
            results.append({"Status": "400", "Message": mark.problem, "OrderStatus": mark.raw})
        elif mark.order_id not in orders:
            results.append({"Status": "400", "Message": OrderNotFound.message, "OrderStatus": mark.raw})
        else:
            order = orders[mark.order_id]
            results.append(
                {
                    "Status": "200",
                    "Message": INTEGRATE_OK,
                    "OrderStatus": {
                        "OrderId": order.id,
                        "OwnOrderId": order.integrated_order_id,
                        "Integrated": order.integrated,
                        "ErpStatus": order.erp_status,
                    },
                }
            )
    return {"Total": len(results), "Results": results}


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One element of PUT /v2/orders as read: the order, its target status and tracking (None: unchanged),
    or the problem that refuses it."""

    raw: Any
    order_id: int | None = None
    target: int | None = None
    tracking: dict[str, Any] | None = None
    problem: str | None = None


def _status_change(raw: Any) -> StatusChange:
    """The element read through ``OrderStatusIn``."""
    element, problem = OrderStatusIn.read(raw)
    if element is None:
        return StatusChange(raw, problem=problem)
    tracking = None if element.Tracking is None else element.Tracking.model_dump()
    return StatusChange(raw, element.OrderId, element.Status, tracking)


def _transition_outcome(session: Session, order: Order, target: int) -> tuple[int, str]:
    # The transition table and the automatic/manual rules of orders/statuses.py, for this order.
    hub_owned = order.origin in HUB_ORIGINS
    return st.transition_error(
        order.status,
        target,
        api_created=hub_owned,
        automatic=st.updates_automatically(
            family=marketplace_family(session, order.marketplace_id),
            logistic_type=order.logistic_type,
            shipping_method=order.shipping_method,
            api_created=hub_owned,
        ),
        logistic=ship.logistic_name(order.logistic_type) or "unknown",
    )


def _apply_status(order: Order, target: int, now: datetime) -> None:
    # The columns a new status moves: its type, its date, the closing date, and the shipment it implies.
    order.status = target
    order.status_type = st.status_type_of(target)
    order.status_date = now
    if st.closes_order(target):
        order.date_closed = order.date_closed or now
    shipment = ship.SHIPMENT_FOR_ORDER_STATUS.get(target)
    if shipment is not None:
        order.shipment_status, order.shipment_substatus = shipment
        order.shipment_updated_at = now


def _after_status_change(
    session: Session, order: Order, previous: int, *, changed_status: bool, tracking: dict[str, Any] | None
) -> None:
    """What follows an accepted status or tracking change, in one place: the webhook event, the stock of a
    cancelled B2B order given back, and the change queued for the marketplace (orders it owns only)."""
    webhook_events.order_status_changed(session, order, previous)
    if changed_status and order.status == st.CANCELLED and order.origin == ORIGIN_B2B:
        release_b2b_reservation(session, order.id)
    if order.origin not in HUB_ORIGINS:
        enqueue(
            session,
            account_id=order.account_id,
            topic="order.status",
            aggregate_type="order",
            aggregate_id=order.id,
            payload=order_payload(order, Status=order.status, Tracking=tracking),
            marketplace_id=order.marketplace_id,
        )


def update_statuses(session: Session, account_id: int, actor: str, elements: list[Any]) -> dict[str, Any]:
    """PUT /v2/orders (CF-21.1): per-order status + tracking with the transition table and the
    automatic/manual rules; per-order results in request order. No commit (the caller owns the transaction)."""
    changes = [_status_change(raw) for raw in elements]
    now = clock.utcnow()
    orders = locked_orders(
        session, account_id, [c.order_id for c in changes if c.order_id is not None and c.problem is None]
    )
    outcome: dict[int, tuple[int, str]] = {}
    history: list[dict[str, Any]] = []
    # Ascending order id (the lock order), then request order for repeats of one order.
    for index in sorted(range(len(changes)), key=lambda i: (changes[i].order_id or 0, i)):
        change = changes[index]
        if change.problem is not None or change.order_id is None or change.target is None:
            continue
        order = orders.get(change.order_id)
        if order is None:
            outcome[index] = (404, OrderNotFound.message)
            continue
        outcome[index] = _transition_outcome(session, order, change.target)
        if outcome[index][0] != 200:
            continue
        tracking = change.tracking
        changed_status = order.status != change.target
        changed_tracking = tracking is not None and (
            order.tracking_number != tracking["Number"] or order.tracking_status != tracking["Status"]
        )
        if not changed_status and not changed_tracking:
            continue
        previous = order.status
        if changed_status:
            _apply_status(order, change.target, now)
        if tracking is not None:
            order.tracking_number, order.tracking_status = tracking["Number"], tracking["Status"]
        order.updated_at = now
        history.append(
            history_row(
                order,
                actor,
                "status" if changed_status else "tracking",
                now,
                from_status=previous,
                to_status=order.status,
                tracking_number=order.tracking_number,
                tracking_status=order.tracking_status,
            )
        )
        _after_status_change(session, order, previous, changed_status=changed_status, tracking=tracking)
    session.flush()
    if history:
        insert_history(session, history)
    results = []
    for index, change in enumerate(changes):
        code, message = (400, change.problem) if change.problem is not None else outcome[index]
        results.append({"OrderStatus": change.raw, "Status": code, "Message": message})
    return {"Total": len(results), "Results": results}


def order_history(session: Session, order_id: int) -> list[Any]:
    """The history rows of an order, oldest first."""
    return list(
        session.scalars(select(OrderHistory).where(OrderHistory.order_id == order_id).order_by(OrderHistory.id))
    )
