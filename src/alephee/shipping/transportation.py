"""Transportation of orders (CF-30): mode and container, stored in ``order_shipping``."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from alephee import clock
from alephee.errors import InvalidInput
from alephee.http.body import raw_property
from alephee.http.params import MAX_INT32
from alephee.orders import shipping_rules as ship
from alephee.orders.models import ORIGIN_B2B, Order
from alephee.shipping.addressing import (
    OrderIdRequired,
    order_for,
    resolve_order_id,
    shipment_orders,
    shipping_row,
)
from alephee.shipping.models import OrderShipping
from alephee.shipping.schemas import (
    TransportationBody,
    TransportationInfo,
    TransportInfo,
    TransportMode,
)
from alephee.shipping.values import (
    allowed_codes,
    as_int,
    shown,
)


class TransportRequired(InvalidInput):
    """The body has no ``Transport`` (400)."""

    message = "Send Transport (an object with Mode and Container, or null to remove the transport data)"


class TransportModeInvalid(InvalidInput):
    """``Transport.Mode`` names no transport mode (400; the message lists them)."""

    message = "Invalid Transport.Mode {value}: use {allowed}"

    def __init__(self, value: Any) -> None:
        super().__init__(self.message.format(value=shown(value), allowed=allowed_codes(ship.TRANSPORT_MODES)))


class TransportModeMismatch(InvalidInput):
    """``Transport.Mode.Id`` and ``Transport.Mode.Name`` name different modes (400)."""

    message = "Transport.Mode.Id {id} and Transport.Mode.Name '{name}' name different modes"

    def __init__(self, mode_id: int, name: Any) -> None:
        super().__init__(self.message.format(id=mode_id, name=name))


class ContainerInvalid(InvalidInput):
    """``Transport.Container`` is not an integer between 1 and 2^31-1 (400)."""

    message = f"Transport.Container must be an integer between 1 and {MAX_INT32}"


# --- transportation -----------------------------------------------------------------------------------------------


def _mode_by_name(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    return next((code for code, name in ship.TRANSPORT_MODES.items() if name == text), None)


def parse_mode(value: Any) -> int | None:
    """Transport.Mode from ``{"Id", "Name"}`` (either or both), a code or a name; None when null."""
    if value is None:
        return None
    if isinstance(value, dict):
        id_raw, name_raw = raw_property(value, "Id"), raw_property(value, "Name")
        by_id = as_int(id_raw) if id_raw is not None else None
        if id_raw is not None and by_id not in ship.TRANSPORT_MODES:
            raise TransportModeInvalid(id_raw)
        by_name = _mode_by_name(name_raw) if name_raw is not None else None
        if name_raw is not None and by_name is None:
            raise TransportModeInvalid(name_raw)
        if by_id is not None and by_name is not None and by_id != by_name:
            raise TransportModeMismatch(by_id, name_raw)
        if by_id is None and by_name is None:
            raise TransportModeInvalid(value)
        return by_id if by_id is not None else by_name
    code = as_int(value)
    if code is None:
        code = _mode_by_name(value)
    if code not in ship.TRANSPORT_MODES:
        raise TransportModeInvalid(value)
    return code


def parse_container(value: Any) -> int | None:
    """Transport.Container: null or 1..2147483647."""
    if value is None:
        return None
    number = as_int(value)
    if number is None or not 1 <= number <= MAX_INT32:
        raise ContainerInvalid()
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
    """GET transportation (CF-30.3)."""
    if order_id is None:
        raise OrderIdRequired()
    order = order_for(session, account_id, order_id)
    return _transportation(order, session.get(OrderShipping, order.id))


def set_transportation(
    session: Session, account_id: int, url_order_id: int | None, body: TransportationBody
) -> TransportationInfo:
    """POST transportation (ours): set or clear the shipment's transport, for every order travelling
    together (the caller owns the transaction). Internal data: nothing is sent to the marketplace."""
    order_id = resolve_order_id(url_order_id, body.OrderId)
    sent = body.model_fields_set
    if "Transport" in sent:
        mode = parse_mode(body.Transport.Mode) if body.Transport is not None else None
        container = parse_container(body.Transport.Container) if body.Transport is not None else None
    elif "Mode" in sent or "Container" in sent:
        mode, container = parse_mode(body.Mode), parse_container(body.Container)
    else:
        raise TransportRequired()
    order = order_for(session, account_id, order_id)
    now = clock.utcnow()
    for member in shipment_orders(session, order):
        row = shipping_row(session, member)
        row.transport_mode, row.transport_container = mode, container
        row.transport_updated_at = row.updated_at = now
    return _transportation(order, session.get(OrderShipping, order.id))
