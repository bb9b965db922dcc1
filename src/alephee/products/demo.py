"""The demo catalog: a few hundred products (normal, kits, variations) with stock, two price lists and what
a marketplace listing shows (pictures on a demo host that is never a real one, a description, a category from a
small fixed set, condition ``new``).

Built through the catalog importer (the same path as ``alephee catalog import``), deterministic, and
skipped when the demo account already has products.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alephee.config import Settings
from alephee.products.importer import import_catalog
from alephee.products.models import Product

# Picture host of the demo: the ``.example`` domain is reserved, so no demo listing points at a real host.
PICTURE_BASE = "https://img.demo.example/products"
CAR_PARTS = "Accesorios para Vehículos > Repuestos"
CAR_LIGHTS = "Accesorios para Vehículos > Iluminación"
HAND_TOOLS = "Herramientas > Herramientas Manuales"
POWER_TOOLS = "Herramientas > Herramientas Eléctricas"
SWEETS = "Alimentos y Bebidas > Golosinas"
SPORTSWEAR = "Ropa y Accesorios > Ropa Deportiva"
SAFETY = "Herramientas > Seguridad Industrial"
# (brand, product family, SKU prefix, base price with taxes, tax rate, category)
LINES: list[tuple[str, str, str, int, str, str]] = [
    ("Bosch", "Bujía Super Plus", "BSP", 4200, "21", CAR_PARTS),
    ("Bosch", "Escobilla limpiaparabrisas Aerotwin", "BAT", 15800, "21", CAR_PARTS),
    ("Bosch", "Filtro de aceite", "BFA", 6900, "21", CAR_PARTS),
    ("BUJ", "Bujía iridio", "CA", 6000, "21", CAR_PARTS),
    ("Philips", "Lámpara halógena H4", "PH4", 5400, "21", CAR_LIGHTS),
    ("Philips", "Lámpara LED H7", "PH7", 21900, "21", CAR_LIGHTS),
    ("Stanley", "Destornillador", "STD", 3100, "21", HAND_TOOLS),
    ("Stanley", "Cinta métrica", "STC", 8700, "21", HAND_TOOLS),
    ("Makita", "Taladro percutor", "MKT", 98000, "21", POWER_TOOLS),
    ("Makita", "Amoladora angular", "MKA", 87000, "21", POWER_TOOLS),
    ("Arcor", "Caramelos surtidos", "ARC", 1900, "10.5", SWEETS),
]
MODELS = ["FR7DC", "FR8DC", "WR7DC", "HR8", "XR5", "ZR6", "Pro", "Plus", "Max", "Eco", "S", "XL", "Mini", "Duo"]
VARIATION_LINES: list[tuple[str, str, str, int, list[str], list[str], str]] = [
    ("Topper", "Remera deportiva", "TRD", 15900, ["Negro", "Blanco", "Azul"], ["S", "M", "L"], SPORTSWEAR),
    ("Topper", "Zapatilla running", "TZR", 54900, ["Gris", "Negro"], ["40", "41", "42"], SPORTSWEAR),
    ("Stanley", "Guantes de trabajo", "SGT", 4900, ["Naranja"], ["M", "L", "XL"], SAFETY),
]
DEMO_PRODUCT_COUNT = 200


def listing_fields(sku: str, name: str, category: str, index: int) -> dict[str, Any]:
    """Pictures (1 to 3, by ``index``), description, category and condition of one demo product."""
    slug = quote(sku.lower(), safe="-")
    pictures = [f"{PICTURE_BASE}/{slug}-{n}.jpg" for n in range(1, 2 + index % 3)]
    return {
        "pictures": "|".join(pictures),
        "description": f"{name}. Producto nuevo, en caja original, con factura y garantía del fabricante.",
        "category": category,
        "condition": "new",
    }


def demo_rows(seed: int = 42) -> list[tuple[int, dict[str, Any]]]:
    """The demo catalog as import rows (deterministic)."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    singles: list[tuple[str, int, str]] = []
    for index in range(DEMO_PRODUCT_COUNT):
        brand, family, prefix, base, tax, category = LINES[index % len(LINES)]
        model = MODELS[(index // len(LINES)) % len(MODELS)]
        sku = f"{prefix}-{1000 + index}"
        name = f"{family} {brand} {model}"
        price = Decimal(base) * Decimal(rng.randint(80, 140)) / 100
        quantity = rng.choice([0, 0, 1, 2, 3, 5, 8, 12, 20, 35, 50, 120])
        rows.append(
            {
                "sku": sku,
                "brand": brand,
                "name": name,
                **listing_fields(sku, name, category, index),
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
        singles.append((sku, int(price), category))
    # A measurable product (sold by the kilo, published in 500 g packs).
    rows.append(
        {
            "sku": "ARC-GRANEL",
            "brand": "Arcor",
            "name": "Caramelos surtidos a granel (500 g)",
            **listing_fields("ARC-GRANEL", "Caramelos surtidos a granel (500 g)", SWEETS, 0),
            "measure_unit": "kg",
            "measure_per_unit": "0.5",
            "quantity": 40,
            "tax_rate": "10.5",
            "price_with_taxes": "2400",
        }
    )
    for brand, family, prefix, base, colors, sizes, category in VARIATION_LINES:
        for number in range(6):
            master = f"{prefix}-{number + 1:02d}"
            master_name = f"{family} {brand} modelo {number + 1}"
            # A master's listing is sold at the master's own price (a product without one is never published
            # active), so every demo master has one in both lists.
            rows.append(
                {
                    "sku": master,
                    "brand": brand,
                    "name": master_name,
                    **listing_fields(master, master_name, category, number),
                    "type": "master",
                    "tax_rate": "21",
                    "price_with_taxes": Decimal(base),
                    "price_with_taxes@Lista mayorista": (Decimal(base) * Decimal("0.85")).quantize(Decimal("0.01")),
                }
            )
            for color in colors:
                for size in sizes:
                    price = Decimal(base) * Decimal(rng.randint(90, 120)) / 100
                    sku = f"{master}-{color[:3].upper()}-{size}"
                    name = f"{master_name} {color} {size}"
                    rows.append(
                        {
                            "sku": sku,
                            "brand": brand,
                            "name": name,
                            **listing_fields(sku, name, category, number),
                            "parent_sku": master,
                            "attributes": f"Color={color};Talle={size}",
                            "quantity": rng.choice([0, 1, 3, 6, 10, 15]),
                            "tax_rate": "21",
                            "price_with_taxes": price.quantize(Decimal("0.01")),
                            "price_with_taxes@Lista mayorista": (price * Decimal("0.85")).quantize(Decimal("0.01")),
                        }
                    )
    for number in range(24):
        first, first_price, kit_category = singles[(number * 7) % len(singles)]
        second, second_price, _ = singles[(number * 7 + 3) % len(singles)]
        units = 4 if first.startswith(("BSP", "CA")) else 2
        price = Decimal(first_price * units + second_price) * Decimal("0.9")
        sku, name = f"KIT-{number + 1:03d}", f"Kit {units} x {first} + {second}"
        rows.append(
            {
                "sku": sku,
                "brand": "Demo Kits",
                "name": name,
                **listing_fields(sku, name, kit_category, number),
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
