"""Tables of the channel connectors: the link of an account to a marketplace seller (tokens encrypted at rest),
the pending OAuth authorization attempts (single-use, expiring ``state`` values), and each account's mapping of the
hub's product categories to a marketplace's categories. The inbox of the marketplaces' notifications is
``marketplaces.models.ChannelNotification``, beside the outbox (the worker's sync steps read both)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from alephee.clock import utcnow
from alephee.db import Base, UtcDateTime

CONNECTED = "connected"
DISCONNECTED = "disconnected"
# The marketplace stopped serving the connection for a while (Tiendanube: the store's or the app's subscription is
# unpaid, 402 / ``app/suspended``): its token is kept, nothing is sent or read, rows are held until it resumes.
PAUSED = "paused"


class ChannelConnection(Base):
    """One account's link to its seller on one marketplace. ``access_token`` and ``refresh_token`` hold
    ``enc:v1:...`` ciphertext (webhooks/crypto.py keyring); a disconnected link has neither."""

    __tablename__ = "channel_connections"
    __table_args__ = (UniqueConstraint("account_id", "marketplace_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    marketplace_id: Mapped[int] = mapped_column(ForeignKey("marketplaces.id"))
    connector: Mapped[str] = mapped_column(String(30))
    seller_id: Mapped[int | None] = mapped_column(BigInteger)
    nickname: Mapped[str | None] = mapped_column(String(120))
    site_id: Mapped[str | None] = mapped_column(String(8))
    access_token: Mapped[str | None] = mapped_column(Text)
    refresh_token: Mapped[str | None] = mapped_column(Text)
    token_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Set while one process refreshes the tokens (the lease; single-use refresh tokens must not be spent twice).
    refreshing_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(16), default=CONNECTED)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Where this connection's marketplace answers: None = the configured API (the real marketplace by default),
    # ``standin`` = the local stand-in this hub serves (``alephee demo`` connects the demo account there).
    api_base: Mapped[str | None] = mapped_column(String(200))
    # The API version segment this connection's calls use (Tiendanube: ``v1`` or a ``YYYY-MM`` label, per store);
    # None = the connector's configured version.
    api_version: Mapped[str | None] = mapped_column(String(16))
    last_sync_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The store's stock locations as last read (Tiendanube ``GET /locations``: ``[{"id", "name", "default"}]``),
    # None = never read; with more than one, the hub's stock goes to ``stock_location`` (None = the store's
    # default location) and the other locations' stock is left alone.
    locations: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    stock_location: Mapped[str | None] = mapped_column(String(64))
    # When the marketplace's webhooks were last checked against what the hub needs (the backstop's periodic
    # reconciliation); None = never since connecting.
    webhooks_checked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # When the backstop last searched the channel's buyers' questions and claims; None = never since connecting.
    post_sale_checked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ChannelOAuthState(Base):
    """One authorization attempt: the random ``state`` sent to the marketplace and checked on the callback
    (the marketplace echoes it but never validates it). Used once, and only before ``expires_at``."""

    __tablename__ = "channel_oauth_states"

    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    marketplace_id: Mapped[int] = mapped_column(ForeignKey("marketplaces.id"))
    connector: Mapped[str] = mapped_column(String(30))
    # PKCE (RFC 7636) verifier, when the authorization request carried a challenge.
    code_verifier: Mapped[str | None] = mapped_column(String(128))
    # Where the seller goes after the callback when the attempt was started from a page of the hub (a path of
    # this hub, e.g. the console's channels page); None = the callback's own page.
    return_to: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ChannelCategoryMapping(Base):
    """An account's choice of the marketplace category for one of the hub's product categories (set by the
    seller), or a category predicted from a product title and kept so the prediction is asked once
    (``source`` ``seller`` or ``predicted``; ``category`` then holds ``title:<normalised title>``)."""

    __tablename__ = "channel_category_mappings"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    marketplace_id: Mapped[int] = mapped_column(ForeignKey("marketplaces.id"), primary_key=True)
    category: Mapped[str] = mapped_column(String(300), primary_key=True)
    external_category_id: Mapped[str] = mapped_column(String(40))
    external_category_name: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16), default="seller")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON)
