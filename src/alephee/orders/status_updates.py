"""The ERP's batch writes on orders: PUT /v2/orders/integrate (integration marks) and PUT /v2/orders (status
and tracking, with the transition table and the automatic/manual rules of ``orders/statuses.py``). One result
per element in request order; good elements are applied, bad ones change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from alephee import clock
from alephee.http.body import raw_field
from alephee.http.numbers import to_int
from alephee.http.params import MAX_INT64
from alephee.http.wire import clean_identifier, clean_text
from alephee.marketplaces.outbox import enqueue
from alephee.orders import events as webhook_events
from alephee.orders import shipping_rules as ship
from alephee.orders import statuses as st
from alephee.orders.access import HUB_ORIGINS, OrderNotFound, locked_orders, marketplace_family, order_payload
from alephee.orders.models import ORIGIN_B2B, Order, OrderHistory, history_row
from alephee.orders.reservations import release_b2b_reservation

INTEGRATE_OK = "Ok"
ELEMENT_NOT_OBJECT = "Each element must be a JSON object"
ORDER_ID_REQUIRED = "OrderId is required and must be an integer"
BAD_FIELD = "Invalid value for '{name}'"
STATUS_REQUIRED = "Status is required and must be an integer"


def _as_int(value: Any) -> int | None:
    """A positive 64-bit id from a JSON value (number or integer text, ``http.numbers``), else None."""
    number = to_int(value)
    return number if number is not None and 0 < number <= MAX_INT64 else None


def _as_text(value: Any, limit: int, *, identifier: bool = False) -> tuple[bool, str | None]:
    """``(acceptable, text)`` of a raw text property: at most ``limit`` characters, the wire text rule
    (NFC, no control characters; ``identifier``: none at all, http/wire.py)."""
    if value is None:
        return True, None
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        try:
            text = (clean_identifier if identifier else clean_text)(str(value))
        except ValueError:
            return False, None
        return len(text) <= limit, text
    return False, None


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


@dataclass(frozen=True, slots=True)
class IntegrationMark:
    """One element of PUT /v2/orders/integrate as read: the order and the column values to set, or the
    problem that refuses it (then nothing of it is applied)."""

    raw: Any
    order_id: int | None = None
    changes: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None


def read_integration_mark(raw: Any) -> IntegrationMark:
    """The element as an ``IntegrationMark``: ``Integrated`` defaults to true (marking is what the endpoint is
    for); ``OwnOrderId`` and ``ErpStatus`` are text of at most 100 characters. The last bad field is named."""
    if not isinstance(raw, dict):
        return IntegrationMark(raw, problem=ELEMENT_NOT_OBJECT)
    order_id = _as_int(raw_field(raw, "OrderId")[1])
    if order_id is None:
        return IntegrationMark(raw, problem=ORDER_ID_REQUIRED)
    changes: dict[str, Any] = {}
    problem = None
    present, value = raw_field(raw, "Integrated")
    if present and value is not None:
        flag = _as_bool(value)
        if flag is None:
            problem = BAD_FIELD.format(name="Integrated")
        changes["integrated"] = flag
    elif not present:
        changes["integrated"] = True
    for name, column, limit in (("OwnOrderId", "integrated_order_id", 100), ("ErpStatus", "erp_status", 100)):
        present, value = raw_field(raw, name)
        if present:
            ok, text = _as_text(value, limit, identifier=name == "OwnOrderId")
            if not ok:
                problem = BAD_FIELD.format(name=name)
            changes[column] = text
    return IntegrationMark(raw, order_id, changes, problem)


def integrate(session: Session, account_id: int, actor: str, elements: list[Any]) -> dict[str, Any]:
    """PUT /v2/orders/integrate (CF-21.2, authoritative example): results in request order with
    ``Status`` as a string, "Ok" / "Order not found", partial success. No commit (the caller owns the
    transaction)."""
    marks = [read_integration_mark(raw) for raw in elements]
    now = clock.utcnow()
    orders = locked_orders(
        session, account_id, [m.order_id for m in marks if m.order_id is not None and m.problem is None]
    )
    history: list[dict[str, Any]] = []
    for mark in sorted((m for m in marks if m.order_id in orders and m.problem is None), key=lambda m: m.order_id or 0):
        order = orders[mark.order_id or 0]
        if all(getattr(order, column) == value for column, value in mark.changes.items()):
            continue  # a repeat after a timeout: nothing to do, nothing to record
        for column, value in mark.changes.items():
            setattr(order, column, value)
        order.updated_at = now
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
    session.flush()
    if history:
        session.execute(insert(OrderHistory), history)
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


def read_status_change(raw: Any) -> StatusChange:
    """The element as a ``StatusChange``: ``OrderId`` and a JSON integer ``Status`` are required; ``Tracking``
    is an object of free texts (``Number`` at most 100 characters, ``Status`` at most 200)."""
    if not isinstance(raw, dict):
        return StatusChange(raw, problem=ELEMENT_NOT_OBJECT)
    order_id = _as_int(raw_field(raw, "OrderId")[1])
    status_value = raw_field(raw, "Status")[1]
    target = status_value if isinstance(status_value, int) and not isinstance(status_value, bool) else None
    present, tracking_raw = raw_field(raw, "Tracking")
    tracking: dict[str, Any] | None = None
    problem = None
    if order_id is None:
        problem = ORDER_ID_REQUIRED
    elif target is None:
        problem = STATUS_REQUIRED
    elif present and tracking_raw is not None:
        if not isinstance(tracking_raw, dict):
            problem = BAD_FIELD.format(name="Tracking")
        else:
            ok_n, number = _as_text(raw_field(tracking_raw, "Number")[1], 100)
            ok_s, status_text = _as_text(raw_field(tracking_raw, "Status")[1], 200)
            if not (ok_n and ok_s):
                problem = BAD_FIELD.format(name="Tracking")
            tracking = {"Number": number, "Status": status_text}
    return StatusChange(raw, order_id, target, tracking, problem)


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
    changes = [read_status_change(raw) for raw in elements]
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
        session.execute(insert(OrderHistory), history)
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
