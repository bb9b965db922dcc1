"""Tables of the push-notification domain: subscriptions, the per-account event feed, stock-alert levels."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from alephee.clock import utcnow
from alephee.db import Base, UtcDateTime

# 64-bit ids on PostgreSQL; SQLite's INTEGER PRIMARY KEY is already 64-bit (and must be spelled INTEGER).
BigId = BigInteger().with_variant(Integer, "sqlite")

# Feed states: neither delivered nor acknowledged / every delivery succeeded / acknowledged by the client.
OPEN, DELIVERED, ACKNOWLEDGED = "open", "delivered", "acknowledged"

# Width of ``webhook_subscriptions.secret`` (migration 0012): room for the encrypted form of the longest secret.
SECRET_COLUMN_LENGTH = 512


class WebhookSubscription(Base):
    """A callback URL of an account and the event types it wants.

    ``secret`` signs every delivery (HMAC-SHA256), so it must be recoverable (a hash could not sign): it is
    stored encrypted under the hub's master key (``enc:v1:`` + a Fernet token, see ``webhooks.crypto``) and
    decrypted only to sign. A value without the ``enc:`` prefix is a legacy secret stored in clear. The secret
    is shown once, when the subscription is created, and never listed.
    """

    __tablename__ = "webhook_subscriptions"
    __table_args__ = (Index("ix_webhook_subscriptions_account_id_active", "account_id", "active"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2048))
    # Event type names (``events.EVENT_TYPES``) or ["*"] for every type.
    event_types: Mapped[list[str]] = mapped_column(JSON)
    # Ciphertext of a secret of up to 200 characters: at most 7 + 356 characters.
    secret: Mapped[str] = mapped_column(String(SECRET_COLUMN_LENGTH))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class WebhookEvent(Base):
    """One event of an account: the feed row (``GET /v2/notifications``) and what every delivery sends.

    ``pending_deliveries`` counts the subscriptions still to be reached; the delivery that brings it to zero
    marks the event ``delivered``. An event nobody subscribed to, or whose delivery failed for good, stays
    ``open`` until the client acknowledges it or it is purged.
    """

    __tablename__ = "webhook_events"
    __table_args__ = (
        # Default feed query (acknowledged=false) and acknowledged=true, sorted by Id.
        Index("ix_webhook_events_account_id_state_id", "account_id", "state", "id"),
        Index("ix_webhook_events_account_id_type_id", "account_id", "type", "id"),
        Index("ix_webhook_events_account_id_occurred_at", "account_id", "occurred_at"),
        # The purge (every account at once).
        Index("ix_webhook_events_occurred_at", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # What the event is about (order, listing, product): deliveries of one subject keep their order.
    subject_type: Mapped[str | None] = mapped_column(String(20))
    subject_id: Mapped[int | None] = mapped_column(BigInteger)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    pending_deliveries: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(12), default=OPEN)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class WebhookStockAlert(Base):
    """The stock-alert level last announced for a product (``yellow``/``red``), so a product that stays low
    raises ``product.stock_alert`` once per level reached, not on every stock movement. The row goes away when
    the stock is back above the thresholds."""

    __tablename__ = "webhook_stock_alerts"

    product_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    level: Mapped[str] = mapped_column(String(10))
    quantity: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
