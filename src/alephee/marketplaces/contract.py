"""The channel contract: what the hub needs from any marketplace connector.

A *channel* is one marketplace connector (the built-in sandbox, later Mercado Libre, Amazon, ...). The hub's
domains never call a channel directly: they write outbox rows (``marketplaces.outbox.enqueue``) and the worker
delivers each row through the channel of its marketplace (``Marketplace.connector``). Only synchronous reads
that the API must answer at once (a shipping label) use ``sync.calls.channel_for`` directly.

Adding a connector is one module: subclass ``BaseChannel`` (implement what the marketplace supports; the rest
answers "not supported", a permanent failure), then either add it to ``marketplaces.registry.BUILTIN_CHANNELS``
or publish it as an ``alephee.channels`` entry point (``name = "package.module:ClassName"``) or call
``register_channel`` at import.

Errors: a channel raises ``TransientDeliveryError`` for anything worth retrying (timeouts, 429, 5xx, the
marketplace being down) and ``PermanentDeliveryError`` for what will never succeed as sent (bad payload,
unknown listing, a transition the marketplace refuses). The worker retries the first with backoff and marks
the row failed at once on the second. Any other exception is treated as transient (it may be a bug fixed
by the next deploy) and is bounded by ``outbox_max_attempts``.

Outbox topics and their payloads are documented in ``alephee.sandbox.channel`` (the reference channel);
``marketplaces.topics`` turns them into the calls below.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

from sqlalchemy.orm import Session

from alephee.config import Settings
from alephee.db import Database
from alephee.errors import DomainError

T = TypeVar("T")

# --- errors -------------------------------------------------------------------------------------------------


class DeliveryError(Exception):
    """A channel could not do what was asked. ``transient`` says whether trying again may succeed."""

    transient: ClassVar[bool] = True
    # True: nothing is wrong with the row itself, the channel cannot take it now (its connection is paused or
    # disconnected): the row waits without using up its attempts.
    held: ClassVar[bool] = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TransientDeliveryError(DeliveryError):
    """Retry later with backoff (network error, timeout, 429, 5xx, marketplace maintenance). ``retry_after`` is
    how long the marketplace asked to wait (seconds), when it said."""

    transient = True

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentDeliveryError(DeliveryError):
    """Never retried: the row is marked failed at once (bad payload, unknown object, refused transition)."""

    transient = False


class ConnectionHeld(TransientDeliveryError):
    """The account's connection to the marketplace is paused or disconnected: the row is held (not failed)
    and flows again once the seller reconnects."""

    held = True


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
    ``db`` and ``settings`` are the hub's, for remote connectors: they read the connection's tokens and the
    current state of what they send in short transactions of their own, never open across a call out.
    """

    account_id: int
    marketplace: MarketplaceRef
    session: Session | None = None
    message_id: int | None = None
    idempotency_key: str | None = None
    external_seller_id: str | None = None
    db: Database | None = None
    settings: Settings | None = None


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
    """What the marketplace answered for a listing push (``permalink``: its public page, when it says).

    ``state`` is the marketplace's state of the item after the push, in the channel's own keys, kept on the
    listing ``state_listing_id`` (``Listing.marketplace_state``) so the next push can send what differs without
    reading the item first; None keeps what is stored.
    """

    external_id: str
    status: str
    available_quantity: int | None = None
    permalink: str | None = None
    state: dict[str, Any] | None = None
    state_listing_id: int | None = None
    # False: this delivery did not send the listing's state as it is now (a repeated or stale delivery, or a
    # push applied as it came), so the later queued pushes of the listing still need deliveries of their own.
    covers_queued: bool = True


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
    # What of the amount paid for shipping, and the discounts the buyer got ((code or None, amount) each).
    shipping_amount: Decimal | None = None
    discounts: tuple[tuple[str | None, Decimal], ...] = ()


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
    # The marketplace's id of the variation sold, when the listing has variations (the hub's child listing of the
    # variation has it as its external id).
    external_variation_id: str | None = None


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
    # Shipping the buyer paid, shipping the seller paid, and the shipping option's name, when the marketplace
    # says (stores whose shipping is the seller's own, such as Tiendanube).
    shipping_cost: Decimal | None = None
    seller_shipping_cost: Decimal | None = None
    shipping_option: str | None = None


@dataclass(frozen=True, slots=True)
class OrderPage:
    """A page of changed orders after a cursor; pass ``cursor`` back to get the next changes."""

    orders: tuple[ChannelOrder, ...]
    cursor: str | None
    has_more: bool = False


def parse_window_cursor(
    cursor: str | None, parse_date: Callable[[str], datetime | None], first: int
) -> tuple[datetime | None, datetime | None, int]:
    """A ``pull_orders`` cursor as ``window_cursor`` writes it: ``<latest seen>``, or ``<latest seen> <window
    start> <position>`` while a window has more pages, as (latest, window start, position); the position is the
    channel's page or offset (``first`` when none, never below it)."""
    if not cursor:
        return None, None, first
    parts = cursor.split()
    latest = parse_date(parts[0])
    if len(parts) == 3 and (window := parse_date(parts[1])) is not None:
        try:
            position = int(parts[2])
        except ValueError:
            position = first
        return latest, window, max(first, position)
    return latest, None, first


def window_cursor(
    cursor: str | None, latest: datetime | None, window: datetime, next_position: int, has_more: bool
) -> str | None:
    """The cursor after a ``pull_orders`` page: the window and the next page's position while it has more, else
    the latest change seen (the cursor given when none was)."""
    latest_text = latest.astimezone(UTC).isoformat() if latest is not None else None
    if has_more:
        return f"{latest_text or window.isoformat()} {window.isoformat()} {next_position}"
    return latest_text if latest_text is not None else cursor


@dataclass(frozen=True, slots=True)
class ChannelNotice:
    """A marketplace's notification as the inbox keeps it: only a pointer to a resource that changed (the
    channel reads the resource itself; the body of a notification is never trusted)."""

    topic: str
    resource: str
    seller_id: str | None = None
    actions: tuple[str, ...] = ()
    received_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ListingState:
    """A listing as the marketplace shows it now (read after a notification, or while linking).

    ``status`` is a marketplace status name (``active``, ``paused``, ``closed``, ``under_review``,
    ``inactive``); ``sub_status`` the marketplace's reasons (``out_of_stock``, ``paused_by_seller``...).
    ``sku`` is the seller's SKU of the listing, ``variations`` the (variation id, SKU) pairs of its variations.
    """

    external_id: str
    status: str
    sub_status: tuple[str, ...] = ()
    title: str | None = None
    sku: str | None = None
    price: Decimal | None = None
    currency: str | None = None
    available_quantity: int | None = None
    sold_quantity: int | None = None
    permalink: str | None = None
    category_id: str | None = None
    listing_type: str | None = None
    variations: tuple[tuple[str, str | None], ...] = ()
    # The channel's own copy of this state, kept on the listing (``ListingReceipt.state``).
    marketplace_state: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ListingPage:
    """A page of the seller's listings on the marketplace; pass ``cursor`` back for the next one."""

    listings: tuple[ListingState, ...]
    cursor: str | None
    has_more: bool = False


@dataclass(frozen=True, slots=True)
class ChannelMessage:
    """A post-sale message of an order's conversation as the marketplace keeps it."""

    external_message_id: str
    text: str
    from_buyer: bool
    date: datetime
    external_order_id: str | None = None
    pack_id: str | None = None
    status: str | None = None


class NoticeExtra(Protocol):
    """Something else a notification was about that its channel applies itself (a buyer's question, a claim):
    ``apply`` runs inside the inbox's write transaction (flush only) and says whether anything changed."""

    def apply(self, session: Session, account_id: int, marketplace_id: int) -> bool: ...


@dataclass(frozen=True, slots=True)
class NoticeResult:
    """What a notification turned out to be about, read fresh from the marketplace: orders to create or
    update, listings whose state changed, messages of a conversation, and what the channel applies itself
    (``extras``). ``ignored`` says why nothing applies (a topic the hub does not follow)."""

    orders: tuple[ChannelOrder, ...] = ()
    listings: tuple[ListingState, ...] = ()
    messages: tuple[ChannelMessage, ...] = ()
    ignored: str | None = None
    extras: tuple[NoticeExtra, ...] = ()


# What reading one notice of a batch gave: what it is about, or why it could not be read (only that notice is
# retried or failed).
NoticeRead = NoticeResult | Exception


def read_each(
    notices: Sequence[ChannelNotice], read: Callable[[ChannelNotice], NoticeResult], concurrency: int
) -> list[NoticeRead]:
    """``read`` every notice, up to ``concurrency`` at once (each is a few calls to the marketplace, so its
    latency does not set the pace of the batch); one answer or error per notice, in order."""

    def one(notice: ChannelNotice) -> NoticeRead:
        try:
            return read(notice)
        except Exception as exc:  # one notice's failure is that notice's answer
            return exc

    workers = max(1, min(concurrency, len(notices)))
    if workers == 1:
        return [one(notice) for notice in notices]
    with ThreadPoolExecutor(workers, thread_name_prefix="alephee-inbox") as pool:
        return list(pool.map(one, notices))


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


@runtime_checkable
class InboundChannel(Protocol):
    """What a channel that pushes notifications and holds the seller's existing listings offers besides
    ``Channel`` (Mercado Libre, Tiendanube)."""

    def read_notice(self, ctx: ChannelContext, notice: ChannelNotice) -> NoticeResult:
        """Read the resource a notification points at and say what changed."""
        ...

    def list_listings(self, ctx: ChannelContext, cursor: str | None, limit: int = 50) -> ListingPage:
        """The seller's listings on the marketplace, page by page (to link them to the hub's products)."""
        ...


def change_outcome(work: Callable[[], T]) -> T | Exception:
    """``work()`` for one change of a batch (``BatchChannel.push_listings``), or the error that fails that change
    alone (a domain refusal as a permanent failure). A held connection is raised: it holds every change."""
    try:
        return work()
    except ConnectionHeld:
        raise
    except DomainError as exc:
        return PermanentDeliveryError(exc.message)
    except Exception as exc:
        return exc


# A listing change as a channel receives it: a push of the listing's state or a status change.
ListingChange = ListingPush | ListingStatusPush


@runtime_checkable
class BatchChannel(Protocol):
    """What a remote channel offers to take many listing changes of one account at once (the worker's batched
    delivery): it reads what it needs for all of them in one read transaction and calls the marketplace as it
    sees fit (concurrently, or grouped into the marketplace's batch calls)."""

    def push_listings(self, ctx: ChannelContext, changes: Sequence[ListingChange]) -> list[ListingReceipt | Exception]:
        """Deliver every change of ``changes`` (all of ``ctx``'s account); one answer per change, in order: its
        receipt, or the error of that change alone (a ``DeliveryError``, or any other exception). An error
        raised instead (``ConnectionHeld``, the hub's database down) is every change's."""
        ...


class BaseChannel:
    """Convenience base: every operation answers "not supported" until a connector overrides it."""

    connector: str = "base"
    in_database: bool = False
    # True: the marketplace prints the shipping labels (GET /v2/orders/{id}/shippinglabel asks it for the file);
    # False: the hub draws them from the order.
    labels_from_marketplace: bool = False
    # True: the marketplace gives each new listing its id (the hub's listing waits as ``pending-...`` until the
    # first delivery answers it); False: the hub's id is the marketplace's (the sandbox).
    assigns_listing_ids: bool = False
    # True: a listing push sends the listing's state as it is at delivery time (read from the hub), so queued
    # pushes of the same listing are delivered by the latest one.
    sends_current_state: bool = False

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

    def read_notice(self, ctx: ChannelContext, notice: ChannelNotice) -> NoticeResult:
        return NoticeResult(ignored=f"connector '{self.connector}' does not receive notifications")

    def read_notices(
        self, ctx: ChannelContext, notices: Sequence[ChannelNotice], *, concurrency: int = 1
    ) -> list[NoticeRead]:
        """Read a batch of notices of one connection: one answer or error per notice, in order. By default each
        through ``read_notice``, up to ``concurrency`` at once; a connector overrides it to share what the
        notices have in common (the connection read once, resources fetched many per call)."""
        return read_each(notices, lambda notice: self.read_notice(ctx, notice), concurrency)

    def list_listings(self, ctx: ChannelContext, cursor: str | None, limit: int = 50) -> ListingPage:
        raise self._unsupported("listing the seller's listings")


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
