"""Demo step of the B2B portal: B2B stock, kit prices in the wholesale list and a few per-product B2B discounts,
written through POST /v2/products' service (the same rules an ERP goes through). Idempotent: skipped when any
product of the account already has B2B stock.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alephee.config import Settings
from alephee.portal import catalog as portal
from alephee.products import bulk_update as products
from alephee.products.models import Brand, Product, ProductPrice
from alephee.products.schemas import KIT, VARIATION_MASTER

BATCH = 200


def create_demo_portal(session: Session, settings: Settings, account_id: int) -> None:
    """Give the demo catalog something to sell on the portal."""
    price_list = portal.portal_price_list(session, account_id)
    if price_list is None:
        return
    if session.scalar(select(Product.id).where(Product.account_id == account_id, Product.b2b_quantity > 0).limit(1)):
        return
    rows = session.execute(
        select(Product.id, Product.sku, Brand.name, Product.product_type)
        .join(Brand, Brand.id == Product.brand_id)
        .where(Product.account_id == account_id, Product.product_type != VARIATION_MASTER)
        .order_by(Product.id)
    ).all()
    if not rows:
        return
    listed = {
        pid
        for (pid,) in session.execute(
            select(ProductPrice.product_id).where(
                ProductPrice.price_list_id == price_list.id, ProductPrice.price_with_taxes.is_not(None)
            )
        )
    }
    default_prices = dict(
        session.execute(
            select(ProductPrice.product_id, ProductPrice.price_with_taxes)
            .where(ProductPrice.price_with_taxes.is_not(None))
            .where(ProductPrice.product_id.in_([r[0] for r in rows if r[3] == KIT]))
        ).all()
    )
    rng = random.Random(3011)
    items: list[dict[str, Any]] = []
    for pid, sku, brand, product_type in rows:
        item: dict[str, Any] = {
            "SKU": sku,
            "Brand": brand,
            "Stock": {"B2BQuantity": rng.choice([0, 4, 10, 25, 60, 150])},
        }
        price: dict[str, Any] = {}
        if pid not in listed and product_type == KIT and default_prices.get(pid):
            price["PriceWithTaxes"] = (default_prices[pid] * Decimal("0.85")).quantize(Decimal("0.01"))
        if rng.random() < 0.2:
            price["B2BDiscountRate"] = Decimal(rng.choice(["5", "7.5", "12"]))
        if price:
            item["Price"] = price
        items.append(item)
    for start in range(0, len(items), BATCH):
        products.update_products(session, settings, account_id, str(price_list.id), items[start : start + BATCH])
