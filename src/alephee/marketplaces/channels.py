"""The channel interface: what the hub needs from any marketplace, and the registry of connectors.

A *channel* is one marketplace connector (the built-in sandbox, later Mercado Libre, Amazon, ...). The hub's
domains never call a channel directly: they write outbox rows (``marketplaces.outbox.enqueue``) and the worker
delivers each row through the channel of its marketplace (``Marketplace.connector``). Only synchronous reads
that the API must answer at once (a shipping label) use ``channel_for`` directly.

Adding a connector is one module: subclass ``BaseChannel`` (implement what the marketplace supports; the rest
answers "not supported", a permanent failure), then either add it to ``BUILTIN_CHANNELS`` or publish it as an
``alephee.channels`` entry point (``name = "package.module:ClassName"``) or call ``register_channel`` at import.

Errors: a channel raises ``TransientDeliveryError`` for anything worth retrying (timeouts, 429, 5xx, the
marketplace being down) and ``PermanentDeliveryError`` for what will never succeed as sent (bad payload,
unknown listing, a transition the marketplace refuses). The worker retries the first with backoff and marks
the row failed at once on the second. Any other exception is treated as transient (it may be a bug fixed
by the next deploy) and is bounded by ``outbox_max_attempts``.

Outbox topics and their payloads are documented in ``alephee.marketplaces.sandbox`` (the reference channel).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any, ClassVar, Protocol, runtime_checkable

from sqlalchemy.orm import Session

from alephee.http.numbers import to_int

# --- errors -------------------------------------------------------------------------------------------------


class DeliveryError(Exception):
    """A channel could not do what was asked. ``transient`` says whether trying again may succeed."""

    transient: ClassVar[bool] = True

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TransientDeliveryError(DeliveryError):
    """Retry later with backoff (network error, timeout, 429, 5xx, marketplace maintenance)."""

    transient = True


class PermanentDeliveryError(DeliveryError):
    """Never retried: the row is marked failed at once (bad payload, unknown object, refused transition)."""

    transient = False


class UnsupportedOperation(PermanentDeliveryError):
    """The connector does not offer this operation (e.g. splitting a cart outside Mercado Libre)."""


class UnknownConnector(PermanentDeliveryError):
    """No channel is registered for a marketplace's ``connector``."""


# --- inputs and outputs ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MarketplaceRef:
    """The catalogue facts a channel needs about the marketplace it talks to."""

    id: int
    name: str
    family: str
    connector: str
    site_id: str | None = None
    country_id: str | None = None


@dataclass(frozen=True, slots=True)
class ChannelContext:
    """Who a call is for, and how it is delivered.

    ``session`` is the worker's open transaction when the channel keeps its state in the hub's database
    (``in_database``): the channel writes through it and the outbox outcome is committed atomically with those
    writes. Remote connectors get ``None`` and must not hold database transactions while calling out.
    ``idempotency_key`` is stable across retries of one outbox row (``outbox:<id>``): remote connectors send
    it where the marketplace supports one, the sandbox refuses to apply the same key twice.
    """

    account_id: int
    marketplace: MarketplaceRef
    session: Session | None = None
    message_id: int | None = None
    idempotency_key: str | None = None
    external_seller_id: str | None = None


@dataclass(frozen=True, slots=True)
class ListingPush:
    """Publish a listing or update it (``None`` fields are left unchanged)."""

    listing_id: int | None = None
    external_id: str | None = None
    product_id: int | None = None
    sku: str | None = None
    brand: str | None = None
    title: str | None = None
    price: Decimal | None = None
    currency: str | None = None
    quantity: int | None = None
    status: str | None = None
    # Why the seller's side paused it (the hub's ``user``, ``stock``, ``no_price``), shown by marketplaces
    # that keep a pause reason; a listing without a price comes paused with ``no_price`` and ``price`` None.
    status_reason: str | None = None
    listing_type: str | None = None
    # A price discount for a window (percent of the price); ``discount_cleared`` removes the current one.
    discount: ListingDiscount | None = None
    discount_cleared: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ListingDiscount:
    """A percentage discount valid from ``start`` (inclusive) to ``finish`` (exclusive)."""

    percent: Decimal
    start: datetime | None = None
    finish: datetime | None = None


@dataclass(frozen=True, slots=True)
class ListingStatusPush:
    """Change a listing's status (``status`` is a marketplace status name, see ``LISTING_STATUS_NAMES``)."""

    status: str
    listing_id: int | None = None
    external_id: str | None = None
    # Why the seller's side paused it (see ``ListingPush.status_reason``).
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ListingReceipt:
    """What the marketplace answered for a listing push."""

    external_id: str
    status: str
    available_quantity: int | None = None


@dataclass(frozen=True, slots=True)
class OrderRef:
    """An order as both sides know it: the hub's id and/or the marketplace's order number."""

    order_id: int | None = None
    external_order_id: str | None = None
    pack_id: str | None = None


@dataclass(frozen=True, slots=True)
class OrderStatusPush:
    """The seller's status of an order (codes of ``PUT /v2/orders``: 10, 17, 20, 80, 90) and tracking."""

    order: OrderRef
    status: int | None = None
    tracking_number: str | None = None
    carrier: str | None = None
    tracking_url: str | None = None
    tracking_status: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class PackagingPush:
    """The packaging of a shipment (``PackInfo``: units, dimensions, weight) for the marketplace's carrier."""

    order: OrderRef
    package_info: dict[str, Any]
    order_ids: tuple[int, ...] = ()
    external_shipping_id: str | None = None


@dataclass(frozen=True, slots=True)
class DocumentUpload:
    """A document attached to an order (0 invoice, 1 receipt, 2 electronic fiscal invoice)."""

    order: OrderRef
    document_type: int
    document_number: str | None = None
    file_name: str | None = None
    extension: str | None = None
    content_type: str | None = None
    size: int | None = None
    sha256: str | None = None
    storage_key: str | None = None
    fiscal_key: str | None = None
    document_date: str | None = None


@dataclass(frozen=True, slots=True)
class DocumentReceipt:
    """The marketplace's answer to an upload; ``forwarded`` is false when the document stays in the hub."""

    forwarded: bool
    external_document_id: str | None = None


@dataclass(frozen=True, slots=True)
class BuyerMessage:
    """A message to the buyer of an order (``message_option`` 1..5 of ``messageOptions``)."""

    order: OrderRef
    message_option: int
    text: str | None = None
    attachment_name: str | None = None
    attachment_storage_key: str | None = None


@dataclass(frozen=True, slots=True)
class LabelRequest:
    """Ask for the shipping label of an order's shipment in ``format`` (TXT = ZPL, PDF or ZIP)."""

    order: OrderRef
    format: str = "PDF"
    external_shipping_id: str | None = None


@dataclass(frozen=True, slots=True)
class ShippingLabel:
    """A label file."""

    format: str
    content: bytes
    media_type: str
    file_name: str


@dataclass(frozen=True, slots=True)
class SplitRequest:
    """Move one order out of its cart into its own shipment (``split_reason_id`` 1..4)."""

    order: OrderRef
    split_reason_id: int
    # The cart and shipment ids the hub gave the order, for marketplaces that accept the seller's (the
    # sandbox does, so both sides keep the same numbers); others assign their own.
    new_pack_id: str | None = None
    new_external_shipping_id: str | None = None


@dataclass(frozen=True, slots=True)
class SplitResult:
    """The new shipment and pack of the split order (may arrive later on real marketplaces: then ``None``)."""

    pack_id: str | None = None
    external_shipping_id: str | None = None


@dataclass(frozen=True, slots=True)
class ChannelPayment:
    """One payment of a marketplace order."""

    external_payment_id: str
    status: str
    amount: Decimal
    currency: str | None = None
    method: str | None = None
    installments: int | None = None
    date_created: datetime | None = None
    date_approved: datetime | None = None


@dataclass(frozen=True, slots=True)
class ChannelOrderItem:
    """One line of a marketplace order."""

    external_listing_id: str
    quantity: int
    unit_price: Decimal
    sku: str | None = None
    title: str | None = None
    listing_id: int | None = None
    # The listing's regular price when the buyer paid a discounted one.
    full_unit_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ChannelOrder:
    """A new or changed order as the marketplace reports it (the hub maps it into its own order)."""

    external_order_id: str
    status: str
    date_created: datetime
    date_updated: datetime
    items: tuple[ChannelOrderItem, ...]
    payments: tuple[ChannelPayment, ...] = ()
    total: Decimal | None = None
    currency: str | None = None
    pack_id: str | None = None
    pack_size: int | None = None
    external_shipping_id: str | None = None
    shipping_status: str | None = None
    shipping_substatus: str | None = None
    logistic_type: str | None = None
    buyer: dict[str, Any] = field(default_factory=dict)
    shipping_address: dict[str, Any] = field(default_factory=dict)
    fraud: bool = False
    claim: bool = False
    order_id: int | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OrderPage:
    """A page of changed orders after a cursor; pass ``cursor`` back to get the next changes."""

    orders: tuple[ChannelOrder, ...]
    cursor: str | None
    has_more: bool = False


# --- the interface ----------------------------------------------------------------------------------------


@runtime_checkable
class Channel(Protocol):
    """The operations the hub needs from a marketplace."""

    connector: str
    # True: state lives in the hub's database and every call gets ``ChannelContext.session``.
    in_database: bool

    def publish_listing(self, ctx: ChannelContext, listing: ListingPush) -> ListingReceipt:
        """Create the listing or update its price, quantity, status and descriptive fields."""
        ...

    def set_listing_status(self, ctx: ChannelContext, change: ListingStatusPush) -> ListingReceipt:
        """Activate, pause or close a listing."""
        ...

    def pull_orders(self, ctx: ChannelContext, cursor: str | None, limit: int = 100) -> OrderPage:
        """New or changed orders (with their payments and shipment state) since ``cursor``, oldest first."""
        ...

    def push_order_status(self, ctx: ChannelContext, update: OrderStatusPush) -> None:
        """Tell the marketplace the seller's status of an order and its tracking."""
        ...

    def upload_document(self, ctx: ChannelContext, document: DocumentUpload) -> DocumentReceipt:
        """Forward an invoice (or fiscal invoice) of an order."""
        ...

    def send_buyer_message(self, ctx: ChannelContext, message: BuyerMessage) -> None:
        """Send a message to the buyer of an order."""
        ...

    def fetch_label(self, ctx: ChannelContext, request: LabelRequest) -> ShippingLabel:
        """The shipping label of an order's shipment."""
        ...

    def split_shipment(self, ctx: ChannelContext, request: SplitRequest) -> SplitResult:
        """Move an order of a cart into its own shipment."""
        ...

    def push_packaging(self, ctx: ChannelContext, packaging: PackagingPush) -> None:
        """Tell the marketplace the packaging (units, dimensions, weight) of a shipment."""
        ...


class BaseChannel:
    """Convenience base: every operation answers "not supported" until a connector overrides it."""

    connector: str = "base"
    in_database: bool = False

    def _unsupported(self, operation: str) -> UnsupportedOperation:
        return UnsupportedOperation(f"connector '{self.connector}' does not support {operation}")

    def publish_listing(self, ctx: ChannelContext, listing: ListingPush) -> ListingReceipt:
        raise self._unsupported("publishing listings")

    def set_listing_status(self, ctx: ChannelContext, change: ListingStatusPush) -> ListingReceipt:
        raise self._unsupported("listing status changes")

    def pull_orders(self, ctx: ChannelContext, cursor: str | None, limit: int = 100) -> OrderPage:
        # Pulling nothing is a valid answer for channels whose orders never come from the marketplace.
        return OrderPage(orders=(), cursor=cursor)

    def push_order_status(self, ctx: ChannelContext, update: OrderStatusPush) -> None:
        raise self._unsupported("order status updates")

    def upload_document(self, ctx: ChannelContext, document: DocumentUpload) -> DocumentReceipt:
        raise self._unsupported("documents")

    def send_buyer_message(self, ctx: ChannelContext, message: BuyerMessage) -> None:
        raise self._unsupported("buyer messages")

    def fetch_label(self, ctx: ChannelContext, request: LabelRequest) -> ShippingLabel:
        raise self._unsupported("shipping labels")

    def split_shipment(self, ctx: ChannelContext, request: SplitRequest) -> SplitResult:
        raise self._unsupported("splitting shipments")

    def push_packaging(self, ctx: ChannelContext, packaging: PackagingPush) -> None:
        raise self._unsupported("shipment packaging")


class LocalChannel(BaseChannel):
    """A channel served by the hub itself (the Alephee B2B portal): every push is already "delivered"
    because the portal reads the hub's own tables."""

    connector = "b2b"
    in_database = False

    def publish_listing(self, ctx: ChannelContext, listing: ListingPush) -> ListingReceipt:
        return ListingReceipt(
            external_id=listing.external_id or str(listing.listing_id or ""),
            status=listing.status or "active",
            available_quantity=listing.quantity,
        )

    def set_listing_status(self, ctx: ChannelContext, change: ListingStatusPush) -> ListingReceipt:
        return ListingReceipt(external_id=change.external_id or str(change.listing_id or ""), status=change.status)

    def push_order_status(self, ctx: ChannelContext, update: OrderStatusPush) -> None:
        return None

    def upload_document(self, ctx: ChannelContext, document: DocumentUpload) -> DocumentReceipt:
        return DocumentReceipt(forwarded=False)

    def send_buyer_message(self, ctx: ChannelContext, message: BuyerMessage) -> None:
        return None


class ApiChannel(LocalChannel):
    """The seller's own shop integrated through this API (catalogue entry "Tienda propia"): it reads its
    listings with ``GET /v2/productlistings/search`` and sends its orders with ``POST /v2/orders``, so, like
    the B2B portal, every push is already delivered."""

    connector = "api"


# --- registry -------------------------------------------------------------------------------------------

ChannelFactory = Callable[[], Channel]

# connector name → "module:attribute" of a Channel class (or factory), imported on first use so that a
# connector's dependencies are only loaded when a marketplace uses it.
BUILTIN_CHANNELS: dict[str, str] = {
    "sandbox": "alephee.marketplaces.sandbox:SandboxChannel",
    "b2b": "alephee.marketplaces.channels:LocalChannel",
    "api": "alephee.marketplaces.channels:ApiChannel",
}
ENTRY_POINT_GROUP = "alephee.channels"

_registered: dict[str, ChannelFactory] = {}
_lock = threading.Lock()


def register_channel(connector: str, factory: ChannelFactory) -> ChannelFactory | None:
    """Make ``connector`` resolve to ``factory()``; returns the factory it replaces (tests restore it)."""
    with _lock:
        previous = _registered.get(connector)
        _registered[connector] = factory
        return previous


def unregister_channel(connector: str, previous: ChannelFactory | None = None) -> None:
    """Undo ``register_channel`` (restoring ``previous`` when given)."""
    with _lock:
        if previous is None:
            _registered.pop(connector, None)
        else:
            _registered[connector] = previous


def _load(target: str) -> ChannelFactory:
    module, _, attribute = target.partition(":")
    factory: ChannelFactory = getattr(import_module(module), attribute)
    return factory


def _resolve(connector: str) -> ChannelFactory | None:
    with _lock:
        factory = _registered.get(connector)
    if factory is not None:
        return factory
    if connector in BUILTIN_CHANNELS:
        return _load(BUILTIN_CHANNELS[connector])
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name == connector:
            loaded: ChannelFactory = entry.load()
            return loaded
    return None


def get_channel(connector: str) -> Channel:
    """A channel instance for ``connector`` (``Marketplace.connector``); ``UnknownConnector`` if none."""
    factory = _resolve(connector)
    if factory is None:
        raise UnknownConnector(f"no channel is registered for connector '{connector}'")
    channel = factory()
    if not isinstance(channel, Channel):
        raise UnknownConnector(f"connector '{connector}' does not implement the Channel interface")
    return channel


def has_channel(connector: str | None) -> bool:
    """Whether a channel is registered for ``connector`` (built in, ``register_channel`` or an entry point):
    the one test of "this marketplace has a connector". Catalogue entries name the connector that serves them
    (``mercadolibre``, ``amazon``, ...) whether or not it exists yet, so a connector that registers later
    makes its marketplaces usable without touching the catalogue."""
    if not connector:
        return False
    return _resolve(connector) is not None


def known_connectors() -> list[str]:
    """Every connector name that resolves (registered, built in, or installed as an entry point)."""
    names = set(BUILTIN_CHANNELS) | set(_registered)
    names |= {entry.name for entry in entry_points(group=ENTRY_POINT_GROUP)}
    return sorted(names)


def marketplace_ref(session: Session, marketplace_id: int) -> MarketplaceRef:
    """The catalogue entry of a marketplace; ``PermanentDeliveryError`` when it is unknown or inactive."""
    from alephee.marketplaces.models import Marketplace

    row = session.get(Marketplace, marketplace_id)
    if row is None:
        raise PermanentDeliveryError(f"marketplace {marketplace_id} is not in the catalogue")
    if not row.active:
        raise PermanentDeliveryError(f"marketplace {marketplace_id} is not active")
    return MarketplaceRef(
        id=row.id,
        name=row.name,
        family=row.family,
        connector=row.connector,
        site_id=row.site_id,
        country_id=row.country_id,
    )


def channel_for(session: Session, marketplace_id: int, account_id: int) -> tuple[Channel, ChannelContext]:
    """The channel of a marketplace and a context for a synchronous call made inside ``session``
    (e.g. ``GET /v2/orders/{id}/shippinglabel`` asking for the label)."""
    ref = marketplace_ref(session, marketplace_id)
    channel = get_channel(ref.connector)
    ctx = ChannelContext(
        account_id=account_id,
        marketplace=ref,
        session=session if channel.in_database else None,
        external_seller_id=_external_seller_id(session, account_id, marketplace_id),
    )
    return channel, ctx


def _external_seller_id(session: Session, account_id: int, marketplace_id: int) -> str | None:
    from alephee.accounts.models import AccountMarketplace

    link = session.get(AccountMarketplace, (account_id, marketplace_id))
    return link.external_seller_id if link is not None else None


# --- outbox topics → operations ---------------------------------------------------------------------------

# Marketplace listing statuses (Mercado Libre vocabulary) and the hub's provisional listing status codes
# (spec 50 §5.1: 1 Active, 2 Paused, 3 Finished, 4 UnderReview, 5 Inactive).
LISTING_STATUS_NAMES: dict[int, str] = {1: "active", 2: "paused", 3: "closed", 4: "under_review", 5: "inactive"}
_STATUS_ALIASES = {"finished": "closed", "underreview": "under_review", "deleted": "inactive", "pause": "paused"}


def listing_status_name(value: Any) -> str:
    """A listing status as a marketplace name, from a hub code (``2``, ``"2"``) or a name (``"Paused"``)."""
    if isinstance(value, bool):
        raise PermanentDeliveryError(f"invalid listing status {value!r}")
    if isinstance(value, Mapping):
        value = _pick(value, "key", "id", "name", "value")
    code = to_int(value)
    if code is not None:
        if code not in LISTING_STATUS_NAMES:
            raise PermanentDeliveryError(f"invalid listing status {value!r}")
        return LISTING_STATUS_NAMES[code]
    if isinstance(value, str):
        key = value.strip().lower().replace(" ", "").replace("-", "")
        key = _STATUS_ALIASES.get(key, key)
        if key in LISTING_STATUS_NAMES.values():
            return key
    raise PermanentDeliveryError(f"invalid listing status {value!r}")


def payload_value(payload: Mapping[str, Any], *names: str) -> Any:
    """The first non-null value among ``names`` in an outbox payload (keys matched like the parsers do)."""
    return _pick(payload, *names)


def _norm(key: str) -> str:
    return key.replace("_", "").replace("-", "").lower()


def _pick(payload: Mapping[str, Any], *names: str) -> Any:
    """The first non-null value among ``names``, keys matched case-insensitively and ignoring ``_``/``-``
    (so ``external_id``, ``ExternalId`` and ``externalID`` are the same key)."""
    normalized = {_norm(k): v for k, v in payload.items()}
    for name in names:
        value = normalized.get(_norm(name))
        if value is not None:
            return value
    return None


def _int(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise PermanentDeliveryError(f"payload key '{name}' must be an integer, got {value!r}")
    try:
        return int(str(value).strip())
    except ValueError:
        raise PermanentDeliveryError(f"payload key '{name}' must be an integer, got {value!r}") from None


def _decimal(value: Any, name: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise PermanentDeliveryError(f"payload key '{name}' must be a number, got {value!r}") from None
    if not number.is_finite():
        raise PermanentDeliveryError(f"payload key '{name}' must be a finite number, got {value!r}")
    return number


def _str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def order_ref(payload: Mapping[str, Any], aggregate_id: int | None = None) -> OrderRef:
    """The order a payload is about: ``order_id`` (or the row's aggregate id) and/or ``external_order_id``."""
    order_id = _int(_pick(payload, "order_id", "OrderId"), "order_id")
    ref = OrderRef(
        order_id=order_id if order_id is not None else aggregate_id,
        external_order_id=_str(_pick(payload, "external_order_id", "ExternalOrderId")),
        pack_id=_str(_pick(payload, "pack_id", "PackId")),
    )
    if ref.order_id is None and ref.external_order_id is None:
        raise PermanentDeliveryError("payload names no order (order_id or external_order_id)")
    return ref


def listing_push(payload: Mapping[str, Any], aggregate_id: int | None = None) -> ListingPush:
    """Parse a ``listing.update`` payload (liberal: see the sandbox module docstring for the keys)."""
    listing_id = _int(_pick(payload, "listing_id", "ListingId"), "listing_id")
    status = _pick(payload, "status", "Status")
    discount = _discount(payload)
    known = {
        _norm(k)
        for k in (
            "listing_id",
            "external_id",
            "product_id",
            "sku",
            "brand",
            "title",
            "name",
            "price",
            "currency",
            "quantity",
            "available_quantity",
            "stock",
            "status",
            "status_reason",
            "listing_type",
            "discount_percent",
            "discount_start",
            "discount_finish",
        )
    }
    push = ListingPush(
        listing_id=listing_id if listing_id is not None else aggregate_id,
        external_id=_str(_pick(payload, "external_id", "ExternalId", "external_publication_id")),
        product_id=_int(_pick(payload, "product_id", "ProductId"), "product_id"),
        sku=_str(_pick(payload, "sku", "SKU")),
        brand=_str(_pick(payload, "brand", "Brand")),
        title=_str(_pick(payload, "title", "Title", "name")),
        price=_decimal(_pick(payload, "price", "Price"), "price"),
        currency=_str(_pick(payload, "currency", "Currency", "currency_id")),
        quantity=_int(_pick(payload, "quantity", "available_quantity", "AvailableQuantity", "stock"), "quantity"),
        status=listing_status_name(status) if status is not None else None,
        status_reason=_str(_pick(payload, "status_reason", "StatusReason")),
        listing_type=_str(_pick(payload, "listing_type", "ListingType")),
        discount=discount,
        discount_cleared=discount is None and _mentions_discount(payload),
        extra={k: v for k, v in payload.items() if _norm(k) not in known},
    )
    if push.listing_id is None and push.external_id is None:
        raise PermanentDeliveryError("payload names no listing (listing_id or external_id)")
    if push.price is not None and push.price < 0:
        raise PermanentDeliveryError(f"negative price {push.price}")
    if push.quantity is not None and push.quantity < 0:
        raise PermanentDeliveryError(f"negative quantity {push.quantity}")
    return push


def _datetime(value: Any, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        raise PermanentDeliveryError(f"payload key '{name}' must be an ISO-8601 date, got {value!r}") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _discount(payload: Mapping[str, Any]) -> ListingDiscount | None:
    """``discount_percent`` (> 0) with ``discount_start``/``discount_finish``; percent 0 means no discount."""
    percent = _decimal(_pick(payload, "discount_percent", "DiscountPercent"), "discount_percent")
    if percent is None or percent == 0:
        return None
    if not 0 < percent < 100:
        raise PermanentDeliveryError(f"discount percent {percent} out of range")
    return ListingDiscount(
        percent=percent,
        start=_datetime(_pick(payload, "discount_start", "StartDate"), "discount_start"),
        finish=_datetime(_pick(payload, "discount_finish", "FinishDate"), "discount_finish"),
    )


def _mentions_discount(payload: Mapping[str, Any]) -> bool:
    """Whether the push is about the discount (an explicit percent 0, or ``changed`` naming it) while carrying
    none: then the marketplace drops the current discount."""
    if _pick(payload, "discount_percent", "DiscountPercent") is not None:
        return True
    changed = _pick(payload, "changed")
    return isinstance(changed, list | tuple) and any(str(c).lower() == "discount" for c in changed)


def listing_status_push(payload: Mapping[str, Any], aggregate_id: int | None = None) -> ListingStatusPush:
    """Parse a ``listing.status`` payload."""
    status = _pick(payload, "status", "Status")
    if status is None:
        raise PermanentDeliveryError("payload has no 'status'")
    listing_id = _int(_pick(payload, "listing_id", "ListingId"), "listing_id")
    change = ListingStatusPush(
        status=listing_status_name(status),
        listing_id=listing_id if listing_id is not None else aggregate_id,
        external_id=_str(_pick(payload, "external_id", "ExternalId", "external_publication_id")),
        reason=_str(_pick(payload, "status_reason", "StatusReason")),
    )
    if change.listing_id is None and change.external_id is None:
        raise PermanentDeliveryError("payload names no listing (listing_id or external_id)")
    return change


def order_status_push(payload: Mapping[str, Any], aggregate_id: int | None = None) -> OrderStatusPush:
    """Parse an ``order.status`` payload. Tracking may come flat (``tracking_number``, ``carrier``...) or as an
    object ``tracking: {"Number", "Status", "Method"/"Carrier", "Url"}`` (the wire shape of ``PUT /v2/orders``)."""
    tracking = _pick(payload, "tracking", "Tracking")
    nested: Mapping[str, Any] = tracking if isinstance(tracking, Mapping) else {}
    flat_number = None if nested else tracking
    return OrderStatusPush(
        order=order_ref(payload, aggregate_id),
        status=_int(_pick(payload, "status", "Status", "status_id", "OrderStatusId"), "status"),
        tracking_number=_str(
            _pick(payload, "tracking_number", "TrackingNumber")
            or _pick(nested, "number", "tracking_number")
            or flat_number
        ),
        carrier=_str(
            _pick(payload, "carrier", "Carrier", "tracking_method", "TrackingMethod")
            or _pick(nested, "carrier", "method", "company")
        ),
        tracking_url=_str(_pick(payload, "tracking_url", "TrackingUrl") or _pick(nested, "url", "tracking_url")),
        tracking_status=_str(_pick(payload, "tracking_status", "TrackingStatus") or _pick(nested, "status")),
        note=_str(_pick(payload, "note", "Note", "free_text", "comment")),
    )


def packaging_push(payload: Mapping[str, Any], aggregate_id: int | None = None) -> PackagingPush:
    """Parse an ``order.packaging`` payload (``package_info`` is kept as sent)."""
    info = _pick(payload, "package_info", "PackageInfo", "pack_info", "PackInfo")
    if not isinstance(info, Mapping):
        raise PermanentDeliveryError("payload has no 'package_info' object")
    raw_ids = _pick(payload, "order_ids", "OrderIds") or []
    if not isinstance(raw_ids, list | tuple):
        raise PermanentDeliveryError("payload key 'order_ids' must be a list")
    return PackagingPush(
        order=order_ref(payload, aggregate_id),
        package_info=dict(info),
        order_ids=tuple(i for i in (_int(v, "order_ids") for v in raw_ids) if i is not None),
        external_shipping_id=_str(_pick(payload, "external_shipping_id", "ExternalShippingId", "shipping_id")),
    )


def document_upload(payload: Mapping[str, Any], aggregate_id: int | None = None) -> DocumentUpload:
    """Parse an ``order.document`` payload."""
    document_type = _int(_pick(payload, "document_type", "DocumentType", "type"), "document_type")
    if document_type is None:
        raise PermanentDeliveryError("payload has no 'document_type'")
    return DocumentUpload(
        order=order_ref(payload, aggregate_id),
        document_type=document_type,
        document_number=_str(_pick(payload, "document_number", "DocumentNumber", "number")),
        file_name=_str(_pick(payload, "file_name", "FileName", "document_name", "name")),
        extension=_str(_pick(payload, "extension", "document_extension", "DocumentExtension")),
        content_type=_str(_pick(payload, "content_type", "ContentType", "media_type")),
        size=_int(_pick(payload, "size", "Size", "bytes"), "size"),
        sha256=_str(_pick(payload, "sha256", "checksum")),
        storage_key=_str(_pick(payload, "storage_key", "path", "document_id", "DocumentId")),
        fiscal_key=_str(_pick(payload, "fiscal_key", "FiscalKey")),
        document_date=_str(_pick(payload, "document_date", "DocumentDate", "date")),
    )


def buyer_message(payload: Mapping[str, Any], aggregate_id: int | None = None) -> BuyerMessage:
    """Parse an ``order.message`` payload."""
    option = _int(_pick(payload, "message_option", "messageOptions", "message_options", "option"), "message_option")
    if option is None:
        raise PermanentDeliveryError("payload has no 'message_option'")
    return BuyerMessage(
        order=order_ref(payload, aggregate_id),
        message_option=option,
        text=_str(_pick(payload, "text", "message", "Message", "body")),
        attachment_name=_str(_pick(payload, "attachment_name", "document_name", "file_name")),
        attachment_storage_key=_str(_pick(payload, "attachment_storage_key", "storage_key")),
    )


def split_request(payload: Mapping[str, Any], aggregate_id: int | None = None) -> SplitRequest:
    """Parse an ``order.split`` payload."""
    reason = _int(_pick(payload, "split_reason_id", "splitReasonId", "reason_id", "reason"), "split_reason_id")
    if reason is None:
        raise PermanentDeliveryError("payload has no 'split_reason_id'")
    return SplitRequest(
        order=order_ref(payload, aggregate_id),
        split_reason_id=reason,
        new_pack_id=_str(_pick(payload, "new_pack_id", "NewPackId")),
        new_external_shipping_id=_str(_pick(payload, "new_external_shipping_id", "NewExternalShippingId")),
    )


def label_request(payload: Mapping[str, Any], aggregate_id: int | None = None) -> LabelRequest:
    """Parse an ``order.label`` payload (ask the marketplace to prepare the label ahead of the download)."""
    fmt = (_str(_pick(payload, "format", "Format")) or "PDF").upper()
    return LabelRequest(
        order=order_ref(payload, aggregate_id),
        format=fmt,
        external_shipping_id=_str(_pick(payload, "external_shipping_id", "ExternalShippingId", "shipping_id")),
    )


def _deliver_listing_update(channel: Channel, ctx: ChannelContext, payload: Mapping[str, Any], agg: int) -> None:
    channel.publish_listing(ctx, listing_push(payload, agg))


def _deliver_listing_status(channel: Channel, ctx: ChannelContext, payload: Mapping[str, Any], agg: int) -> None:
    channel.set_listing_status(ctx, listing_status_push(payload, agg))


def _deliver_order_status(channel: Channel, ctx: ChannelContext, payload: Mapping[str, Any], agg: int) -> None:
    channel.push_order_status(ctx, order_status_push(payload, agg))


def _deliver_document(channel: Channel, ctx: ChannelContext, payload: Mapping[str, Any], agg: int) -> None:
    channel.upload_document(ctx, document_upload(payload, agg))


def _deliver_message(channel: Channel, ctx: ChannelContext, payload: Mapping[str, Any], agg: int) -> None:
    channel.send_buyer_message(ctx, buyer_message(payload, agg))


def _deliver_split(channel: Channel, ctx: ChannelContext, payload: Mapping[str, Any], agg: int) -> None:
    channel.split_shipment(ctx, split_request(payload, agg))


def _deliver_packaging(channel: Channel, ctx: ChannelContext, payload: Mapping[str, Any], agg: int) -> None:
    channel.push_packaging(ctx, packaging_push(payload, agg))


def _deliver_label(channel: Channel, ctx: ChannelContext, payload: Mapping[str, Any], agg: int) -> None:
    channel.fetch_label(ctx, label_request(payload, agg))


TopicHandler = Callable[[Channel, ChannelContext, Mapping[str, Any], int], None]

# Outbox topic → channel operation. Listing topics carry aggregate_type "listing" (aggregate_id = hub
# listing id), order topics "order" (aggregate_id = hub order id).
TOPICS: dict[str, TopicHandler] = {
    "listing.update": _deliver_listing_update,
    "listing.status": _deliver_listing_status,
    "order.status": _deliver_order_status,
    "order.document": _deliver_document,
    "order.message": _deliver_message,
    "order.split": _deliver_split,
    "order.label": _deliver_label,
    "order.packaging": _deliver_packaging,
}


def deliver_topic(
    channel: Channel, ctx: ChannelContext, topic: str, payload: Mapping[str, Any], aggregate_id: int
) -> None:
    """Deliver one outbox row's payload through ``channel`` (``PermanentDeliveryError`` for an unknown topic)."""
    handler = TOPICS.get(topic)
    if handler is None:
        raise PermanentDeliveryError(f"unknown outbox topic '{topic}'")
    if not isinstance(payload, Mapping):
        raise PermanentDeliveryError("outbox payload must be a JSON object")
    handler(channel, ctx, payload, aggregate_id)
