"""Stock and price writes across variants: ``POST /products/{id}/variants/stock`` (``replace`` with ``null`` =
infinite, ``variation`` clamped at 0, one variant or all), the ``PATCH /products/stock-price`` batch (50 variants
at most, a result per variant) and the stock a sale takes or a cancellation gives back."""

from __future__ import annotations

from typing import Any

from alephee.channels.standin_store import Tx
from alephee.channels.tiendanube.standin import products, stores
from alephee.channels.tiendanube.standin.common import as_int, money, not_found, now, refuse, stamp, stock_value
from alephee.channels.tiendanube.standin.webhooks import Webhooks

STOCK_PRICE_LIMIT = 50


def change_stock(
    tx: Tx, hooks: Webhooks, shop: dict[str, Any], product_id: int, body: dict[str, Any]
) -> list[dict[str, Any]]:
    """``POST /products/{id}/variants/stock``: ``replace`` (``null`` = infinite) or ``variation`` (clamped at 0) of
    one variant (``id``) or of all; the updated variants."""
    product = products.get(tx, shop["id"], product_id)
    action = body.get("action")
    if action not in ("replace", "variation"):
        raise refuse(422, "Valid actions are 'replace', 'variation'.")
    location = body.get("location_id")
    if location is not None and not stores.has_location(shop, location):
        raise refuse(422, "Validation error", location_id=["The selected location id is invalid."])
    if "value" not in body:
        raise refuse(422, "Validation error", value=["The value field is required."])
    value = body["value"]
    targets = product["variants"]
    if body.get("id") is not None:
        targets = [products.variant_of(product, as_int(body["id"]) or 0)]
    if action == "replace":
        stock = stock_value(value)
        for variant in targets:
            products.set_stock(shop, variant, stock, location)
    else:
        if isinstance(value, bool) or not isinstance(value, int):
            raise refuse(422, "Validation error", value=["The value must be an integer."])
        for variant in targets:
            if variant["stock"] is not None:  # infinite stock stays infinite
                at = _level(variant, location)
                products.set_stock(shop, variant, max(0, at + value), location)
    for variant in targets:
        variant["updated_at"] = stamp(now())
    products.touch(tx, hooks, shop["id"], product)
    return targets


def stock_price(tx: Tx, hooks: Webhooks, shop: dict[str, Any], body: Any) -> list[dict[str, Any]]:
    """``PATCH /products/stock-price``: at most 50 variants in all; the whole request is refused on a malformed
    price or stock (422, nothing applied); a variant not found (or not of that product) gets ``success: false``
    and the others are applied."""
    if not isinstance(body, list) or not all(isinstance(entry, dict) for entry in body):
        raise products.bad_input("Invalid input format")
    entries = []
    for entry in body:
        variants = entry.get("variants")
        if as_int(entry.get("id")) is None or not isinstance(variants, list):
            raise refuse(
                422, "Validation error", id=["The id field is required."], variants=["The variants field is required."]
            )
        entries.append((as_int(entry["id"]), variants))
    if sum(len(variants) for _id, variants in entries) > STOCK_PRICE_LIMIT:
        raise refuse(422, "Too many variants sent for update")
    planned: list[tuple[int, list[tuple[int, dict[str, Any]]]]] = []
    for product_id, variants in entries:
        changes = []
        for change in variants:
            if not isinstance(change, dict) or as_int(change.get("id")) is None:
                raise refuse(422, "Validation error", id=["The id field is required."])
            update: dict[str, Any] = {}
            if "price" in change:
                if isinstance(change["price"], bool) or not isinstance(change["price"], int | float | str):
                    raise refuse(422, "Validation error", price=["The price must be a number."])
                update["price"] = money(change["price"], "price", nullable=False)
            if "inventory_levels" in change:
                levels = change["inventory_levels"]
                if not isinstance(levels, list) or not all(isinstance(level, dict) for level in levels):
                    raise refuse(422, "Validation error", inventory_levels=["The inventory levels must be an array."])
                for level in levels:
                    stock = level.get("stock")
                    if isinstance(stock, bool) or not isinstance(stock, int):
                        raise refuse(422, "Validation error", stock=["The stock must be an integer."])
                    if stock < 0:
                        raise refuse(422, "Validation error", stock=["The stock must be at least 0."])
                update["inventory_levels"] = levels
            changes.append((as_int(change["id"]) or 0, update))
        planned.append((product_id or 0, changes))
    answer = []
    for product_id, changes in planned:
        product = tx.get("tn_product", product_id, shop["id"])
        results = []
        touched = False
        for variant_id, update in changes:
            variant = next((v for v in product["variants"] if v["id"] == variant_id), None) if product else None
            located = [level.get("location_id") for level in update.get("inventory_levels", [])]
            if product is None or variant is None:
                results.append({"id": variant_id, "success": False, "error": "Variant with such id does not exist"})
                continue
            if any(location is not None and not stores.has_location(shop, location) for location in located):
                results.append({"id": variant_id, "success": False, "error": "Location with such id does not exist"})
                continue
            if None in located and len(stores.locations(shop)) > 1:
                # A store with several locations must be told which one (spec §2.9).
                results.append({"id": variant_id, "success": False, "error": "The location_id field is required"})
                continue
            products.apply_fields(tx, shop, product, variant, update, creating=False)
            touched = True
            results.append({"id": variant_id, "success": True})
        if product is not None and touched:
            products.touch(tx, hooks, shop["id"], product)
        answer.append({"id": product_id, "variants": results})
    return answer


def take_stock(tx: Tx, shop: dict[str, Any], variant_id: int, quantity: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """A sale (or, negative, a restock) of ``quantity`` units of a variant of the store: the product and the
    variant; infinite stock is untouched; 404 when the variant is unknown."""
    index = tx.get("tn_variant", variant_id, shop["id"])
    if index is None:
        raise not_found("Variant")
    product = products.get(tx, shop["id"], index["product_id"])
    variant = products.variant_of(product, variant_id)
    if variant["stock"] is not None and quantity:
        _take(shop, variant, quantity)
        variant["updated_at"] = stamp(now())
        product["updated_at"] = variant["updated_at"]
        products.save(tx, shop["id"], product)
    return product, variant


def _level(variant: dict[str, Any], location: str | None) -> int:
    """The variant's finite stock at ``location`` (None: its first level)."""
    levels = variant["inventory_levels"]
    level = next((e for e in levels if location is None or e["location_id"] == location), None)
    return int(level["stock"] or 0) if level is not None else 0


def _take(shop: dict[str, Any], variant: dict[str, Any], quantity: int) -> None:
    """A sale takes its units from the locations in order (the default first); a restock (negative) goes back
    to the default location."""
    if quantity < 0:
        products.set_stock(shop, variant, _level(variant, None) - quantity)
        return
    for level in list(variant["inventory_levels"]):
        taken = min(quantity, int(level["stock"] or 0))
        if taken:
            products.set_stock(shop, variant, int(level["stock"]) - taken, level["location_id"])
            quantity -= taken
