"""The stand-in's stores: a merchant's store (owner e-mail and name, country, currency, languages) as
``GET /store`` answers it, and the app's standing on each store (installed, suspended, uninstalled)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from alephee.channels.standin_store import Tx
from alephee.channels.tiendanube.standin.common import now, stamp, ulid

STORE_ID_BASE = 1234566
# The app's standing on a store; only an installed or suspended app has a valid token.
INSTALLED, SUSPENDED, UNINSTALLED, NEVER = "installed", "suspended", "uninstalled", "never"
CURRENCIES = {"AR": "ARS", "BR": "BRL", "MX": "MXN", "CO": "COP", "CL": "CLP", "UY": "UYU", "PE": "PEN"}


@dataclass(frozen=True, slots=True)
class StandInShop:
    """A merchant's store to create: owner, country, currency (the country's when omitted), languages (the
    first is the main one) and plan (``Next``/``Evolution`` get ten times the rate limit)."""

    name: str = "Tienda Demo"
    email: str = "owner@tienda.example"
    country: str = "AR"
    currency: str | None = None
    languages: tuple[str, ...] = ("es",)
    plan_name: str = "Esencial"
    extra: dict[str, Any] = field(default_factory=dict)


def create(tx: Tx, shop: StandInShop) -> dict[str, Any]:
    """A new store; its document (``GET /store``) with the app not installed yet."""
    store_id = tx.next_id("tn_store", STORE_ID_BASE)
    currency = shop.currency or CURRENCIES.get(shop.country.upper(), "USD")
    slug = re.sub(r"[^a-z0-9]+", "", shop.name.lower()) or f"tienda{store_id}"
    main = shop.languages[0]
    body: dict[str, Any] = {
        "id": store_id,
        "name": {code: shop.name for code in shop.languages},
        "description": {code: "" for code in shop.languages},
        "type": None,
        "email": shop.email,
        "contact_email": shop.email,
        "logo": None,
        "facebook": None,
        "twitter": None,
        "google_plus": None,
        "instagram": None,
        "pinterest": None,
        "blog": None,
        "address": None,
        "phone": None,
        "whatsapp_phone_number": None,
        "business_id": None,
        "business_name": None,
        "business_address": None,
        "customer_accounts": "optional",
        "plan_name": shop.plan_name,
        "country": shop.country.upper(),
        "languages": {code: {"currency": currency, "active": True} for code in shop.languages},
        "main_language": main,
        "main_currency": currency,
        "admin_language": main,
        "domains": [],
        "original_domain": f"{slug}.{'nuvemshop.com.br' if shop.country.upper() == 'BR' else 'mitiendanube.com'}",
        "current_theme": "Amazonas",
        "created_at": stamp(now()),
    } | shop.extra
    tx.put("tn_store", store_id, body | {"_app": NEVER, "_token": None, "_location": ulid()}, owner=store_id)
    return body


def get(tx: Tx, store_id: int) -> dict[str, Any] | None:
    """The store's document with its private keys (``_app``, ``_token``), or None."""
    return tx.get("tn_store", store_id)


def public(body: dict[str, Any]) -> dict[str, Any]:
    """A stored document without its private keys (those starting with ``_``)."""
    return {key: value for key, value in body.items() if not key.startswith("_")}


def languages(shop: dict[str, Any]) -> list[str]:
    """The store's active language codes, the main one first."""
    codes = [code for code, entry in shop["languages"].items() if entry.get("active")]
    main = shop["main_language"]
    return [main] + [code for code in codes if code != main]


def locations(shop: dict[str, Any]) -> list[dict[str, Any]]:
    """The store's stock locations (``{"id", "name"}``), the default one first: every store has its default
    location; a multi-inventory store has more (``_locations``)."""
    default = {"id": shop["_location"], "name": shop.get("_location_name") or "Depósito principal"}
    return [default, *shop.get("_locations", [])]


def has_location(shop: dict[str, Any], location_id: Any) -> bool:
    """Whether ``location_id`` is one of the store's locations."""
    return any(entry["id"] == location_id for entry in locations(shop))


def add_location(tx: Tx, store_id: int, name: str) -> dict[str, Any]:
    """A new (not default) location of the store: ``{"id", "name"}``."""
    shop = tx.get("tn_store", store_id)
    if shop is None:
        raise KeyError(store_id)
    entry = {"id": ulid(), "name": name}
    shop["_locations"] = [*shop.get("_locations", []), entry]
    tx.put("tn_store", store_id, shop, owner=store_id)
    return entry


def set_app(tx: Tx, store_id: int, standing: str, token: str | None = None) -> dict[str, Any]:
    """Change the app's standing on the store (and its current token when given; uninstalling drops it)."""
    shop = tx.get("tn_store", store_id)
    if shop is None:
        raise KeyError(store_id)
    shop["_app"] = standing
    if token is not None:
        shop["_token"] = token
    if standing == UNINSTALLED:
        shop["_token"] = None
    tx.put("tn_store", store_id, shop, owner=store_id)
    return shop
