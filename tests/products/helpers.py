"""Building catalogs directly in the database for tests (the public API cannot create products)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from alephee import clock
from alephee.accounts import service as accounts
from alephee.products.brands import get_or_create_brand
from alephee.products.models import KitComponent, Product, ProductPrice


@dataclass
class Catalog:
    """Ids of what a test created."""

    account_id: int
    price_lists: dict[str, int] = field(default_factory=dict)
    products: dict[str, int] = field(default_factory=dict)


def add_price_list(session: Session, account_id: int, name: str, **kwargs: Any) -> int:
    """A price list of the account (the first one becomes the default)."""
    return accounts.create_price_list(session, account_id, name, currency="ARS", **kwargs).id


def add_product(
    session: Session,
    account_id: int,
    sku: str,
    *,
    brand: str = "BUJ",
    name: str | None = None,
    own_code: str | None = None,
    product_type: int = 1,
    catalog_status: int = 1,
    quantity: int = 0,
    min_pub: int = 0,
    max_pub: int = 0,
    tax_rate: Decimal | str | None = None,
    measure_unit: str | None = None,
    measure_per_unit: Decimal | str | None = None,
    parent_id: int | None = None,
    source_product_id: int | None = None,
    attributes: list[dict[str, Any]] | None = None,
    prices: dict[int, Decimal | str] | None = None,
    components: list[tuple[int, int, bool]] = (),  # type: ignore[assignment]
) -> int:
    """A product (``prices`` maps price list id → PriceWithTaxes); returns its id."""
    now = clock.utcnow()
    product = Product(
        account_id=account_id,
        brand_id=get_or_create_brand(session, account_id, brand),
        sku=sku,
        own_code=own_code,
        name=name or f"Product {sku}",
        product_type=product_type,
        catalog_status=catalog_status,
        quantity=quantity,
        min_publication_quantity=min_pub,
        max_publication_quantity=max_pub,
        tax_rate=Decimal(tax_rate) if tax_rate is not None else None,
        measure_unit=measure_unit,
        measure_per_unit=Decimal(measure_per_unit) if measure_per_unit is not None else None,
        parent_id=parent_id,
        source_product_id=source_product_id,
        attributes=attributes,
        b2b_quantity=0,
        alert_red=0,
        alert_yellow=0,
        date_updated=now,
        created_at=now,
    )
    session.add(product)
    session.flush()
    rate = Decimal(tax_rate) if tax_rate is not None else Decimal(21)
    for price_list_id, pwt in (prices or {}).items():
        gross = Decimal(pwt)
        session.add(
            ProductPrice(
                product_id=product.id,
                price_list_id=price_list_id,
                price_with_taxes=gross,
                price=(gross / (1 + rate / 100)).quantize(Decimal("0.0001")),
                price_auto=True,
                suggested_retail_price=gross,
                srp_auto=True,
                date_updated=now,
            )
        )
    for component_id, units, principal in components:
        session.add(KitComponent(kit_id=product.id, component_id=component_id, quantity=units, principal=principal))
    session.flush()
    return product.id


def quantity_of(session: Session, product_id: int) -> int:
    """The stored quantity of a product."""
    product = session.get(Product, product_id)
    assert product is not None
    session.refresh(product)
    return product.quantity
