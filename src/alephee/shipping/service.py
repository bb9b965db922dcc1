"""Business rules of the orders-shipping section (spec 30): packaging, scheduling and transportation.

* Packaging has one store, ``orders.package_info`` (wire shape), which GET /v2/orders shows as
  ``Shipping.PackageInfo``. A write replaces it wholesale for every order travelling in the same shipment
  (a cart's orders share it, spec 30 §5) and, for marketplace orders still to be dispatched, queues an
  ``order.packaging`` outbox message in the same transaction.
* Scheduling is read from the order as GET /v2/orders renders it (status, logistic type, dates), the
  milestones stored in ``order_shipping``, the order history and configured deadlines, in that order.
* Transportation lives in ``order_shipping``.

Code tables (units, modes, logistic types) are in ``orders.shipping_rules``; messages are constants here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from alephee import clock
from alephee.config import Settings
from alephee.errors import InvalidInput
from alephee.http.body import raw_property
from alephee.http.numbers import int_from_text, to_decimal, to_int
from alephee.http.paging import Page, SortOption
from alephee.http.params import MAX_INT32, MAX_INT64
from alephee.marketplaces.outbox import enqueue
from alephee.orders import shipping_rules as ship
from alephee.orders import statuses as st
from alephee.orders.access import OrderNotFound, order_row
from alephee.orders.models import ORIGIN_B2B, ORIGIN_MARKETPLACE, Order, OrderHistory
from alephee.orders.rendering import RENDER_COLUMNS, render_orders
from alephee.orders.schemas import KeyValue, MarketPlaceRef, SellerAccountOut
from alephee.shipping.models import OrderShipping
from alephee.shipping.schemas import (
    PackInfo,
    PackInfoBody,
    PackInfoIn,
    SchedulingDelivered,
    SchedulingDelivery,
    SchedulingHandling,
    SchedulingInfo,
    SchedulingSchedule,
    SchedulingShipping,
    TransportationBody,
    TransportationInfo,
    TransportInfo,
    TransportMode,
)

PACKAGING_TOPIC = "order.packaging"
MAX_ORDER_ID = MAX_INT64
# Decimal places kept for measures (the client's value is rounded half-even to this).
MEASURE_PLACES = Decimal("0.0001")
SCHEDULING_SORTS = (SortOption("Id", "Order by internal ID asc"),)

ORDER_ID_REQUIRED = "orderId is required (in the path or the query string)"
BAD_ORDER_ID = "orderId must be an integer"
ORDER_ID_MISMATCH = "OrderId in the body ({body}) does not match the orderId of the URL ({url})"
FIELD_REQUIRED = "{field} is required"
BAD_CODE = "Invalid {field} {value}: use {allowed}"
NOT_A_NUMBER = "{field} must be a number"
NOT_AN_INTEGER = "{field} must be an integer"
NOT_POSITIVE = "{field} must be greater than 0"
NEGATIVE = "{field} must be 0 or greater"
TOO_LARGE = "{field} must be at most {max}"
NET_OVER_GROSS = "Weight.Liquid (net weight, {liquid}) cannot be greater than Weight.Gross ({gross})"
TRANSPORT_REQUIRED = "Send Transport (an object with Mode and Container, or null to remove the transport data)"
BAD_MODE = "Invalid Transport.Mode {value}: use {allowed}"
MODE_MISMATCH = "Transport.Mode.Id {id} and Transport.Mode.Name '{name}' name different modes"
BAD_CONTAINER = "Transport.Container must be an integer between 1 and {max}"
UNKNOWN_MILESTONE = "Unknown shipping milestone '{name}'"


# --- small parsers ---------------------------------------------------------------------------------------------


def parse_order_id(raw: str | None) -> int | None:
    """An order id from the URL (None when absent; 400 when not an integer). Out-of-range ids are kept:
    they simply match no order."""
    if raw is None or not raw.strip():
        return None
    number = int_from_text(raw)
    if number is None:
        raise InvalidInput(BAD_ORDER_ID)
    return number


def _resolve_order_id(url_id: int | None, body_id: Any) -> int:
    """The order a write addresses: the URL's, else the body's ``OrderId``; both given must agree."""
    from_body = _as_int(body_id) if body_id is not None else None
    if body_id is not None and from_body is None:
        raise InvalidInput(NOT_AN_INTEGER.format(field="OrderId"))
    if url_id is not None and from_body is not None and url_id != from_body:
        raise InvalidInput(ORDER_ID_MISMATCH.format(body=from_body, url=url_id))
    order_id = url_id if url_id is not None else from_body
    if order_id is None:
        raise InvalidInput(ORDER_ID_REQUIRED)
    return order_id


def _order(session: Session, account_id: int, order_id: int) -> Order:
    """The account's order (404 when absent, deleted, another account's or out of range)."""
    if not 1 <= order_id <= MAX_ORDER_ID:
        raise OrderNotFound()
    return order_row(session, account_id, order_id)


def _as_int(value: Any) -> int | None:
    """An integer from JSON: int, integral float or integer text (``http.numbers``); never a boolean."""
    return to_int(value, whole_floats=True)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _allowed(table: Mapping[int, str]) -> str:
    return ", ".join(f"{code} ({name})" for code, name in table.items())


def _code(value: Any, field: str, table: Mapping[int, str]) -> int:
    if value is None:
        raise InvalidInput(FIELD_REQUIRED.format(field=field))
    code = _as_int(value)
    if code is None or code not in table:
        raise InvalidInput(BAD_CODE.format(field=field, value=_shown(value), allowed=_allowed(table)))
    return code


def _quantity(value: Any, settings: Settings) -> int:
    field = "Quantity"
    if value is None:
        raise InvalidInput(FIELD_REQUIRED.format(field=field))
    number = _as_int(value)
    if number is None:
        raise InvalidInput(NOT_AN_INTEGER.format(field=field))
    if number < 1:
        raise InvalidInput(NOT_POSITIVE.format(field=field))
    if number > settings.shipping_max_package_quantity:
        raise InvalidInput(TOO_LARGE.format(field=field, max=settings.shipping_max_package_quantity))
    return number


def _measure(value: Any, field: str, settings: Settings, *, zero_ok: bool = False) -> Decimal:
    """A length or weight: a finite JSON number (or numeric text), rounded to 4 places, > 0 (≥ 0 when
    ``zero_ok``), at most ``shipping_max_measure``. The unit is the sibling MeasureType: never converted."""
    if value is None:
        raise InvalidInput(FIELD_REQUIRED.format(field=field))
    number = to_decimal(value, exponent=True)  # "1.5e2" as text was always accepted here
    if number is None:
        raise InvalidInput(NOT_A_NUMBER.format(field=field))
    if number > settings.shipping_max_measure:
        raise InvalidInput(TOO_LARGE.format(field=field, max=settings.shipping_max_measure))
    if number < 0:
        raise InvalidInput((NEGATIVE if zero_ok else NOT_POSITIVE).format(field=field))
    number = number.quantize(MEASURE_PLACES, rounding=ROUND_HALF_EVEN)
    if number == 0 and not zero_ok:
        raise InvalidInput(NOT_POSITIVE.format(field=field))
    return number


def _number(value: Decimal) -> int | float:
    # Stored in the JSON column as a JSON number (GET /v2/orders copies it as is).
    return float(value)


# --- packaging ---------------------------------------------------------------------------------------------------


def parse_pack_info(body: PackInfoIn, settings: Settings) -> dict[str, Any]:
    """A received PackInfo checked field by field, in the stored (wire) shape. Dimensions and Weight may be
    null; when present every property of theirs is required."""
    stored: dict[str, Any] = {
        "UnitType": _code(body.UnitType, "UnitType", ship.UNIT_TYPES),
        "Quantity": _quantity(body.Quantity, settings),
        "Dimensions": None,
        "Weight": None,
    }
    if body.Dimensions is not None:
        dims = body.Dimensions
        stored["Dimensions"] = {
            "MeasureType": _code(dims.MeasureType, "Dimensions.MeasureType", ship.LENGTH_UNITS),
            "Height": _number(_measure(dims.Height, "Dimensions.Height", settings)),
            "Width": _number(_measure(dims.Width, "Dimensions.Width", settings)),
            "Depth": _number(_measure(dims.Depth, "Dimensions.Depth", settings)),
        }
    if body.Weight is not None:
        weight = body.Weight
        measure = _code(weight.MeasureType, "Weight.MeasureType", ship.WEIGHT_UNITS)
        gross = _measure(weight.Gross, "Weight.Gross", settings)
        liquid = _measure(weight.Liquid, "Weight.Liquid", settings, zero_ok=True)
        if liquid > gross:
            raise InvalidInput(NET_OVER_GROSS.format(liquid=liquid.normalize(), gross=gross.normalize()))
        stored["Weight"] = {"MeasureType": measure, "Gross": _number(gross), "Liquid": _number(liquid)}
    return stored


def pack_info_of(stored: dict[str, Any] | None) -> PackInfo:
    """The PackInfo of a stored ``package_info`` (every property null when none was set)."""
    return PackInfo.model_validate(stored) if stored else PackInfo()


def get_packaging(session: Session, account_id: int, order_id: int | None) -> PackInfo:
    """GET packaging (spec 30 §1)."""
    if order_id is None:
        raise InvalidInput(ORDER_ID_REQUIRED)
    return pack_info_of(_order(session, account_id, order_id).package_info)


def _shipment_orders(session: Session, order: Order) -> list[Order]:
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


def set_packaging(
    session: Session, settings: Settings, account_id: int, url_order_id: int | None, body: PackInfoBody
) -> PackInfo:
    """POST packaging (spec 30 §4): validate, replace the shipment's PackInfo, forward it; commits.

    Sending the stored packaging again changes nothing (no new LastUpdated, no outbox message).
    """
    order_id = _resolve_order_id(url_order_id, body.OrderId)
    stored = parse_pack_info(body.PackInfo if body.PackInfo is not None else body, settings)
    order = _order(session, account_id, order_id)
    group = _shipment_orders(session, order)
    if any(member.package_info != stored for member in group):
        now = clock.utcnow()
        for member in group:
            member.package_info = dict(stored)
            member.shipment_updated_at = now
            member.updated_at = now
        session.flush()
        if order.origin == ORIGIN_MARKETPLACE and ship.forwards_packaging(order.logistic_type, order.shipment_status):
            enqueue(
                session,
                account_id=account_id,
                topic=PACKAGING_TOPIC,
                aggregate_type="order",
                # The shipment's first order: every change of one shipment keeps its order in the outbox.
                aggregate_id=group[0].id,
                payload={
                    "order_id": order.id,
                    "order_ids": [member.id for member in group],
                    "external_order_id": order.external_order_id,
                    "external_shipping_id": order.external_shipping_id,
                    "package_info": stored,
                },
                marketplace_id=order.marketplace_id,
            )
    session.commit()
    return pack_info_of(stored)


# --- transportation -----------------------------------------------------------------------------------------------


def _mode_by_name(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    return next((code for code, name in ship.TRANSPORT_MODES.items() if name == text), None)


def _bad_mode(value: Any) -> InvalidInput:
    return InvalidInput(BAD_MODE.format(value=_shown(value), allowed=_allowed(ship.TRANSPORT_MODES)))


def parse_mode(value: Any) -> int | None:
    """Transport.Mode from ``{"Id", "Name"}`` (either or both), a code or a name; None when null."""
    if value is None:
        return None
    if isinstance(value, dict):
        id_raw, name_raw = raw_property(value, "Id"), raw_property(value, "Name")
        by_id = _as_int(id_raw) if id_raw is not None else None
        if id_raw is not None and by_id not in ship.TRANSPORT_MODES:
            raise _bad_mode(id_raw)
        by_name = _mode_by_name(name_raw) if name_raw is not None else None
        if name_raw is not None and by_name is None:
            raise _bad_mode(name_raw)
        if by_id is not None and by_name is not None and by_id != by_name:
            raise InvalidInput(MODE_MISMATCH.format(id=by_id, name=name_raw))
        if by_id is None and by_name is None:
            raise _bad_mode(value)
        return by_id if by_id is not None else by_name
    code = _as_int(value)
    if code is None:
        code = _mode_by_name(value)
    if code not in ship.TRANSPORT_MODES:
        raise _bad_mode(value)
    return code


def parse_container(value: Any) -> int | None:
    """Transport.Container: null or 1..2147483647."""
    if value is None:
        return None
    number = _as_int(value)
    if number is None or not 1 <= number <= MAX_INT32:
        raise InvalidInput(BAD_CONTAINER.format(max=MAX_INT32))
    return number


def _transportation(order: Order, extra: OrderShipping | None) -> TransportationInfo:
    transport = None
    if extra is not None and (extra.transport_mode is not None or extra.transport_container is not None):
        mode = extra.transport_mode
        transport = TransportInfo(
            Mode=TransportMode(Id=mode, Name=ship.TRANSPORT_MODES.get(mode, "")) if mode is not None else None,
            Container=extra.transport_container,
        )
    external = None if order.origin == ORIGIN_B2B else order.external_order_id
    return TransportationInfo(OrderId=order.id, ExternalOrderId=external, Transport=transport)


def get_transportation(session: Session, account_id: int, order_id: int | None) -> TransportationInfo:
    """GET transportation (spec 30 §3)."""
    if order_id is None:
        raise InvalidInput(ORDER_ID_REQUIRED)
    order = _order(session, account_id, order_id)
    return _transportation(order, session.get(OrderShipping, order.id))


def _shipping_row(session: Session, order: Order) -> OrderShipping:
    row = session.get(OrderShipping, order.id)
    if row is None:
        row = OrderShipping(order_id=order.id, account_id=order.account_id, updated_at=clock.utcnow())
        session.add(row)
    return row


def set_transportation(
    session: Session, account_id: int, url_order_id: int | None, body: TransportationBody
) -> TransportationInfo:
    """POST transportation (ours): set or clear the shipment's transport, for every order travelling
    together; commits. Internal data: nothing is sent to the marketplace."""
    order_id = _resolve_order_id(url_order_id, body.OrderId)
    sent = body.model_fields_set
    if "Transport" in sent:
        mode = parse_mode(body.Transport.Mode) if body.Transport is not None else None
        container = parse_container(body.Transport.Container) if body.Transport is not None else None
    elif "Mode" in sent or "Container" in sent:
        mode, container = parse_mode(body.Mode), parse_container(body.Container)
    else:
        raise InvalidInput(TRANSPORT_REQUIRED)
    order = _order(session, account_id, order_id)
    now = clock.utcnow()
    for member in _shipment_orders(session, order):
        row = _shipping_row(session, member)
        row.transport_mode, row.transport_container = mode, container
        row.transport_updated_at = row.updated_at = now
    session.commit()
    return _transportation(order, session.get(OrderShipping, order.id))


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
    order = _order(session, account_id, order_id)
    now = clock.utcnow()
    for member in _shipment_orders(session, order):
        row = _shipping_row(session, member)
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
    """GET scheduling of one order (spec 30 §2)."""
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
