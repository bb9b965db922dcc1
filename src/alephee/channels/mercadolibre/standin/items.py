"""Items: publishing with Mercado Libre's validation, its item document, updates with its rules
(stock 0 pauses, restock reactivates unless paused by the seller, ``closed`` is final, the title freezes after
a sale, variations, price automation) and the stock moves a sale or a cancellation makes.

Items of the User Products model (tag ``user_product_listing``) are one variation each, sent with a
``family_name`` and no ``title``; each gets a ``user_product_id`` (``MLAU`` + digits) and its family's
``family_id``, and its changes also notify ``user_products`` (and ``stock-location`` when its stock moves)."""

from __future__ import annotations

import re
import unicodedata
import zlib
from typing import Any

from alephee.channels.mercadolibre.standin.common import SITES, MLError, now, refuse, utc_text
from alephee.channels.mercadolibre.standin.notify import Notifier
from alephee.channels.standin_store import Tx

ALLOWED_FIELDS = {
    "title", "category_id", "price", "currency_id", "available_quantity", "buying_mode", "condition",
    "listing_type_id", "sale_terms", "pictures", "attributes", "variations", "shipping", "channels",
    "official_store_id", "tags", "seller_custom_field", "video_id", "family_name",
}  # fmt: skip
UPDATABLE_FIELDS = {
    "title", "price", "available_quantity", "status", "deleted", "variations", "pictures", "attributes",
    "sale_terms", "shipping", "listing_type_id", "video_id", "channels", "seller_custom_field", "condition",
}  # fmt: skip
CONDITIONS = {"new", "used", "not_specified"}
LISTING_TYPES = {"gold_special", "gold_pro", "gold_premium", "gold", "silver", "bronze", "free"}
SELLER_STATUSES = {"active", "paused", "closed"}
MAX_TITLE_LENGTH = 60
PRICE_AUTOMATION = "price_automation"
USER_PRODUCT_TAG = "user_product_listing"


def is_user_product(item: dict[str, Any]) -> bool:
    """Whether a body or item is of the User Products model (tagged ``user_product_listing``)."""
    tags = item.get("tags")
    return isinstance(tags, list) and USER_PRODUCT_TAG in tags


def _cause(code: str, message: str, reference: str, kind: str = "error") -> dict[str, Any]:
    return {
        "department": "items",
        "cause_id": zlib.crc32(code.encode()) % 10000,
        "type": kind,
        "code": code,
        "references": [reference],
        "message": message,
    }


def validation_error(causes: list[dict[str, Any]]) -> MLError:
    """400 ``validation_error`` with its ``cause[]`` (Mercado Libre's cause shape)."""
    return refuse(400, "validation_error", "Validation error", causes)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_attributes(attributes: Any, reference: str, causes: list[dict[str, Any]]) -> None:
    if not isinstance(attributes, list) or any(
        not isinstance(a, dict) or not a.get("id") or not (a.get("value_name") or a.get("value_id")) for a in attributes
    ):
        causes.append(_cause("item.attributes.invalid", "Attributes need an id and a value_name", reference))


def validate_new(body: dict[str, Any], site_id: str) -> None:
    """Refuse a ``POST /items`` body the way Mercado Libre does (one cause per problem)."""
    unknown = sorted(set(body) - ALLOWED_FIELDS)
    if unknown:
        message = f"The fields [{', '.join(unknown)}] are invalid for requested call."
        raise MLError(400, {"message": "body.invalid_fields", "error": message, "status": 400, "cause": []})
    causes: list[dict[str, Any]] = []
    if is_user_product(body):
        _check_user_product(body, causes)
    else:
        _check_title(body, causes)
    category = body.get("category_id")
    if not isinstance(category, str) or not re.fullmatch(rf"{site_id}\d+", category):
        causes.append(_cause("item.category_id.invalid", f"Category {category} does not exist", "item.category_id"))
    if not _is_number(body.get("price")) or body["price"] <= 0:
        causes.append(_cause("item.price.invalid", "Price must be greater than 0", "item.price"))
    if body.get("currency_id") != SITES[site_id][0]:
        message = f"Currency {body.get('currency_id')} is not valid for site {site_id}"
        causes.append(_cause("item.currency_id.invalid", message, "item.currency_id"))
    quantity = body.get("available_quantity")
    stock_from_variations = bool(body.get("variations")) and quantity is None
    if not stock_from_variations and (not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0):
        message = "available_quantity must be 0 or more"
        causes.append(_cause("item.available_quantity.invalid", message, "item.available_quantity"))
    if body.get("buying_mode") != "buy_it_now":
        causes.append(_cause("item.buying_mode.invalid", "Buying mode must be buy_it_now", "item.buying_mode"))
    if body.get("condition") not in CONDITIONS:
        causes.append(
            _cause("item.condition.invalid", "Condition must be new, used or not_specified", "item.condition")
        )
    if body.get("listing_type_id") not in LISTING_TYPES:
        message = f"Listing type {body.get('listing_type_id')} is not valid"
        causes.append(_cause("item.listing_type_id.invalid", message, "item.listing_type_id"))
    pictures = body.get("pictures")
    if (
        not isinstance(pictures, list)
        or not pictures
        or any(not isinstance(p, dict) or not isinstance(p.get("source"), str) or not p["source"] for p in pictures)
    ):
        causes.append(
            _cause("item.pictures.invalid", "At least one picture with a source is required", "item.pictures")
        )
    _check_attributes(body.get("attributes", []), "item.attributes", causes)
    variations = body.get("variations", [])
    if not isinstance(variations, list):
        causes.append(_cause("item.variations.invalid", "Variations must be a list", "item.variations"))
    else:
        for variation in variations:
            _check_variation(variation, causes, new=True)
        _check_new_variations(body, variations, causes)
    if causes:
        raise validation_error(causes)


def _check_title(body: dict[str, Any], causes: list[dict[str, Any]]) -> None:
    title = body.get("title")
    if "family_name" in body:
        message = "family_name is sent only for items of the User Products model"
        causes.append(_cause("item.family_name.invalid", message, "item.family_name"))
    if not isinstance(title, str) or not title.strip():
        causes.append(_cause("item.title.required", "Title is required", "item.title"))
    elif len(title) > MAX_TITLE_LENGTH:
        causes.append(_cause("item.title.length", f"Title is longer than {MAX_TITLE_LENGTH}", "item.title"))


def _check_user_product(body: dict[str, Any], causes: list[dict[str, Any]]) -> None:
    """An item of the User Products model: a ``family_name``, no ``title``, no ``variations`` (one each)."""
    family = body.get("family_name")
    if not isinstance(family, str) or not family.strip():
        causes.append(_cause("item.family_name.required", "family_name is required", "item.family_name"))
    elif len(family) > MAX_TITLE_LENGTH:
        message = f"family_name is longer than {MAX_TITLE_LENGTH}"
        causes.append(_cause("item.family_name.length", message, "item.family_name"))
    if "title" in body:
        message = "Title is not sent for items of the User Products model (send family_name)"
        causes.append(_cause("item.title.invalid", message, "item.title"))
    if body.get("variations"):
        message = "An item of the User Products model is one variation: publish one item per variation"
        causes.append(_cause("item.variations.invalid", message, "item.variations"))


def _user_product(tx: Tx, seller_id: int, site_id: str, family_name: str) -> tuple[str, int]:
    """A new ``user_product_id`` and the family's ``family_id`` (one per seller and family name)."""
    user_product_id = f"{site_id}U{tx.next_id('user_product', 1000000000)}"
    key = f"{seller_id}:{family_name.strip().lower()}"
    family = tx.get("family", key)
    if family is None:
        family = {"id": tx.next_id("family", 9000000000)}
        tx.put("family", key, family, owner=seller_id)
    return user_product_id, int(family["id"])


def _check_new_variations(body: dict[str, Any], variations: list[Any], causes: list[dict[str, Any]]) -> None:
    """The legacy model's rules for the variations of a new item: one price for all (the item's), a distinct
    attribute combination each, and pictures that are the item's (``picture_ids`` name their sources)."""
    sent = [v for v in variations if isinstance(v, dict)]
    prices = {v["price"] for v in sent if _is_number(v.get("price"))}
    if _is_number(body.get("price")):
        prices.add(body["price"])
    if len(prices) > 1:
        message = "All the variations of an item must have the same price"
        causes.append(_cause("item.variations.price.different", message, "item.variations"))
    combined = "attribute_combinations"
    combinations = [
        tuple(sorted((str(a.get("id") or a.get("name")), str(a.get("value_name"))) for a in v[combined]))
        for v in sent
        if isinstance(v.get(combined), list) and all(isinstance(a, dict) for a in v[combined])
    ]
    if len(set(combinations)) != len(combinations):
        message = "Variations must have different attribute_combinations"
        causes.append(_cause("item.variations.attribute_combinations.duplicated", message, "item.variations"))
    sources = {p.get("source") for p in body.get("pictures") or [] if isinstance(p, dict)}
    if any(picture not in sources for v in sent for picture in v.get("picture_ids") or []):
        message = "Variation picture_ids must be pictures of the item"
        causes.append(_cause("item.variations.picture_ids.invalid", message, "item.variations"))


def _check_variation(variation: Any, causes: list[dict[str, Any]], *, new: bool) -> None:
    if not isinstance(variation, dict):
        causes.append(_cause("item.variations.invalid", "A variation must be an object", "item.variations"))
        return
    quantity = variation.get("available_quantity")
    if new and (not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0):
        message = "Variation available_quantity must be 0 or more"
        causes.append(_cause("item.variations.available_quantity.invalid", message, "item.variations"))
    if new and not variation.get("attribute_combinations"):
        message = "Variation attribute_combinations are required"
        causes.append(_cause("item.variations.attribute_combinations.invalid", message, "item.variations"))
    if "price" in variation and (not _is_number(variation["price"]) or variation["price"] <= 0):
        causes.append(
            _cause("item.variations.price.invalid", "Variation price must be greater than 0", "item.variations")
        )
    _check_attributes(variation.get("attributes", []), "item.variations.attributes", causes)


def _slug(title: str) -> str:
    plain = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-")


def _attribute(entry: dict[str, Any]) -> dict[str, Any]:
    # A combination Mercado Libre has no attribute id for is sent by name (a custom attribute, without id).
    return {
        "id": entry.get("id"),
        "name": entry.get("name") or str(entry.get("id")).replace("_", " ").title(),
        "value_id": entry.get("value_id"),
        "value_name": entry.get("value_name"),
        "value_type": "string",
        "attribute_group_id": "OTHERS",
    }


def _variation(tx: Tx, entry: dict[str, Any], price: float) -> dict[str, Any]:
    return {
        "id": int(entry["id"]) if entry.get("id") else tx.next_id("variation", 180000000000),
        "price": entry.get("price", price),
        "attribute_combinations": [_attribute(a) for a in entry.get("attribute_combinations", [])],
        "available_quantity": entry.get("available_quantity", 0),
        "sold_quantity": entry.get("sold_quantity", 0),
        "sale_terms": entry.get("sale_terms", []),
        "picture_ids": entry.get("picture_ids", []),
        "catalog_product_id": None,
        "attributes": [_attribute(a) for a in entry.get("attributes", [])],
    }


def create(tx: Tx, notifier: Notifier, seller_id: int, site_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Publish an item (validated first); its document as ``GET /items/{id}`` answers it."""
    validate_new(body, site_id)
    item_id = f"{site_id}{tx.next_id('item', 1000000000)}"
    moment = utc_text(now())
    pictures = [
        {
            "id": f"{index + 1}{item_id[3:]}-{site_id}",
            "url": picture["source"],
            "secure_url": picture["source"],
            "size": "500x500",
            "max_size": "1200x1200",
            "quality": "",
        }
        for index, picture in enumerate(body["pictures"])
    ]
    picture_ids = {picture["url"]: picture["id"] for picture in pictures}
    variations = [_variation(tx, v, body["price"]) for v in body.get("variations", [])]
    for variation in variations:
        variation["picture_ids"] = [picture_ids.get(p, p) for p in variation["picture_ids"]]
    quantity = sum(v["available_quantity"] for v in variations) if variations else body["available_quantity"]
    shipping = body.get("shipping") or {}
    title = body.get("title") or body["family_name"]
    user_product_id, family_id = (
        _user_product(tx, seller_id, site_id, body["family_name"]) if is_user_product(body) else (None, None)
    )
    item: dict[str, Any] = {
        "id": item_id,
        "site_id": site_id,
        "title": title,
        "seller_id": seller_id,
        "category_id": body["category_id"],
        "user_product_id": user_product_id,
        "family_name": body.get("family_name"),
        "family_id": family_id,
        "official_store_id": body.get("official_store_id"),
        "price": body["price"],
        "base_price": body["price"],
        "original_price": None,
        "currency_id": body["currency_id"],
        "initial_quantity": quantity,
        "available_quantity": quantity,
        "sold_quantity": 0,
        "sale_terms": body.get("sale_terms", []),
        "buying_mode": "buy_it_now",
        "listing_type_id": body["listing_type_id"],
        "condition": body["condition"],
        "permalink": f"https://articulo.{SITES[site_id][2]}/{site_id}-{item_id[3:]}-{_slug(title)}-_JM",
        "pictures": pictures,
        "video_id": body.get("video_id"),
        "descriptions": [],
        "shipping": {
            "mode": shipping.get("mode", "me2"),
            "free_methods": shipping.get("free_methods", []),
            "tags": [],
            "dimensions": shipping.get("dimensions"),
            "local_pick_up": shipping.get("local_pick_up", False),
            "free_shipping": shipping.get("free_shipping", False),
            "logistic_type": shipping.get("logistic_type", "drop_off"),
            "store_pick_up": False,
        },
        "attributes": [_attribute(a) for a in body.get("attributes", [])],
        "variations": variations,
        "status": "active",
        "sub_status": [],
        "tags": sorted({*body.get("tags", []), "test_item", "immediate_payment"}),
        "catalog_product_id": None,
        "catalog_listing": False,
        "channels": body.get("channels", ["marketplace"]),
        "seller_custom_field": body.get("seller_custom_field"),
        "health": None,
        "date_created": moment,
        "last_updated": moment,
    }
    _apply_stock_rule(item)
    save(tx, notifier, item, created=True)
    return item


def save(tx: Tx, notifier: Notifier, item: dict[str, Any], *, created: bool = False) -> None:
    """Store the item (stamping ``last_updated``) and notify ``items``; an item of the User Products model also
    notifies ``user_products`` (``created``/``updated``) and, when its stock moved, ``stock-location``."""
    item["last_updated"] = utc_text(now())
    user_product_id = item.get("user_product_id")
    before = tx.get("item", item["id"]) if user_product_id and not created else None
    tx.put("item", item["id"], item, owner=item["seller_id"])
    notifier.emit(tx, "items", f"/items/{item['id']}", item["seller_id"])
    if user_product_id:
        resource = f"/user-products/{user_product_id}"
        notifier.emit(tx, "user_products", resource, item["seller_id"], ["created" if created else "updated"])
        if before is not None and before.get("available_quantity") != item["available_quantity"]:
            notifier.emit(tx, "stock-location", f"{resource}/stock", item["seller_id"])


def _apply_stock_rule(item: dict[str, Any]) -> None:
    """Stock 0 pauses (``out_of_stock``); stock back reactivates unless the seller paused the item."""
    if item["status"] == "closed":
        return
    subs = [s for s in item["sub_status"] if s != "out_of_stock"]
    if item["available_quantity"] == 0:
        if item["condition"] == "new" and item["listing_type_id"] != "free":
            item["status"] = "paused"
            subs.append("out_of_stock")
    elif item["status"] == "paused" and "out_of_stock" in item["sub_status"] and "paused_by_seller" not in subs:
        item["status"] = "active"
    item["sub_status"] = subs


def get(tx: Tx, item_id: str) -> dict[str, Any]:
    """The item, or 404 ``Item with id ... not found``."""
    item = tx.get("item", item_id)
    if item is None:
        raise refuse(404, "not_found", f"Item with id {item_id} not found")
    return item


def owned(tx: Tx, item_id: str, seller_id: int) -> dict[str, Any]:
    """The item when it belongs to ``seller_id``; 403 otherwise."""
    item = get(tx, item_id)
    if item["seller_id"] != seller_id:
        raise refuse(403, "forbidden", f"User {seller_id} is not the owner of item {item_id}")
    return item


def update(tx: Tx, notifier: Notifier, seller_id: int, item_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """``PUT /items/{id}``: apply the changed fields under Mercado Libre's rules; the item (and any ``warnings``)."""
    item = owned(tx, item_id, seller_id)
    unknown = sorted(set(body) - UPDATABLE_FIELDS)
    if unknown:
        message = f"The fields [{', '.join(unknown)}] are invalid for requested call."
        raise MLError(400, {"message": "body.invalid_fields", "error": message, "status": 400, "cause": []})
    if item["status"] == "closed":
        if set(body) == {"deleted"} and str(body["deleted"]).lower() == "true":
            item["sub_status"] = ["deleted"]
            save(tx, notifier, item)
            return item
        raise validation_error(
            [_cause("item.status.not_modifiable", "Item is closed and cannot be modified", "item.status")]
        )
    causes: list[dict[str, Any]] = []
    warnings: list[dict[str, Any]] = []
    if "deleted" in body:
        causes.append(_cause("item.deleted.invalid", "Close the item before deleting it", "item.deleted"))
    if "price" in body:
        if not _is_number(body["price"]) or body["price"] <= 0:
            causes.append(_cause("item.price.invalid", "Price must be greater than 0", "item.price"))
        elif PRICE_AUTOMATION in item["tags"]:
            message = "The item has an active price automation: its price cannot be changed"
            if set(body) == {"price"}:
                causes.append(_cause("item.price.automation", message, "item.price"))
            else:
                warnings.append(_cause("item.price.automation", message + "; price ignored", "item.price", "warning"))
    if "title" in body:
        if item["sold_quantity"] > 0:
            causes.append(_cause("item.title.not_modifiable", "Title cannot be modified after a sale", "item.title"))
        elif not isinstance(body["title"], str) or not body["title"].strip() or len(body["title"]) > MAX_TITLE_LENGTH:
            causes.append(_cause("item.title.invalid", "Title is not valid", "item.title"))
    quantity = body.get("available_quantity")
    if "available_quantity" in body and (not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0):
        message = "available_quantity must be 0 or more"
        causes.append(_cause("item.available_quantity.invalid", message, "item.available_quantity"))
    if "status" in body and body["status"] not in SELLER_STATUSES:
        causes.append(_cause("item.status.invalid", f"Status {body['status']} is not valid", "item.status"))
    if "listing_type_id" in body and body["listing_type_id"] not in LISTING_TYPES:
        causes.append(_cause("item.listing_type_id.invalid", "Listing type is not valid", "item.listing_type_id"))
    if "attributes" in body:
        _check_attributes(body["attributes"], "item.attributes", causes)
    variations = _updated_variations(tx, item, body, causes) if "variations" in body else None
    one_price = "user_product_listing" not in (item.get("tags") or [])
    if variations and one_price and "price" not in body and len({v["price"] for v in variations}) > 1:
        # The legacy model: one price for every variation of an item, on an update as on a creation.
        message = "All the variations of an item must have the same price"
        causes.append(_cause("item.variations.price.different", message, "item.variations"))
    if causes:
        raise validation_error(causes)
    if "price" in body and not warnings:
        item["price"] = item["base_price"] = body["price"]
        for variation in item["variations"]:
            variation["price"] = body["price"]
    for field in ("title", "pictures", "sale_terms", "listing_type_id", "video_id", "channels", "seller_custom_field"):
        if field in body:
            item[field] = body[field]
    if "pictures" in body:
        item["pictures"] = [{"id": f"{n}-{item_id}", "url": p.get("source"), "secure_url": p.get("source")}
                            for n, p in enumerate(body["pictures"])]  # fmt: skip
    if "attributes" in body:
        item["attributes"] = [_attribute(a) for a in body["attributes"]]
    if "shipping" in body and isinstance(body["shipping"], dict):
        item["shipping"] = item["shipping"] | body["shipping"]
    if variations is not None:
        item["variations"] = variations
        item["available_quantity"] = sum(v["available_quantity"] for v in variations)
        if variations and one_price and "price" not in body:
            # The item's price is its variations' one price.
            item["price"] = item["base_price"] = variations[0]["price"]
    elif "available_quantity" in body:
        item["available_quantity"] = quantity
    _apply_status(item, body.get("status"))
    _apply_stock_rule(item)
    save(tx, notifier, item)
    return item | ({"warnings": warnings} if warnings else {})


def _apply_status(item: dict[str, Any], status: str | None) -> None:
    if status == "closed":
        item["status"], item["sub_status"] = "closed", []
    elif status == "paused":
        item["status"] = "paused"
        item["sub_status"] = sorted({*item["sub_status"], "paused_by_seller"})
    elif status == "active":
        item["sub_status"] = [s for s in item["sub_status"] if s != "paused_by_seller"]
        item["status"] = "active"


def _updated_variations(
    tx: Tx, item: dict[str, Any], body: dict[str, Any], causes: list[dict[str, Any]]
) -> list[dict[str, Any]] | None:
    """Variations as PUT sends them: every kept id listed (omitted ones are deleted), new ones without id."""
    sent = body["variations"]
    if not isinstance(sent, list):
        causes.append(_cause("item.variations.invalid", "Variations must be a list", "item.variations"))
        return None
    current = {v["id"]: v for v in item["variations"]}
    result = []
    for entry in sent:
        _check_variation(entry, causes, new=not (isinstance(entry, dict) and entry.get("id")))
        if not isinstance(entry, dict):
            continue
        if entry.get("id"):
            known = current.get(int(entry["id"])) if str(entry["id"]).isdigit() else None
            if known is None:
                message = f"Variation {entry['id']} does not exist"
                causes.append(_cause("item.variations.id.invalid", message, "item.variations"))
                continue
            merged = known | {k: v for k, v in entry.items() if k in ("price", "available_quantity", "picture_ids")}
            if "attributes" in entry:
                merged["attributes"] = [_attribute(a) for a in entry["attributes"]]
            result.append(merged)
        else:
            result.append(_variation(tx, entry, item["price"]))
    return result


def move_stock(tx: Tx, notifier: Notifier, item_id: str, variation_id: int | None, units: int) -> dict[str, Any]:
    """Take ``units`` (negative: give back) from the item's stock and add them to its sales; pause at 0."""
    item = get(tx, item_id)
    targets = [item] + [v for v in item["variations"] if v["id"] == variation_id]
    for target in targets:
        target["available_quantity"] -= units
        target["sold_quantity"] = max(0, target["sold_quantity"] + units)
    _apply_stock_rule(item)
    save(tx, notifier, item)
    return item


def seller_sku(item: dict[str, Any], variation_id: int | None = None) -> str | None:
    """The SKU by the order precedence: variation ``SELLER_SKU`` attribute, then the item's, then the legacy field."""
    for variation in item["variations"]:
        if variation["id"] == variation_id:
            for attribute in variation.get("attributes", []):
                if attribute["id"] == "SELLER_SKU":
                    return str(attribute["value_name"])
    for attribute in item["attributes"]:
        if attribute["id"] == "SELLER_SKU":
            return str(attribute["value_name"])
    return item.get("seller_custom_field")


def has_sku(item: dict[str, Any], sku: str) -> bool:
    """Whether the item or one of its variations carries ``SELLER_SKU`` = ``sku``."""
    return seller_sku(item) == sku or any(seller_sku(item, v["id"]) == sku for v in item["variations"])
