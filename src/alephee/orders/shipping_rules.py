"""Shipping tables shared by the orders and the shipping endpoints: logistic types (CF-30.E4), shipping
methods, shipment statuses and substatuses, and the rules built on them (label availability, CF-20.5 /
CF-21.8.5; split preconditions, CF-21.4).

Shipment statuses and substatuses are Mercado Libre's words (the label rules are written with them); the
numeric ``Key`` of ``Shipping.Status`` is not documented, so the codes here are ours (ORD-21).

The packaging and transport code tables of the shipping endpoints (CF-30.E1, E2, E3, E6) and the rules
built on logistic types and shipment statuses for them live here too (SHP-39).
"""

from __future__ import annotations

from alephee.http.numbers import int_from_text

# --- logistic types (CF-30.E4; 9 and 10 are ours, in the gap the spec leaves for them) ----------------
TO_BE_AGREED = 1
ME1 = 2
ME2 = 3
CUSTOM = 4
FULFILLMENT = 5
FLEX = 6
PICKUP = 7
CROSS_DOCKING = 8
DROP_OFF = 9
XD_DROP_OFF = 10
COURIER = 14
FLEX_TURBO = 15

LOGISTIC_TYPES: dict[int, str] = {
    TO_BE_AGREED: "to_be_agreed",
    ME1: "me1",
    ME2: "me2",
    CUSTOM: "custom",
    FULFILLMENT: "fulfillment",
    FLEX: "flex",
    PICKUP: "pickup",
    CROSS_DOCKING: "cross_docking",
    DROP_OFF: "drop_off",
    XD_DROP_OFF: "xd_drop_off",
    COURIER: "courier",
    FLEX_TURBO: "flex-turbo",
}
# Other spellings seen for the same modes (Mercado Libre's own names), accepted on input.
LOGISTIC_ALIASES: dict[str, int] = {
    "self_service": FLEX,
    "agreement": TO_BE_AGREED,
    "colecta": CROSS_DOCKING,
    "full": FULFILLMENT,
    "flex_turbo": FLEX_TURBO,
}


def logistic_type_code(value: int | str | None) -> int | None:
    """A logistic type code from a code or a name (None when unknown)."""
    if value is None:
        return None
    if isinstance(value, int):
        return value if value in LOGISTIC_TYPES else None
    code = int_from_text(value)
    if code is not None:
        return logistic_type_code(code)
    text = value.strip().lower()
    for code, name in LOGISTIC_TYPES.items():
        if name == text:
            return code
    return LOGISTIC_ALIASES.get(text)


def logistic_name(code: int | None) -> str:
    """The name of a logistic type code (``""`` when unknown)."""
    return LOGISTIC_TYPES.get(code or 0, "")


# The Mercado Libre modes whose buyers may be asked for a variation (CF-21.5: "cross docking" or "drop off").
REQUEST_VARIANTS_LOGISTICS = frozenset({CROSS_DOCKING, DROP_OFF, XD_DROP_OFF, ME2})
# Shipments the marketplace prints a label for (the others have no label: pickup, fulfillment, agreed...).
LABELLED_LOGISTICS = frozenset({ME1, ME2, DROP_OFF, XD_DROP_OFF, CROSS_DOCKING, FLEX, FLEX_TURBO, CUSTOM, COURIER})

# --- shipping methods (``Shipping.Method``; codes not documented, ours) -----------------------------------
METHOD_MARKETPLACE = 1
METHOD_SELLER = 2
METHOD_PICKUP = 3
METHOD_TO_BE_AGREED = 4
SHIPPING_METHODS: dict[int, str] = {
    METHOD_MARKETPLACE: "MarketplaceShipping",
    METHOD_SELLER: "SellerShipping",
    METHOD_PICKUP: "Pickup",
    METHOD_TO_BE_AGREED: "ToBeAgreed",
}
# Modes in which a Mercado Libre shipment is driven by the marketplace (its status updates automatically).
MARKETPLACE_DRIVEN_LOGISTICS = frozenset({ME2, DROP_OFF, XD_DROP_OFF, CROSS_DOCKING, FULFILLMENT})


def default_method(logistic_type: int | None, *, marketplace_family: str) -> int:
    """The shipping method implied by a logistic type (marketplace-driven modes → MarketplaceShipping)."""
    if logistic_type == PICKUP:
        return METHOD_PICKUP
    if logistic_type == TO_BE_AGREED:
        return METHOD_TO_BE_AGREED
    if marketplace_family == "mercadolibre" and logistic_type in MARKETPLACE_DRIVEN_LOGISTICS:
        return METHOD_MARKETPLACE
    return METHOD_SELLER


# --- shipment statuses and substatuses -------------------------------------------------------------------
PENDING = "pending"
HANDLING = "handling"
READY_TO_SHIP = "ready_to_ship"
SHIPPED = "shipped"
DELIVERED = "delivered"
NOT_DELIVERED = "not_delivered"
CANCELLED = "cancelled"
BUFFERED = "buffered"
TO_BE_AGREED_STATUS = "to_be_agreed"

SHIPMENT_STATUSES: dict[str, int] = {
    PENDING: 1,
    HANDLING: 2,
    READY_TO_SHIP: 3,
    SHIPPED: 4,
    DELIVERED: 5,
    NOT_DELIVERED: 6,
    CANCELLED: 7,
    BUFFERED: 8,
    TO_BE_AGREED_STATUS: 9,
}

SUB_READY_TO_PRINT = "ready_to_print"
SUB_PRINTED = "printed"
SUB_WAITING_CARRIER = "waiting_for_carrier_authorization"
SUB_INVOICE_PENDING = "invoice_pending"
SUB_DROPPED_OFF = "dropped_off"
SUB_PICKED_UP = "picked_up"
SUB_BUFFERED = "buffered"
SUB_UNDER_REVIEW = "under_review"
SUB_PENDING = "pending"
SUB_STALE = "stale"
SHIPMENT_SUBSTATUSES = frozenset(
    {
        SUB_READY_TO_PRINT,
        SUB_PRINTED,
        SUB_WAITING_CARRIER,
        SUB_INVOICE_PENDING,
        SUB_DROPPED_OFF,
        SUB_PICKED_UP,
        SUB_BUFFERED,
        SUB_UNDER_REVIEW,
        SUB_PENDING,
        SUB_STALE,
    }
)


def shipment_status_key(status: str | None) -> int:
    """The numeric ``Key`` of a shipment status (0 when there is none)."""
    return SHIPMENT_STATUSES.get(status or "", 0)


# --- shipping labels (CF-20.5 rules 2-3) ---------------------------------------------------------------
LABEL_STATUSES = frozenset({READY_TO_SHIP})
LABEL_SUBSTATUSES = frozenset({SUB_READY_TO_PRINT, SUB_PRINTED})
LABEL_BLOCKED_STATUSES = frozenset({PENDING, HANDLING, SHIPPED, DELIVERED, NOT_DELIVERED, BUFFERED, CANCELLED})
LABEL_BLOCKED_SUBSTATUSES = frozenset(
    {SUB_WAITING_CARRIER, SUB_INVOICE_PENDING, SUB_DROPPED_OFF, SUB_PICKED_UP, SUB_BUFFERED, SUB_UNDER_REVIEW}
)

NO_LABEL_FOR_LOGISTIC = "This order has no printable shipping label: its logistic type is '{logistic}'"
LABEL_BLOCKED_STATUS = (
    "The shipping label is not available while the shipment status is '{status}'; "
    "it can be printed only when the status is 'ready_to_ship' and the substatus 'ready_to_print' or 'printed'"
)
LABEL_BLOCKED_SUBSTATUS = (
    "The shipping label is not available while the shipment substatus is '{substatus}'; "
    "it can be printed only when the substatus is 'ready_to_print' or 'printed'"
)
LABEL_NOT_READY = (
    "The shipping label is not available yet (shipment status '{status}', substatus '{substatus}'); "
    "it can be printed only when the status is 'ready_to_ship' and the substatus 'ready_to_print' or 'printed'"
)
LABEL_NEEDS_NFE = "Attach the electronic fiscal invoice (documentType 2) before requesting the label (Brazil)"


def label_refusal(
    *, logistic_type: int | None, status: str | None, substatus: str | None, needs_nfe: bool = False
) -> str | None:
    """Why a label cannot be printed now, or None when it can (CF-20.5 rules 2, 3 and 5)."""
    if logistic_type not in LABELLED_LOGISTICS:
        return NO_LABEL_FOR_LOGISTIC.format(logistic=logistic_name(logistic_type) or "none")
    if status in LABEL_BLOCKED_STATUSES:
        return LABEL_BLOCKED_STATUS.format(status=status)
    if substatus in LABEL_BLOCKED_SUBSTATUSES:
        return LABEL_BLOCKED_SUBSTATUS.format(substatus=substatus)
    if status not in LABEL_STATUSES or substatus not in LABEL_SUBSTATUSES:
        return LABEL_NOT_READY.format(status=status or "", substatus=substatus or "")
    if needs_nfe:
        return LABEL_NEEDS_NFE
    return None


# --- split (CF-21.4.2 rule 3) ----------------------------------------------------------------------------
SPLIT_BLOCKED_SUBSTATUSES = frozenset({SUB_PENDING, SUB_STALE})

# --- what a manual order status means for its shipment (user-driven orders, PUT /v2/orders) ---------------
# 10 keeps the shipment as it is (ready to ship); the others move it like the marketplace would.
SHIPMENT_FOR_ORDER_STATUS: dict[int, tuple[str, str | None]] = {
    17: (READY_TO_SHIP, SUB_DROPPED_OFF),
    20: (SHIPPED, None),
    80: (DELIVERED, None),
    87: (NOT_DELIVERED, None),
    89: (NOT_DELIVERED, None),
    90: (CANCELLED, None),
}


# --- packaging and transport (CF-30.E1, E2, E3, E6; shipping endpoints) ------------------------------------
# PackInfo.UnitType: what Quantity counts.
UNIT_TYPES: dict[int, str] = {1: "Boxes", 2: "Units", 3: "Pallets", 4: "Containers"}
# PackInfoDimension.MeasureType: length unit of Height/Width/Depth.
LENGTH_UNITS: dict[int, str] = {1: "Millimeters", 2: "Centimeters", 3: "Meters", 4: "Kilometers", 5: "Inches"}
# PackInfoWeight.MeasureType: mass unit of Gross/Liquid (a different table under the same property name).
WEIGHT_UNITS: dict[int, str] = {1: "Kilograms", 2: "Tons", 3: "Grams"}
# TransportInfo.Mode ({"Id", "Name"}; the name is the lowercase English word).
TRANSPORT_MODES: dict[int, str] = {1: "terrestrial", 2: "aerial", 3: "maritime"}

# The marketplace's own warehouse packs and ships these: nothing the seller sets is forwarded, and the seller
# has no handling deadline.
MARKETPLACE_PACKED_LOGISTICS = frozenset({FULFILLMENT})
# Once the parcel has left (or the shipment is over), a packaging change is kept but no longer forwarded.
PACKAGING_CLOSED_STATUSES = frozenset({SHIPPED, DELIVERED, NOT_DELIVERED, CANCELLED})


def forwards_packaging(logistic_type: int | None, shipment_status: str | None) -> bool:
    """Whether a packaging change of a marketplace order must reach the marketplace."""
    return logistic_type not in MARKETPLACE_PACKED_LOGISTICS and shipment_status not in PACKAGING_CLOSED_STATUSES


def seller_handles(logistic_type: int | None) -> bool:
    """Whether the seller prepares the shipment (then it has a handling deadline)."""
    return logistic_type not in MARKETPLACE_PACKED_LOGISTICS
