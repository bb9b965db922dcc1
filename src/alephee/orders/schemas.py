"""Wire types of the orders section with the spec's exact property names (CF-20.2.4, CF-20.3; CF-21).

Real-world spellings are kept on purpose: ``MarketPlace`` on the order, ``Marketplace`` on the pack,
``Buyer.Owncode``, ``Documents[].Fullfilename``, ``Payments[].LastUpdate`` (not LastUpdated), ``SenderCost``.
Every key is always present, arrays may be empty. Strings and objects are null when unknown; numbers are
numbers, 0 when unknown (``DecimalOrZero``, ``IntOrZero``): typed ERP models (C# ``decimal``, Delphi
``Double``) fail on a null number, and every source of orders builds its detail through these types.

One module on purpose, longer than the others: it is the order document of the contract, a single nested
shape (order, items, kits, buyer, payments, shipping, documents, pack) plus the bodies of the order writes that
echo parts of it; split across files, a reader would have to reassemble one JSON document from several.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, StringConstraints, field_validator, model_validator

from alephee.http.fields import Element, FlagIn, IdentifierIn, IdIn, JsonIntIn, TextIn, picked
from alephee.http.wire import IDENTIFIER, AddressOut, WireDateTime, WireDecimal, WireModel


def _zero_when_null(value: Any) -> Any:
    return 0 if value is None else value


# A number of the order document: 0 when its source does not know it (see the module docstring).
DecimalOrZero = Annotated[WireDecimal, BeforeValidator(_zero_when_null)]
IntOrZero = Annotated[int, BeforeValidator(_zero_when_null)]
ZERO = Decimal(0)


class KeyValue(WireModel):
    """``{"Key": int, "Value": str}`` (order-context enums; ``Value`` is a label)."""

    Key: int
    Value: str | None = None


class KeyValueText(WireModel):
    """``{"Key": str, "Value": str}`` (e.g. a marketplace category)."""

    Key: str | None = None
    Value: str | None = None


class KeyNumber(WireModel):
    """``{"Key": str, "Value": number}`` (a quantity with its unit label)."""

    Key: str | None = None
    Value: DecimalOrZero = ZERO


class MarketPlaceRef(WireModel):
    """Origin marketplace: id, name and the sub-channel (e.g. "Mercado Shops")."""

    Key: int
    Value: str | None = None
    Channel: str | None = None


class SellerAccountOut(WireModel):
    """The seller account owning the order."""

    Id: int
    OwnCode: str | None = None
    Name: str | None = None
    BusinessName: str | None = None


class SalesTagsOut(WireModel):
    """Tags as delimited text plus the split list."""

    Text: str | None = None
    Items: list[str] = Field(default_factory=list)
    Delimiter: str | None = None


class ProductAttributes(WireModel):
    """Selected product attributes."""

    NetWeight: KeyNumber | None = None
    SalesTags: SalesTagsOut | None = None


class ProductOut(WireModel):
    """``Items[].Product``: a denormalised reference to the catalogue product (no foreign key)."""

    Id: IntOrZero = 0
    Sku: str | None = None
    Brand: str | None = None
    SellerSku: str | None = None
    EAN: str | None = None
    Attributes: ProductAttributes | None = None
    Title: str | None = None
    IntegrationCode: str | None = None
    Category: KeyValueText | None = None


class ListingTypeRef(WireModel):
    """Listing type, e.g. ``{"Key": 7, "Value": "free"}``."""

    Key: int
    Value: str | None = None
    Description: str | None = None


class ProductListingOut(WireModel):
    """``Items[].ProductListing``: the publication the item was sold through."""

    Reference: str | None = None
    Id: IntOrZero = 0
    ExternalId: str | None = None
    Title: str | None = None
    ListingType: ListingTypeRef | None = None
    PermanentLink: str | None = None


class StockAccount(WireModel):
    """The warehouse/store account whose stock moved."""

    Id: IntOrZero = 0
    DocType: str | None = None
    DocNumber: str | None = None
    PickupCode: str | None = None
    OwnCode: str | None = None
    Name: str | None = None
    BusinessName: str | None = None


class StockMovementOut(WireModel):
    """One stock movement caused by an item."""

    Account: StockAccount | None = None
    PrevStock: IntOrZero = 0
    PostStock: IntOrZero = 0
    Quantity: IntOrZero = 0
    MinPublicationQuantity: IntOrZero = 0
    MaxPublicationQuantity: IntOrZero = 0
    DateCreated: WireDateTime | None = None


class QuantitiesDetailsOut(WireModel):
    """Quantity breakdown of an item."""

    Requested: KeyNumber | None = None
    Picked: KeyNumber | None = None
    StockMovements: list[StockMovementOut] = Field(default_factory=list)


class ItemOut(WireModel):
    """``Items[]``: a regular item, a KIT, or a COMPONENT of a kit (``ParentItemId`` = the kit item)."""

    Id: int
    Type: KeyValue
    ParentItemId: IntOrZero = 0
    Product: ProductOut
    ProductListing: ProductListingOut | None = None
    Quantity: int
    QuantitiesDetails: QuantitiesDetailsOut | None = None
    # A kit's component without a price of its own: UnitPrice 0 and the kit's price prorated in the
    # Calculated... prices; other items: Calculated... 0.
    UnitPrice: DecimalOrZero = ZERO
    FullUnitPrice: DecimalOrZero = ZERO
    UnitPriceCost: DecimalOrZero = ZERO
    CalculatedComponentUnitPrice: DecimalOrZero = ZERO
    CalculatedComponentFullUnitPrice: DecimalOrZero = ZERO
    SaleFee: DecimalOrZero = ZERO
    Notes: str | None = None
    Status: KeyValue
    StatusType: KeyValue
    IsCancelled: bool = False


class DiscountOut(WireModel):
    """A discount applied to a payment."""

    Amount: DecimalOrZero = ZERO
    Value: DecimalOrZero = ZERO
    Type: str | None = None
    Priority: str | None = None
    Notes: str | None = None
    Code: str | None = None


class TaxesOut(WireModel):
    """Taxes of a payment (one object, not an array)."""

    Amount: DecimalOrZero = ZERO
    CurrencySymbol: str | None = None


class PaymentOut(WireModel):
    """``Payments[]`` (PaymentType). Note ``LastUpdate``, not ``LastUpdated``."""

    ExternalPaymentId: str | None = None
    Amount: DecimalOrZero = ZERO
    AmountNoDiscount: DecimalOrZero = ZERO
    ShippingAmount: DecimalOrZero = ZERO
    ShippingAmountNoDiscount: DecimalOrZero = ZERO
    TransactionAmount: DecimalOrZero = ZERO
    Total: DecimalOrZero = ZERO
    SubTotal: DecimalOrZero = ZERO
    Installments: IntOrZero = 0
    InstallmentAmount: DecimalOrZero = ZERO
    Notes: str | None = None
    CurrencySymbol: str | None = None
    Method: KeyValue | None = None
    Status: KeyValue | None = None
    Condition: KeyValue | None = None
    Discounts: list[DiscountOut] = Field(default_factory=list)
    Taxes: TaxesOut | None = None
    AuthorizationCode: str | None = None
    DateCreated: WireDateTime | None = None
    DateApproved: WireDateTime | None = None
    LastUpdate: WireDateTime | None = None


class AdjustmentItem(WireModel):
    """The item an adjustment applies to."""

    Id: IntOrZero = 0
    Brand: str | None = None
    Sku: str | None = None
    SellerSku: str | None = None


class AdjustmentValue(WireModel):
    """Amount of an adjustment and how it applies (percentage or fixed)."""

    Type: KeyValue | None = None
    Value: DecimalOrZero = ZERO


class AdjustmentOut(WireModel):
    """``Adjustments[]`` (B2B portal orders only)."""

    Type: KeyValue | None = None
    Code: str | None = None
    Description: str | None = None
    Item: AdjustmentItem | None = None
    Value: AdjustmentValue | None = None


class CourierInfoOut(WireModel):
    """The carrier that collects and delivers."""

    BusinessName: str | None = None
    DocType: str | None = None
    DocNumber: str | None = None
    LegalNumber: str | None = None
    OwnCode: str | None = None
    Address: AddressOut | None = None


class ShippingLabelsOut(WireModel):
    """Label state (``SubStatus`` is the shipment substatus) and download links."""

    SubStatus: str | None = None
    ShippingLabelUrlPdf: str | None = None
    ShippingLabelUrlZip: str | None = None


class PickupOut(WireModel):
    """Pickup point (only for "pick up" shipments)."""

    Id: IntOrZero = 0
    Name: str | None = None
    BusinessName: str | None = None
    ExternalPickupId: IntOrZero = 0
    IntegrationCode: str | None = None
    SellerAccountId: IntOrZero = 0


class ReceiverOut(WireModel):
    """The person receiving the parcel (may differ from the buyer)."""

    Name: str | None = None
    Phone: str | None = None


class PackageDimensions(WireModel):
    """Package size in ``MeasureType`` units (1 mm, 2 cm, 3 m, 4 km, 5 in)."""

    Height: DecimalOrZero = ZERO
    Width: DecimalOrZero = ZERO
    Depth: DecimalOrZero = ZERO
    MeasureType: IntOrZero = 0


class PackageWeight(WireModel):
    """Package weight in ``MeasureType`` units (1 kg, 2 t, 3 g)."""

    Gross: DecimalOrZero = ZERO
    Liquid: DecimalOrZero = ZERO
    MeasureType: IntOrZero = 0


class PackageInfoOut(WireModel):
    """``Shipping.PackageInfo`` (the PackInfo of the shipping-packaging endpoints)."""

    Quantity: IntOrZero = 0
    UnitType: IntOrZero = 0
    Dimensions: PackageDimensions | None = None
    Weight: PackageWeight | None = None


class ShippingOut(WireModel):
    """``Shipping`` (ShippingType). ``SenderCost`` is what the seller pays."""

    ExternalShippingId: IntOrZero = 0
    Cost: DecimalOrZero = ZERO
    ReceiverCost: DecimalOrZero = ZERO
    SenderCost: DecimalOrZero = ZERO
    Method: KeyValue | None = None
    Status: KeyValue | None = None
    LogisticType: KeyValue | None = None
    CourierInfo: CourierInfoOut | None = None
    ShippingLabels: ShippingLabelsOut | None = None
    Pickup: PickupOut | None = None
    ReceiverAddress: AddressOut | None = None
    Receiver: ReceiverOut | None = None
    EstimatedDeliveryDate: WireDateTime | None = None
    DateCreated: WireDateTime | None = None
    LastUpdated: WireDateTime | None = None
    PackageInfo: PackageInfoOut | None = None


class StateRegistrationOut(WireModel):
    """Brazilian state registration."""

    DocType: str | None = None
    DocNumber: str | None = None


class BillingInfoOut(WireModel):
    """Invoicing data (may differ from the buyer)."""

    DocType: str | None = None
    DocNumber: str | None = None
    TaxPayerType: str | None = None
    BusinessName: str | None = None
    StateRegistration: StateRegistrationOut | None = None
    Address: AddressOut | None = None


class BuyerOut(WireModel):
    """The buyer (``Owncode`` with a lower-case c, as serialised by the real API)."""

    Code: IntOrZero = 0
    Owncode: str | None = None
    Name: str | None = None
    Phone: str | None = None
    Email: str | None = None
    DocType: str | None = None
    DocNumber: str | None = None
    Nickname: str | None = None
    Address: AddressOut | None = None
    BillingInfo: BillingInfoOut | None = None


class InvoiceLinks(WireModel):
    """Links to the fiscal invoice (DANFE PDF and NF-e XML, Brazil)."""

    DanfePdfUrl: str | None = None
    XmlUrl: str | None = None


class BillingOut(WireModel):
    """Marketplace-side billing of the order."""

    SaleFee: DecimalOrZero = ZERO
    Invoice: InvoiceLinks | None = None


class ActiveClaim(WireModel):
    """An open claim."""

    ExternalClaimId: IntOrZero = 0
    DateCreated: WireDateTime | None = None


class DocumentOut(WireModel):
    """Metadata of an attached document (content via GET /v2/orders/{orderId}/documents)."""

    Type: int
    Name: str | None = None
    Extension: str | None = None
    Fullfilename: str | None = None
    Size: IntOrZero = 0
    DocumentDate: WireDateTime | None = None
    DateCreated: WireDateTime | None = None


class OrderDetail(WireModel):
    """The immutable sections of an order, stored as one JSON document (``orders.detail``)."""

    SellerAccount: SellerAccountOut
    MarketPlace: MarketPlaceRef
    Items: list[ItemOut]
    Payments: list[PaymentOut] = Field(default_factory=list)
    Adjustments: list[AdjustmentOut] = Field(default_factory=list)
    Shipping: ShippingOut
    Buyer: BuyerOut
    Billing: BillingOut | None = None
    ActiveClaims: list[ActiveClaim] = Field(default_factory=list)
    ExternalJson: dict[str, Any] = Field(default_factory=dict)
    Notes: str | None = None


class OrderOut(WireModel):
    """One order of ``GET /v2/orders`` (CF-20.2.4), every key always present."""

    Id: int
    SellerAccount: SellerAccountOut
    ExternalOrderId: str | None
    IntegratedOrderId: str | None
    PackId: str | None
    SourcePackId: str | None
    IsCompletePackOrder: bool | None
    Items: list[ItemOut]
    Payments: list[PaymentOut]
    Adjustments: list[AdjustmentOut]
    Shipping: ShippingOut
    Buyer: BuyerOut
    Billing: BillingOut | None
    ActiveClaims: list[ActiveClaim]
    Documents: list[DocumentOut]
    ExternalJson: dict[str, Any]
    Integrated: bool
    ErpStatus: str | None
    Notes: str | None
    Status: KeyValue
    StatusType: KeyValue
    MarketPlace: MarketPlaceRef
    DateCreated: WireDateTime
    LastUpdated: WireDateTime
    DateClosed: WireDateTime | None
    IsCancelled: bool
    Invoice: InvoiceLinks | None


class OrdersPackOut(WireModel):
    """``OrdersPack`` (CF-20.3.1): the shared cart blocks once, then the orders. Note ``Marketplace`` here."""

    Id: int | str
    SourcePackId: str | None
    IsComplete: bool
    Marketplace: MarketPlaceRef
    SellerAccount: SellerAccountOut
    Buyer: BuyerOut
    Payments: list[PaymentOut]
    Shipping: ShippingOut
    Orders: list[OrderOut]


ORDER_ID_REQUIRED = "OrderId is required and must be an integer"
BAD_FIELD = "Invalid value for '{name}'"
STATUS_REQUIRED = "Status is required and must be an integer"


def _last_bad(bad: set[str], names: tuple[str, ...]) -> str:
    # The message names the last property (in the schema's order) that is refused.
    return BAD_FIELD.format(name=[name for name in names if name in bad][-1])


class IntegrateIn(Element):
    """One element of PUT /v2/orders/integrate. ``Integrated`` absent means true (marking is what the endpoint
    is for), null leaves it unchanged; ``OwnOrderId`` and ``ErpStatus`` absent leave them unchanged, null
    clears them."""

    OrderId: IdIn
    OwnOrderId: IdentifierIn | None = Field(None, max_length=100)
    Integrated: FlagIn | None = True
    ErpStatus: TextIn | None = Field(None, max_length=100)

    @classmethod
    def problem(cls, bad: set[str]) -> str:
        """A bad ``OrderId`` first, else the last bad property named."""
        if "OrderId" in bad:
            return ORDER_ID_REQUIRED
        return _last_bad(bad, ("Integrated", "OwnOrderId", "ErpStatus"))


class IntegrateResult(WireModel):
    """One result: ``Status`` is a string ("200", "400"), as in the authoritative example."""

    Status: str
    Message: str
    # A refused element is echoed exactly as sent (any JSON value), so the schema cannot require IntegrateIn.
    OrderStatus: IntegrateIn | Any = Field(
        description="Status 200: the order's integration data; otherwise the element exactly as sent."
    )


class IntegrateOut(WireModel):
    """``{Total, Results}`` of PUT /v2/orders/integrate."""

    Total: int
    Results: list[IntegrateResult]


class TrackingIn(WireModel):
    """Free-text tracking (stored as given)."""

    Number: TextIn | None = Field(None, max_length=100)
    Status: TextIn | None = Field(None, max_length=200)


class OrderStatusIn(Element):
    """One element of PUT /v2/orders: ``Status`` is a JSON integer; ``Tracking`` null or absent leaves the
    tracking unchanged."""

    OrderId: IdIn
    Status: JsonIntIn
    Tracking: TrackingIn | None = None

    @field_validator("Tracking", mode="before")
    @classmethod
    def _tracking_names(cls, value: Any) -> Any:
        # Nested names matched like the element's own (first case-insensitive match).
        return picked(TrackingIn, value) if isinstance(value, dict) else value

    @classmethod
    def problem(cls, bad: set[str]) -> str:
        """``OrderId``, then ``Status``, then ``Tracking``: the first bad one in that order."""
        if "OrderId" in bad:
            return ORDER_ID_REQUIRED
        if "Status" in bad:
            return STATUS_REQUIRED
        return BAD_FIELD.format(name="Tracking")


class OrderStatusResult(WireModel):
    """One result of PUT /v2/orders: the element echoed, an HTTP-like code and a message."""

    # A refused element is echoed exactly as sent (any JSON value), so the schema cannot require OrderStatusIn.
    OrderStatus: OrderStatusIn | Any = Field(description="The element exactly as sent.")
    Status: int
    Message: str


class OrderStatusOut(WireModel):
    """``{Total, Results}`` of PUT /v2/orders."""

    Total: int
    Results: list[OrderStatusResult]


# --- POST /v2/orders/{orderId}/documents, /split, /messages ------------------------------------------------


class DocumentUploadIn(WireModel):
    """JSON mode of the document upload: the file as base64. The scalar parameters travel in the query
    string; they are also accepted here (a query value wins)."""

    fileBase64: str = Field(description="The whole file, base64-encoded.")
    documentName: str | None = Field(None, description="File name (metadata only; never a path).")
    documentExtension: str | None = Field(None, description="pdf, jpg, jpeg, png or xml; must match the content.")
    documentType: int | str | None = None
    documentNumber: str | None = None
    documentDate: str | None = None
    messageText: str | None = None
    fiscalKey: str | None = None
    seriesNumber: str | None = None


class MessageAttachmentIn(WireModel):
    """JSON mode of a buyer message with an attachment (``message``/``messageOptions`` may travel here too)."""

    fileBase64: str | None = Field(None, description="The attachment, base64-encoded.")
    documentName: str | None = None
    documentExtension: str | None = None
    message: str | None = None
    messageOptions: int | str | None = None


class SplitOut(WireModel):
    """Result of a split: the order's new cart (``PackId``) and shipment, and the cart it came from."""

    OrderId: int
    PackId: str
    SourcePackId: str | None
    ExternalShippingId: int


# --- POST /v2/orders (OrderInfo, CF-21.6.4) ---------------------------------------------------------------

Text100 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
# Identifiers (SKUs, external ids): NFC, no control characters (http/wire.py ``clean_identifier``).
Id100 = Annotated[str, IDENTIFIER, StringConstraints(strip_whitespace=True, max_length=100)]
Text300 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)]
BigIntIn = Annotated[int, Field(ge=0, le=9_223_372_036_854_775_807)]
AmountIn = Annotated[Decimal, Field(ge=0, le=Decimal("1e12"), decimal_places=4)]


class AddressIn(WireModel):
    """An address; ``StreetName`` or ``Description`` locates it."""

    CountryId: Text100 | None = None
    StateCode: Text100 | None = None
    State: Text100 | None = None
    City: Text100 | None = None
    Neighborhood: Text100 | None = None
    StreetName: Text300 | None = None
    StreetNumber: Text100 | None = None
    ZipCode: Text100 | None = None
    Notes: Text300 | None = None
    Description: Text300 | None = None
    Phone: Text100 | None = None
    AlternativePhone: Text100 | None = None

    @model_validator(mode="after")
    def _located(self) -> AddressIn:
        if not (self.StreetName or self.Description):
            raise ValueError("an address needs StreetName or Description")
        return self


class ProductIn(WireModel):
    """The product of an item: matched in the catalogue by ``Sku`` (and ``Brand``), else kept disconnected."""

    Sku: Annotated[str, IDENTIFIER, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    Brand: Id100 | None = None
    Title: Text300 | None = None
    Description: Text300 | None = None
    SellerSku: Id100 | None = None
    EAN: Id100 | None = None


class OrderInfoItemIn(WireModel):
    """``OrderInfoItems``."""

    Product: ProductIn
    Quantity: int = Field(ge=1, le=1_000_000)
    StockMovement: bool
    UnitPrice: AmountIn
    UnitPriceCost: AmountIn | None = None
    Status: int
    Notes: Text300 | None = None


class KeyValueIn(WireModel):
    """``{"Key", "Value"}`` accepted where a code or a name may be sent."""

    Key: int | str | None = None
    Value: str | None = None


class DiscountIn(WireModel):
    """A discount of a payment."""

    Amount: AmountIn | None = None
    Value: AmountIn | None = None
    Type: Text100 | None = None
    Priority: Text100 | None = None
    Notes: Text300 | None = None
    Code: Text100 | None = None


class TaxesIn(WireModel):
    """Taxes of a payment."""

    Amount: AmountIn | None = None
    CurrencySymbol: Text100 | None = None


class OrderInfoPaymentIn(WireModel):
    """``OrderInfoPayments``: at least the amount."""

    ExternalPaymentId: Id100 | None = None
    Amount: AmountIn
    AmountNoDiscount: AmountIn | None = None
    ShippingAmount: AmountIn | None = None
    TransactionAmount: AmountIn | None = None
    Total: AmountIn | None = None
    SubTotal: AmountIn | None = None
    Installments: int | None = Field(None, ge=1, le=120)
    InstallmentAmount: AmountIn | None = None
    CurrencySymbol: Text100 | None = None
    Method: KeyValueIn | int | str | None = None
    Status: KeyValueIn | int | str | None = None
    Discounts: list[DiscountIn] = Field(default_factory=list)
    Taxes: TaxesIn | None = None
    AuthorizationCode: Text100 | None = None
    Notes: Text300 | None = None
    DateCreated: str | None = None
    DateApproved: str | None = None


class StateRegistrationIn(WireModel):
    """Brazilian state registration."""

    DocType: Text100 | None = None
    DocNumber: Text100 | None = None


class BillingInfoIn(WireModel):
    """Billing information (optional section) and its address."""

    DocType: Text100 | None = None
    DocNumber: Text100 | None = None
    TaxPayerType: Text100 | None = None
    BusinessName: Text300 | None = None
    StateRegistration: StateRegistrationIn | None = None
    Address: AddressIn | None = None


class OrderInfoBuyerIn(WireModel):
    """The buyer (mandatory) with its address (mandatory)."""

    Name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    Code: BigIntIn | None = None
    Owncode: Text100 | None = None
    Phone: Text100 | None = None
    Email: Text300 | None = None
    DocType: Text100 | None = None
    DocNumber: Text100 | None = None
    Nickname: Text100 | None = None
    Address: AddressIn
    BillingInfo: BillingInfoIn | None = None


class CourierInfoIn(WireModel):
    """The courier (only with the Courier logistic type)."""

    BusinessName: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    DocType: Text100 | None = None
    DocNumber: Text100 | None = None
    LegalNumber: Text100 | None = None
    OwnCode: Text100 | None = None
    Address: AddressIn | None = None


class PickupIn(WireModel):
    """The pickup point (only for "Pick up" shipments)."""

    Id: BigIntIn | None = None
    Name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    BusinessName: Text300 | None = None
    ExternalPickupId: BigIntIn | None = None
    IntegrationCode: Text100 | None = None


class ReceiverIn(WireModel):
    """Who receives the parcel."""

    Name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    Phone: Text100 | None = None


class ShippingCostIn(WireModel):
    """``Cost`` as an object: total, and the parts paid by the buyer and by the seller."""

    Cost: AmountIn | None = None
    Amount: AmountIn | None = None
    ReceiverCost: AmountIn | None = None
    SenderCost: AmountIn | None = None


class OrderInfoShippingIn(WireModel):
    """Shipping (mandatory): cost, receiver, and the receiver address unless it is a pick-up."""

    LogisticType: KeyValueIn | int | str | None = None
    Cost: ShippingCostIn | AmountIn
    ReceiverCost: AmountIn | None = None
    SenderCost: AmountIn | None = None
    Receiver: ReceiverIn
    ReceiverAddress: AddressIn | None = None
    CourierInfo: CourierInfoIn | None = None
    Pickup: PickupIn | None = None
    EstimatedDeliveryDate: str | None = None


class OrderInfoIn(WireModel):
    """``OrderInfo``: the body of POST /v2/orders (one order per call)."""

    MarketplaceId: int = Field(ge=1, le=2_147_483_647)
    ExternalOrderId: Annotated[str, IDENTIFIER, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    Integrated: bool = False
    ErpStatus: Text100 | None = None
    DateCreated: str
    Items: list[OrderInfoItemIn] = Field(min_length=1)
    Buyer: OrderInfoBuyerIn
    Payments: list[OrderInfoPaymentIn] = Field(min_length=1)
    Shipping: OrderInfoShippingIn
    Notes: Text300 | None = None
