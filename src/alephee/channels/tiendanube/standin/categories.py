"""Categories: create (name required, parent must exist, 1000 per store), partial update, delete, one, and the
list with its filters; a product's ``categories`` are ids on write and category objects on read."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from alephee.channels.standin_store import Tx
from alephee.channels.tiendanube.standin import stores
from alephee.channels.tiendanube.standin.common import (
    as_int,
    common_filters,
    first_text,
    invalid,
    lang,
    not_found,
    now,
    refuse,
    stamp,
)
from alephee.channels.tiendanube.standin.webhooks import Webhooks

CATEGORY_ID_BASE = 11654300
MAX_CATEGORIES = 1000


def slug(text: str) -> str:
    """A URL handle from a name (lower case without accents, dashes)."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")


def get(tx: Tx, store_id: int, category_id: int) -> dict[str, Any]:
    """One category of the store with its ``subcategories``; 404 otherwise."""
    category = tx.get("tn_category", category_id, store_id)
    if category is None:
        raise not_found("Category")
    return _with_children(tx, store_id, category)


def _with_children(tx: Tx, store_id: int, category: dict[str, Any]) -> dict[str, Any]:
    children = sorted(other["id"] for other in tx.find("tn_category", store_id) if other["parent"] == category["id"])
    return category | {"subcategories": children}


def _parent(tx: Tx, store_id: int, value: Any) -> int | None:
    if value is None or value == "" or value == 0:
        return None
    parent = as_int(value)
    if parent is None or tx.get("tn_category", parent, store_id) is None:
        raise refuse(422, "Validation error", parent=["The selected parent is invalid."])
    return parent


def create(tx: Tx, hooks: Webhooks, shop: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """``POST /categories``."""
    store_id, codes = shop["id"], stores.languages(shop)
    name = lang(body.get("name"), codes) if body.get("name") not in (None, "", {}) else {}
    if not first_text(name):
        raise invalid(name=["can't be blank"])
    if len(tx.find("tn_category", store_id)) >= MAX_CATEGORIES:
        raise refuse(422, f"Store has reached maximum limit of {MAX_CATEGORIES} allowed categories")
    moment = stamp(now())
    category = {
        "id": tx.next_id("tn_category", CATEGORY_ID_BASE),
        "name": name,
        "description": lang(body.get("description", ""), codes),
        "handle": lang(body["handle"], codes) if body.get("handle") else {k: slug(v) for k, v in name.items()},
        "parent": _parent(tx, store_id, body.get("parent")),
        "google_shopping_category": body.get("google_shopping_category"),
        "visibility": "visible",
        "visibility_updated_at": None,
        "created_at": moment,
        "updated_at": moment,
    }
    tx.put("tn_category", category["id"], category, owner=store_id)
    hooks.emit(tx, store_id, "category/created", id=category["id"])
    return _with_children(tx, store_id, category)


def update(tx: Tx, hooks: Webhooks, shop: dict[str, Any], category_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """``PUT /categories/{id}``: only what is sent changes."""
    store_id, codes = shop["id"], stores.languages(shop)
    category = tx.get("tn_category", category_id, store_id)
    if category is None:
        raise not_found("Category")
    if "name" in body:
        name = lang(body["name"], codes)
        if not first_text(name):
            raise invalid(name=["can't be blank"])
        category["name"] = category["name"] | name
    for key in ("description", "handle"):
        if key in body:
            category[key] = category[key] | lang(body[key], codes)
    if "parent" in body:
        parent = _parent(tx, store_id, body["parent"])
        if parent == category_id:
            raise refuse(422, "Validation error", parent=["The selected parent is invalid."])
        category["parent"] = parent
    if "google_shopping_category" in body:
        category["google_shopping_category"] = body["google_shopping_category"]
    category["updated_at"] = stamp(now())
    tx.put("tn_category", category_id, category, owner=store_id)
    hooks.emit(tx, store_id, "category/updated", id=category_id)
    return _with_children(tx, store_id, category)


def delete(tx: Tx, hooks: Webhooks, store_id: int, category_id: int) -> None:
    """``DELETE /categories/{id}``: its children move to the top level; products lose it."""
    if tx.get("tn_category", category_id, store_id) is None:
        raise not_found("Category")
    tx.delete("tn_category", category_id)
    for child in tx.find("tn_category", store_id):
        if child["parent"] == category_id:
            tx.put("tn_category", child["id"], child | {"parent": None}, owner=store_id)
    for product in tx.find("tn_product", store_id):
        if category_id in product["categories"]:
            product["categories"] = [other for other in product["categories"] if other != category_id]
            tx.put("tn_product", product["id"], product, owner=store_id)
    hooks.emit(tx, store_id, "category/deleted", id=category_id)


def search(tx: Tx, store_id: int, query: dict[str, str]) -> list[dict[str, Any]]:
    """``GET /categories``: by id, filtered by ``since_id``, dates, ``parent_id``, ``handle`` (with ``language``)."""
    if query.get("handle") and not query.get("language"):
        raise refuse(422, "Validation error", language=["The language field is required when handle is present."])
    keep = common_filters(query)
    parent = query.get("parent_id")
    rows = []
    for category in tx.find("tn_category", store_id):
        if not keep(category):
            continue
        if parent is not None and str(category["parent"] or 0) != parent:
            continue
        if query.get("handle") and category["handle"].get(query["language"]) != query["handle"]:
            continue
        rows.append(_with_children(tx, store_id, category))
    return sorted(rows, key=lambda category: category["id"])


def check_ids(tx: Tx, store_id: int, value: Any) -> list[int]:
    """A product's ``categories`` on write: ids of the store's categories; 422 otherwise."""
    if not isinstance(value, list):
        raise refuse(422, "Validation error", categories=["The categories must be an array."])
    ids = []
    for entry in value:
        category_id = as_int(entry.get("id") if isinstance(entry, dict) else entry)
        if category_id is None or tx.get("tn_category", category_id, store_id) is None:
            raise refuse(422, "Validation error", categories=[f"The category {entry} does not exist."])
        if category_id not in ids:
            ids.append(category_id)
    return ids


def objects(tx: Tx, store_id: int, ids: list[int]) -> list[dict[str, Any]]:
    """A product's ``categories`` on read: the category objects."""
    found = (tx.get("tn_category", category_id, store_id) for category_id in ids)
    return [_with_children(tx, store_id, category) for category in found if category is not None]
