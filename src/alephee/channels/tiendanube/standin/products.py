"""Products and their variants: create (a single "virtual" variant when none is sent), partial update of the
product-level fields, delete, the list with its filters and sorts, lookup by SKU; the variant endpoints (one,
list, create, update, the collection ``PUT`` that replaces the whole list and the ``PATCH`` that only updates,
delete, ``POST …/variants/stock``) and the ``PATCH /products/stock-price`` batch. Price and stock live only on
variants; ``stock: null`` is infinite stock; every variant has one inventory level at the store's location."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from alephee.channels.standin_store import Tx
from alephee.channels.tiendanube.standin import categories, stores
from alephee.channels.tiendanube.standin.common import (
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
IMAGE_ID_BASE = 2000000000
MAX_VARIANTS = 1000
MAX_IMAGES = 250
MAX_ATTRIBUTES = 3
STOCK_PRICE_LIMIT = 50
CDN = "https://cdn.tiendanube.example/stores"
AGE_GROUPS = ("newborn", "infant", "toddler", "kids", "adult")
GENDERS = ("female", "male", "unisex")
PRODUCT_FIELDS = ("brand", "published", "free_shipping", "requires_shipping", "seo_title", "seo_description", "tags")
VARIANT_TEXT = ("sku", "barcode", "mpn")
DIMENSIONS = ("weight", "width", "height", "depth")


def _bad(description: str) -> Exception:
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
    for product in tx.find("tn_product", store_id):
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
        raise _bad("Invalid input format")
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
    if isinstance(value, bool) or not amount.is_finite() or amount < 0:
        raise refuse(422, "Validation error", **{name: [f"The {name} must be at least 0."]})
    return str(amount.quantize(Decimal("0.001") if name == "weight" else Decimal("0.01")))


def _images(tx: Tx, store_id: int, product_id: int, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise _bad("Invalid input format")
    if len(value) > MAX_IMAGES:
        raise refuse(422, f"Product is not allowed to have more than {MAX_IMAGES} images")
    images = []
    moment = stamp(now())
    for position, entry in enumerate(value, start=1):
        src = entry.get("src") if isinstance(entry, dict) else None
        if not isinstance(src, str) or not src.strip():
            raise invalid(src=["can't be blank"])
        image_id = tx.next_id("tn_image", IMAGE_ID_BASE)
        name = src.rstrip("/").rsplit("/", 1)[-1].split("?")[0] or "image.jpg"
        images.append(
            {
                "id": image_id,
                "product_id": product_id,
                "src": f"{CDN}/{store_id}/products/{image_id}-{name}",
                "position": as_int(entry.get("position")) or position,
                "alt": entry.get("alt") or [],
                "created_at": moment,
                "updated_at": moment,
            }
        )
    return images


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
        raise _bad("Invalid input format")
    if not raw_variants:
        raise _bad("There must be at least one variant")
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
        "images": _images(tx, store_id, product_id, body.get("images", [])),
        "categories": categories.check_ids(tx, store_id, body.get("categories", [])),
    }
    _seo(product)
    for entry in raw_variants:
        product["variants"].append(_new_variant(tx, shop, product, entry))
    _check_unique(product["variants"])
    _save(tx, store_id, product)
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
            raise _bad("Invalid values format")
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
        product["images"] = _images(tx, store_id, product_id, body["images"])
    _seo(product)
    product["updated_at"] = stamp(now())
    _save(tx, store_id, product)
    hooks.emit(tx, store_id, "product/updated", id=product_id)
    return render(tx, store_id, product)


def delete(tx: Tx, hooks: Webhooks, store_id: int, product_id: int) -> None:
    """``DELETE /products/{id}``."""
    product = get(tx, store_id, product_id)
    for variant in product["variants"]:
        tx.delete("tn_variant", variant["id"])
    tx.delete("tn_product", product_id)
    hooks.emit(tx, store_id, "product/deleted", id=product_id)


def _save(tx: Tx, store_id: int, product: dict[str, Any]) -> None:
    for position, variant in enumerate(product["variants"], start=1):
        variant["position"] = position
    tx.put("tn_product", product["id"], product, owner=store_id)


def _touch(tx: Tx, hooks: Webhooks, store_id: int, product: dict[str, Any]) -> None:
    product["updated_at"] = stamp(now())
    _save(tx, store_id, product)
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
    _apply(tx, shop, product, variant, body, creating=True)
    tx.put("tn_variant", variant["id"], {"product_id": product["id"]}, owner=shop["id"])
    return variant


def _apply(
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
            raise _bad("Invalid values format")
        if len(values) != len(product["attributes"]):
            raise _bad("Variant values should not be empty" if not values else "Invalid values format")
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
            raise _bad("Invalid input format")
        for level in levels:
            location = level.get("location_id")
            if location is not None and location != shop["_location"]:
                raise refuse(422, "Validation error", location_id=["The selected location id is invalid."])
            set_stock(shop, variant, stock_value(level.get("stock")))
    elif "stock" in body:
        set_stock(shop, variant, stock_value(body["stock"]))
    elif creating:
        set_stock(shop, variant, None)
    variant["updated_at"] = stamp(now())


def set_stock(shop: dict[str, Any], variant: dict[str, Any], stock: int | None) -> None:
    """The variant's stock (None: infinite), its computed ``stock_management`` and its inventory level."""
    variant["stock"] = stock
    variant["stock_management"] = stock is not None
    moment = stamp(now())
    level = variant["inventory_levels"][0] if variant["inventory_levels"] else None
    variant["inventory_levels"] = [
        {
            "id": level["id"] if level else f"{variant['id']}-{shop['_location']}",
            "variant_id": variant["id"],
            "location_id": shop["_location"],
            "stock": stock,
            "created_at": level["created_at"] if level else moment,
            "updated_at": moment,
        }
    ]


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
    _touch(tx, hooks, shop["id"], product)
    return variant


def update_variant(
    tx: Tx, hooks: Webhooks, shop: dict[str, Any], product_id: int, variant_id: int, body: dict[str, Any]
) -> dict[str, Any]:
    """``PUT /products/{id}/variants/{variant_id}``: only what is sent changes."""
    product = get(tx, shop["id"], product_id)
    variant = variant_of(product, variant_id)
    _apply(tx, shop, product, variant, body, creating=False)
    _check_unique(product["variants"])
    _touch(tx, hooks, shop["id"], product)
    return variant


def replace_variants(tx: Tx, hooks: Webhooks, shop: dict[str, Any], product_id: int, body: Any) -> list[dict[str, Any]]:
    """``PUT /products/{id}/variants``: the body is the whole collection — variants matched by their ``values``
    are updated, new combinations created, and every variant absent from the body deleted."""
    product = get(tx, shop["id"], product_id)
    if not isinstance(body, list) or not all(isinstance(entry, dict) for entry in body):
        raise _bad("Invalid input format")
    if not body:
        raise _bad("There must be at least one variant")
    if len(body) > MAX_VARIANTS:
        raise refuse(422, f"Product is not allowed to have more than {MAX_VARIANTS} variants.")
    codes = stores.languages(shop)
    keys = []
    for entry in body:
        values = entry.get("values")
        if product["attributes"] and not values:
            raise _bad("Variant values should not be empty")
        if not isinstance(values if values is not None else [], list):
            raise _bad("Invalid values format")
        keys.append(tuple(first_text(lang(value, codes)).strip().lower() for value in values or []))
    if len(set(keys)) != len(keys):
        raise refuse(422, "Variant values should not be repeated")
    existing = {_combination(variant): variant for variant in product["variants"]}
    result = []
    for key, entry in zip(keys, body, strict=True):
        entry = entry | {"values": entry.get("values") or []}
        if key in existing:
            variant = existing.pop(key)
            _apply(tx, shop, product, variant, {k: v for k, v in entry.items() if k != "id"}, creating=False)
        else:
            variant = _new_variant(tx, shop, product, {k: v for k, v in entry.items() if k != "id"})
        result.append(variant)
    for gone in existing.values():
        tx.delete("tn_variant", gone["id"])
    product["variants"] = result
    _touch(tx, hooks, shop["id"], product)
    return product["variants"]


def patch_variants(tx: Tx, hooks: Webhooks, shop: dict[str, Any], product_id: int, body: Any) -> list[dict[str, Any]]:
    """``PATCH /products/{id}/variants``: updates the variants named by ``id`` (never creates or deletes)."""
    product = get(tx, shop["id"], product_id)
    if not isinstance(body, list) or not all(isinstance(entry, dict) for entry in body):
        raise _bad("Invalid input format")
    for entry in body:
        variant_id = as_int(entry.get("id"))
        if variant_id is None:
            raise refuse(422, "Validation error", id=["The id field is required."])
        variant = next((variant for variant in product["variants"] if variant["id"] == variant_id), None)
        if variant is None:
            raise refuse(422, f"Variant {variant_id} does not exist or does not belong to the product")
        _apply(tx, shop, product, variant, {k: v for k, v in entry.items() if k != "id"}, creating=False)
    _check_unique(product["variants"])
    _touch(tx, hooks, shop["id"], product)
    return product["variants"]


def delete_variant(tx: Tx, hooks: Webhooks, shop: dict[str, Any], product_id: int, variant_id: int) -> None:
    """``DELETE /products/{id}/variants/{variant_id}`` (the last variant stays: 422)."""
    product = get(tx, shop["id"], product_id)
    variant_of(product, variant_id)
    if len(product["variants"]) == 1:
        raise refuse(422, "There must be at least one variant")
    product["variants"] = [variant for variant in product["variants"] if variant["id"] != variant_id]
    tx.delete("tn_variant", variant_id)
    _touch(tx, hooks, shop["id"], product)


def change_stock(
    tx: Tx, hooks: Webhooks, shop: dict[str, Any], product_id: int, body: dict[str, Any]
) -> list[dict[str, Any]]:
    """``POST /products/{id}/variants/stock``: ``replace`` (``null`` = infinite) or ``variation`` (clamped at 0) of
    one variant (``id``) or of all; the updated variants."""
    product = get(tx, shop["id"], product_id)
    action = body.get("action")
    if action not in ("replace", "variation"):
        raise refuse(422, "Valid actions are 'replace', 'variation'.")
    location = body.get("location_id")
    if location is not None and location != shop["_location"]:
        raise refuse(422, "Validation error", location_id=["The selected location id is invalid."])
    if "value" not in body:
        raise refuse(422, "Validation error", value=["The value field is required."])
    value = body["value"]
    targets = product["variants"]
    if body.get("id") is not None:
        targets = [variant_of(product, as_int(body["id"]) or 0)]
    if action == "replace":
        stock = stock_value(value)
        for variant in targets:
            set_stock(shop, variant, stock)
    else:
        if isinstance(value, bool) or not isinstance(value, int):
            raise refuse(422, "Validation error", value=["The value must be an integer."])
        for variant in targets:
            if variant["stock"] is not None:  # infinite stock stays infinite
                set_stock(shop, variant, max(0, variant["stock"] + value))
    for variant in targets:
        variant["updated_at"] = stamp(now())
    _touch(tx, hooks, shop["id"], product)
    return targets


def stock_price(tx: Tx, hooks: Webhooks, shop: dict[str, Any], body: Any) -> list[dict[str, Any]]:
    """``PATCH /products/stock-price``: at most 50 variants in all; the whole request is refused on a malformed
    price or stock (422, nothing applied); a variant not found (or not of that product) gets ``success: false``
    and the others are applied."""
    if not isinstance(body, list) or not all(isinstance(entry, dict) for entry in body):
        raise _bad("Invalid input format")
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
                    update["inventory_levels"] = [level]
            changes.append((as_int(change["id"]) or 0, update))
        planned.append((product_id or 0, changes))
    answer = []
    for product_id, changes in planned:
        product = tx.get("tn_product", product_id, shop["id"])
        results = []
        touched = False
        for variant_id, update in changes:
            variant = next((v for v in product["variants"] if v["id"] == variant_id), None) if product else None
            location = (update.get("inventory_levels") or [{}])[0].get("location_id")
            if product is None or variant is None:
                results.append({"id": variant_id, "success": False, "error": "Variant with such id does not exist"})
                continue
            if location is not None and location != shop["_location"]:
                results.append({"id": variant_id, "success": False, "error": "Location with such id does not exist"})
                continue
            _apply(tx, shop, product, variant, update, creating=False)
            touched = True
            results.append({"id": variant_id, "success": True})
        if product is not None and touched:
            _touch(tx, hooks, shop["id"], product)
        answer.append({"id": product_id, "variants": results})
    return answer


def take_stock(tx: Tx, shop: dict[str, Any], variant_id: int, quantity: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """A sale (or, negative, a restock) of ``quantity`` units of a variant of the store: the product and the
    variant; infinite stock is untouched; 404 when the variant is unknown."""
    index = tx.get("tn_variant", variant_id, shop["id"])
    if index is None:
        raise not_found("Variant")
    product = get(tx, shop["id"], index["product_id"])
    variant = variant_of(product, variant_id)
    if variant["stock"] is not None and quantity:
        set_stock(shop, variant, max(0, variant["stock"] - quantity))
        variant["updated_at"] = stamp(now())
        product["updated_at"] = variant["updated_at"]
        _save(tx, shop["id"], product)
    return product, variant
