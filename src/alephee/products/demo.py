"""The demo catalog: a few hundred products (normal, kits, variations) with stock and two price lists.

Built through the catalog importer (the same path as ``alephee catalog import``), deterministic, and
skipped when the demo account already has products.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alephee.config import Settings
from alephee.products.importer import import_catalog
from alephee.products.models import Product

# (brand, product family, SKU prefix, base price with taxes, tax rate)
LINES: list[tuple[str, str, str, int, str]] = [
    ("Bosch", "Bujía Super Plus", "BSP", 4200, "21"),
    ("Bosch", "Escobilla limpiaparabrisas Aerotwin", "BAT", 15800, "21"),
    ("Bosch", "Filtro de aceite", "BFA", 6900, "21"),
    ("BUJ", "Bujía iridio", "CA", 6000, "21"),
    ("Philips", "Lámpara halógena H4", "PH4", 5400, "21"),
    ("Philips", "Lámpara LED H7", "PH7", 21900, "21"),
    ("Stanley", "Destornillador", "STD", 3100, "21"),
    ("Stanley", "Cinta métrica", "STC", 8700, "21"),
    ("Makita", "Taladro percutor", "MKT", 98000, "21"),
    ("Makita", "Amoladora angular", "MKA", 87000, "21"),
    ("Arcor", "Caramelos surtidos", "ARC", 1900, "10.5"),
]
MODELS = ["FR7DC", "FR8DC", "WR7DC", "HR8", "XR5", "ZR6", "Pro", "Plus", "Max", "Eco", "S", "XL", "Mini", "Duo"]
VARIATION_LINES: list[tuple[str, str, str, int, list[str], list[str]]] = [
    ("Topper", "Remera deportiva", "TRD", 15900, ["Negro", "Blanco", "Azul"], ["S", "M", "L"]),
    ("Topper", "Zapatilla running", "TZR", 54900, ["Gris", "Negro"], ["40", "41", "42"]),
    ("Stanley", "Guantes de trabajo", "SGT", 4900, ["Naranja"], ["M", "L", "XL"]),
]
DEMO_PRODUCT_COUNT = 200


def demo_rows(seed: int = 42) -> list[tuple[int, dict[str, Any]]]:
    """The demo catalog as import rows (deterministic)."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    singles: list[tuple[str, int]] = []
    for index in range(DEMO_PRODUCT_COUNT):
        brand, family, prefix, base, tax = LINES[index % len(LINES)]
        model = MODELS[(index // len(LINES)) % len(MODELS)]
        sku = f"{prefix}-{1000 + index}"
        price = Decimal(base) * Decimal(rng.randint(80, 140)) / 100
        quantity = rng.choice([0, 0, 1, 2, 3, 5, 8, 12, 20, 35, 50, 120])
        rows.append(
            {
                "sku": sku,
                "brand": brand,
                "name": f"{family} {brand} {model}",
                "own_code": f"ERP-{index:05d}",
                "gtin": f"779{index:010d}",
                "quantity": quantity,
                "min_publication_quantity": 1 if index % 17 == 0 else 0,
                "max_publication_quantity": 10 if index % 23 == 0 else 0,
                "alert_red": 2,
                "alert_yellow": 5,
                "tax_rate": tax,
                "price_with_taxes": price.quantize(Decimal("0.01")),
                "cost": (price * Decimal("0.55")).quantize(Decimal("0.01")),
                "price_with_taxes@Lista mayorista": (price * Decimal("0.85")).quantize(Decimal("0.01")),
            }
        )
        singles.append((sku, int(price)))
    # A measurable product (sold by the kilo, published in 500 g packs).
    rows.append(
        {
            "sku": "ARC-GRANEL",
            "brand": "Arcor",
            "name": "Caramelos surtidos a granel (500 g)",
            "measure_unit": "kg",
            "measure_per_unit": "0.5",
            "quantity": 40,
            "tax_rate": "10.5",
            "price_with_taxes": "2400",
        }
    )
    for brand, family, prefix, base, colors, sizes in VARIATION_LINES:
        for number in range(6):
            master = f"{prefix}-{number + 1:02d}"
            # A master's listing is sold at the master's own price (a product without one is never published
            # active), so every demo master has one in both lists.
            rows.append(
                {
                    "sku": master,
                    "brand": brand,
                    "name": f"{family} {brand} modelo {number + 1}",
                    "type": "master",
                    "tax_rate": "21",
                    "price_with_taxes": Decimal(base),
                    "price_with_taxes@Lista mayorista": (Decimal(base) * Decimal("0.85")).quantize(Decimal("0.01")),
                }
            )
            for color in colors:
                for size in sizes:
                    price = Decimal(base) * Decimal(rng.randint(90, 120)) / 100
                    rows.append(
                        {
                            "sku": f"{master}-{color[:3].upper()}-{size}",
                            "brand": brand,
                            "name": f"{family} {brand} modelo {number + 1} {color} {size}",
                            "parent_sku": master,
                            "attributes": f"Color={color};Talle={size}",
                            "quantity": rng.choice([0, 1, 3, 6, 10, 15]),
                            "tax_rate": "21",
                            "price_with_taxes": price.quantize(Decimal("0.01")),
                            "price_with_taxes@Lista mayorista": (price * Decimal("0.85")).quantize(Decimal("0.01")),
                        }
                    )
    for number in range(24):
        first, first_price = singles[(number * 7) % len(singles)]
        second, second_price = singles[(number * 7 + 3) % len(singles)]
        units = 4 if first.startswith(("BSP", "CA")) else 2
        price = Decimal(first_price * units + second_price) * Decimal("0.9")
        rows.append(
            {
                "sku": f"KIT-{number + 1:03d}",
                "brand": "Demo Kits",
                "name": f"Kit {units} x {first} + {second}",
                "type": "kit",
                "components": f"{first}:{units};{second}:1",
                "tax_rate": "21",
                "price_with_taxes": price.quantize(Decimal("0.01")),
            }
        )
    return [(i + 1, row) for i, row in enumerate(rows)]


def create_demo_catalog(session: Session, settings: Settings, account_id: int) -> None:
    """Demo step: import the demo catalog unless the account already has products."""
    if session.scalar(select(func.count()).select_from(Product).where(Product.account_id == account_id)):
        return
    report = import_catalog(session, settings, account_id, demo_rows())
    if report.errors:  # a bug in the generator, not user input
        raise RuntimeError(f"demo catalog rows rejected: {[e.as_dict() for e in report.errors[:3]]}")
