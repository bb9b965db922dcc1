"""Wire types of the orders-shipping section (CF-30), named as the spec names them.

Output types are exact; input types (``*In``) take every leaf as raw JSON so the service can check each value
against its code table and answer with a message naming the field and the accepted codes.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from alephee.http.wire import WireDateTime, WireDecimal, WireModel
from alephee.orders.schemas import KeyValue, MarketPlaceRef, SellerAccountOut

# --- packaging (CF-30.1, CF-30.4) ------------------------------------------------------------------------------


class PackInfoDimension(WireModel):
    """Size of the package, in ``MeasureType`` units (1 mm, 2 cm, 3 m, 4 km, 5 in)."""

    MeasureType: int = Field(description="1 Millimeters, 2 Centimeters, 3 Meters, 4 Kilometers, 5 Inches.")
    Height: WireDecimal
    Width: WireDecimal
    Depth: WireDecimal


class PackInfoWeight(WireModel):
    """Weight of the package, in ``MeasureType`` units (1 kg, 2 t, 3 g); ``Liquid`` is the net weight."""

    MeasureType: int = Field(description="1 Kilograms, 2 Tons, 3 Grams.")
    Gross: WireDecimal
    Liquid: WireDecimal


class PackInfo(WireModel):
    """The packaging of an order's shipment; the same object is the order's ``Shipping.PackageInfo``.

    Every property is null while no packaging was set.
    """

    UnitType: int | None = Field(None, description="What Quantity counts: 1 Boxes, 2 Units, 3 Pallets, 4 Containers.")
    Quantity: int | None = Field(None, description="Number of packages, counted in UnitType (1 or more).")
    Dimensions: PackInfoDimension | None = None
    Weight: PackInfoWeight | None = None


class PackInfoDimensionIn(WireModel):
    """``Dimensions`` as received."""

    MeasureType: Any = None
    Height: Any = None
    Width: Any = None
    Depth: Any = None


class PackInfoWeightIn(WireModel):
    """``Weight`` as received."""

    MeasureType: Any = None
    Gross: Any = None
    Liquid: Any = None


class PackInfoIn(WireModel):
    """A PackInfo as received."""

    UnitType: Any = None
    Quantity: Any = None
    Dimensions: PackInfoDimensionIn | None = None
    Weight: PackInfoWeightIn | None = None


class PackInfoBody(PackInfoIn):
    """Body of POST packaging: a PackInfo, or ``{"OrderId": int, "PackInfo": {...}}``."""

    OrderId: Any = None
    PackInfo: PackInfoIn | None = None


class PackInfoRequest(WireModel):
    """Documentation of the POST packaging body (a PackInfo; ``OrderId`` optional)."""

    OrderId: int | None = Field(None, description="Optional; when given it must equal the orderId of the URL.")
    UnitType: int = Field(description="1 Boxes, 2 Units, 3 Pallets, 4 Containers.")
    Quantity: int = Field(description="1 or more.")
    Dimensions: PackInfoDimension | None = None
    Weight: PackInfoWeight | None = None


# --- scheduling (CF-30.2) ---------------------------------------------------------------------------------


class SchedulingSchedule(WireModel):
    """Scheduling dates of the shipment."""

    Created: WireDateTime | None = None
    Updated: WireDateTime | None = None
    FirstPrinted: WireDateTime | None = None
    Schedule: WireDateTime | None = None
    Expiration: WireDateTime | None = None


class SchedulingHandling(WireModel):
    """Handling (preparation) dates."""

    Approved: WireDateTime | None = None
    Limit: WireDateTime | None = None


class SchedulingDelivery(WireModel):
    """Delivery dates. ``Limit``, ``Shipped`` and ``FirstVisit`` are ours (the spec's list was cut)."""

    Estimated: WireDateTime | None = None
    Limit: WireDateTime | None = Field(None, description="Latest delivery date promised to the buyer.")
    Shipped: WireDateTime | None = Field(None, description="When the parcel left (status 20).")
    FirstVisit: WireDateTime | None = Field(None, description="First delivery attempt.")


class SchedulingDelivered(WireModel):
    """Dates after the delivery attempt (fields ours: not readable in the spec)."""

    Date: WireDateTime | None = Field(None, description="Delivered (status 80).")
    NotDelivered: WireDateTime | None = Field(None, description="Declared not delivered (status 87/89).")
    Returned: WireDateTime | None = Field(None, description="Returned to the seller.")


class SchedulingShipping(WireModel):
    """Status, logistic type and the dated milestones of the shipment."""

    Status: KeyValue
    LogisticType: KeyValue
    Schedule: SchedulingSchedule
    Handling: SchedulingHandling
    Delivery: SchedulingDelivery
    Delivered: SchedulingDelivered


class SchedulingInfo(WireModel):
    """The schedule of one order's shipment. ``Id`` is the order Id as a string (as documented)."""

    Id: str
    SellerAccount: SellerAccountOut
    Marketplace: MarketPlaceRef
    Shipping: SchedulingShipping


# --- transportation (CF-30.3; POST is ours) ---------------------------------------------------------------


class TransportMode(WireModel):
    """``{"Id", "Name"}``: 1 terrestrial, 2 aerial, 3 maritime."""

    Id: int
    Name: str


class TransportInfo(WireModel):
    """How the shipment travels."""

    Mode: TransportMode | None = None
    Container: int | None = Field(None, description="The hub's container number.")


class TransportationInfo(WireModel):
    """Transport of one order. ``ExternalOrderId`` is null for orders that no marketplace sent."""

    OrderId: int
    ExternalOrderId: str | None = None
    Transport: TransportInfo | None = None


class TransportIn(WireModel):
    """``Transport`` as received."""

    Mode: Any = None
    Container: Any = None


class TransportationBody(WireModel):
    """Body of POST transportation: a TransportationInfo (``{"Transport": {...}}``, ``null`` clears it) or a
    bare TransportInfo (``{"Mode": ..., "Container": ...}``)."""

    OrderId: Any = None
    Transport: TransportIn | None = None
    Mode: Any = None
    Container: Any = None


class TransportModeRequest(WireModel):
    """Mode as sent: ``{"Id": 1}``, ``{"Name": "terrestrial"}``, or just the code or the name."""

    Id: int | None = None
    Name: str | None = None


class TransportRequest(WireModel):
    """Documentation of ``Transport`` in the POST body."""

    Mode: TransportModeRequest | int | str | None = None
    Container: int | None = Field(None, description="1 to 2147483647, or null.")


class TransportationRequest(WireModel):
    """Documentation of the POST transportation body."""

    OrderId: int | None = Field(None, description="Optional; when given it must equal the orderId of the URL.")
    Transport: TransportRequest | None = Field(None, description="null removes the transport data.")
