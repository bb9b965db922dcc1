"""Brands of an account, and the sharing of a brand/wholesaler catalog into seller accounts."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from alephee import clock
from alephee.accounts.models import Account
from alephee.errors import InvalidInput, NotFound
from alephee.products import rules
from alephee.products.models import Brand, Product
from alephee.products.schemas import VARIATION_CHILD

CATALOG_OWNERS = frozenset({"brand", "distributor"})


def brand_key(name: str) -> str:
    """The case-insensitive key of a brand name."""
    return " ".join(name.split()).lower()


def get_or_create_brand(session: Session, account_id: int, name: str, cache: dict[str, int] | None = None) -> int:
    """The id of the account's brand called ``name`` (created when missing)."""
    key = brand_key(name)
    if cache is not None and key in cache:
        return cache[key]
    brand_id = session.scalar(select(Brand.id).where(Brand.account_id == account_id, Brand.name_key == key))
    if brand_id is None:
        brand = Brand(account_id=account_id, name=" ".join(name.split()), name_key=key)
        session.add(brand)
        session.flush()
        brand_id = brand.id
    if cache is not None:
        cache[key] = brand_id
    return brand_id


class ShareAccountNotFound(NotFound):
    """The source or the target account of a share does not exist (404)."""

    message = "Account not found"


class ShareSourceRefused(InvalidInput):
    """Products are shared only from a brand or distributor account (400)."""

    message = "Products can only be shared from a BRAND or DISTRIBUTOR account"


class ShareTargetRefused(InvalidInput):
    """Products are shared only to a seller-type account (400)."""

    message = "Products can only be shared to a seller-type account"


def share_products(session: Session, source_account_id: int, target_account_id: int, skus: Sequence[str]) -> int:
    """Copy products of a brand/wholesaler account into a seller account, linked to their source (so the
    seller cannot set their prices and the source cannot drop them from a price list). Returns how many
    were shared (existing links are kept)."""
    source = session.get(Account, source_account_id)
    target = session.get(Account, target_account_id)
    if source is None or target is None:
        raise ShareAccountNotFound()
    if source.account_type not in CATALOG_OWNERS:
        raise ShareSourceRefused()
    if target.account_type not in rules.SELLING_TYPES:
        raise ShareTargetRefused()
    stmt = (
        select(Product, Brand).join(Brand, Brand.id == Product.brand_id).where(Product.account_id == source_account_id)
    )
    if skus:
        stmt = stmt.where(Product.sku.in_(list(skus)))
    shared = 0
    brands: dict[str, int] = {}
    for product, brand in session.execute(stmt.order_by(Product.id)).all():
        if product.product_type not in (1, VARIATION_CHILD):
            continue
        linked = session.scalar(
            select(exists().where(Product.account_id == target_account_id, Product.source_product_id == product.id))
        )
        if linked:
            continue
        session.add(
            Product(
                account_id=target_account_id,
                brand_id=get_or_create_brand(session, target_account_id, brand.name, brands),
                sku=product.sku,
                own_code=product.own_code,
                name=product.name,
                product_type=1,
                catalog_status=product.catalog_status,
                source_product_id=product.id,
                gtin=product.gtin,
                tax_rate=product.tax_rate,
                quantity=product.quantity,
                attributes=product.attributes,
                date_updated=clock.utcnow(),
                created_at=clock.utcnow(),
            )
        )
        shared += 1
    session.flush()
    return shared
