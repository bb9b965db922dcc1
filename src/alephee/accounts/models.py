"""Tables of the accounts domain."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from alephee.clock import utcnow
from alephee.db import Base, Money, UtcDateTime


class Account(Base):
    """An Alephee company/tenant. ``account_type`` is one of ``AccountType``."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    business_name: Mapped[str | None] = mapped_column(String(200))
    doc_type: Mapped[str | None] = mapped_column(String(20))
    doc_number: Mapped[str | None] = mapped_column(String(40), index=True)
    pickup_code: Mapped[str | None] = mapped_column(String(60))
    own_code: Mapped[str | None] = mapped_column(String(60))
    account_type: Mapped[str] = mapped_column(String(20))
    # IANA zone for naive date filters; None = the configured default.
    timezone: Mapped[str | None] = mapped_column(String(64))
    # The account's B2B portal: enabled flag and optional own FQDN (base URL) for login links.
    b2b_portal_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    b2b_portal_url: Mapped[str | None] = mapped_column(String(300))
    # Permission granted by support to DELETE /v2/products/prices (CF-40.5), off by default.
    allow_pricelist_delete: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ApiKey(Base):
    """An API key. Only the SHA-256 of the secret is stored; the secret is shown once at creation."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # First characters of the key, to recognise it in listings without revealing it.
    key_prefix: Mapped[str] = mapped_column(String(12))
    label: Mapped[str | None] = mapped_column(String(120))
    # Requests per minute for every endpoint; None = the per-endpoint table.
    rate_limit: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ApiKeyAccount(Base):
    """Which accounts a key may act for (a key may serve several accounts)."""

    __tablename__ = "api_key_accounts"

    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True, index=True)


class User(Base):
    """A person with an Alephee login for an account (login tokens, B2B portal)."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("account_id", "email"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class AccountMarketplace(Base):
    """A marketplace/channel connected to an account."""

    __tablename__ = "account_marketplaces"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    marketplace_id: Mapped[int] = mapped_column(ForeignKey("marketplaces.id"), primary_key=True)
    # The seller's id on the marketplace side (e.g. the Mercado Libre user id), when known.
    external_seller_id: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class PriceList(Base):
    """A named set of prices inside an account."""

    __tablename__ = "price_lists"
    __table_args__ = (Index("ix_price_lists_account_id_id", "account_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str | None] = mapped_column(String(3))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    # B2B portal discount applied to the whole list (percent, 0..100).
    discount_rate: Mapped[Decimal | None] = mapped_column(Money)
    # The list the B2B portal sells from.
    is_b2b: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Store(Base):
    """A branch, warehouse or pickup point of an account (CF-10.4)."""

    __tablename__ = "stores"
    __table_args__ = (
        Index("ix_stores_account_id_id", "account_id", "id"),
        Index("ix_stores_account_id_created_at", "account_id", "created_at"),
        Index("ix_stores_account_id_allow_pickup_store", "account_id", "allow_pickup_store"),
        Index("ix_stores_account_id_pickup_seller_account_id", "account_id", "pickup_seller_account_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    business_name: Mapped[str | None] = mapped_column(String(200))
    integration_code: Mapped[str | None] = mapped_column(String(60))
    is_principal: Mapped[bool] = mapped_column(Boolean, default=False)
    open_hours: Mapped[str | None] = mapped_column(String(200))
    availability_time_in_hours: Mapped[int | None] = mapped_column(Integer)
    additional_time_in_hours: Mapped[int | None] = mapped_column(Integer)
    allow_pickup_store: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_shipments: Mapped[bool | None] = mapped_column(Boolean)
    logistic_tags_exclude: Mapped[list[str] | None] = mapped_column(JSON)
    zone: Mapped[str | None] = mapped_column(String(120))
    address: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # AccountPickup (present iff pickup_name is set): the seller account the pickup point belongs to.
    pickup_name: Mapped[str | None] = mapped_column(String(200))
    pickup_business_name: Mapped[str | None] = mapped_column(String(200))
    pickup_external_id: Mapped[int | None] = mapped_column(Integer)
    pickup_integration_code: Mapped[str | None] = mapped_column(String(60))
    pickup_seller_account_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class StoreExternalId(Base):
    """How a marketplace identifies a store (a store may be known to several marketplaces)."""

    __tablename__ = "store_external_ids"
    __table_args__ = (Index("ix_store_external_ids_marketplace_id_store_id", "marketplace_id", "store_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    marketplace_id: Mapped[int] = mapped_column(ForeignKey("marketplaces.id"))
    external_id: Mapped[str] = mapped_column(String(60))
    name: Mapped[str | None] = mapped_column(String(200))


class LoginToken(Base):
    """A short-lived, single-use token (module 1: B2B portal login; module 2: Web API confirmation)."""

    __tablename__ = "login_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    module: Mapped[int] = mapped_column(Integer)
    key_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class FiscalTaxRule(Base):
    """An account-level fiscal tax rule (our design for PUT .../fiscaltaxrules, CF-10.6)."""

    __tablename__ = "fiscal_tax_rules"
    __table_args__ = (UniqueConstraint("account_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(200))
    tax_type: Mapped[str] = mapped_column(String(30))
    percentage: Mapped[Decimal] = mapped_column(Money)
    state_code: Mapped[str | None] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    date_updated: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class AuditEntry(Base):
    """One authenticated write request, or a security event of any method: who (key, account), what
    (endpoint, query identifiers, elements), outcome, request id."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_account_id_id", "account_id", "id"),
        Index("ix_audit_log_operator_id_id", "operator_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    request_id: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[int] = mapped_column(Integer, index=True)
    account_id: Mapped[int | None] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(8))
    endpoint: Mapped[str] = mapped_column(String(80))
    path: Mapped[str] = mapped_column(String(300))
    status: Mapped[int] = mapped_column(Integer)
    # Elements in the request body (array length, 1 for an object, 0 when none was read).
    items: Mapped[int] = mapped_column(Integer, default=0)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    # A security event (``account_not_linked``: a valid key asked for an account it does not serve); None for
    # an ordinary write.
    event: Mapped[str | None] = mapped_column(String(40))
    # The query string without the key: identifiers with their values, other parameters by name only.
    query: Mapped[str] = mapped_column(String(500), default="", server_default="")
    # An action or a sign-in attempt in the operator console: the operator (``key_id`` is then 0); None for the
    # API.
    operator_id: Mapped[int | None] = mapped_column(Integer)
