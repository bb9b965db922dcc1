"""Reading items in bulk and finding them: the multigets (``/items/bulk`` and the old
``/items?ids=``), the seller's item search with offset paging (capped at 1,000) and scan paging by ``scroll_id``,
and the category predictor (a small fixed table from title words to categories)."""

from __future__ import annotations

import re
import secrets
import unicodedata
from datetime import timedelta
from typing import Any

from alephee.channels.mercadolibre.standin import items
from alephee.channels.mercadolibre.standin.common import SITES, MLError, int_param, now, parse_date, refuse, utc_text
from alephee.channels.standin_store import Tx

MAX_IDS = 20
MAX_SEARCH_LIMIT = 100
MAX_OFFSET_RESULTS = 1000
SCROLL_TTL = timedelta(minutes=5)
ORDERS = [{"id": "stop_time_asc", "name": "Order by stop time ascending"}]

# Category predictor: words of a title -> (domain, domain name, category number, category name).
_DOMAINS: list[tuple[set[str], str, str, int, str]] = [
    ({"celular", "smartphone", "iphone", "telefono", "galaxy", "moto"}, "CELLPHONES", "Celulares", 1055,
     "Celulares y Smartphones"),
    ({"notebook", "laptop", "portatil", "macbook", "ultrabook"}, "NOTEBOOKS", "Notebooks", 1652, "Notebooks"),
    ({"auricular", "headphone", "headset", "audifono", "earbud"}, "HEADPHONES", "Auriculares", 3697, "Auriculares"),
    ({"zapatilla", "sneaker", "tenis", "calzado", "botin"}, "SNEAKERS", "Zapatillas", 1276, "Zapatillas"),
    ({"remera", "camiseta", "playera", "shirt", "musculosa"}, "T_SHIRTS", "Remeras", 417, "Remeras y Musculosas"),
    ({"libro", "novela", "book"}, "BOOKS", "Libros", 3025, "Libros Físicos"),
    ({"mate", "termo", "bombilla", "yerba"}, "MATES", "Mates", 4339, "Mates y Termos"),
    ({"test", "prueba", "ofertar", "teste"}, "OTHERS", "Otros", 3530, "Otros"),
]  # fmt: skip
_BRANDS = {"apple": "9344", "samsung": "206", "motorola": "2503", "nike": "14810", "adidas": "14671", "sony": "3835"}


def _ids(query: dict[str, str]) -> list[str]:
    ids = [value.strip() for value in query.get("ids", "").split(",") if value.strip()]
    if not ids:
        raise refuse(400, "bad_request", "ids is required")
    if len(ids) > MAX_IDS:
        raise refuse(400, "bad_request", f"The maximum number of ids is {MAX_IDS}")
    return ids


def _element(tx: Tx, item_id: str) -> tuple[int, dict[str, Any]]:
    try:
        return 200, items.get(tx, item_id)
    except MLError as exc:
        return exc.status, exc.body


def bulk(tx: Tx, query: dict[str, str]) -> list[dict[str, Any]]:
    """``GET /items/bulk?ids=``: ``{"id","status_code","body"}`` per id, in the order asked."""
    return [{"id": i, "status_code": code, "body": body} for i in _ids(query) for code, body in [_element(tx, i)]]


def multiget(tx: Tx, query: dict[str, str]) -> list[dict[str, Any]]:
    """The old ``GET /items?ids=``: ``{"code","body"}`` per id."""
    return [{"code": code, "body": body} for i in _ids(query) for code, body in [_element(tx, i)]]


def _matching(tx: Tx, seller_id: int, query: dict[str, str]) -> list[dict[str, Any]]:
    found = tx.find("item", owner=seller_id)
    if query.get("status"):
        found = [item for item in found if item["status"] == query["status"]]
    if query.get("seller_sku"):
        found = [item for item in found if items.has_sku(item, query["seller_sku"])]
    if query.get("sku"):
        found = [item for item in found if item.get("seller_custom_field") == query["sku"]]
    return sorted(found, key=lambda item: (item["date_created"], item["id"]))


def search(tx: Tx, seller_id: int, query: dict[str, str]) -> dict[str, Any]:
    """``GET /users/{id}/items/search``: item ids by offset (≤ 1,000 results) or by scan (``scroll_id``)."""
    limit = int_param(query, "limit", 50)
    if limit == 0 or limit > MAX_SEARCH_LIMIT:
        raise refuse(400, "bad_request", f"Invalid limit param: the maximum is {MAX_SEARCH_LIMIT}")
    if query.get("search_type") == "scan":
        return _scan(tx, seller_id, query, limit)
    offset = int_param(query, "offset", 0)
    if offset + limit > MAX_OFFSET_RESULTS:
        message = f"Invalid offset param: offset + limit over {MAX_OFFSET_RESULTS}, use search_type=scan"
        raise refuse(400, "bad_request", message)
    found = _matching(tx, seller_id, query)
    return {
        "seller_id": str(seller_id),
        "query": None,
        "paging": {"limit": limit, "offset": offset, "total": len(found)},
        "results": [item["id"] for item in found[offset : offset + limit]],
        "orders": ORDERS,
        "available_orders": [],
    }


def _scan(tx: Tx, seller_id: int, query: dict[str, str], limit: int) -> dict[str, Any]:
    scroll_id = query.get("scroll_id")
    if scroll_id:
        scroll = tx.get("scroll", scroll_id)
        expires = parse_date(scroll["expires_at"]) if scroll else None
        if scroll is None or scroll["seller_id"] != seller_id or expires is None or expires <= now():
            raise refuse(400, "bad_request", "Invalid or expired scroll_id")
        filters = scroll["filters"]
    else:
        scroll_id = f"{secrets.token_urlsafe(18)}=="
        scroll = {"seller_id": seller_id, "after": None, "filters": {}}
        filters = {key: query[key] for key in ("status", "seller_sku", "sku") if query.get(key)}
        scroll["filters"] = filters
    found = _matching(tx, seller_id, filters)
    keys = [(item["date_created"], item["id"]) for item in found]
    after = tuple(scroll["after"]) if scroll["after"] else None
    page = [item for item, key in zip(found, keys, strict=True) if after is None or key > after][:limit]
    if page:
        scroll["after"] = [page[-1]["date_created"], page[-1]["id"]]
    scroll["expires_at"] = utc_text(now() + SCROLL_TTL)
    tx.put("scroll", scroll_id, scroll, owner=seller_id)
    return {
        "seller_id": str(seller_id),
        "query": None,
        "paging": {"limit": limit, "total": len(found)},
        "results": [item["id"] for item in page],
        "orders": ORDERS,
        "available_orders": [],
        "scroll_id": scroll_id if page else None,
    }


_KNOWN = {word for domain in _DOMAINS for word in domain[0]} | set(_BRANDS)


def _words(text: str) -> set[str]:
    """The title's words without accents, each also in its singular form when that is a known word."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    words = set(re.findall(r"[a-z0-9]+", plain))
    singular = {word[:-2] for word in words if word.endswith("es")} | {
        word[:-1] for word in words if word.endswith("s")
    }
    return words | (singular & _KNOWN)


def discover(site_id: str, query: dict[str, str]) -> list[dict[str, Any]]:
    """``GET /sites/{site}/domain_discovery/search?q=``: the categories the title's words point to, best first."""
    if site_id not in SITES:
        raise refuse(404, "not_found", f"Site {site_id} not found")
    title = query.get("q", "").strip()
    if not title:
        raise refuse(400, "bad_request", "q is required")
    limit = int_param(query, "limit", 4)
    if not 1 <= limit <= 8:
        raise refuse(400, "bad_request", "Invalid limit param: between 1 and 8")
    words = _words(title)
    brands = [
        {"id": "BRAND", "value_id": value_id, "value_name": name.title()}
        for name, value_id in _BRANDS.items()
        if name in words
    ]
    scored = [(len(keys & words), index) for index, (keys, *_rest) in enumerate(_DOMAINS)]
    best = sorted((score, index) for score, index in scored if score > 0)
    best.sort(key=lambda pair: (-pair[0], pair[1]))
    predictions = []
    for _score, index in best[:limit]:
        _keys, domain, domain_name, number, category_name = _DOMAINS[index]
        predictions.append(
            {
                "domain_id": f"{site_id}-{domain}",
                "domain_name": domain_name,
                "category_id": f"{site_id}{number}",
                "category_name": category_name,
                "attributes": brands,
            }
        )
    return predictions
