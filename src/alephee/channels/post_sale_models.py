"""Tables of what buyers raise on a marketplace besides orders: pre-sale questions on the seller's listings (and
the seller's answers) and claims on the seller's orders, kept per account and marketplace as last read from the
marketplace (a notification or the backstop's search), keyed by the marketplace's id."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from alephee.clock import utcnow
from alephee.db import Base, UtcDateTime

# Question statuses (the marketplace's words).
UNANSWERED = "UNANSWERED"
ANSWERED = "ANSWERED"
BANNED = "BANNED"
QUESTION_STATUSES = (ANSWERED, BANNED, "CLOSED_UNANSWERED", "DELETED", "DISABLED", UNANSWERED, "UNDER_REVIEW")
# Where the hub's answer is: queued for the worker, refused for good by the marketplace (``answer_error`` says
# why), or accepted.
ANSWER_QUEUED = "queued"
ANSWER_REFUSED = "refused"
ANSWER_SENT = "sent"

CLAIM_OPENED = "opened"
CLAIM_CLOSED = "closed"


class MarketplaceQuestion(Base):
    """A buyer's pre-sale question on one of the seller's items, linked to the hub's listing (and its product)
    when the item is linked; ``answer_*`` hold the marketplace's answer, ``answer_state`` the hub's sending."""

    __tablename__ = "marketplace_questions"
    __table_args__ = (
        UniqueConstraint("account_id", "marketplace_id", "external_id", name="uq_marketplace_questions_external"),
        # The operator's list: one channel's questions of a status, newest first.
        Index("ix_marketplace_questions_list", "account_id", "marketplace_id", "status", "date_created"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    marketplace_id: Mapped[int] = mapped_column(ForeignKey("marketplaces.id"))
    external_id: Mapped[str] = mapped_column(String(40))
    item_id: Mapped[str] = mapped_column(String(40))
    listing_id: Mapped[int | None] = mapped_column(Integer)
    product_id: Mapped[int | None] = mapped_column(Integer)
    buyer_id: Mapped[int | None] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(24))
    hold: Mapped[bool] = mapped_column(Boolean, default=False)
    date_created: Mapped[datetime] = mapped_column(UtcDateTime)
    answer_text: Mapped[str | None] = mapped_column(Text)
    answer_status: Mapped[str | None] = mapped_column(String(16))
    answer_date: Mapped[datetime | None] = mapped_column(UtcDateTime)
    answer_state: Mapped[str | None] = mapped_column(String(16))
    answer_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class MarketplaceClaim(Base):
    """A claim (mediation, return, cancellation...) on one of the seller's sales, linked to the hub's order its
    ``resource``/``resource_id`` name; ``refund_recorded`` once a refund it closed with was recorded on the
    order (once)."""

    __tablename__ = "marketplace_claims"
    __table_args__ = (
        UniqueConstraint("account_id", "marketplace_id", "external_id", name="uq_marketplace_claims_external"),
        Index("ix_marketplace_claims_list", "account_id", "marketplace_id", "status", "date_created"),
        Index("ix_marketplace_claims_order", "order_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    marketplace_id: Mapped[int] = mapped_column(ForeignKey("marketplaces.id"))
    external_id: Mapped[str] = mapped_column(String(40))
    order_id: Mapped[int | None] = mapped_column(Integer)
    resource: Mapped[str | None] = mapped_column(String(16))
    resource_id: Mapped[str | None] = mapped_column(String(40))
    type: Mapped[str | None] = mapped_column(String(24))
    stage: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    reason_id: Mapped[str | None] = mapped_column(String(24))
    resolution_reason: Mapped[str | None] = mapped_column(String(64))
    date_created: Mapped[datetime] = mapped_column(UtcDateTime)
    last_updated: Mapped[datetime | None] = mapped_column(UtcDateTime)
    refund_recorded: Mapped[bool] = mapped_column(Boolean, default=False)
    raw: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
