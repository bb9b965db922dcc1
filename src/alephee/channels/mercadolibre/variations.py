"""Items published with variations: the ``variations[]`` of ``POST /items`` built from the hub's variations of
a product, and the ids Mercado Libre gave them read back by SKU. Pure functions, no I/O.

Each variation carries its ``attribute_combinations`` (the hub's attribute names that Mercado Libre knows by id,
such as Color → ``COLOR`` and Talle/Size → ``SIZE``, go by id; the others by ``name``), its
``available_quantity``, the item's one price (Mercado Libre's legacy model: every variation of an item has the
same price), its pictures (``picture_ids`` naming pictures of the item, whose ``pictures[]`` hold the product's
and every variation's) and the variation-level ``SELLER_SKU`` attribute, the hub's SKU of the variation.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from alephee.channels.mercadolibre.calls import wire_money
from alephee.channels.mercadolibre.mapping import to_int, variation_sku
from alephee.listings.variations import VariationFacts

# The hub's attribute names (lower case) that Mercado Libre names by attribute id in attribute_combinations.
ATTRIBUTE_IDS: dict[str, str] = {
    "color": "COLOR",
    "colour": "COLOR",
    "cor": "COLOR",
    "talle": "SIZE",
    "talla": "SIZE",
    "size": "SIZE",
    "tamaño": "SIZE",
    "tamanho": "SIZE",
    "tamanio": "SIZE",
}
# Pictures per item: the usual ``max_pictures_per_item`` of a category (spec 3.1).
MAX_PICTURES = 12


class DifferentPrices(ValueError):
    """The variations of one item would be sold at different prices (Mercado Libre's legacy model refuses it)."""


def attribute_id(name: str) -> str | None:
    """Mercado Libre's attribute id for a variation attribute's name (``Color`` → ``COLOR``), when it has one."""
    return ATTRIBUTE_IDS.get(name.strip().lower())


def attribute_combination(name: str, value: str) -> dict[str, str]:
    """One ``attribute_combinations[]`` element: by id when Mercado Libre has one for ``name``, else by name."""
    known = attribute_id(name)
    if known is not None:
        return {"id": known, "value_name": value}
    return {"name": name, "value_name": value}


def missing_data(variations: Sequence[VariationFacts]) -> list[str]:
    """What the variations lack to be published, one entry per kind naming the SKUs (empty when nothing)."""
    missing: list[str] = []
    no_attributes = [v.sku for v in variations if not v.attributes]
    no_price = [v.sku for v in variations if v.price is None]
    if no_attributes:
        missing.append("variation attributes (" + ", ".join(no_attributes) + ")")
    if no_price:
        missing.append("variation price (" + ", ".join(no_price) + ")")
    combinations = [tuple(sorted(v.attributes)) for v in variations if v.attributes]
    if len(set(combinations)) != len(combinations):
        missing.append("one distinct attribute combination per variation (some repeat)")
    return missing


def one_price(variations: Sequence[VariationFacts]) -> Decimal:
    """The price every variation is sold at; ``DifferentPrices`` naming each SKU's price when they differ."""
    prices = {v.price for v in variations if v.price is not None}
    if len(prices) != 1:
        detail = ", ".join(f"{v.sku} {v.price}" for v in variations)
        raise DifferentPrices(
            "Mercado Libre sells every variation of an item at one price, and these differ: "
            f"{detail}; give the variations one price or set the listing's price"
        )
    return prices.pop()


def item_pictures(product_pictures: Sequence[str], variations: Sequence[VariationFacts]) -> tuple[str, ...]:
    """The item's pictures, at most ``MAX_PICTURES`` without repeats: the product's first, then each variation's
    first (so every variation shows at least one), then the rest in the same order."""
    firsts = [*product_pictures[:1], *(v.pictures[0] for v in variations if v.pictures)]
    rest = [*product_pictures[1:], *(p for v in variations for p in v.pictures[1:])]
    return tuple(dict.fromkeys([*firsts, *rest]))[:MAX_PICTURES]


def variations_body(
    variations: Sequence[VariationFacts], price: Decimal, pictures: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """``variations[]`` of ``POST /items``: one element per variation, in the order given; ``picture_ids`` name
    the variation's pictures that are among the item's ``pictures`` (all of them when None)."""
    shown = set(pictures) if pictures is not None else None
    body: list[dict[str, Any]] = []
    for variation in variations:
        element: dict[str, Any] = {
            "attribute_combinations": [attribute_combination(n, v) for n, v in variation.attributes],
            "available_quantity": max(0, variation.quantity),
            "price": wire_money(price),
            "attributes": [{"id": "SELLER_SKU", "value_name": variation.sku}],
        }
        own = [p for p in variation.pictures if shown is None or p in shown]
        if own:
            element["picture_ids"] = own
        body.append(element)
    return body


def variation_ids(item: dict[str, Any]) -> dict[str, str]:
    """SKU → variation id of an item's ``variations[]`` (the ones without a SKU or id left out)."""
    out: dict[str, str] = {}
    for variation in item.get("variations") or []:
        if not isinstance(variation, dict):
            continue
        number, sku = to_int(variation.get("id")), variation_sku(variation)
        if number is not None and sku:
            out[sku] = str(number)
    return out
