"""Business rules of the orders domain: ingesting orders, the GET orders query and its rendering, carts,
documents and shipping labels. Write-side rules (integrate, status, split, messages, create, delete) follow
in the second half of the file.

Reads build wire dictionaries directly from rows (relational columns overlaid on the stored ``detail``
document) and the route serialises them with orjson: a page of 100 full orders must stay cheap.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Select, and_, false, func, insert, literal_column, select, update
from sqlalchemy.orm import Session, defer

from alephee import clock
from alephee.accounts.models import Account, Store
from alephee.config import Settings
from alephee.db import Database
from alephee.errors import InvalidInput, NotFound, PreconditionFailed
from alephee.http.dates import parse_filter_datetime
from alephee.http.paging import Page, SortOption
from alephee.http.wire import format_utc
from alephee.marketplaces.models import Marketplace
from alephee.orders import documents as docs
from alephee.orders import labels
from alephee.orders import shipping_rules as ship
from alephee.orders import statuses as st
from alephee.orders.models import (
    ORIGIN_API,
    ORIGIN_MARKETPLACE,
    Order,
    OrderAccountOptions,
    OrderDocument,
    OrderHistory,
)
from alephee.orders.schemas import OrderDetail

ID_SORT = SortOption("Id", "Order by internal ID asc")
DATE_CREATED_SORT = SortOption("dateCreated", "Order by date of sale asc")
ORDER_SORTS = (ID_SORT, DATE_CREATED_SORT)

ORDER_NOT_FOUND = "Order not found"
PACK_NOT_FOUND = "Shopping cart (pack) not found"
BAD_BOOL = "'{name}' must be true or false"
BAD_INT = "'{name}' must be an integer"
BAD_STATUS_TYPE = "Invalid statusType '{value}': use 0 (New), 1 (Pending), 2 (Closed) or 99 (Cancelled)"

# Item types (``Items[].Type``; codes not documented, ours).
ITEM_NORMAL, ITEM_KIT, ITEM_COMPONENT = 1, 2, 3
ITEM_TYPES = {ITEM_NORMAL: "PRODUCT", ITEM_KIT: "KIT", ITEM_COMPONENT: "COMPONENT"}
# Item ids are derived from the order id so a kit's components can point at it before anything is stored.
ITEM_ID_FACTOR = 1000


# --- small parsers for query strings ---------------------------------------------------------------------


def parse_bool(value: str | None, name: str) -> bool | None:
    """``true``/``false`` (any case, also 1/0); None when absent; 400 otherwise."""
    if value is None or value.strip() == "":
        return None
    text = value.strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise InvalidInput(BAD_BOOL.format(name=name))


def parse_int(value: str | None, name: str) -> int | None:
    """An integer query value; None when absent; 400 otherwise."""
    if value is None or value.strip() == "":
        return None
    try:
        return int(value.strip())
    except ValueError:
        raise InvalidInput(BAD_INT.format(name=name)) from None


# --- ingesting orders (marketplaces, the sandbox, the demo, POST /v2/orders) ---------------------------------


@dataclass
class NewOrder:
    """An order as it arrives. ``detail.Items[].Id`` are local numbers 1..n (``ParentItemId`` refers to them);
    the hub turns them into global item ids."""

    account_id: int
    marketplace_id: int
    external_order_id: str
    detail: OrderDetail
    status: int
    sale_date: datetime
    origin: str = ORIGIN_MARKETPLACE
    pack_id: str | None = None
    pack_size: int | None = None
    payment_pending: bool = False
    logistic_type: int | None = None
    external_shipping_id: int | None = None
    shipment_status: str | None = None
    shipment_substatus: str | None = None
    integrated: bool = False
    integrated_order_id: str | None = None
    erp_status: str | None = None
    created_at: datetime | None = None
    status_date: datetime | None = None
    stock_moved: bool = False


_families: dict[int, str] = {}


def marketplace_family(session: Session, marketplace_id: int) -> str:
    """The rules family of a marketplace (cached: the catalogue changes only at start-up)."""
    family = _families.get(marketplace_id)
    if family is None:
        family = session.scalar(select(Marketplace.family).where(Marketplace.id == marketplace_id)) or "other"
        _families[marketplace_id] = family
    return family


def _global_item_ids(detail: dict[str, Any], order_id: int) -> None:
    base = order_id * ITEM_ID_FACTOR
    for item in detail["Items"]:
        item["Id"] = base + int(item["Id"])
        if item.get("ParentItemId"):
            item["ParentItemId"] = base + int(item["ParentItemId"])


def ingest_order(session: Session, new: NewOrder) -> Order:
    """Store an arriving order (no commit). Recomputes the completeness of its cart."""
    now = clock.utcnow()
    family = marketplace_family(session, new.marketplace_id)
    order = Order(
        account_id=new.account_id,
        marketplace_id=new.marketplace_id,
        external_order_id=new.external_order_id,
        origin=new.origin,
        pack_id=new.pack_id,
        source_pack_id=new.pack_id,
        pack_size=new.pack_size if new.pack_id else None,
        pack_complete=None,
        status=new.status,
        status_type=st.status_type_of(new.status),
        status_date=new.status_date or now,
        integrated=new.integrated,
        integrated_order_id=new.integrated_order_id,
        erp_status=new.erp_status,
        payment_pending=new.payment_pending,
        sale_date=new.sale_date,
        created_at=new.created_at or now,
        updated_at=new.status_date or new.created_at or now,
        date_closed=(new.status_date or now) if st.closes_order(new.status) else None,
        logistic_type=new.logistic_type,
        shipping_method=ship.default_method(new.logistic_type, marketplace_family=family),
        external_shipping_id=new.external_shipping_id,
        shipment_status=new.shipment_status,
        shipment_substatus=new.shipment_substatus,
        shipment_updated_at=new.status_date or now,
        document_count=0,
        stock_moved=new.stock_moved,
        stock_reverted=False,
        version=1,
        detail="{}",
    )
    session.add(order)
    session.flush()
    detail = new.detail.model_dump(mode="json")
    _global_item_ids(detail, order.id)
    order.detail = detail_template(detail)
    session.flush()
    if new.pack_id:
        refresh_pack(session, new.account_id, new.pack_id)
    return order


def refresh_pack(session: Session, account_id: int, pack_id: str) -> None:
    """Recompute ``IsCompletePackOrder`` of every order of a cart (all expected orders present)."""
    present = session.scalar(
        select(func.count())
        .select_from(Order)
        .where(Order.account_id == account_id, Order.pack_id == pack_id, Order.status != st.DELETED)
    )
    session.execute(
        update(Order)
        .where(Order.account_id == account_id, Order.pack_id == pack_id)
        .values(pack_complete=func.coalesce(Order.pack_size, 1) <= (present or 0))
        .execution_options(synchronize_session=False)
    )


def account_options(session: Session, account_id: int) -> OrderAccountOptions | None:
    """The account's order privileges (None when never set)."""
    return session.get(OrderAccountOptions, account_id)


def set_account_options(
    session: Session, account_id: int, *, pending_payments: bool | None = None, ml_own_invoicing: bool | None = None
) -> OrderAccountOptions:
    """Grant or revoke order privileges of an account (operator action; no commit)."""
    options = session.get(OrderAccountOptions, account_id)
    if options is None:
        options = OrderAccountOptions(account_id=account_id, pending_payments=None, ml_own_invoicing=False)
        session.add(options)
    if pending_payments is not None:
        options.pending_payments = pending_payments
    if ml_own_invoicing is not None:
        options.ml_own_invoicing = ml_own_invoicing
    session.flush()
    return options


def may_handle_pending_payments(session: Session, settings: Settings, account_id: int) -> bool:
    """Whether ``includePendingPayments=true`` has an effect for this account (spec 20 §1.4)."""
    options = account_options(session, account_id)
    if options is not None and options.pending_payments is not None:
        return options.pending_payments
    return settings.orders_pending_payments_default


# --- GET /v2/orders ------------------------------------------------------------------------------------------

OPTIONAL_BLOCKS = ("documents", "activeclaims", "adjustments", "quantitiesdetails", "externaljson", "invoice")
_BLOCK_ALIASES = {"stockmovements": "quantitiesdetails", "claims": "activeclaims"}


@dataclass(frozen=True)
class OrderFilters:
    """The filters of GET /v2/orders, typed (spec 20 §2.1). Dates are aware UTC."""

    status_type: int | None = None
    date_created_from: datetime | None = None
    sale_date_from: datetime | None = None
    status_date_from: datetime | None = None
    id_from: int | None = None
    id_to: int | None = None
    external_from: str | None = None
    external_to: str | None = None
    integrated: bool | None = None
    erp_status: str | None = None
    marketplace_id: int | None = None
    include_pending_payments: bool = False
    blocks: frozenset[str] = field(default_factory=lambda: frozenset(OPTIONAL_BLOCKS))

    @property
    def selective(self) -> bool:
        """Whether a filter that names orders by status, id or ERP mark is present (see ``integrated_filter``)."""
        return any(
            value is not None
            for value in (
                self.status_type,
                self.status_date_from,
                self.id_from,
                self.id_to,
                self.external_from,
                self.external_to,
                self.erp_status,
            )
        )


def parse_additional_info(value: str | None) -> frozenset[str]:
    """``additionalInfo``: comma-separated optional block names, case-insensitive, unknown names ignored.
    Absent, ``all`` or only unknown names → every block; ``none`` → no optional block."""
    if value is None or not value.strip():
        return frozenset(OPTIONAL_BLOCKS)
    names = {n.strip().lower() for n in value.split(",") if n.strip()}
    if "all" in names:
        return frozenset(OPTIONAL_BLOCKS)
    if "none" in names:
        return frozenset()
    known = {_BLOCK_ALIASES.get(n, n) for n in names} & set(OPTIONAL_BLOCKS)
    return frozenset(known) if known else frozenset(OPTIONAL_BLOCKS)


def parse_filters(raw: dict[str, str | None], tz: Any) -> OrderFilters:
    """Turn the query values into ``OrderFilters`` (400 on a malformed value)."""
    status_type = parse_int(raw.get("statusType"), "statusType")
    if status_type is not None and status_type not in st.STATUS_TYPE_LABELS:
        raise InvalidInput(BAD_STATUS_TYPE.format(value=raw.get("statusType")))

    def date(name: str) -> datetime | None:
        value = raw.get(name)
        if value is None or not value.strip():
            return None
        return parse_filter_datetime(value, tz, name=name)

    def text(name: str) -> str | None:
        value = raw.get(name)
        return value.strip() if value is not None and value.strip() else None

    return OrderFilters(
        status_type=status_type,
        date_created_from=date("dateCreatedFrom"),
        sale_date_from=date("saleDateFrom"),
        status_date_from=date("statusDateFrom"),
        id_from=parse_int(raw.get("idFrom"), "idFrom"),
        id_to=parse_int(raw.get("idTo"), "idTo"),
        external_from=text("externalOrderIdFrom"),
        external_to=text("externalOrderIdTo"),
        integrated=parse_bool(raw.get("Integrated"), "Integrated"),
        erp_status=text("erpStatus"),
        marketplace_id=parse_int(raw.get("marketplaceId"), "marketplaceId"),
        include_pending_payments=bool(parse_bool(raw.get("includePendingPayments"), "includePendingPayments")),
        blocks=parse_additional_info(raw.get("additionalInfo")),
    )


def integrated_filter(filters: OrderFilters, settings: Settings) -> bool | None:
    """The effective ``Integrated`` filter. Documented default ``false``, except when the query selects
    orders by status, id or ERP status (the late-cancellation cycle must see integrated orders)."""
    if filters.integrated is not None:
        return filters.integrated
    if filters.selective and not settings.orders_integrated_default_always:
        return None
    return False


def _conditions(filters: OrderFilters, account_id: int, *, integrated: bool | None, pending: bool) -> list[Any]:
    conds: list[ColumnElement[bool]] = [Order.account_id == account_id]
    if integrated is not None:
        conds.append(Order.integrated == integrated)
    if not pending:
        conds.append(Order.payment_pending == false())  # "= false": indexable, unlike IS FALSE
    if filters.status_type is not None:
        # status_type is NULL for 70 Deleted, so this also excludes deleted orders.
        conds.append(Order.status_type == filters.status_type)
    else:
        conds.append(Order.status != st.DELETED)
    if filters.status_date_from is not None:
        conds.append(Order.status_date >= filters.status_date_from)
    if filters.date_created_from is not None:
        conds.append(Order.created_at >= filters.date_created_from)
    if filters.sale_date_from is not None:
        conds.append(Order.sale_date >= filters.sale_date_from)
    if filters.id_from is not None:
        conds.append(Order.id >= filters.id_from)
    if filters.id_to is not None:
        conds.append(Order.id <= filters.id_to)
    if filters.external_from is not None:
        conds.append(Order.external_order_id >= filters.external_from)
    if filters.external_to is not None:
        conds.append(Order.external_order_id <= filters.external_to)
    if filters.erp_status is not None:
        conds.append(Order.erp_status == filters.erp_status)
    if filters.marketplace_id is not None:
        conds.append(Order.marketplace_id == filters.marketplace_id)
    return conds


# Columns read to render an order (everything but what only writes need).
_RENDER_COLUMNS = (
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


def order_query(
    session: Session, settings: Settings, account_id: int, filters: OrderFilters, page: Page | None = None
) -> tuple[Select[Any], Select[Any]]:
    """The page query and the count query of GET /v2/orders (also used to show query plans)."""
    pending = filters.include_pending_payments and may_handle_pending_payments(session, settings, account_id)
    conds = _conditions(filters, account_id, integrated=integrated_filter(filters, settings), pending=pending)
    where = and_(*conds)
    rows = select(*_RENDER_COLUMNS).where(where)
    if page is not None and page.sort.id == DATE_CREATED_SORT.id:
        rows = rows.order_by(Order.sale_date, Order.id)
    elif _narrowed_by_status_or_date(filters) and session.get_bind().dialect.name == "sqlite":
        # SQLite's planner (no range statistics) would walk the primary key to skip the sort and scan the whole
        # history; "ORDER BY id + 0" makes it use the status/date index and sort the few rows it finds.
        rows = rows.order_by(Order.id + literal_column("0"))
    else:
        rows = rows.order_by(Order.id)
    if page is not None:
        rows = rows.offset(page.offset).limit(page.limit)
    count = select(func.count()).select_from(Order).where(where)
    return rows, count


def _narrowed_by_status_or_date(filters: OrderFilters) -> bool:
    return filters.status_date_from is not None or filters.status_type is not None


def list_orders(
    session: Session, settings: Settings, account_id: int, filters: OrderFilters, page: Page
) -> tuple[int, list[str]]:
    """Total and the page of orders, each already serialised (JSON text)."""
    rows_q, count_q = order_query(session, settings, account_id, filters, page)
    rows = session.execute(rows_q).all()
    # A short page at offset 0 already tells the total (the common case of the normal cycle).
    total = len(rows) if page.offset == 0 and len(rows) < page.limit else int(session.scalar(count_q) or 0)
    return total, render_texts(session, rows, filters.blocks)


def _documents_by_order(session: Session, order_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
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


def render_texts(session: Session, rows: Sequence[Any], blocks: frozenset[str] | None = None) -> list[str]:
    """Serialised orders for rows of ``_RENDER_COLUMNS`` (documents fetched in one query for the page)."""
    with_docs = [row.id for row in rows if row.document_count]
    documents = _documents_by_order(session, with_docs) if with_docs else {}
    texts = [_render_text(row, documents.get(row.id, [])) for row in rows]
    if blocks is None or len(blocks) == len(OPTIONAL_BLOCKS):
        return texts
    return [orjson.dumps(_restrict(orjson.loads(t), blocks)).decode() for t in texts]


def render_orders(session: Session, rows: Sequence[Any], blocks: frozenset[str] | None = None) -> list[dict[str, Any]]:
    """Orders as wire dictionaries (carts, labels, single orders)."""
    return [orjson.loads(t) for t in render_texts(session, rows, blocks)]


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
        "A": "null" if row.external_shipping_id is None else str(row.external_shipping_id),
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


def render_one(session: Session, account_id: int, order_id: int) -> dict[str, Any]:
    """One order in wire shape (404 when absent or deleted)."""
    row = session.execute(
        select(*_RENDER_COLUMNS).where(Order.id == order_id, Order.account_id == account_id, Order.status != st.DELETED)
    ).first()
    if row is None:
        raise NotFound(ORDER_NOT_FOUND)
    return render_orders(session, [row])[0]


# --- GET /v2/orders/packs/{packId} -----------------------------------------------------------------------


def get_pack(session: Session, account_id: int, pack_id: str) -> dict[str, Any]:
    """The OrdersPack of a cart: shared blocks once (from its first order) and every order."""
    key = pack_id.strip()
    rows = session.execute(
        select(*_RENDER_COLUMNS)
        .where(Order.account_id == account_id, Order.pack_id == key, Order.status != st.DELETED)
        .order_by(Order.id)
    ).all()
    if not rows:
        raise NotFound(PACK_NOT_FOUND)
    orders = render_orders(session, rows)
    first = orders[0]
    marketplace = dict(first["MarketPlace"])
    return {
        "Id": int(key) if key.isdigit() else key,
        "SourcePackId": first["SourcePackId"],
        "IsComplete": all(bool(o["IsCompletePackOrder"]) for o in orders),
        "Marketplace": marketplace,
        "SellerAccount": first["SellerAccount"],
        "Buyer": first["Buyer"],
        "Payments": first["Payments"],
        "Shipping": first["Shipping"],
        "Orders": orders,
    }


# --- documents (GET; attach is shared with the write side) ------------------------------------------------

DOC_TYPE_REQUIRED = "documentType is required: 0 (Invoice), 1 (Receipt) or 2 (Electronic fiscal invoice)"
BAD_DOC_FORMAT = "Invalid documentFormat '{value}': use pdf or xml"
FORMAT_ONLY_FOR_NFE = "documentFormat applies only to documentType 2 (Electronic fiscal invoice); omit it"
LABEL_NOT_A_DOCUMENT = "Shipping labels (documentType 7) are served by GET /v2/orders/{orderId}/shippinglabel"
NO_DOCUMENT = "The order has no document of type {doc_type}"
NO_DOCUMENT_FORMAT = "The order has no document of type {doc_type} in format {fmt}"


@dataclass(frozen=True, slots=True)
class FileOut:
    """A file to send."""

    content: bytes
    media_type: str
    filename: str


def _order_row(session: Session, account_id: int, order_id: int) -> Order:
    order = session.scalar(
        select(Order).where(Order.id == order_id, Order.account_id == account_id, Order.status != st.DELETED)
    )
    if order is None:
        raise NotFound(ORDER_NOT_FOUND)
    return order


def get_document(
    session: Session,
    store: docs.DocumentStore,
    account_id: int,
    order_id: int,
    doc_type_raw: str | None,
    doc_format_raw: str | None,
) -> FileOut:
    """The latest document of a type (spec 20 §4). Type 2 with ``pdf`` renders a DANFE-style summary."""
    doc_type = parse_int(doc_type_raw, "documentType")
    if doc_type is None:
        raise InvalidInput(DOC_TYPE_REQUIRED)
    if doc_type == docs.SHIPPING_LABEL:
        raise PreconditionFailed(LABEL_NOT_A_DOCUMENT)
    if doc_type not in docs.ALLOWED_FORMATS:
        raise InvalidInput(docs.UNKNOWN_TYPE.format(value=doc_type))
    fmt = (doc_format_raw or "").strip().lower() or None
    if fmt is not None and fmt not in (docs.PDF, docs.XML):
        raise InvalidInput(BAD_DOC_FORMAT.format(value=doc_format_raw))
    _order_row(session, account_id, order_id)
    query = (
        select(OrderDocument)
        .where(OrderDocument.order_id == order_id, OrderDocument.doc_type == doc_type)
        .order_by(OrderDocument.id.desc())
    )
    if doc_type == docs.NFE and fmt == docs.PDF:
        nfe = session.scalars(query.limit(1)).first()
        if nfe is None:
            raise NotFound(NO_DOCUMENT.format(doc_type=doc_type))
        return FileOut(danfe_pdf(nfe), docs.CONTENT_TYPES[docs.PDF], f"{nfe.name}.pdf")
    if fmt is not None and doc_type != docs.NFE:
        # Types 0 and 1 come back as uploaded; a matching format narrows, another one finds nothing.
        query = query.where(OrderDocument.extension == fmt)
    document = session.scalars(query.limit(1)).first()
    if document is None:
        message = NO_DOCUMENT_FORMAT if fmt else NO_DOCUMENT
        raise NotFound(message.format(doc_type=doc_type, fmt=fmt))
    return FileOut(store.get(document.sha256), document.content_type, f"{document.name}.{document.extension}")


def danfe_pdf(nfe: OrderDocument) -> bytes:
    """A DANFE-style summary of an attached NF-e (its key as a Code 128 barcode)."""
    from fpdf import FPDF

    pdf = FPDF(unit="mm", format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 10, "DANFE - Documento Auxiliar da Nota Fiscal Eletronica", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    for text in (
        f"Numero: {nfe.document_number or '-'}    Serie: {nfe.series_number or '-'}",
        f"Chave de acesso: {nfe.fiscal_key or '-'}",
        f"Emissao: {format_utc(nfe.document_date) if nfe.document_date else '-'}",
        f"Arquivo XML: {nfe.name}.{nfe.extension} ({nfe.size} bytes, SHA-256 {nfe.sha256[:16]}...)",
    ):
        pdf.cell(0, 7, labels._latin1(text), new_x="LMARGIN", new_y="NEXT")
    if nfe.fiscal_key and nfe.fiscal_key.isdigit():
        labels._draw_code128(pdf, nfe.fiscal_key, 10, pdf.get_y() + 4, 150, 18)
    return bytes(pdf.output())


@dataclass(frozen=True, slots=True)
class DocumentUpload:
    """A validated upload request."""

    doc_type: int
    data: bytes
    name: str | None
    extension: str | None
    document_number: str | None = None
    document_date: datetime | None = None
    fiscal_key: str | None = None
    series_number: str | None = None
    message_text: str | None = None


def store_document(
    session: Session, store: docs.DocumentStore, settings: Settings, order: Order, upload: DocumentUpload
) -> tuple[OrderDocument, bool]:
    """Validate and store a document for ``order`` (no commit). Returns ``(document, created)``; the same
    bytes attached again as the same type return the existing document (idempotent retry)."""
    sniffed = docs.inspect(
        upload.data,
        doc_type=upload.doc_type,
        declared_extension=upload.extension,
        max_bytes=settings.documents_max_bytes,
    )
    existing = session.scalar(
        select(OrderDocument).where(
            OrderDocument.order_id == order.id,
            OrderDocument.doc_type == upload.doc_type,
            OrderDocument.sha256 == sniffed.sha256,
        )
    )
    if existing is not None:
        return existing, False
    store.put(upload.data)
    default_name = f"{docs.DOCUMENT_TYPES[upload.doc_type].lower().replace(' ', '-')}-{order.id}"
    document = OrderDocument(
        order_id=order.id,
        account_id=order.account_id,
        doc_type=upload.doc_type,
        name=docs.safe_name(upload.name, default_name),
        extension=sniffed.fmt,
        content_type=sniffed.content_type,
        size=sniffed.size,
        sha256=sniffed.sha256,
        document_number=upload.document_number,
        document_date=upload.document_date,
        fiscal_key=upload.fiscal_key,
        series_number=upload.series_number,
        message_text=upload.message_text,
        created_at=clock.utcnow(),
    )
    session.add(document)
    session.execute(
        update(Order)
        .where(Order.id == order.id)
        .values(
            document_count=Order.document_count + 1,
            updated_at=clock.utcnow(),
            version=Order.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return document, True


# --- shipping labels ---------------------------------------------------------------------------------------

LABEL_FORMATS = {"PDF": "application/pdf", "TXT": "text/plain; charset=utf-8", "ZIP": "application/zip"}
FORMAT_REQUIRED = "format is required: TXT (ZPL), ZIP (ZPL + control receipt PDF) or PDF"
BAD_FORMAT = "Invalid format '{value}': use TXT, ZIP or PDF"
NO_SHIPMENT = "The order has no marketplace shipment, so there is no shipping label"


@dataclass(frozen=True, slots=True)
class LabelRequest:
    """A parsed label request."""

    fmt: str
    as_base64: bool


def parse_label_request(fmt_raw: str | None, base64_raw: str | None) -> LabelRequest:
    """Validate ``format`` (case-insensitive) and ``base64``."""
    if fmt_raw is None or not fmt_raw.strip():
        raise InvalidInput(FORMAT_REQUIRED)
    fmt = fmt_raw.strip().upper()
    if fmt not in LABEL_FORMATS:
        raise InvalidInput(BAD_FORMAT.format(value=fmt_raw.strip()))
    return LabelRequest(fmt=fmt, as_base64=bool(parse_bool(base64_raw, "base64")))


def _address_lines(address: dict[str, Any] | None) -> list[str]:
    if not address:
        return []
    street = " ".join(p for p in (address.get("StreetName"), address.get("StreetNumber")) if p)
    city = " ".join(p for p in (address.get("ZipCode"), address.get("City")) if p)
    region = ", ".join(p for p in (address.get("Neighborhood"), address.get("State"), address.get("CountryId")) if p)
    lines = [line for line in (street or address.get("Description") or "", city, region) if line]
    if address.get("Notes"):
        lines.append(str(address["Notes"]))
    return lines


def _label_data(session: Session, orders: Sequence[Order], first: dict[str, Any]) -> labels.LabelData:
    head = orders[0]
    account = session.get(Account, head.account_id)
    store = session.scalar(
        select(Store).where(Store.account_id == head.account_id).order_by(Store.is_principal.desc(), Store.id).limit(1)
    )
    sender_lines = _address_lines(store.address) if store is not None and store.address else []
    shipping = first["Shipping"]
    receiver = shipping.get("Receiver") or {}
    buyer = first.get("Buyer") or {}
    label_orders = []
    for order in orders:
        detail = orjson.loads(order.detail)
        label_orders.append(
            labels.LabelOrder(
                order_id=order.id,
                external_order_id=order.external_order_id,
                items=[
                    labels.LabelItem(
                        quantity=int(item.get("Quantity") or 0),
                        sku=str((item.get("Product") or {}).get("Sku") or ""),
                        title=str((item.get("Product") or {}).get("Title") or ""),
                    )
                    for item in detail["Items"]
                    if item["Type"]["Key"] != ITEM_COMPONENT
                ],
            )
        )
    marketplace = first["MarketPlace"]
    return labels.LabelData(
        shipment_id=int(head.external_shipping_id or 0),
        marketplace=str(marketplace.get("Value") or ""),
        logistic=ship.logistic_name(head.logistic_type),
        pack_id=head.pack_id,
        sender_name=(account.business_name or account.name) if account else "",
        sender_lines=sender_lines,
        receiver_name=str(receiver.get("Name") or buyer.get("Name") or ""),
        receiver_phone=str(receiver.get("Phone") or ""),
        receiver_lines=_address_lines(shipping.get("ReceiverAddress")),
        orders=label_orders,
        printed_at=clock.utcnow(),
    )


def shipping_label(session: Session, account_id: int, order_id: int, request: LabelRequest) -> FileOut:
    """The label of the order's shipment (a cart's orders travel together: one label lists them all)."""
    order = _order_row(session, account_id, order_id)
    if order.external_shipping_id is None:
        raise PreconditionFailed(NO_SHIPMENT)
    needs_nfe = False
    family = marketplace_family(session, order.marketplace_id)
    if family == "mercadolibre" and order.marketplace_id in _brazilian_marketplaces(session):
        has_nfe = session.scalar(
            select(func.count())
            .select_from(OrderDocument)
            .where(OrderDocument.order_id == order.id, OrderDocument.doc_type == docs.NFE)
        )
        needs_nfe = not has_nfe
    refusal = ship.label_refusal(
        logistic_type=order.logistic_type,
        status=order.shipment_status,
        substatus=order.shipment_substatus,
        needs_nfe=needs_nfe,
    )
    if refusal:
        raise PreconditionFailed(refusal)
    travelling = [order]
    if order.pack_id:
        travelling = list(
            session.scalars(
                select(Order)
                .where(
                    Order.account_id == account_id,
                    Order.pack_id == order.pack_id,
                    Order.external_shipping_id == order.external_shipping_id,
                    Order.status != st.DELETED,
                )
                .order_by(Order.id)
            )
        ) or [order]
    first = render_orders(session, [_row_of(session, order.id)])[0]
    data = _label_data(session, travelling, first)
    if request.fmt == "PDF":
        content, name = labels.label_pdf(data), f"etiqueta-{data.shipment_id}.pdf"
    elif request.fmt == "TXT":
        content, name = labels.label_zpl(data).encode(), f"etiqueta-{data.shipment_id}.txt"
    else:
        content, name = labels.label_zip(data), f"etiqueta-{data.shipment_id}.zip"
    if request.as_base64:
        return FileOut(base64.b64encode(content), "text/plain; charset=utf-8", name)
    return FileOut(content, LABEL_FORMATS[request.fmt], name)


def _row_of(session: Session, order_id: int) -> Any:
    return session.execute(select(*_RENDER_COLUMNS).where(Order.id == order_id)).one()


_brazil: set[int] | None = None


def _brazilian_marketplaces(session: Session) -> set[int]:
    global _brazil
    if _brazil is None:
        _brazil = set(session.scalars(select(Marketplace.id).where(Marketplace.country_id == "BR")))
    return _brazil


def mark_label_printed(session: Session, account_id: int, order_id: int) -> None:
    """First print of a ready-to-print label: substatus → printed, FirstPrinted stamped (as the marketplace
    does). Conditional, so concurrent downloads stamp once; commits."""
    now = clock.utcnow()
    order = session.scalar(select(Order).where(Order.id == order_id, Order.account_id == account_id))
    if order is None or order.external_shipping_id is None:
        session.rollback()
        return
    session.execute(
        update(Order)
        .where(
            Order.account_id == account_id,
            Order.external_shipping_id == order.external_shipping_id,
            Order.shipment_substatus == ship.SUB_READY_TO_PRINT,
        )
        .values(
            shipment_substatus=ship.SUB_PRINTED,
            label_first_printed_at=func.coalesce(Order.label_first_printed_at, now),
            shipment_updated_at=now,
            updated_at=now,
            version=Order.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()


def download_label(db: Database, account_id: int, order_id: int, request: LabelRequest) -> FileOut:
    """The label file; the first download of a ready-to-print label marks it printed (own short write)."""
    with db.reading() as session:
        label = shipping_label(session, account_id, order_id, request)
        substatus = session.scalar(select(Order.shipment_substatus).where(Order.id == order_id))
    if substatus == ship.SUB_READY_TO_PRINT:
        session = db.write_session()
        try:
            mark_label_printed(session, account_id, order_id)
        finally:
            session.close()
    return label


# --- diagnostics -------------------------------------------------------------------------------------------


def explain(session: Session, statement: Select[Any]) -> list[str]:
    """The database's plan for ``statement`` (EXPLAIN QUERY PLAN on SQLite, EXPLAIN on PostgreSQL)."""
    connection = session.connection()
    compiled = statement.compile(dialect=connection.dialect)
    processors = compiled._bind_processors
    params = {key: processors[key](value) if key in processors else value for key, value in compiled.params.items()}
    if connection.dialect.name == "sqlite":
        positional = tuple(params[key] for key in compiled.positiontup or ())
        rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), positional).all()
        return [str(row[-1]) for row in rows]
    rows = connection.exec_driver_sql("EXPLAIN " + str(compiled), params).all()
    return [str(row[0]) for row in rows]


def cycle_queries(
    session: Session, settings: Settings, account_id: int, status_date_from: datetime, offset: int = 0
) -> dict[str, Select[Any]]:
    """The page and count queries of the two documented integration cycles (for plans and benchmarks)."""
    page = Page(offset=offset, limit=100, sort=ID_SORT, sort_requested=False, partial=False, available=ORDER_SORTS)
    normal = OrderFilters()
    late = OrderFilters(status_type=st.TYPE_CANCELLED, status_date_from=status_date_from)
    normal_rows, normal_count = order_query(session, settings, account_id, normal, page)
    late_rows, late_count = order_query(session, settings, account_id, late, page)
    return {"normal.page": normal_rows, "normal.count": normal_count, "late.page": late_rows, "late.count": late_count}


# ============================================================================================================
# Write side (spec 21)
# ============================================================================================================
# Concurrency: every batch locks the orders it touches in ascending id order (SELECT ... FOR UPDATE on
# PostgreSQL; SQLite's write transactions are serialised by BEGIN IMMEDIATE), so two workers never deadlock
# and never lose an update; each change is written with its history row in the same transaction.

INTEGRATE_OK = "Ok"
INTEGRATE_NOT_FOUND = "Order not found"
ELEMENT_NOT_OBJECT = "Each element must be a JSON object"
ORDER_ID_REQUIRED = "OrderId is required and must be an integer"
BAD_FIELD = "Invalid value for '{name}'"
STATUS_REQUIRED = "Status is required and must be an integer"


def _field(raw: Any, name: str) -> tuple[bool, Any]:
    """``(present, value)`` of a property matched case-insensitively."""
    if not isinstance(raw, dict):
        return False, None
    wanted = name.lower()
    for key, value in raw.items():
        if isinstance(key, str) and key.lower() == wanted:
            return True, value
    return False, None


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value <= 9_223_372_036_854_775_807 else None
    if isinstance(value, str) and value.strip().isdigit():
        return _as_int(int(value.strip()))
    return None


def _as_text(value: Any, limit: int) -> tuple[bool, str | None]:
    if value is None:
        return True, None
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        text = str(value)
        return len(text) <= limit, text
    return False, None


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _locked_orders(session: Session, account_id: int, order_ids: Sequence[int]) -> dict[int, Order]:
    if not order_ids:
        return {}
    query = (
        select(Order)
        .options(defer(Order.detail), defer(Order.package_info))  # marks and statuses never need the detail
        .where(Order.account_id == account_id, Order.id.in_(sorted(set(order_ids))), Order.status != st.DELETED)
        .order_by(Order.id)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return {order.id: order for order in session.scalars(query)}


def _history(order: Order, actor: str, action: str, now: datetime, **fields: Any) -> dict[str, Any]:
    return {"order_id": order.id, "account_id": order.account_id, "at": now, "actor": actor, "action": action, **fields}


def integrate(session: Session, account_id: int, actor: str, elements: list[Any]) -> dict[str, Any]:
    """PUT /v2/orders/integrate (spec 21 §2, authoritative example): results in request order with
    ``Status`` as a string, "Ok" / "Order not found", partial success; commits."""
    parsed: list[tuple[Any, int | None, dict[str, Any] | None, str | None]] = []
    for raw in elements:
        if not isinstance(raw, dict):
            parsed.append((raw, None, None, ELEMENT_NOT_OBJECT))
            continue
        order_id = _as_int(_field(raw, "OrderId")[1])
        if order_id is None:
            parsed.append((raw, None, None, ORDER_ID_REQUIRED))
            continue
        changes: dict[str, Any] = {}
        problem = None
        present, value = _field(raw, "Integrated")
        if present and value is not None:
            flag = _as_bool(value)
            if flag is None:
                problem = BAD_FIELD.format(name="Integrated")
            changes["integrated"] = flag
        elif not present:
            changes["integrated"] = True  # marking as integrated is what the endpoint is for
        for name, column, limit in (("OwnOrderId", "integrated_order_id", 100), ("ErpStatus", "erp_status", 100)):
            present, value = _field(raw, name)
            if present:
                ok, text = _as_text(value, limit)
                if not ok:
                    problem = BAD_FIELD.format(name=name)
                changes[column] = text
        parsed.append((raw, order_id, changes, problem))
    now = clock.utcnow()
    orders = _locked_orders(session, account_id, [p[1] for p in parsed if p[1] is not None and p[3] is None])
    history: list[dict[str, Any]] = []
    for _raw, order_id, changes, _problem in sorted(
        (p for p in parsed if p[1] in orders and p[3] is None), key=lambda p: p[1] or 0
    ):
        order = orders[order_id or 0]
        assert changes is not None
        if all(getattr(order, column) == value for column, value in changes.items()):
            continue  # a repeat after a timeout: nothing to do, nothing to record
        for column, value in changes.items():
            setattr(order, column, value)
        order.updated_at = now
        order.version += 1
        history.append(
            _history(
                order,
                actor,
                "integrate",
                now,
                integrated=order.integrated,
                integrated_order_id=order.integrated_order_id,
                erp_status=order.erp_status,
            )
        )
    session.flush()
    if history:
        session.execute(insert(OrderHistory), history)
    session.commit()
    results = []
    for raw, order_id, _changes, problem in parsed:
        if problem is not None:
            results.append({"Status": "400", "Message": problem, "OrderStatus": raw})
        elif order_id not in orders:
            results.append({"Status": "400", "Message": INTEGRATE_NOT_FOUND, "OrderStatus": raw})
        else:
            order = orders[order_id]
            results.append(
                {
                    "Status": "200",
                    "Message": INTEGRATE_OK,
                    "OrderStatus": {
                        "OrderId": order.id,
                        "OwnOrderId": order.integrated_order_id,
                        "Integrated": order.integrated,
                        "ErpStatus": order.erp_status,
                    },
                }
            )
    return {"Total": len(results), "Results": results}


def update_statuses(session: Session, account_id: int, actor: str, elements: list[Any]) -> dict[str, Any]:
    """PUT /v2/orders (spec 21 §1): per-order status + tracking with the transition table and the
    automatic/manual rules; per-order results in request order; commits."""
    from alephee.marketplaces.outbox import enqueue

    parsed: list[tuple[Any, int | None, int | None, dict[str, Any] | None, str | None]] = []
    for raw in elements:
        if not isinstance(raw, dict):
            parsed.append((raw, None, None, None, ELEMENT_NOT_OBJECT))
            continue
        order_id = _as_int(_field(raw, "OrderId")[1])
        status_value = _field(raw, "Status")[1]
        target = status_value if isinstance(status_value, int) and not isinstance(status_value, bool) else None
        present, tracking_raw = _field(raw, "Tracking")
        tracking: dict[str, Any] | None = None
        problem = None
        if order_id is None:
            problem = ORDER_ID_REQUIRED
        elif target is None:
            problem = STATUS_REQUIRED
        elif present and tracking_raw is not None:
            if not isinstance(tracking_raw, dict):
                problem = BAD_FIELD.format(name="Tracking")
            else:
                ok_n, number = _as_text(_field(tracking_raw, "Number")[1], 100)
                ok_s, status_text = _as_text(_field(tracking_raw, "Status")[1], 200)
                if not (ok_n and ok_s):
                    problem = BAD_FIELD.format(name="Tracking")
                tracking = {"Number": number, "Status": status_text}
        parsed.append((raw, order_id, target, tracking, problem))
    now = clock.utcnow()
    orders = _locked_orders(session, account_id, [p[1] for p in parsed if p[1] is not None and p[4] is None])
    outcome: dict[int, tuple[int, str]] = {}
    history: list[dict[str, Any]] = []
    order_of_processing = sorted(range(len(parsed)), key=lambda i: (parsed[i][1] or 0, i))
    for index in order_of_processing:
        _raw, order_id, target, tracking, problem = parsed[index]
        if problem is not None or order_id is None or target is None:
            continue
        order = orders.get(order_id)
        if order is None:
            outcome[index] = (404, st.ORDER_NOT_FOUND)
            continue
        family = marketplace_family(session, order.marketplace_id)
        code, message = st.transition_error(
            order.status,
            target,
            api_created=order.origin == ORIGIN_API,
            automatic=st.updates_automatically(
                family=family,
                logistic_type=order.logistic_type,
                shipping_method=order.shipping_method,
                api_created=order.origin == ORIGIN_API,
            ),
            logistic=ship.logistic_name(order.logistic_type) or "unknown",
        )
        outcome[index] = (code, message)
        if code != 200:
            continue
        changed_status = order.status != target
        changed_tracking = tracking is not None and (
            order.tracking_number != tracking["Number"] or order.tracking_status != tracking["Status"]
        )
        if not changed_status and not changed_tracking:
            continue
        previous = order.status
        if changed_status:
            order.status = target
            order.status_type = st.status_type_of(target)
            order.status_date = now
            if st.closes_order(target):
                order.date_closed = order.date_closed or now
            shipment = ship.SHIPMENT_FOR_ORDER_STATUS.get(target)
            if shipment is not None:
                order.shipment_status, order.shipment_substatus = shipment
                order.shipment_updated_at = now
        if tracking is not None:
            order.tracking_number, order.tracking_status = tracking["Number"], tracking["Status"]
        order.updated_at = now
        order.version += 1
        history.append(
            _history(
                order,
                actor,
                "status" if changed_status else "tracking",
                now,
                from_status=previous,
                to_status=order.status,
                tracking_number=order.tracking_number,
                tracking_status=order.tracking_status,
            )
        )
        if order.origin != ORIGIN_API:
            enqueue(
                session,
                account_id=order.account_id,
                topic="order.status",
                aggregate_type="order",
                aggregate_id=order.id,
                payload={"OrderId": order.id, "Status": order.status, "Tracking": tracking},
                marketplace_id=order.marketplace_id,
            )
    session.flush()
    if history:
        session.execute(insert(OrderHistory), history)
    session.commit()
    results = []
    for index, (raw, _order_id, _target, _tracking, problem) in enumerate(parsed):
        code, message = (400, problem) if problem is not None else outcome[index]
        results.append({"OrderStatus": raw, "Status": code, "Message": message})
    return {"Total": len(results), "Results": results}


def order_history(session: Session, order_id: int) -> list[Any]:
    """The history rows of an order, oldest first."""
    return list(
        session.scalars(select(OrderHistory).where(OrderHistory.order_id == order_id).order_by(OrderHistory.id))
    )
