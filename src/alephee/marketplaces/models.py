"""The catalogue of marketplace channels (loaded from a data file, ids configurable: spec 00 §4.3)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from alephee.clock import utcnow
from alephee.db import Base, UtcDateTime


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
    # Which connector delivers to it: "sandbox" (built-in simulator) or "none" (no connector yet).
    connector: Mapped[str] = mapped_column(String(30), default="none")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class OutboxMessage(Base):
    """A change that must reach a marketplace (or a webhook receiver), written in the same transaction as
    the change itself and delivered later by the worker (at least once, in id order per aggregate)."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_available_at_id", "status", "available_at", "id"),
        Index("ix_outbox_aggregate_type_aggregate_id_id", "aggregate_type", "aggregate_id", "id"),
        Index("ix_outbox_account_id_id", "account_id", "id"),
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
