"""Packaging of orders (CF-30): one store, ``orders.package_info`` (wire shape), which GET /v2/orders shows as
``Shipping.PackageInfo``. A write replaces it wholesale for every order travelling in the same shipment (a cart's
orders share it, CF-30.5) and, for marketplace orders still to be dispatched, queues an ``order.packaging``
outbox message in the same transaction. Code tables (units) are in ``orders.shipping_rules``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy.orm import Session

from alephee import clock
from alephee.config import Settings
from alephee.errors import InvalidInput
from alephee.http.numbers import to_decimal
from alephee.marketplaces.outbox import enqueue
from alephee.orders import shipping_rules as ship
from alephee.orders.models import ORIGIN_MARKETPLACE
from alephee.shipping.addressing import (
    OrderIdRequired,
    order_for,
    resolve_order_id,
    shipment_orders,
)
from alephee.shipping.schemas import (
    PackInfo,
    PackInfoBody,
    PackInfoIn,
)
from alephee.shipping.values import (
    CodeInvalid,
    FieldRequired,
    NegativeValue,
    NotAnInteger,
    NotANumber,
    NotPositive,
    ValueTooLarge,
    as_int,
)

PACKAGING_TOPIC = "order.packaging"

# Decimal places kept for measures (the client's value is rounded half-even to this).
MEASURE_PLACES = Decimal("0.0001")


class NetOverGross(InvalidInput):
    """The net weight is greater than the gross weight (400)."""

    message = "Weight.Liquid (net weight, {liquid}) cannot be greater than Weight.Gross ({gross})"

    def __init__(self, liquid: Decimal, gross: Decimal) -> None:
        super().__init__(self.message.format(liquid=liquid.normalize(), gross=gross.normalize()))


def _code(value: Any, field: str, table: Mapping[int, str]) -> int:
    if value is None:
        raise FieldRequired(field)
    code = as_int(value)
    if code is None or code not in table:
        raise CodeInvalid(field, value, table)
    return code


def _quantity(value: Any, settings: Settings) -> int:
    field = "Quantity"
    if value is None:
        raise FieldRequired(field)
    number = as_int(value)
    if number is None:
        raise NotAnInteger(field)
    if number < 1:
        raise NotPositive(field)
    if number > settings.shipping_max_package_quantity:
        raise ValueTooLarge(field, settings.shipping_max_package_quantity)
    return number


def _measure(value: Any, field: str, settings: Settings, *, zero_ok: bool = False) -> Decimal:
    """A length or weight: a finite JSON number (or numeric text), rounded to 4 places, > 0 (≥ 0 when
    ``zero_ok``), at most ``shipping_max_measure``. The unit is the sibling MeasureType: never converted."""
    if value is None:
        raise FieldRequired(field)
    number = to_decimal(value, exponent=True)  # "1.5e2" as text was always accepted here
    if number is None:
        raise NotANumber(field)
    if number > settings.shipping_max_measure:
        raise ValueTooLarge(field, settings.shipping_max_measure)
    if number < 0:
        raise NegativeValue(field) if zero_ok else NotPositive(field)
    number = number.quantize(MEASURE_PLACES, rounding=ROUND_HALF_EVEN)
    if number == 0 and not zero_ok:
        raise NotPositive(field)
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
            raise NetOverGross(liquid, gross)
        stored["Weight"] = {"MeasureType": measure, "Gross": _number(gross), "Liquid": _number(liquid)}
    return stored


def pack_info_of(stored: dict[str, Any] | None) -> PackInfo:
    """The PackInfo of a stored ``package_info`` (every property null when none was set)."""
    return PackInfo.model_validate(stored) if stored else PackInfo()


def get_packaging(session: Session, account_id: int, order_id: int | None) -> PackInfo:
    """GET packaging (CF-30.1)."""
    if order_id is None:
        raise OrderIdRequired()
    return pack_info_of(order_for(session, account_id, order_id).package_info)


def set_packaging(
    session: Session, settings: Settings, account_id: int, url_order_id: int | None, body: PackInfoBody
) -> PackInfo:
    """POST packaging (CF-30.4): validate, replace the shipment's PackInfo, forward it (the caller owns the
    transaction).

    Sending the stored packaging again changes nothing (no new LastUpdated, no outbox message).
    """
    order_id = resolve_order_id(url_order_id, body.OrderId)
    stored = parse_pack_info(body.PackInfo if body.PackInfo is not None else body, settings)
    order = order_for(session, account_id, order_id)
    group = shipment_orders(session, order)
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
    return pack_info_of(stored)
