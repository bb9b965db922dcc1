"""Tables of the products domain: brands, products (with their stock), prices per price list, kit components, and
what the ``dateUpdatedFrom`` filter reads (``product_dates``)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from alephee.clock import utcnow
from alephee.db import SQLITE_VIEW, Base, Money, UtcDateTime


class Brand(Base):
    """A brand of an account's catalog; clients name it by id or by name (case-insensitive)."""

    __tablename__ = "brands"
    __table_args__ = (UniqueConstraint("account_id", "name_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    # lower(name) stripped: the unique, case-insensitive lookup key.
    name_key: Mapped[str] = mapped_column(String(120))


class Product(Base):
    """A catalog item of one account. Stock lives on the row (one stock per product, CF-40.1).

    ``product_type``: 1 Normal, 2 Kit, 5 Variation child, 6 Variation master. ``catalog_status``: 0..5.
    A kit's and a variation master's quantity is derived (components / children), never stored.
    """

    __tablename__ = "products"
    __table_args__ = (
        UniqueConstraint("account_id", "brand_id", "sku"),
        Index("ix_products_account_id_sku", "account_id", "sku"),
        Index("ix_products_account_id_own_code", "account_id", "own_code"),
        # SQLite's dateUpdatedFrom index (through the product_dates view); PostgreSQL's is ProductDate's.
        Index("ix_products_account_id_date_updated", "account_id", "date_updated").ddl_if(dialect="sqlite"),
        Index("ix_products_account_id_product_type_id", "account_id", "product_type", "id"),
        Index("ix_products_account_id_catalog_status_id", "account_id", "catalog_status", "id"),
        Index("ix_products_account_id_brand_id_id", "account_id", "brand_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"))
    sku: Mapped[str] = mapped_column(String(100))
    own_code: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(300))
    product_type: Mapped[int] = mapped_column(Integer, default=1)
    catalog_status: Mapped[int] = mapped_column(Integer, default=1)
    # Variation child (type 5) → its master (type 6).
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="SET NULL"), index=True)
    # Set on a seller account's copy of a product shared by a brand/wholesaler account (CF-40.1, CF-40.5).
    source_product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="SET NULL"), index=True)
    gtin: Mapped[str | None] = mapped_column(String(20))
    # Fiscal data (PUT /v2/products/fiscal). tax_rate None = the rate of tax_rule_code, else the default.
    tax_rate: Mapped[Decimal | None] = mapped_column(Money)
    tax_rule_code: Mapped[str | None] = mapped_column(String(60))
    fiscal_code: Mapped[str | None] = mapped_column(String(30))
    fiscal_origin: Mapped[str | None] = mapped_column(String(10))
    # Unit-conversion attribute of measurable goods: one publishable unit holds measure_per_unit measure_unit.
    measure_unit: Mapped[str | None] = mapped_column(String(10))
    measure_per_unit: Mapped[Decimal | None] = mapped_column(Money)
    # Stock.
    quantity: Mapped[int] = mapped_column(Integer, default=0)
    b2b_quantity: Mapped[int] = mapped_column(Integer, default=0)
    min_publication_quantity: Mapped[int] = mapped_column(Integer, default=0)
    # 0 = no cap.
    max_publication_quantity: Mapped[int] = mapped_column(Integer, default=0)
    alert_red: Mapped[int] = mapped_column(Integer, default=0)
    alert_yellow: Mapped[int] = mapped_column(Integer, default=0)
    # Last measured stock (in measure_unit) of a measurable product; quantity is derived from it.
    measurable_quantity: Mapped[Decimal | None] = mapped_column(Money)
    visibility: Mapped[int | None] = mapped_column(Integer)
    # Free attributes (variation axes such as Color/Talle, PIM attributes): [{"Name", "Value", ...}].
    attributes: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # What a marketplace listing shows besides name, price and stock: picture URLs (sent to the marketplace,
    # which downloads them), a plain-text description, the hub's category (mapped per marketplace by
    # channel_category_mappings) and the condition (new, used, refurbished).
    pictures: Mapped[list[str] | None] = mapped_column(JSON)
    description: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(300))
    condition: Mapped[str | None] = mapped_column(String(20))
    # Not indexed on PostgreSQL: its indexed copy is ProductDate's (an index on this column would keep PostgreSQL
    # from updating a product's row in place, HOT, since every write changes it).
    date_updated: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ProductDate(Base):
    """Each product's account and ``date_updated``, which the ``dateUpdatedFrom`` filter reads.

    On PostgreSQL a table holding the indexed copy, written by triggers on ``products`` (migration
    ``0033p_product_dates``); on SQLite a view of ``products`` (whose own index serves it). Never write it.
    """

    __tablename__ = "product_dates"
    __table_args__ = (
        Index("ix_product_dates_account_id_date_updated", "account_id", "date_updated").ddl_if(dialect="postgresql"),
        {"info": {SQLITE_VIEW: True}},
    )

    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE", onupdate="CASCADE"), primary_key=True
    )
    account_id: Mapped[int] = mapped_column(Integer)
    date_updated: Mapped[datetime] = mapped_column(UtcDateTime)


class ProductPrice(Base):
    """The prices of one product in one price list (the row disappears when removed from the list)."""

    __tablename__ = "product_prices"
    __table_args__ = (Index("ix_product_prices_price_list_id_product_id", "price_list_id", "product_id"),)

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    price_list_id: Mapped[int] = mapped_column(ForeignKey("price_lists.id", ondelete="CASCADE"), primary_key=True)
    price: Mapped[Decimal | None] = mapped_column(Money)
    price_with_taxes: Mapped[Decimal | None] = mapped_column(Money)
    # True when Price was derived from PriceWithTaxes (so a tax change keeps PriceWithTaxes), False when sent.
    price_auto: Mapped[bool] = mapped_column(Boolean, default=False)
    suggested_retail_price: Mapped[Decimal | None] = mapped_column(Money)
    # True while no SRP was ever sent: the SRP follows PriceWithTaxes.
    srp_auto: Mapped[bool] = mapped_column(Boolean, default=True)
    sales_margin: Mapped[Decimal | None] = mapped_column(Money)
    cost: Mapped[Decimal | None] = mapped_column(Money)
    b2b_discount_rate: Mapped[Decimal | None] = mapped_column(Money)
    date_updated: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class KitComponent(Base):
    """One component of a kit product: how many units of it the kit holds and whether it is the principal."""

    __tablename__ = "kit_components"

    kit_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    component_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    principal: Mapped[bool] = mapped_column(Boolean, default=False)
