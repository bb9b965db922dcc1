"""Products and their variants: create (a single "virtual" variant when none is sent), partial update of the
product-level fields, delete, the list with its filters and sorts, lookup by SKU; the variant endpoints (one,
list, create, update, the collection ``PUT`` that replaces the whole list and the ``PATCH`` that only updates,
delete). Price and stock live only on variants (their stock writes are in ``stock``); ``stock: null`` is
infinite stock; every variant has one inventory level at the store's location."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from alephee.channels.standin_store import Tx
from alephee.channels.tiendanube.standin import categories, images, stores
from alephee.channels.tiendanube.standin.common import (
    MAX_AMOUNT,
    as_int,
    bool_param,
    common_filters,
    first_text,
    invalid,
    lang,
    money,
    not_found,
    now,
    refuse,
    stamp,
    stock_value,
)
from alephee.channels.tiendanube.standin.webhooks import Webhooks

PRODUCT_ID_BASE = 111334700
VARIANT_ID_BASE = 426215900
MAX_VARIANTS = 1000
MAX_ATTRIBUTES = 3
AGE_GROUPS = ("newborn", "infant", "toddler", "kids", "adult")
GENDERS = ("female", "male", "unisex")
PRODUCT_FIELDS = ("brand", "published", "free_shipping", "requires_shipping", "seo_title", "seo_description", "tags")
VARIANT_TEXT = ("sku", "barcode", "mpn")
DIMENSIONS = ("weight", "width", "height", "depth")


def bad_input(description: str) -> Exception:
    """400 in the standard shape (a malformed collection or values)."""
    return refuse(400, description)


# Reading.


def get(tx: Tx, store_id: int, product_id: int) -> dict[str, Any]:
    """The stored product of the store; 404 otherwise."""
    product = tx.get("tn_product", product_id, store_id)
    if product is None:
        raise not_found("Product")
    return product


def render(tx: Tx, store_id: int, product: dict[str, Any]) -> dict[str, Any]:
    """The product as the API answers it (category objects instead of ids)."""
    return product | {"categories": categories.objects(tx, store_id, product["categories"])}


def variant_of(product: dict[str, Any], variant_id: int) -> dict[str, Any]:
    """One variant of the product; 404 otherwise."""
    variant = next((variant for variant in product["variants"] if variant["id"] == variant_id), None)
    if variant is None:
        raise not_found("Variant")
    return variant


def by_sku(tx: Tx, store_id: int, sku: str) -> dict[str, Any]:
    """``GET /products/sku/{sku}``: the first product (lowest id) having a variant with that SKU; 404 otherwise."""
    found = [p for p in tx.find("tn_product", store_id) if any(v["sku"] == sku for v in p["variants"])]
    if not found:
        raise refuse(404, "Product with such sku does not exist")
    return render(tx, store_id, min(found, key=lambda product: product["id"]))


def _price_key(product: dict[str, Any]) -> Decimal:
    prices = [Decimal(v["price"]) for v in product["variants"] if v["price"] is not None]
    return min(prices) if prices else Decimal(0)


SORTS: dict[str, tuple[Any, bool]] = {
    "user": (lambda p: p["id"], False),
    "price-ascending": (_price_key, False),
    "cost-ascending": (_price_key, False),
    "price-descending": (_price_key, True),
    "cost-descending": (_price_key, True),
    "alpha-ascending": (lambda p: first_text(p["name"]).lower(), False),
    "name-ascending": (lambda p: first_text(p["name"]).lower(), False),
    "alpha-descending": (lambda p: first_text(p["name"]).lower(), True),
    "name-descending": (lambda p: first_text(p["name"]).lower(), True),
    "created-at-ascending": (lambda p: (p["created_at"], p["id"]), False),
    "created-at-descending": (lambda p: (p["created_at"], p["id"]), True),
    "best-selling": (lambda p: p["id"], False),
}


def search(tx: Tx, store_id: int, query: dict[str, str]) -> list[dict[str, Any]]:
    """``GET /products``: the store's products by id (or ``sort_by``) with the documented filters."""
    keep = common_filters(query)
    ids = {as_int(part) for part in query.get("ids", "").split(",") if part.strip()}
    if len(ids) > 30 or None in ids:
        raise refuse(400, "Invalid ids")
    sort = SORTS.get(query.get("sort_by") or "user")
    if sort is None:
        raise refuse(400, "Invalid sort_by")
    flags = {name: bool_param(query, name) for name in ("published", "free_shipping", "has_promotional_price")}
    text = query.get("q", "").lower()
    min_stock, max_stock = as_int(query.get("min_stock")), as_int(query.get("max_stock"))
    category = as_int(query.get("category_id"))
    rows = []
    # ``ids`` names the products: read those alone rather than every product of the store.
    listed = [tx.get("tn_product", i, store_id) for i in sorted(ids)] if ids else tx.find("tn_product", store_id)
    for product in (p for p in listed if p is not None):
        variants = product["variants"]
        stock = None if any(v["stock"] is None for v in variants) else sum(v["stock"] for v in variants)
        if not keep(product) or (ids and product["id"] not in ids):
            continue
        if flags["published"] is not None and product["published"] != flags["published"]:
            continue
        if flags["free_shipping"] is not None and product["free_shipping"] != flags["free_shipping"]:
            continue
        promotional = any(v["promotional_price"] is not None for v in variants)
        if flags["has_promotional_price"] is not None and promotional != flags["has_promotional_price"]:
            continue
        if category is not None and category not in product["categories"]:
            continue
        if query.get("handle") and query["handle"] not in product["handle"].values():
            continue
        if min_stock is not None and stock is not None and stock < min_stock:
            continue
        if max_stock is not None and (stock is None or stock > max_stock):
            continue
        if text and not (
            any(text in name.lower() for name in product["name"].values())
            or text in product["tags"].lower()
            or any(text in (v["sku"] or "").lower() for v in variants)
        ):
            continue
        rows.append(product)
    key, reverse = sort
    rows.sort(key=key, reverse=reverse)
    return [render(tx, store_id, product) for product in rows]


def search_variants(tx: Tx, store_id: int, product_id: int, query: dict[str, str]) -> list[dict[str, Any]]:
    """``GET /products/{id}/variants``: by position, filtered by ``since_id`` and dates."""
    keep = common_filters(query)
    return [variant for variant in get(tx, store_id, product_id)["variants"] if keep(variant)]


# Writing a product.


def _attributes(value: Any, codes: list[str]) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise bad_input("Invalid input format")
    attributes = [lang(entry, codes) for entry in value]
    if len(attributes) > MAX_ATTRIBUTES:
        raise refuse(422, f"Product is not allowed to have more than {MAX_ATTRIBUTES} attributes")
    names = [first_text(attribute).lower() for attribute in attributes]
    if len(set(names)) != len(names) or not all(names):
        raise refuse(422, "Product attributes should not be empty or repeated")
    return attributes


def _decimal_text(value: Any, name: str) -> str | None:
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise refuse(422, "Validation error", **{name: [f"The {name} must be a number."]}) from None
    if isinstance(value, bool) or not amount.is_finite() or amount < 0 or amount >= MAX_AMOUNT:
        raise refuse(422, "Validation error", **{name: [f"The {name} must be at least 0."]})
    return str(amount.quantize(Decimal("0.001") if name == "weight" else Decimal("0.01")))


def _video(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not value.startswith("https://"):
        raise refuse(422, "The video url field is not a secure url")
    return value


def _seo(product: dict[str, Any]) -> None:
    for name, limit in (("seo_title", 70), ("seo_description", 320)):
        if product[name] is not None and len(str(product[name])) > limit:
            raise refuse(422, "Validation error", **{name: [f"The {name} may not be greater than {limit} characters."]})


def create(tx: Tx, hooks: Webhooks, shop: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """``POST /products``: the product with its variants (one virtual variant when none is sent)."""
    store_id, codes = shop["id"], stores.languages(shop)
    name = lang(body["name"], codes) if body.get("name") not in (None, "", {}) else {}
    if not first_text(name):
        raise invalid(name=["can't be blank"])
    attributes = _attributes(body.get("attributes", []), codes)
    raw_variants = body.get("variants")
    if raw_variants is None:
        top = {
            key: body[key] for key in ("price", "promotional_price", "stock", "sku", "inventory_levels") if key in body
        }
        raw_variants = [top | {"values": []}]
    if not isinstance(raw_variants, list) or not all(isinstance(entry, dict) for entry in raw_variants):
        raise bad_input("Invalid input format")
    if not raw_variants:
        raise bad_input("There must be at least one variant")
    if len(raw_variants) > MAX_VARIANTS:
        raise refuse(422, f"Product is not allowed to have more than {MAX_VARIANTS} variants")
    moment = stamp(now())
    product_id = tx.next_id("tn_product", PRODUCT_ID_BASE)
    product: dict[str, Any] = {
        "id": product_id,
        "name": name,
        "description": lang(body.get("description", ""), codes),
        "handle": lang(body["handle"], codes)
        if body.get("handle")
        else {k: categories.slug(v) for k, v in name.items()},
        "attributes": attributes,
        "published": bool(body.get("published", True)),
        "free_shipping": bool(body.get("free_shipping", False)),
        "requires_shipping": bool(body.get("requires_shipping", True)),
        "canonical_url": f"https://{shop['original_domain']}/productos/{categories.slug(first_text(name))}/",
        "video_url": _video(body.get("video_url")),
        "seo_title": body.get("seo_title"),
        "seo_description": body.get("seo_description"),
        "brand": body.get("brand"),
        "tags": str(body.get("tags") or ""),
        "created_at": moment,
        "updated_at": moment,
        "variants": [],
        "images": images.build(tx, store_id, product_id, body.get("images", [])),
        "categories": categories.check_ids(tx, store_id, body.get("categories", [])),
    }
    _seo(product)
    for entry in raw_variants:
        product["variants"].append(_new_variant(tx, shop, product, entry))
    _check_unique(product["variants"])
    save(tx, store_id, product)
    hooks.emit(tx, store_id, "product/created", id=product_id)
    return render(tx, store_id, product)


def update(tx: Tx, hooks: Webhooks, shop: dict[str, Any], product_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """``PUT /products/{id}``: product-level fields only (``variants`` are ignored: the variant endpoints change
    them); ``"categories": []`` removes every category."""
    store_id, codes = shop["id"], stores.languages(shop)
    product = get(tx, store_id, product_id)
    if "name" in body:
        name = lang(body["name"], codes)
        if not first_text(name):
            raise invalid(name=["can't be blank"])
        product["name"] = product["name"] | name
    for key in ("description", "handle"):
        if key in body:
            product[key] = product[key] | lang(body[key], codes)
    if "attributes" in body:
        attributes = _attributes(body["attributes"], codes)
        if len(attributes) != len(product["attributes"]):
            raise bad_input("Invalid values format")
        product["attributes"] = attributes
    for key in PRODUCT_FIELDS:
        if key in body:
            product[key] = bool(body[key]) if key in ("published", "free_shipping", "requires_shipping") else body[key]
    product["tags"] = str(product["tags"] or "")
    if "video_url" in body:
        product["video_url"] = _video(body["video_url"])
    if "categories" in body:
        product["categories"] = categories.check_ids(tx, store_id, body["categories"])
    if "images" in body:
        product["images"] = images.build(tx, store_id, product_id, body["images"])
    _seo(product)
    product["updated_at"] = stamp(now())
    save(tx, store_id, product)
    hooks.emit(tx, store_id, "product/updated", id=product_id)
    return render(tx, store_id, product)


def delete(tx: Tx, hooks: Webhooks, store_id: int, product_id: int) -> None:
    """``DELETE /products/{id}``."""
    product = get(tx, store_id, product_id)
    for variant in product["variants"]:
        tx.delete("tn_variant", variant["id"])
    tx.delete("tn_product", product_id)
    hooks.emit(tx, store_id, "product/deleted", id=product_id)


def save(tx: Tx, store_id: int, product: dict[str, Any]) -> None:
    """Store the product (its variants renumbered by position)."""
    for position, variant in enumerate(product["variants"], start=1):
        variant["position"] = position
    tx.put("tn_product", product["id"], product, owner=store_id)


def touch(tx: Tx, hooks: Webhooks, store_id: int, product: dict[str, Any]) -> None:
    """Store a changed product (``updated_at`` now) and send ``product/updated``."""
    product["updated_at"] = stamp(now())
    save(tx, store_id, product)
    hooks.emit(tx, store_id, "product/updated", id=product["id"])


# Variants.


def _new_variant(tx: Tx, shop: dict[str, Any], product: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    moment = stamp(now())
    variant: dict[str, Any] = {
        "id": tx.next_id("tn_variant", VARIANT_ID_BASE),
        "product_id": product["id"],
        "image_id": None,
        "position": len(product["variants"]) + 1,
        "price": None,
        "compare_at_price": None,
        "promotional_price": None,
        "cost": None,
        "stock_management": False,
        "stock": None,
        "inventory_levels": [],
        "sku": None,
        "barcode": None,
        "mpn": None,
        "age_group": None,
        "gender": None,
        "weight": None,
        "width": None,
        "height": None,
        "depth": None,
        "values": [],
        "visible": True,
        "created_at": moment,
        "updated_at": moment,
    }
    apply_fields(tx, shop, product, variant, body, creating=True)
    tx.put("tn_variant", variant["id"], {"product_id": product["id"]}, owner=shop["id"])
    return variant


def apply_fields(
    tx: Tx,
    shop: dict[str, Any],
    product: dict[str, Any],
    variant: dict[str, Any],
    body: dict[str, Any],
    *,
    creating: bool,
) -> None:
    """Write the sent variant fields onto ``variant`` (validating each)."""
    codes = stores.languages(shop)
    if "values" in body or creating:
        values = body.get("values", [])
        if not isinstance(values, list):
            raise bad_input("Invalid values format")
        if len(values) != len(product["attributes"]):
            raise bad_input("Variant values should not be empty" if not values else "Invalid values format")
        variant["values"] = [lang(value, codes) for value in values]
    for name in ("price", "promotional_price"):
        if name in body:
            variant[name] = money(body[name], name)
    if "cost" in body:
        variant["cost"] = money(body["cost"], "cost")
        if variant["cost"] is not None and Decimal(variant["cost"]) <= 0:
            raise refuse(422, "Validation error", cost=["The cost must be greater than 0."])
    for name in VARIANT_TEXT:
        if name in body:
            variant[name] = None if body[name] in (None, "") else str(body[name])
    for name in DIMENSIONS:
        if name in body:
            variant[name] = _decimal_text(body[name], name)
    if "age_group" in body:
        if body["age_group"] not in (None, *AGE_GROUPS):
            raise refuse(422, "Validation error", age_group=["The selected age group is invalid."])
        variant["age_group"] = body["age_group"]
    if "gender" in body:
        if body["gender"] not in (None, *GENDERS):
            raise refuse(422, "Validation error", gender=["The selected gender is invalid."])
        variant["gender"] = body["gender"]
    if "image_id" in body:
        image = as_int(body["image_id"])
        if body["image_id"] is not None and all(image != entry["id"] for entry in product["images"]):
            raise refuse(422, "Validation error", image_id=["The selected image id is invalid."])
        variant["image_id"] = image
    if "visible" in body:
        variant["visible"] = bool(body["visible"])
    if "inventory_levels" in body:
        levels = body["inventory_levels"]
        if not isinstance(levels, list) or not all(isinstance(level, dict) for level in levels):
            raise bad_input("Invalid input format")
        for level in levels:
            location = level.get("location_id")
            if location is not None and not stores.has_location(shop, location):
                raise refuse(422, "Validation error", location_id=["The selected location id is invalid."])
            set_stock(shop, variant, stock_value(level.get("stock")), location)
    elif "stock" in body:
        set_stock(shop, variant, stock_value(body["stock"]))
    elif creating:
        set_stock(shop, variant, None)
    variant["updated_at"] = stamp(now())


def set_stock(shop: dict[str, Any], variant: dict[str, Any], stock: int | None, location: str | None = None) -> None:
    """The variant's stock at ``location`` (None: its first inventory level, the default location's on a new
    variant, as the platform writes a bare ``stock``); ``stock`` is then the total over its levels and
    ``stock_management`` follows. Infinite stock (None) is the variant's, at every level."""
    moment = stamp(now())
    levels: list[dict[str, Any]] = variant["inventory_levels"]
    target = location or (levels[0]["location_id"] if levels else shop["_location"])
    level = next((entry for entry in levels if entry["location_id"] == target), None)
    if level is None:
        level = {"id": f"{variant['id']}-{target}", "variant_id": variant["id"], "location_id": target}
        level["created_at"] = moment
        levels.append(level)
    for entry in levels:
        # Infinite is all or nothing: a number at one level makes the others count from 0.
        entry["stock"] = None if stock is None else (entry["stock"] if entry.get("stock") is not None else 0)
    level["stock"] = stock
    level["updated_at"] = moment
    variant["stock"] = None if stock is None else sum(entry["stock"] for entry in levels)
    variant["stock_management"] = stock is not None


def _combination(variant: dict[str, Any]) -> tuple[str, ...]:
    return tuple(first_text(value).strip().lower() for value in variant["values"])


def _check_unique(variants: list[dict[str, Any]]) -> None:
    seen: dict[tuple[str, ...], int] = {}
    duplicates = []
    for variant in variants:
        key = _combination(variant)
        if key in seen:
            duplicates += [seen[key], variant["id"]]
        seen.setdefault(key, variant["id"])
    if duplicates:
        raise refuse(422, "Variants cannot be repeated", duplicate_variant_ids=sorted(set(duplicates)))


def create_variant(
    tx: Tx, hooks: Webhooks, shop: dict[str, Any], product_id: int, body: dict[str, Any]
) -> dict[str, Any]:
    """``POST /products/{id}/variants``."""
    product = get(tx, shop["id"], product_id)
    if len(product["variants"]) >= MAX_VARIANTS:
        raise refuse(422, f"Product is not allowed to have more than {MAX_VARIANTS} variants")
    variant = _new_variant(tx, shop, product, body)
    if any(_combination(other) == _combination(variant) for other in product["variants"]):
        raise refuse(422, "Variants cannot be repeated")
    product["variants"].append(variant)
    touch(tx, hooks, shop["id"], product)
    return variant


def update_variant(
    tx: Tx, hooks: Webhooks, shop: dict[str, Any], product_id: int, variant_id: int, body: dict[str, Any]
) -> dict[str, Any]:
    """``PUT /products/{id}/variants/{variant_id}``: only what is sent changes."""
    product = get(tx, shop["id"], product_id)
    variant = variant_of(product, variant_id)
    apply_fields(tx, shop, product, variant, body, creating=False)
    _check_unique(product["variants"])
    touch(tx, hooks, shop["id"], product)
    return variant


def replace_variants(tx: Tx, hooks: Webhooks, shop: dict[str, Any], product_id: int, body: Any) -> list[dict[str, Any]]:
    """``PUT /products/{id}/variants``: the body is the whole collection — variants matched by their ``values``
    are updated, new combinations created, and every variant absent from the body deleted."""
    product = get(tx, shop["id"], product_id)
    if not isinstance(body, list) or not all(isinstance(entry, dict) for entry in body):
        raise bad_input("Invalid input format")
    if not body:
        raise bad_input("There must be at least one variant")
    if len(body) > MAX_VARIANTS:
        raise refuse(422, f"Product is not allowed to have more than {MAX_VARIANTS} variants.")
    codes = stores.languages(shop)
    keys = []
    for entry in body:
        values = entry.get("values")
        if product["attributes"] and not values:
            raise bad_input("Variant values should not be empty")
        if not isinstance(values if values is not None else [], list):
            raise bad_input("Invalid values format")
        keys.append(tuple(first_text(lang(value, codes)).strip().lower() for value in values or []))
    if len(set(keys)) != len(keys):
        raise refuse(422, "Variant values should not be repeated")
    existing = {_combination(variant): variant for variant in product["variants"]}
    result = []
    for key, entry in zip(keys, body, strict=True):
        entry = entry | {"values": entry.get("values") or []}
        if key in existing:
            variant = existing.pop(key)
            apply_fields(tx, shop, product, variant, {k: v for k, v in entry.items() if k != "id"}, creating=False)
        else:
            variant = _new_variant(tx, shop, product, {k: v for k, v in entry.items() if k != "id"})
        result.append(variant)
    for gone in existing.values():
        tx.delete("tn_variant", gone["id"])
    product["variants"] = result
    touch(tx, hooks, shop["id"], product)
    return product["variants"]


def patch_variants(tx: Tx, hooks: Webhooks, shop: dict[str, Any], product_id: int, body: Any) -> list[dict[str, Any]]:
    """``PATCH /products/{id}/variants``: updates the variants named by ``id`` (never creates or deletes)."""
    product = get(tx, shop["id"], product_id)
    if not isinstance(body, list) or not all(isinstance(entry, dict) for entry in body):
        raise bad_input("Invalid input format")
    for entry in body:
        variant_id = as_int(entry.get("id"))
        if variant_id is None:
            raise refuse(422, "Validation error", id=["The id field is required."])
        variant = next((variant for variant in product["variants"] if variant["id"] == variant_id), None)
        if variant is None:
            raise refuse(422, f"Variant {variant_id} does not exist or does not belong to the product")
        apply_fields(tx, shop, product, variant, {k: v for k, v in entry.items() if k != "id"}, creating=False)
    _check_unique(product["variants"])
    touch(tx, hooks, shop["id"], product)
    return product["variants"]


def delete_variant(tx: Tx, hooks: Webhooks, shop: dict[str, Any], product_id: int, variant_id: int) -> None:
    """``DELETE /products/{id}/variants/{variant_id}`` (the last variant stays: 422)."""
    product = get(tx, shop["id"], product_id)
    variant_of(product, variant_id)
    if len(product["variants"]) == 1:
        raise refuse(422, "There must be at least one variant")
    product["variants"] = [variant for variant in product["variants"] if variant["id"] != variant_id]
    tx.delete("tn_variant", variant_id)
    touch(tx, hooks, shop["id"], product)
