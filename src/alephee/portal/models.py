"""Tables of the B2B portal: browser sessions, carts (their lines and their version) and the link between a placed
order and its buyer."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from alephee.clock import utcnow
from alephee.db import Base, Money, UtcDateTime
from alephee.orders.models import BigId


class PortalSession(Base):
    """A signed-in browser. Only the SHA-256 of the random cookie value is stored."""

    __tablename__ = "portal_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Per-session token every POST form must echo (CSRF).
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    # One-shot message shown by the next page (post/redirect/get).
    flash_level: Mapped[str | None] = mapped_column(String(10))
    flash_text: Mapped[str | None] = mapped_column(String(500))


class PortalCart(Base):
    """A portal user's cart as a whole: its version moves on every change of its lines, and a confirmation
    carries the version its page showed (the order is exactly what the buyer saw). Every cart change and every
    confirmation bumps it first, so this row is also the lock that serialises them."""

    __tablename__ = "portal_carts"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class PortalCartItem(Base):
    """One line of a portal user's cart (one open cart per user, kept across sessions)."""

    __tablename__ = "portal_cart_items"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    added_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class PortalOrder(Base):
    """An order placed on the portal: who placed it, and the totals the buyer saw."""

    __tablename__ = "portal_orders"
    __table_args__ = (Index("ix_portal_orders_account_id_user_id_order_id", "account_id", "user_id", "order_id"),)

    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    lines: Mapped[int] = mapped_column(Integer)
    units: Mapped[int] = mapped_column(Integer)
    total: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str | None] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
