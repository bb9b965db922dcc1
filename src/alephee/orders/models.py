"""Tables of the orders domain.

An order keeps relationally everything that is filtered, sorted or changed after it arrives (ids, status and
status date, integration marks, pending payment, dates, pack, shipment state) and its immutable detail
(items, payments, buyer, shipping addresses...) as one JSON document in wire shape (``detail``): a page of
100 full orders is then one indexed query plus one JSON decode per row (measured in docs/performance.md (Orders)).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    event,
    insert,
)
from sqlalchemy.orm import Mapped, Mapper, ORMExecuteState, Session, mapped_column, object_session

from alephee.clock import utcnow
from alephee.db import Base, UtcDateTime

# 64-bit ids on PostgreSQL; SQLite's INTEGER PRIMARY KEY is already 64-bit (and must be spelled INTEGER).
BigId = BigInteger().with_variant(Integer, "sqlite")

ORIGIN_MARKETPLACE = "marketplace"
ORIGIN_API = "api"
ORIGIN_B2B = "b2b"


class Order(Base):
    """One sale. ``detail`` is the JSON text of the immutable sections (see module docstring)."""

    __tablename__ = "orders"
    __table_args__ = (
        # The two integration cycles are answered from these indexes alone, total and page keys included:
        # ``status`` last in the key so excluding deleted orders needs no row, and ``version, updated_at``
        # (the key of a rendered order, orders/rendering.py) so a page never reads the wide rows at all
        # (docs/performance.md). Normal cycle: Integrated=false, approved payments only, sorted by Id.
        Index(
            "ix_orders_integration_keys",
            "account_id",
            "integrated",
            "payment_pending",
            "id",
            "status",
            "version",
            "updated_at",
        ),
        # Late-cancellation cycle (statusType=99 & statusDateFrom, which reads updated_at) and every statusType
        # filter (``id`` is implicit on SQLite, included on PostgreSQL).
        Index(
            "ix_orders_status_type_updated_keys",
            "account_id",
            "status_type",
            "updated_at",
            "payment_pending",
            "version",
            postgresql_include=["id"],
        ),
        Index("ix_orders_updated_at", "account_id", "updated_at"),
        # dateCreatedFrom, saleDateFrom and the dateCreated sort.
        Index("ix_orders_sale_date", "account_id", "sale_date", "id"),
        Index("ix_orders_marketplace", "account_id", "marketplace_id", "id"),
        Index("ix_orders_erp_status", "account_id", "erp_status"),
        Index("ix_orders_pack", "account_id", "pack_id"),
        # Uniqueness of the marketplace's order number per account and channel; also serves the
        # externalOrderIdFrom/To range and the POST /v2/orders duplicate check (prefix account_id, external id).
        UniqueConstraint("account_id", "external_order_id", "marketplace_id", name="uq_orders_external"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    marketplace_id: Mapped[int] = mapped_column(ForeignKey("marketplaces.id"))
    external_order_id: Mapped[str] = mapped_column(String(64))
    # marketplace | api (POST /v2/orders) | b2b (Alephee B2B portal)
    origin: Mapped[str] = mapped_column(String(12), default=ORIGIN_MARKETPLACE)
    pack_id: Mapped[str | None] = mapped_column(String(40))
    source_pack_id: Mapped[str | None] = mapped_column(String(40))
    # How many orders the marketplace says the cart holds; IsCompletePackOrder = all of them are here.
    pack_size: Mapped[int | None] = mapped_column(Integer)
    pack_complete: Mapped[bool | None] = mapped_column(Boolean)
    status: Mapped[int] = mapped_column(SmallInteger)
    # Derived from ``status`` through orders.statuses (NULL for 70 Deleted); stored so it can be indexed.
    status_type: Mapped[int | None] = mapped_column(SmallInteger)
    # Last status change or marketplace-side novelty (ERP marks do not move it). Not a filter: statusDateFrom
    # reads ``updated_at``, what ``LastUpdated`` shows.
    status_date: Mapped[datetime] = mapped_column(UtcDateTime)
    integrated: Mapped[bool] = mapped_column(Boolean, default=False)
    integrated_order_id: Mapped[str | None] = mapped_column(String(100))
    erp_status: Mapped[str | None] = mapped_column(String(100))
    payment_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    # Sale date in the marketplace, never after the arrival (DateCreated out, sort dateCreated, filters
    # dateCreatedFrom and saleDateFrom).
    sale_date: Mapped[datetime] = mapped_column(UtcDateTime)
    # Arrival in the hub.
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Any change at all (LastUpdated out, filter statusDateFrom).
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    date_closed: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Shipment state (changes after arrival: labels, split, manual status updates, shipping endpoints).
    logistic_type: Mapped[int | None] = mapped_column(SmallInteger)
    shipping_method: Mapped[int | None] = mapped_column(SmallInteger)
    external_shipping_id: Mapped[int | None] = mapped_column(BigInteger)
    shipment_status: Mapped[str | None] = mapped_column(String(30))
    shipment_substatus: Mapped[str | None] = mapped_column(String(40))
    shipment_updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    label_first_printed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Shipping.PackageInfo (set by the shipping-packaging endpoint), wire shape.
    package_info: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    tracking_number: Mapped[str | None] = mapped_column(String(100))
    tracking_status: Mapped[str | None] = mapped_column(String(200))
    document_count: Mapped[int] = mapped_column(Integer, default=0)
    # Whether creating the order decremented catalogue stock (DELETE ...&revertStock=true gives it back).
    stock_moved: Mapped[bool] = mapped_column(Boolean, default=False)
    stock_reverted: Mapped[bool] = mapped_column(Boolean, default=False)
    # Bumped by every change to the row, in one place (the two hooks below): the rendered-orders cache
    # (orders/rendering.py) keys on it, so no writer has to remember it.
    version: Mapped[int] = mapped_column(Integer, default=1)
    detail: Mapped[str] = mapped_column(Text)


@event.listens_for(Order, "before_update")
def _bump_version_on_flush(_mapper: Mapper[Any], _connection: Any, order: Order) -> None:
    # Called for every dirty Order, even one without net changes: only a real change gets a new version.
    session = object_session(order)
    if session is not None and session.is_modified(order, include_collections=False):
        order.version = Order.version + 1  # type: ignore[assignment]


@event.listens_for(Session, "do_orm_execute")
def _bump_version_on_update(state: ORMExecuteState) -> None:
    # ``session.execute(update(Order)...)`` bypasses the flush; add the bump to the statement itself.
    if state.is_update and state.bind_mapper is not None and state.bind_mapper.class_ is Order:
        state.statement = state.statement.values(version=Order.version + 1)  # type: ignore[attr-defined]


class OrderPayment(Base):
    """One payment id of an order as its document's ``Payments[].ExternalPaymentId`` shows it: finds the order a
    marketplace names by payment (a Mercado Libre claim on a payment). Kept in step by ``orders.payment_ids``."""

    __tablename__ = "order_payments"
    __table_args__ = (
        # The lookup (account, channel, payment id) answered from the index alone, the order id included.
        Index("ix_order_payments_lookup", "account_id", "marketplace_id", "external_payment_id", "order_id"),
    )

    # An id appears once per order; two orders may share one (orders of a cart, orders created through the API).
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    external_payment_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    account_id: Mapped[int] = mapped_column(Integer)
    marketplace_id: Mapped[int] = mapped_column(Integer)


class OrderDocument(Base):
    """A document attached to an order. The bytes live in the document store under their SHA-256."""

    __tablename__ = "order_documents"
    __table_args__ = (
        # The same bytes attached twice as the same type are one document (idempotent retries).
        UniqueConstraint("order_id", "doc_type", "sha256", name="uq_order_documents_content"),
        Index("ix_order_documents_order", "order_id", "doc_type", "id"),
        # The account's stored bytes (document quota), summed from the index alone.
        Index("ix_order_documents_account", "account_id", "size"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(Integer)
    doc_type: Mapped[int] = mapped_column(SmallInteger)
    name: Mapped[str] = mapped_column(String(200))
    extension: Mapped[str] = mapped_column(String(10))
    content_type: Mapped[str] = mapped_column(String(60))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    document_number: Mapped[str | None] = mapped_column(String(60))
    document_date: Mapped[datetime | None] = mapped_column(UtcDateTime)
    fiscal_key: Mapped[str | None] = mapped_column(String(60))
    series_number: Mapped[str | None] = mapped_column(String(20))
    message_text: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class OrderAccountOptions(Base):
    """Per-account order privileges granted by the operator (None = the configured default)."""

    __tablename__ = "order_account_options"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    # "Handle payments without approved payments" (CF-20.1.4): includePendingPayments works only with it.
    pending_payments: Mapped[bool | None] = mapped_column(Boolean)
    # Chilean sellers invoicing through Mercado Libre: their invoices are not forwarded (CF-21.8.4).
    ml_own_invoicing: Mapped[bool] = mapped_column(Boolean, default=False)


class OrderHistory(Base):
    """Every change of an order: who, what, when (status moves, integration marks, deletions...)."""

    __tablename__ = "order_history"
    __table_args__ = (Index("ix_order_history_order", "order_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    # "key:<id>" for API calls, "marketplace", "system".
    actor: Mapped[str] = mapped_column(String(40))
    # integrate | status | tracking | create | delete | document | split | message
    action: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[int | None] = mapped_column(SmallInteger)
    to_status: Mapped[int | None] = mapped_column(SmallInteger)
    integrated: Mapped[bool | None] = mapped_column(Boolean)
    integrated_order_id: Mapped[str | None] = mapped_column(String(100))
    erp_status: Mapped[str | None] = mapped_column(String(100))
    tracking_number: Mapped[str | None] = mapped_column(String(100))
    tracking_status: Mapped[str | None] = mapped_column(String(200))


class OrderKeys(Protocol):
    """What a history row needs of an order: its id and account (an ``Order`` or a lighter row)."""

    id: int
    account_id: int


def history_row(order: OrderKeys, actor: str, action: str, at: datetime, **fields: Any) -> dict[str, Any]:
    """Values of one ``order_history`` row about ``order`` (for ``insert_history``)."""
    return {"order_id": order.id, "account_id": order.account_id, "at": at, "actor": actor, "action": action, **fields}


def insert_history(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert ``history_row``s with a table-level insert: the ORM's bulk insert inspects every row dict, which
    costs more than the insert itself for a batch of a hundred orders."""
    if rows:
        session.execute(insert(OrderHistory.__table__), rows)


class OrderCreation(Base):
    """What POST /v2/orders did for an API-created order: the request's fingerprint (a repeat of the same
    request returns the same order, a different body with the same ``ExternalOrderId`` is a conflict) and the
    stock each item took (DELETE ...&revertStock=true gives exactly that back, once)."""

    __tablename__ = "order_creations"
    __table_args__ = (
        # One ExternalOrderId per account across every marketplace: closes the race of two concurrent creates.
        UniqueConstraint("account_id", "external_order_id", name="uq_order_creations_external"),
    )

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    external_order_id: Mapped[str] = mapped_column(String(64))
    # SHA-256 of the request body in canonical JSON (keys sorted and lower-cased).
    request_sha256: Mapped[str] = mapped_column(String(64))
    # [{"product_id": int, "item_id": int, "requested": int, "moved": int}]: units actually taken per item.
    stock_moves: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    stock_reverted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


MESSAGE_FROM_SELLER = "seller"
MESSAGE_FROM_BUYER = "buyer"


class OrderMessage(Base):
    """One message of the conversation with the buyer of a (Mercado Libre) order, either direction.

    Seller messages are sent through POST /v2/orders/{orderId}/messages and delivered by the outbox
    (``order.message``); buyer replies are recorded by the channel (``service.record_buyer_reply``).
    """

    __tablename__ = "order_messages"
    __table_args__ = (
        Index("ix_order_messages_order", "order_id", "id"),
        # The account's stored attachment bytes (document quota), summed from the index alone.
        Index("ix_order_messages_account_attachment", "account_id", "attachment_size"),
        # A message the marketplace reports twice (two notifications, a re-read) is stored once.
        Index("ux_order_messages_external", "order_id", "external_id", unique=True),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(Integer)
    # seller | buyer
    sender: Mapped[str] = mapped_column(String(10))
    # messageOptions code (1..5) of a seller message; None for buyer replies.
    message_option: Mapped[int | None] = mapped_column(SmallInteger)
    text: Mapped[str] = mapped_column(Text)
    attachment_name: Mapped[str | None] = mapped_column(String(200))
    attachment_extension: Mapped[str | None] = mapped_column(String(10))
    attachment_sha256: Mapped[str | None] = mapped_column(String(64))
    attachment_size: Mapped[int | None] = mapped_column(Integer)
    # "key:<id>" for API calls, "marketplace" for replies.
    actor: Mapped[str] = mapped_column(String(40))
    # The marketplace's id of the message, for messages read from the marketplace's conversation.
    external_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
