"""How orders are rendered for GET /v2/orders, carts, labels and the portal, and the cache of rendered orders.

The stored ``detail`` is a JSON *template*: the immutable sections of the order in wire shape in which every
value that changes after arrival (item and order status, shipment state, invoice links) is a placeholder.
Rendering is string substitution plus a small header, never a JSON decode (measured in docs/performance.md).

Rendered orders are cached per process as UTF-8 bytes keyed by ``(id, version, updated_at)``. ``version`` is
bumped by every change to an order row in one place (``bump_order_version`` below, hooked into every ORM flush
and every ``UPDATE orders`` run through a session), so a cached rendering is never stale: a changed order has a
new key and the old entry ages out of the LRU. Only committed data is cached (reads through read sessions).
Compressed pages of GET /v2/orders are cached beside them, keyed by what they are made of (``page_body``).
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from alephee.db import Database
from alephee.http import compression
from alephee.http.paging import Page
from alephee.http.wire import format_utc
from alephee.orders import documents as docs
from alephee.orders import shipping_rules as ship
from alephee.orders import statuses as st
from alephee.orders.models import Order, OrderDocument

OPTIONAL_BLOCKS = ("documents", "activeclaims", "adjustments", "quantitiesdetails", "externaljson", "invoice")


# Columns read to render an order (everything but what only writes need).
RENDER_COLUMNS = (
    Order.id,
    Order.external_order_id,
    Order.pack_id,
    Order.source_pack_id,
    Order.pack_complete,
    Order.status,
    Order.integrated,
    Order.integrated_order_id,
    Order.erp_status,
    Order.sale_date,
    Order.updated_at,
    Order.date_closed,
    Order.logistic_type,
    Order.shipping_method,
    Order.external_shipping_id,
    Order.shipment_status,
    Order.shipment_substatus,
    Order.shipment_updated_at,
    Order.package_info,
    Order.document_count,
    Order.detail,
)


def _documents_by_order(session: Session | Connection, order_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    if not order_ids:
        return {}
    result: dict[int, list[dict[str, Any]]] = {}
    rows = session.execute(
        select(
            OrderDocument.order_id,
            OrderDocument.doc_type,
            OrderDocument.name,
            OrderDocument.extension,
            OrderDocument.size,
            OrderDocument.document_date,
            OrderDocument.created_at,
        )
        .where(OrderDocument.order_id.in_(order_ids))
        .order_by(OrderDocument.order_id, OrderDocument.id)
    )
    for order_id, doc_type, name, extension, size, document_date, created_at in rows:
        result.setdefault(order_id, []).append(
            {
                "Type": doc_type,
                "Name": name,
                "Extension": extension,
                "Fullfilename": f"{name}.{extension}",
                "Size": size,
                "DocumentDate": format_utc(document_date) if document_date else None,
                "DateCreated": format_utc(created_at),
            }
        )
    return result


def _kv(key: int, value: str | None) -> dict[str, Any]:
    return {"Key": key, "Value": value}


_STATUS_KV = {code: _kv(code, label) for code, label in st.STATUS_LABELS.items()}
_TYPE_KV = {code: _kv(code, label) for code, label in st.STATUS_TYPE_LABELS.items()}
_DELETED_TYPE = _kv(-1, None)

# --- the stored detail is a template --------------------------------------------------------------------------
# ``orders.detail`` is the JSON of the immutable sections in which every value that changes after arrival
# (item and order status, shipment state, invoice links) is a placeholder string "\u0001X". Rendering a page
# is then string substitution, not JSON decoding: the detail is never parsed on the read path.
_MARK = "\x01"
_ITEM_STATUS, _ITEM_TYPE, _ITEM_CANCELLED = _MARK + "S", _MARK + "T", _MARK + "C"
_SHIP_FIELDS = {
    "ExternalShippingId": _MARK + "A",
    "Status": _MARK + "B",
    "LogisticType": _MARK + "D",
    "Method": _MARK + "E",
    "ShippingLabels": _MARK + "F",
    "LastUpdated": _MARK + "G",
    "PackageInfo": _MARK + "H",
}
_INVOICE = _MARK + "I"


def _strip_marks(value: Any) -> Any:
    # Client and marketplace text can never contain the placeholder marker.
    if isinstance(value, str):
        return value.replace(_MARK, "") if _MARK in value else value
    if isinstance(value, dict):
        return {k: _strip_marks(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_marks(v) for v in value]
    return value


def detail_template(detail: dict[str, Any]) -> str:
    """The stored form of an order's detail (see above)."""
    detail = _strip_marks(detail)
    for item in detail["Items"]:
        # An item cancelled on its own stays cancelled; every other item follows the order's status.
        if item["StatusType"]["Key"] != st.TYPE_CANCELLED:
            item["Status"], item["StatusType"], item["IsCancelled"] = _ITEM_STATUS, _ITEM_TYPE, _ITEM_CANCELLED
        else:
            item["IsCancelled"] = True
    shipping = detail["Shipping"]
    for key, mark in _SHIP_FIELDS.items():
        shipping[key] = mark
    # Invoice links come from the NF-e attached to the order (both copies: Billing.Invoice and Invoice).
    if detail.get("Billing") is not None:
        detail["Billing"]["Invoice"] = _INVOICE
    detail["Invoice"] = _INVOICE
    return orjson.dumps(detail).decode()


def detail_of(template: str) -> dict[str, Any]:
    """The stored detail as a dictionary (placeholders left as they are); for write-side rules."""
    data: dict[str, Any] = orjson.loads(template)
    return data


def _restrict(order: dict[str, Any], blocks: frozenset[str]) -> dict[str, Any]:
    # additionalInfo: keys stay, unselected optional blocks are emptied.
    if "adjustments" not in blocks:
        order["Adjustments"] = []
    if "activeclaims" not in blocks:
        order["ActiveClaims"] = []
    if "documents" not in blocks:
        order["Documents"] = []
    if "externaljson" not in blocks:
        order["ExternalJson"] = {}
    if "invoice" not in blocks:
        order["Invoice"] = None
    if "quantitiesdetails" not in blocks:
        for item in order["Items"]:
            item["QuantitiesDetails"] = None
    return order


def _invoice_links(order_id: int, documents: list[dict[str, Any]]) -> dict[str, str] | None:
    if not any(d["Type"] == docs.NFE for d in documents):
        return None
    base = f"/v2/orders/{order_id}/documents?documentType=2&documentFormat="
    return {"DanfePdfUrl": base + "pdf", "XmlUrl": base + "xml"}


def _dump(value: Any) -> str:
    return orjson.dumps(value).decode()


_STATUS_JSON = {code: _dump(kv) for code, kv in _STATUS_KV.items()}
_TYPE_JSON = {code: _dump(kv) for code, kv in _TYPE_KV.items()}


_NO_INVOICE = _dump({"DanfePdfUrl": "", "XmlUrl": ""})


@functools.lru_cache(maxsize=4096)
def _shipment_json(status: str | None, logistic: int | None, method: int | None) -> tuple[str, str, str]:
    return (
        _dump(_kv(ship.shipment_status_key(status), status)),
        _dump(_kv(logistic or 0, ship.logistic_name(logistic))),
        _dump(_kv(method or 0, ship.SHIPPING_METHODS.get(method or 0))),
    )


def _render_text(row: Any, documents: list[dict[str, Any]]) -> str:
    status = row.status
    status_type = st.status_type_of(status)
    status_json = _STATUS_JSON.get(status) or _dump(_kv(status, None))
    type_json = _TYPE_JSON.get(status_type, _dump(_DELETED_TYPE)) if status_type is not None else _dump(_DELETED_TYPE)
    cancelled = status_type == st.TYPE_CANCELLED
    if row.logistic_type in ship.LABELLED_LOGISTICS:
        url = f"/v2/orders/{row.id}/shippinglabel?format="
        labels_json = _dump({"SubStatus": row.shipment_substatus, "ShippingLabelUrlPdf": url + "PDF",
                             "ShippingLabelUrlZip": url + "ZIP"})  # fmt: skip
    else:
        labels_json = _dump({"SubStatus": row.shipment_substatus, "ShippingLabelUrlPdf": "", "ShippingLabelUrlZip": ""})
    links = _invoice_links(row.id, documents) if documents else None
    shipment, logistic, method = _shipment_json(row.shipment_status, row.logistic_type, row.shipping_method)
    values = {
        "S": status_json,
        "T": type_json,
        "C": "true" if cancelled else "false",
        # A number, 0 when there is no shipment yet (orders/schemas.py: numbers are never null).
        "A": "0" if row.external_shipping_id is None else str(row.external_shipping_id),
        "B": shipment,
        "D": logistic,
        "E": method,
        "F": labels_json,
        "G": _dump(format_utc(row.shipment_updated_at) if row.shipment_updated_at else None),
        "H": "null" if row.package_info is None else _dump(row.package_info),
        "I": _dump(links) if links else _NO_INVOICE,
    }
    # Placeholders are the JSON strings "\u0001X": split once, then put each value back in its place.
    parts = row.detail.split('"\\u0001')
    sections = parts[0] + "".join([values[part[0]] + part[2:] for part in parts[1:]])
    is_cart = bool(row.pack_id)
    header = _dump(
        {
            "Id": row.id,
            "ExternalOrderId": row.external_order_id,
            "IntegratedOrderId": row.integrated_order_id or "",
            "PackId": row.pack_id or "",
            "SourcePackId": (row.source_pack_id or row.pack_id) if is_cart else None,
            "IsCompletePackOrder": bool(row.pack_complete) if is_cart else None,
            "Documents": documents,
            "Integrated": bool(row.integrated),
            "ErpStatus": row.erp_status or "",
            "DateCreated": format_utc(row.sale_date),
            "LastUpdated": format_utc(row.updated_at),
            "DateClosed": format_utc(row.date_closed) if row.date_closed else None,
            "IsCancelled": cancelled,
        }
    )
    return header[:-1] + ',"Status":' + status_json + ',"StatusType":' + type_json + "," + sections[1:]


def _render_rows(session: Session | Connection, rows: Sequence[Any]) -> list[str]:
    # Documents of the whole batch in one query, only when some order has any.
    with_docs = [row.id for row in rows if row.document_count]
    documents = _documents_by_order(session, with_docs) if with_docs else {}
    return [_render_text(row, documents.get(row.id, [])) for row in rows]


def _every_block(blocks: frozenset[str] | None) -> bool:
    return blocks is None or len(blocks) == len(OPTIONAL_BLOCKS)


def render_orders(session: Session, rows: Sequence[Any], blocks: frozenset[str] | None = None) -> list[dict[str, Any]]:
    """Orders as wire dictionaries for rows of ``RENDER_COLUMNS`` (carts, labels, single orders)."""
    orders = [orjson.loads(text) for text in _render_rows(session, rows)]
    return orders if _every_block(blocks) else [_restrict(order, blocks) for order in orders]  # type: ignore[arg-type]


# --- the cache of rendered orders ---------------------------------------------------------------------------

# What identifies one state of an order. ``updated_at`` is read as the driver returns it (text on SQLite,
# a datetime on PostgreSQL): it only has to compare equal, and it distinguishes a new order that reuses the id
# of a removed one (SQLite may reuse the highest rowid).
_RAW_UPDATED_AT = type_coerce(Order.updated_at, NullType()).label("updated_at_key")
KEY_COLUMNS = (Order.id, Order.version, _RAW_UPDATED_AT)
CacheKey = tuple[int, int, Any]


class RenderedOrders:
    """A process-local LRU of rendered orders (UTF-8 JSON), bounded by the bytes it holds.

    Thread-safe: sync routes run in a thread pool. Keys are ``(id, version, updated_at)``; a changed order gets
    a new key, so entries never need invalidating, they are only evicted.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[CacheKey, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get_many(self, keys: Sequence[CacheKey]) -> list[bytes | None]:
        """The cached rendering of each key (None where absent); found entries become most recent."""
        out: list[bytes | None] = []
        with self._lock:
            entries = self._entries
            for key in keys:
                body = entries.get(key)
                if body is not None:
                    entries.move_to_end(key)
                out.append(body)
            found = sum(1 for body in out if body is not None)
            self.hits += found
            self.misses += len(out) - found
        return out

    def put_many(self, items: Sequence[tuple[CacheKey, bytes]]) -> None:
        """Remember renderings, evicting the least recently used beyond ``max_bytes``."""
        with self._lock:
            entries = self._entries
            for key, body in items:
                if len(body) > self.max_bytes:
                    continue
                old = entries.pop(key, None)
                if old is not None:
                    self.size -= len(old)
                entries[key] = body
                self.size += len(body)
            while self.size > self.max_bytes:
                _, evicted = entries.popitem(last=False)
                self.size -= len(evicted)


def cache_of(session: Session) -> RenderedOrders | None:
    """The rendered-orders cache of the database behind ``session`` (None when disabled or unknown)."""
    database = session.info.get("database")
    return None if database is None else cache_of_database(database)


def cache_of_database(database: Database) -> RenderedOrders | None:
    """The rendered-orders cache of ``database`` in this process (None when disabled)."""
    max_bytes = int(database.settings.order_cache_mb * 1024 * 1024)
    if max_bytes <= 0:
        return None
    cache: RenderedOrders = database.process_cache("orders.rendered", lambda: RenderedOrders(max_bytes))
    return cache


def rendered_page(
    database: Database, connection: Connection, keys: Sequence[Any], blocks: frozenset[str] | None = None
) -> list[bytes]:
    """The rendered orders for rows of ``KEY_COLUMNS``, in their order: from the cache, rendering the rest
    (read on ``connection``).

    Use only with read connections: a rendering of uncommitted data must never be cached.
    """
    cache = cache_of_database(database)
    found: list[bytes | None] = cache.get_many([tuple(k) for k in keys]) if cache is not None else [None] * len(keys)
    missing = [key[0] for key, body in zip(keys, found, strict=True) if body is None]
    if missing:
        rows = connection.execute(select(*RENDER_COLUMNS, *KEY_COLUMNS[1:]).where(Order.id.in_(missing))).all()
        fresh = {row.id: text.encode() for row, text in zip(rows, _render_rows(connection, rows), strict=True)}
        if cache is not None:
            cache.put_many([((row.id, row.version, row.updated_at_key), fresh[row.id]) for row in rows])
        # An order removed between the two queries is left out of the page.
        found = [body if body is not None else fresh.get(key[0]) for key, body in zip(keys, found, strict=True)]
    bodies = [body for body in found if body is not None]
    if _every_block(blocks):
        return bodies
    return [orjson.dumps(_restrict(orjson.loads(body), blocks)) for body in bodies]  # type: ignore[arg-type]


# --- whole pages of GET /v2/orders, and their compressed bytes ----------------------------------------------


def page_json(page: Page, total: int, results: Sequence[bytes]) -> bytes:
    """The paged envelope around orders already serialised: spliced in, not decoded and encoded again."""
    head = orjson.dumps(
        {
            "Total": total,
            "Paging": {"Limit": page.limit, "Offset": page.offset, "Total": total},
            "SortBy": {"Id": page.sort.id, "Name": page.sort.name},
            "AvailableSorts": [{"Id": s.id, "Name": s.name} for s in page.available],
        }
    )
    if not results:
        return head[:-1] + b',"Results":[]}'
    # One copy of the ~0.5 MB page: the envelope's ends are glued to the first and last orders only.
    items = list(results)
    items[0] = head[:-1] + b',"Results":[' + items[0]
    items[-1] = items[-1] + b"]}"
    return b",".join(items)


def compressed_pages_of(database: Database) -> RenderedOrders | None:
    """The compressed pages of GET /v2/orders in this process (None when ``ALEPHEE_ORDER_PAGE_CACHE_MB`` is 0)."""
    max_bytes = int(database.settings.order_page_cache_mb * 1024 * 1024)
    if max_bytes <= 0:
        return None
    cache: RenderedOrders = database.process_cache("orders.compressed_pages", lambda: RenderedOrders(max_bytes))
    return cache


def page_body(
    database: Database,
    connection: Connection,
    page: Page,
    total: int,
    keys: tuple[tuple[Any, ...], ...],
    blocks: frozenset[str] | None,
    encoding: str | None,
) -> tuple[bytes, str | None]:
    """A page of GET /v2/orders as sent: ``(body, content encoding or None)``.

    A compressed page is made of nothing but its orders' keys (id, version, updated_at), the total, the paging
    and the blocks asked for, so it is cached under exactly those: the same page polled again, in this state of
    the database or any later one where the same orders are unchanged, is not rendered nor compressed again.
    """
    cache = compressed_pages_of(database) if encoding is not None else None
    key = (encoding, page.offset, page.limit, page.sort.id, blocks, total, keys)
    if cache is not None:
        found = cache.get_many([key])[0]  # type: ignore[list-item]
        if found is not None:
            return found, encoding
    body = page_json(page, total, rendered_page(database, connection, keys, blocks))
    compressed = compression.encode(body, encoding, database.settings.compression_min_bytes)
    if compressed is None:
        return body, None
    if cache is not None:
        cache.put_many([(key, compressed)])  # type: ignore[list-item]
    return compressed, encoding
