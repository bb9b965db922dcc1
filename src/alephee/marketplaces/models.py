"""The catalogue of marketplace channels (loaded from a data file, ids configurable: CF-00.4.3), and the
worker's queues: the outbox of changes to send, the order-feed cursors and the inbox of notifications received."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

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
    literal_column,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from alephee.clock import utcnow
from alephee.db import Base, Money, UtcDateTime

# 64-bit ids on PostgreSQL; SQLite's INTEGER PRIMARY KEY is already 64-bit (and must be spelled INTEGER).
BigId = BigInteger().with_variant(Integer, "sqlite")


class Marketplace(Base):
    """One sales channel the hub knows (e.g. Mercado Libre Argentina, Amazon, the sandbox)."""

    __tablename__ = "marketplaces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(120))
    # The `Channel` label shown next to the marketplace in orders (`MarketPlace.Channel`).
    channel: Mapped[str] = mapped_column(String(60))
    # Which channel rules apply: mercadolibre, amazon, shopee, b2w, ecomm, b2b, other.
    family: Mapped[str] = mapped_column(String(30))
    # Mercado Libre site prefix of external ids (MLA, MLB, ...), when there is one.
    site_id: Mapped[str | None] = mapped_column(String(8))
    country_id: Mapped[str | None] = mapped_column(String(2))
    # The connector that serves it ("sandbox", "b2b", "api", "mercadolibre", "amazon", ...). It has a connector
    # only when that name is registered (``channels.has_channel``); until then it cannot be connected.
    connector: Mapped[str] = mapped_column(String(30), default="none")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


# The outbox rows a worker has yet to finish (pending, or in flight under a lease): the few among the many
# delivered ones that the worker's claims read. Two partial indexes cover only them, so a claim's scan in id order
# and its probe for an older row of the same aggregate never walk the delivered history. A query uses them only
# when it states this very condition with the values written in (``live_rows``): a bound parameter would hide it
# from SQLite, and from PostgreSQL's generic plans.
LIVE_STATUSES = ("pending", "in_flight")
OUTBOX_LIVE = "status IN ({})".format(", ".join(f"'{status}'" for status in LIVE_STATUSES))


def live_rows(status: ColumnElement[str]) -> ColumnElement[bool]:
    """``OUTBOX_LIVE`` on the ``status`` column given (of the outbox or an alias of it), values inline."""
    return status.in_([literal_column(f"'{value}'") for value in LIVE_STATUSES])


class OutboxMessage(Base):
    """A change that must reach a marketplace (or a webhook receiver), written in the same transaction as
    the change itself and delivered later by the worker (at least once, in id order per aggregate)."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_available_at_id", "status", "available_at", "id"),
        Index("ix_outbox_aggregate_type_aggregate_id_id", "aggregate_type", "aggregate_id", "id"),
        Index("ix_outbox_account_id_id", "account_id", "id"),
        Index("ix_outbox_live_id", "id", postgresql_where=text(OUTBOX_LIVE), sqlite_where=text(OUTBOX_LIVE)),
        Index(
            "ix_outbox_live_aggregate",
            "aggregate_type",
            "aggregate_id",
            "id",
            postgresql_where=text(OUTBOX_LIVE),
            sqlite_where=text(OUTBOX_LIVE),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    account_id: Mapped[int] = mapped_column(Integer)
    marketplace_id: Mapped[int | None] = mapped_column(Integer)
    # What to do, e.g. listing.update, listing.status, order.status, order.document, order.message.
    topic: Mapped[str] = mapped_column(String(60))
    aggregate_type: Mapped[str] = mapped_column(String(30))
    aggregate_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # pending → delivered | failed (after the last retry); in_flight while a worker holds the lease.
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    locked_by: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


# --- the sandbox marketplace (alephee.sandbox) ------------------------------------------------------------
# The sandbox plays a marketplace that happens to live in the hub's database. Its tables have no foreign keys
# into the hub's tables on purpose: it is "the other side", and must keep working as a separate system would
# (e.g. it keeps listings the hub no longer knows about).


class SandboxState(Base):
    """The sandbox's single row: its simulated clock (an offset from real time), seed and change counter."""

    __tablename__ = "sandbox_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # Simulated now = hub clock + offset; `alephee sandbox advance --hours H` adds to it.
    offset_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    seed: Mapped[int] = mapped_column(Integer, default=1)
    # Last value handed out to a changed sandbox order (the pull cursor). Incremented with an UPDATE on this
    # row, whose lock is held to commit, so sequence order is commit order and a cursor never skips a change.
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class SandboxListing(Base):
    """A listing as the sandbox marketplace holds it (what buyers see and purchase)."""

    __tablename__ = "sandbox_listings"
    __table_args__ = (
        UniqueConstraint("marketplace_id", "external_id"),
        Index("ix_sandbox_listings_marketplace_id_listing_id", "marketplace_id", "listing_id"),
        # Buyers pick active listings of an account on a marketplace.
        Index("ix_sandbox_listings_account_id_marketplace_id_status", "account_id", "marketplace_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    marketplace_id: Mapped[int] = mapped_column(Integer)
    account_id: Mapped[int] = mapped_column(Integer)
    external_id: Mapped[str] = mapped_column(String(40))
    # The hub's ids, as sent in the pushes (the marketplace only needs them to answer in hub terms).
    listing_id: Mapped[int | None] = mapped_column(BigInteger)
    product_id: Mapped[int | None] = mapped_column(BigInteger)
    sku: Mapped[str | None] = mapped_column(String(100))
    brand: Mapped[str | None] = mapped_column(String(120))
    title: Mapped[str | None] = mapped_column(String(300))
    price: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str | None] = mapped_column(String(8))
    available_quantity: Mapped[int] = mapped_column(Integer, default=0)
    sold_quantity: Mapped[int] = mapped_column(Integer, default=0)
    # What the seller asked for (active, paused, closed, under_review, inactive) ...
    seller_status: Mapped[str] = mapped_column(String(20), default="active")
    # ... and what the marketplace shows: an active listing without stock is paused (sub_status out_of_stock),
    # as Mercado Libre does.
    status: Mapped[str] = mapped_column(String(20), default="active")
    sub_status: Mapped[str | None] = mapped_column(String(30))
    listing_type: Mapped[str | None] = mapped_column(String(30))
    # Current price discount (percent, window): buyers pay the discounted price inside the window.
    discount_percent: Mapped[Decimal | None] = mapped_column(Money)
    discount_start: Mapped[datetime | None] = mapped_column(UtcDateTime)
    discount_finish: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Outbox id of the last push applied: an older push arriving later (a retried failure) is stale and ignored.
    last_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SandboxOrder(Base):
    """An order on the sandbox marketplace: created by simulated buyers, pulled by the hub, and updated by
    what the hub pushes (seller status, tracking, split)."""

    __tablename__ = "sandbox_orders"
    __table_args__ = (
        UniqueConstraint("marketplace_id", "external_order_id"),
        # The pull: changes of one seller on one marketplace after a cursor.
        Index("ix_sandbox_orders_account_id_marketplace_id_change_seq", "account_id", "marketplace_id", "change_seq"),
        Index("ix_sandbox_orders_marketplace_id_hub_order_id", "marketplace_id", "hub_order_id"),
        Index("ix_sandbox_orders_marketplace_id_pack_id", "marketplace_id", "pack_id"),
        # ``sandbox advance``: the orders with something scheduled (payment settles, shipment moves, ...).
        Index("ix_sandbox_orders_next_event_at", "next_event_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    marketplace_id: Mapped[int] = mapped_column(Integer)
    account_id: Mapped[int] = mapped_column(Integer)
    external_order_id: Mapped[str] = mapped_column(String(64))
    # The hub's order id once a push told it (None for orders the hub has not integrated yet).
    hub_order_id: Mapped[int | None] = mapped_column(BigInteger)
    pack_id: Mapped[str | None] = mapped_column(String(40))
    pack_size: Mapped[int | None] = mapped_column(Integer)
    external_shipping_id: Mapped[str | None] = mapped_column(String(40))
    # Marketplace vocabulary (Mercado Libre): order paid | payment_required | payment_in_process | cancelled;
    # payment approved | pending | in_process | rejected | cancelled; shipment ready_to_ship (substatus
    # ready_to_print | printed) | shipped | delivered | cancelled.
    status: Mapped[str] = mapped_column(String(24), default="paid")
    payment_status: Mapped[str | None] = mapped_column(String(24))
    shipping_status: Mapped[str | None] = mapped_column(String(24))
    shipping_substatus: Mapped[str | None] = mapped_column(String(24))
    logistic_type: Mapped[str | None] = mapped_column(String(30))
    # Last seller status pushed by the hub (10, 17, 20, 80, 90) and its tracking.
    seller_status: Mapped[int | None] = mapped_column(SmallInteger)
    tracking_number: Mapped[str | None] = mapped_column(String(100))
    carrier: Mapped[str | None] = mapped_column(String(100))
    fraud: Mapped[bool] = mapped_column(Boolean, default=False)
    claim_status: Mapped[str | None] = mapped_column(String(20))
    total: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str | None] = mapped_column(String(8))
    # Items, payments, buyer and shipping address in the marketplace's shape (see sandbox.order_detail).
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    date_created: Mapped[datetime] = mapped_column(UtcDateTime)
    date_updated: Mapped[datetime] = mapped_column(UtcDateTime)
    # Pull cursor: SandboxState.change_seq at the order's last change.
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_message_id: Mapped[int | None] = mapped_column(BigInteger)
    # When the next scheduled change of this order is due in simulated time (``detail["schedule"]``,
    # applied by ``sandbox advance``); None when nothing is left to happen on its own.
    next_event_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class SandboxEvent(Base):
    """Everything the sandbox received (listing pushes, order statuses, documents, messages, label requests,
    splits), in arrival order: the marketplace's inbox, and its idempotency record."""

    __tablename__ = "sandbox_events"
    __table_args__ = (
        # One outbox row is applied at most once, whoever delivers it (NULLs for direct calls are distinct).
        UniqueConstraint("message_id"),
        Index("ix_sandbox_events_marketplace_id_ref_id", "marketplace_id", "ref", "id"),
        Index("ix_sandbox_events_account_id_kind_id", "account_id", "kind", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    marketplace_id: Mapped[int] = mapped_column(Integer)
    account_id: Mapped[int] = mapped_column(Integer)
    # listing.update, listing.status, order.status, order.document, order.message, order.split, order.label.
    kind: Mapped[str] = mapped_column(String(30))
    # The listing's external id or the order's external id the event is about.
    ref: Mapped[str | None] = mapped_column(String(64))
    # applied | stale (older than what was applied) | not_forwarded (e.g. a receipt) | ignored.
    result: Mapped[str] = mapped_column(String(20), default="applied")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)


# --- pulling orders from the channels (alephee.sync.pull) ---------------------------------------------------


class PullCursor(Base):
    """Where the hub is in one marketplace's order feed for one account (``Channel.pull_orders`` cursor).

    The worker locks the row while it applies a page (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, ``BEGIN
    IMMEDIATE`` on SQLite), so concurrent workers never pull the same feed at once, and moves the cursor in
    the same transaction as the orders it created or updated.
    """

    __tablename__ = "pull_cursors"

    account_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    marketplace_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # Opaque to the hub: whatever the channel returned (the sandbox's change sequence number).
    cursor: Mapped[str | None] = mapped_column(String(200))
    # Feed entries applied so far, and the entries skipped because they could not be applied.
    applied: Mapped[int] = mapped_column(BigInteger, default=0)
    skipped: Mapped[int] = mapped_column(BigInteger, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    pulled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


# Inbox notice states.
NOTICE_PENDING = "pending"
NOTICE_IN_FLIGHT = "in_flight"
NOTICE_DONE = "done"
NOTICE_FAILED = "failed"


class ChannelNotification(Base):
    """One marketplace notification waiting to be read (or read). A notification is only a pointer
    (``topic`` + ``resource``): a second one for the same pointer re-opens the row instead of adding one, so
    duplicates collapse and the worker reads the resource once, after the latest news. The worker leases rows
    like the outbox (``locked_by``/``locked_until``) and retries with backoff."""

    __tablename__ = "channel_notifications"
    __table_args__ = (
        UniqueConstraint("connector", "topic", "resource"),
        Index("ix_channel_notifications_status_available_at", "status", "available_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    connector: Mapped[str] = mapped_column(String(30))
    topic: Mapped[str] = mapped_column(String(60))
    resource: Mapped[str] = mapped_column(String(300))
    # The marketplace's seller id the notice is about, and the connection it resolved to.
    seller_id: Mapped[str | None] = mapped_column(String(40))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    marketplace_id: Mapped[int | None] = mapped_column(ForeignKey("marketplaces.id"))
    actions: Mapped[list[str] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=NOTICE_PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # How many notifications collapsed into this row since it was last read.
    received_count: Mapped[int] = mapped_column(Integer, default=1)
    available_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(80))
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
