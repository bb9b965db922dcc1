"""Business rules of the orders domain: ingesting orders, the GET orders query and its rendering, carts,
documents and shipping labels. Write-side rules (integrate, status, split, messages, create, delete) follow
in the second half of the file.

Rendering an order (the stored ``detail`` template overlaid with the relational columns) and the cache of
rendered orders live in ``orders/rendering.py``.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    bindparam,
    false,
    func,
    insert,
    literal_column,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session, defer

from alephee import clock
from alephee.accounts.models import Account, Store
from alephee.config import Settings
from alephee.db import Database, ReadState
from alephee.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge, PreconditionFailed
from alephee.http.body import raw_field
from alephee.http.dates import parse_datetime, parse_filter_datetime
from alephee.http.numbers import int_from_text, plain_int, to_int
from alephee.http.paging import Page, SortOption
from alephee.http.params import MAX_INT64, query_bool, query_int
from alephee.http.wire import clean_identifier, clean_text, format_utc
from alephee.marketplaces.models import Marketplace
from alephee.orders import document_quota, labels
from alephee.orders import documents as docs
from alephee.orders import messages as msg
from alephee.orders import shipping_rules as ship
from alephee.orders import statuses as st
from alephee.orders.models import (
    MESSAGE_FROM_BUYER,
    MESSAGE_FROM_SELLER,
    ORIGIN_API,
    ORIGIN_B2B,
    ORIGIN_MARKETPLACE,
    Order,
    OrderAccountOptions,
    OrderCreation,
    OrderDocument,
    OrderHistory,
    OrderMessage,
    history_row,
)
from alephee.orders.rendering import (
    KEY_COLUMNS,
    OPTIONAL_BLOCKS,
    RENDER_COLUMNS,
    detail_template,
    page_body,
    render_orders,
)
from alephee.orders.schemas import OrderDetail, OrderInfoIn
from alephee.webhooks import events as webhook_events

ID_SORT = SortOption("Id", "Order by internal ID asc")
# Orders no marketplace owns: the ERP may cancel them and nothing is pushed to a channel for them.
HUB_ORIGINS = frozenset({ORIGIN_API, ORIGIN_B2B})
DATE_CREATED_SORT = SortOption("dateCreated", "Order by date of sale asc")
ORDER_SORTS = (ID_SORT, DATE_CREATED_SORT)

ORDER_NOT_FOUND = "Order not found"
PACK_NOT_FOUND = "Shopping cart (pack) not found"
BAD_STATUS_TYPE = "Invalid statusType '{value}': use 0 (New), 1 (Pending), 2 (Closed) or 99 (Cancelled)"

# Item types (``Items[].Type``; codes not documented, ours).
ITEM_NORMAL, ITEM_KIT, ITEM_COMPONENT = 1, 2, 3
ITEM_TYPES = {ITEM_NORMAL: "PRODUCT", ITEM_KIT: "KIT", ITEM_COMPONENT: "COMPONENT"}
# Item ids are derived from the order id so a kit's components can point at it before anything is stored.
ITEM_ID_FACTOR = 1000


# --- small parsers for query strings ---------------------------------------------------------------------


def order_parties(account: Any, marketplace: Any) -> dict[str, Any]:
    """``SellerAccount`` and ``MarketPlace`` of a new order's detail (every way an order enters the hub)."""
    return {
        "SellerAccount": {
            "Id": account.id,
            "OwnCode": account.own_code,
            "Name": account.name,
            "BusinessName": account.business_name,
        },
        "MarketPlace": {"Key": marketplace.id, "Value": marketplace.name, "Channel": ""},
    }


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


def _whole_seconds(value: datetime) -> datetime:
    return value.replace(microsecond=0)


def ingest_order(session: Session, new: NewOrder) -> Order:
    """Store an arriving order (no commit). Recomputes the completeness of its cart.

    Its dates are stored in whole seconds, as the API renders them (a value read from a response and sent back
    as a filter then compares exactly), and the sale date is never after the arrival: a marketplace's clock
    ahead of the hub's (the sandbox's simulated clock) must not put a ``DateCreated``, and so a client's sync
    bookmark taken from it, in the hub's future."""
    now = clock.utcnow()
    created_at = _whole_seconds(new.created_at or now)
    status_date = _whole_seconds(new.status_date or now)
    sale_date = min(_whole_seconds(new.sale_date), created_at)
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
        status_date=status_date,
        integrated=new.integrated,
        integrated_order_id=new.integrated_order_id,
        erp_status=new.erp_status,
        payment_pending=new.payment_pending,
        sale_date=sale_date,
        created_at=created_at,
        updated_at=status_date if new.status_date else created_at,
        date_closed=status_date if st.closes_order(new.status) else None,
        logistic_type=new.logistic_type,
        shipping_method=ship.default_method(new.logistic_type, marketplace_family=family),
        external_shipping_id=new.external_shipping_id,
        shipment_status=new.shipment_status,
        shipment_substatus=new.shipment_substatus,
        shipment_updated_at=status_date,
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
    webhook_events.order_created(session, order)
    return order


def refresh_pack(session: Session, account_id: int, pack_id: str) -> None:
    """Recompute ``IsCompletePackOrder`` of every order of a cart (all expected orders present)."""
    present = session.scalar(
        select(func.count())
        .select_from(Order)
        .where(Order.account_id == account_id, Order.pack_id == pack_id, Order.status != st.DELETED)
    )
    complete = func.coalesce(Order.pack_size, 1) <= (present or 0)
    # Only rows whose flag changes are written, so the others keep their version (and their cached rendering).
    session.execute(
        update(Order)
        .where(Order.account_id == account_id, Order.pack_id == pack_id)
        .where(Order.pack_complete.is_distinct_from(complete))
        .values(pack_complete=complete)
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


# The filters of GET /v2/orders as the query names them, with their OpenAPI descriptions (parse_filters
# reads exactly these names).
FILTER_DOCS = {
    "statusType": "0 New, 1 Pending, 2 Closed, 99 Cancelled.",
    "dateCreatedFrom": "DateCreated (the sale date) at/after this moment: yyyy-mm-dd, yyyy-mm-dd HH:mm or ISO 8601; "
    "without an offset the time is UTC, like every timestamp the API writes.",
    "saleDateFrom": "Sold at/after this moment (the same date as dateCreatedFrom).",
    "statusDateFrom": "LastUpdated at/after this moment: status changes, marketplace news and any other change.",
    "idFrom": "Order Id ≥ value.",
    "idTo": "Order Id ≤ value.",
    "externalOrderIdFrom": "ExternalOrderId ≥ value.",
    "externalOrderIdTo": "ExternalOrderId ≤ value.",
    "Integrated": "Default false (not yet integrated), except when statusType, statusDateFrom, an id range or "
    "erpStatus is given: then integrated and not integrated orders are both returned unless you send it.",
    "erpStatus": "Exact ErpStatus.",
    "marketplaceId": "Origin marketplace id.",
    "includePendingPayments": "true: also orders whose payment is still pending.",
    "additionalInfo": "Comma-separated optional blocks to fill (Documents, ActiveClaims, Adjustments, "
    "QuantitiesDetails, ExternalJson, Invoice); default all.",
}


def parse_filters(raw: Mapping[str, str]) -> OrderFilters:
    """Turn the query values into ``OrderFilters`` (400 on a malformed value). Naive dates are UTC, like every
    timestamp the API writes (``http.dates``)."""
    status_type = query_int(raw.get("statusType"), "statusType")
    if status_type is not None and status_type not in st.STATUS_TYPE_LABELS:
        raise InvalidInput(BAD_STATUS_TYPE.format(value=raw.get("statusType")))

    def date(name: str) -> datetime | None:
        value = raw.get(name)
        if value is None or not value.strip():
            return None
        return parse_filter_datetime(value, name=name)

    def text(name: str) -> str | None:
        value = raw.get(name)
        return value.strip() if value is not None and value.strip() else None

    return OrderFilters(
        status_type=status_type,
        date_created_from=date("dateCreatedFrom"),
        sale_date_from=date("saleDateFrom"),
        status_date_from=date("statusDateFrom"),
        id_from=query_int(raw.get("idFrom"), "idFrom"),
        id_to=query_int(raw.get("idTo"), "idTo"),
        external_from=text("externalOrderIdFrom"),
        external_to=text("externalOrderIdTo"),
        integrated=query_bool(raw.get("Integrated"), "Integrated"),
        erp_status=text("erpStatus"),
        marketplace_id=query_int(raw.get("marketplaceId"), "marketplaceId"),
        include_pending_payments=bool(query_bool(raw.get("includePendingPayments"), "includePendingPayments")),
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


# Optional filters of GET /v2/orders: the OrderFilters field, and its condition on a bound value of that name.
# Each date filter compares exactly the column its rendered field shows (orders/rendering.py): a client that
# sends back a timestamp it read gets every order whose field is at or after it. ``DateCreated`` is the sale
# date (dateCreatedFrom, saleDateFrom), ``LastUpdated`` the last change in the hub (statusDateFrom).
_FILTER_CONDITIONS: dict[str, Callable[[], ColumnElement[bool]]] = {
    "status_type": lambda: Order.status_type == bindparam("status_type"),
    "status_date_from": lambda: Order.updated_at >= bindparam("status_date_from"),
    "date_created_from": lambda: Order.sale_date >= bindparam("date_created_from"),
    "sale_date_from": lambda: Order.sale_date >= bindparam("sale_date_from"),
    "id_from": lambda: Order.id >= bindparam("id_from"),
    "id_to": lambda: Order.id <= bindparam("id_to"),
    "external_from": lambda: Order.external_order_id >= bindparam("external_from"),
    "external_to": lambda: Order.external_order_id <= bindparam("external_to"),
    "erp_status": lambda: Order.erp_status == bindparam("erp_status"),
    "marketplace_id": lambda: Order.marketplace_id == bindparam("marketplace_id"),
}


@dataclass(frozen=True)
class OrderQuery:
    """The statement of one GET /v2/orders request (total and page keys together) and its values."""

    statement: Select[Any]
    params: dict[str, Any]


# Filter shapes (present filters, Integrated, pending payments included, sorted by sale date) whose index holds
# every key of a rendered order (orders/models.py: ix_orders_integration_keys, ix_orders_status_type_date_keys):
# the normal cycle, and statusType with or without statusDateFrom (the late-cancellation cycle).
_KEYS_IN_INDEX = frozenset(
    {((), False, False, False)}
    | {
        (present, None, pending, False)
        for present in (("status_type",), ("status_type", "status_date_from"))
        for pending in (False, True)
    }
)


@functools.lru_cache(maxsize=512)
def _statement(
    present: tuple[str, ...], integrated: bool | None, pending: bool, by_sale_date: bool, sort_found_rows: bool
) -> Select[Any]:
    # Built once per combination of filters (a handful in practice): statements with bound values skip
    # rebuilding the expression on every poll. Integrated and pending are part of the shape so each
    # combination keeps its own plan.
    conds: list[ColumnElement[bool]] = [Order.account_id == bindparam("account_id")]
    if integrated is not None:
        conds.append(Order.integrated == (true() if integrated else false()))
    if not pending:
        conds.append(Order.payment_pending == false())  # "= false": indexable, unlike IS FALSE
    if "status_type" not in present:
        # status_type is NULL for 70 Deleted, so a statusType filter already excludes deleted orders.
        conds.append(Order.status != st.DELETED)
    conds.extend(_FILTER_CONDITIONS[name]() for name in present)
    where = and_(*conds)
    order = (Order.sale_date, Order.id) if by_sale_date else (Order.id,)
    # SQLite's planner (no range statistics) would walk the primary key to skip the sort and scan the whole
    # history; "ORDER BY id + 0" makes it use the status/date index and sort the few rows it finds.
    found_order = (Order.id + literal_column("0"),) if sort_found_rows and not by_sale_date else order
    page_columns = (*KEY_COLUMNS, *((Order.sale_date.label("sort_sale_date"),) if by_sale_date else ()))
    if (present, integrated, pending, by_sale_date) in _KEYS_IN_INDEX:
        # The index holds the page's keys: the page is read from it directly, never from the rows.
        page = select(*page_columns).where(where).order_by(*found_order)
        page = page.offset(bindparam("offset")).limit(bindparam("limit")).subquery("page")
    else:
        # Deferred join: the page's ids come from an index, however deep the offset; only the page's own
        # rows are then read (clients walk offset += 100, and skipping rows must not read them).
        page_ids = (
            select(Order.id).where(where).order_by(*found_order).offset(bindparam("offset")).limit(bindparam("limit"))
        ).subquery("page_ids")
        page = select(*page_columns).join(page_ids, Order.id == page_ids.c.id).subquery("page")
    # The total rides along as a one-row table joined to the page: one statement, one round trip, and a row
    # (with a NULL id) even when the page is empty.
    total = select(func.count().label("total")).select_from(Order).where(where).subquery("total")
    sort = (page.c.sort_sale_date, page.c.id) if by_sale_date else (page.c.id,)
    return (
        select(total.c.total, page.c.id, page.c.version, page.c.updated_at_key)
        .select_from(total.outerjoin(page, true()))
        .order_by(*sort)
    )


def order_query(session: Session, settings: Settings, account_id: int, filters: OrderFilters, page: Page) -> OrderQuery:
    """The statement of GET /v2/orders for these filters and this page (also used to show query plans)."""
    pending = filters.include_pending_payments and may_handle_pending_payments(session, settings, account_id)
    present = tuple(name for name in _FILTER_CONDITIONS if getattr(filters, name) is not None)
    sort_found_rows = _narrowed_by_status_or_date(filters) and session.get_bind().dialect.name == "sqlite"
    by_sale_date = page.sort.id == DATE_CREATED_SORT.id
    statement = _statement(present, integrated_filter(filters, settings), pending, by_sale_date, sort_found_rows)
    params = {name: getattr(filters, name) for name in present}
    params.update(account_id=account_id, offset=page.offset, limit=page.limit)
    return OrderQuery(statement, params)


def _narrowed_by_status_or_date(filters: OrderFilters) -> bool:
    return filters.status_date_from is not None or filters.status_type is not None


# The StateCache of page totals and keys (reused while the database is unchanged; see list_orders).
PAGE_CACHE = "order_pages"


def list_orders(
    database: Database,
    connection: Connection,
    settings: Settings,
    account_id: int,
    filters: OrderFilters,
    page: Page,
    state: ReadState | None = None,
    encoding: str | None = None,
) -> tuple[bytes, str | None]:
    """The page of orders as sent (the paged envelope, UTF-8 JSON), read on a read ``connection``, compressed
    with ``encoding`` when worth it: ``(body, content encoding or None)``.

    ``state``: the connection's ``ReadState`` taken before any read of this request; while the database is
    unchanged, polling the same page again reuses its total and keys instead of running the statement.
    """
    request_key = (account_id, filters, page.offset, page.limit, page.sort.id)
    pages = database.state_cache(PAGE_CACHE)
    found = pages.get(state, request_key) if state is not None else None
    if found is None:
        # An ORM session (joined to the connection) only to build the statement: the account's options.
        with database.session_on(connection) as session:
            query = order_query(session, settings, account_id, filters, page)
        rows = connection.execute(query.statement, query.params).all()
        found = (int(rows[0][0]), tuple(tuple(row[1:]) for row in rows if row[1] is not None))
        if state is not None:
            pages.put(state, request_key, found)
    total, keys = found
    return page_body(database, connection, page, total, keys, filters.blocks, encoding)


def render_one(session: Session, account_id: int, order_id: int) -> dict[str, Any]:
    """One order in wire shape (404 when absent or deleted)."""
    row = session.execute(
        select(*RENDER_COLUMNS).where(Order.id == order_id, Order.account_id == account_id, Order.status != st.DELETED)
    ).first()
    if row is None:
        raise NotFound(ORDER_NOT_FOUND)
    return render_orders(session, [row])[0]


# --- GET /v2/orders/packs/{packId} -----------------------------------------------------------------------


def get_pack(session: Session, account_id: int, pack_id: str) -> dict[str, Any]:
    """The OrdersPack of a cart: shared blocks once (from its first order) and every order."""
    key = pack_id.strip()
    rows = session.execute(
        select(*RENDER_COLUMNS)
        .where(Order.account_id == account_id, Order.pack_id == key, Order.status != st.DELETED)
        .order_by(Order.id)
    ).all()
    if not rows:
        raise NotFound(PACK_NOT_FOUND)
    orders = render_orders(session, rows)
    first = orders[0]
    marketplace = dict(first["MarketPlace"])
    return {
        "Id": key if (number := plain_int(key)) is None else number,
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


def order_row(session: Session, account_id: int, order_id: int) -> Order:
    """The account's order (not deleted), or ``NotFound``: the one lookup every order route uses."""
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
    doc_type = query_int(doc_type_raw, "documentType")
    if doc_type is None:
        raise InvalidInput(DOC_TYPE_REQUIRED)
    if doc_type == docs.SHIPPING_LABEL:
        raise PreconditionFailed(LABEL_NOT_A_DOCUMENT)
    if doc_type not in docs.ALLOWED_FORMATS:
        raise InvalidInput(docs.UNKNOWN_TYPE.format(value=doc_type))
    fmt = (doc_format_raw or "").strip().lower() or None
    if fmt is not None and fmt not in (docs.PDF, docs.XML):
        raise InvalidInput(BAD_DOC_FORMAT.format(value=doc_format_raw))
    order_row(session, account_id, order_id)
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
    # The type is the one of the sniffed format, never text from the row: a stored file is served only as
    # one of the formats it was accepted as.
    content_type = docs.CONTENT_TYPES.get(document.extension, docs.UNKNOWN_CONTENT_TYPE)
    return FileOut(store.get(document.sha256), content_type, f"{document.name}.{document.extension}")


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
    if nfe.fiscal_key and nfe.fiscal_key.isascii() and nfe.fiscal_key.isdigit():
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
    document_quota.reserve(session, settings, order.account_id, sniffed.size)
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
    return LabelRequest(fmt=fmt, as_base64=bool(query_bool(base64_raw, "base64")))


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
    order = order_row(session, account_id, order_id)
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
    return session.execute(select(*RENDER_COLUMNS).where(Order.id == order_id)).one()


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


def explain(session: Session, statement: Select[Any], values: dict[str, Any] | None = None) -> list[str]:
    """The database's plan for ``statement`` run with ``values`` (EXPLAIN QUERY PLAN on SQLite, EXPLAIN on
    PostgreSQL)."""
    connection = session.connection()
    compiled = statement.compile(dialect=connection.dialect)
    processors = compiled._bind_processors
    merged = {**compiled.params, **(values or {})}
    params = {key: processors[key](value) if key in processors else value for key, value in merged.items()}
    if connection.dialect.name == "sqlite":
        positional = tuple(params[key] for key in compiled.positiontup or ())
        rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), positional).all()
        return [str(row[-1]) for row in rows]
    rows = connection.exec_driver_sql("EXPLAIN " + str(compiled), params).all()
    return [str(row[0]) for row in rows]


def cycle_queries(
    session: Session, settings: Settings, account_id: int, status_date_from: datetime, offset: int = 0
) -> dict[str, tuple[Select[Any], dict[str, Any]]]:
    """The statements of the two documented integration cycles, with their values (for plans)."""
    page = Page(offset=offset, limit=100, sort=ID_SORT, sort_requested=False, partial=False, available=ORDER_SORTS)
    normal = order_query(session, settings, account_id, OrderFilters(), page)
    late_filters = OrderFilters(status_type=st.TYPE_CANCELLED, status_date_from=status_date_from)
    late = order_query(session, settings, account_id, late_filters, page)
    return {"normal": (normal.statement, normal.params), "late": (late.statement, late.params)}


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


def _as_int(value: Any) -> int | None:
    """A positive 64-bit id from a JSON value (number or integer text, ``http.numbers``), else None."""
    number = to_int(value)
    return number if number is not None and 0 < number <= MAX_INT64 else None


def _as_text(value: Any, limit: int, *, identifier: bool = False) -> tuple[bool, str | None]:
    """``(acceptable, text)`` of a raw text property: at most ``limit`` characters, the wire text rule
    (NFC, no control characters; ``identifier``: none at all, http/wire.py)."""
    if value is None:
        return True, None
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        try:
            text = (clean_identifier if identifier else clean_text)(str(value))
        except ValueError:
            return False, None
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


def integrate(session: Session, account_id: int, actor: str, elements: list[Any]) -> dict[str, Any]:
    """PUT /v2/orders/integrate (spec 21 §2, authoritative example): results in request order with
    ``Status`` as a string, "Ok" / "Order not found", partial success; commits."""
    parsed: list[tuple[Any, int | None, dict[str, Any] | None, str | None]] = []
    for raw in elements:
        if not isinstance(raw, dict):
            parsed.append((raw, None, None, ELEMENT_NOT_OBJECT))
            continue
        order_id = _as_int(raw_field(raw, "OrderId")[1])
        if order_id is None:
            parsed.append((raw, None, None, ORDER_ID_REQUIRED))
            continue
        changes: dict[str, Any] = {}
        problem = None
        present, value = raw_field(raw, "Integrated")
        if present and value is not None:
            flag = _as_bool(value)
            if flag is None:
                problem = BAD_FIELD.format(name="Integrated")
            changes["integrated"] = flag
        elif not present:
            changes["integrated"] = True  # marking as integrated is what the endpoint is for
        for name, column, limit in (("OwnOrderId", "integrated_order_id", 100), ("ErpStatus", "erp_status", 100)):
            present, value = raw_field(raw, name)
            if present:
                ok, text = _as_text(value, limit, identifier=name == "OwnOrderId")
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
        history.append(
            history_row(
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
        order_id = _as_int(raw_field(raw, "OrderId")[1])
        status_value = raw_field(raw, "Status")[1]
        target = status_value if isinstance(status_value, int) and not isinstance(status_value, bool) else None
        present, tracking_raw = raw_field(raw, "Tracking")
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
                ok_n, number = _as_text(raw_field(tracking_raw, "Number")[1], 100)
                ok_s, status_text = _as_text(raw_field(tracking_raw, "Status")[1], 200)
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
        hub_owned = order.origin in HUB_ORIGINS
        code, message = st.transition_error(
            order.status,
            target,
            api_created=hub_owned,
            automatic=st.updates_automatically(
                family=family,
                logistic_type=order.logistic_type,
                shipping_method=order.shipping_method,
                api_created=hub_owned,
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
        history.append(
            history_row(
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
        webhook_events.order_status_changed(session, order, previous)
        if changed_status and target == st.CANCELLED and order.origin == ORIGIN_B2B:
            from alephee.portal.service import release_cancelled_order_stock

            release_cancelled_order_stock(session, order)
        if order.origin not in HUB_ORIGINS:
            enqueue(
                session,
                account_id=order.account_id,
                topic="order.status",
                aggregate_type="order",
                aggregate_id=order.id,
                payload=order_payload(order, Status=order.status, Tracking=tracking),
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


# --- shared by the single-order writes ----------------------------------------------------------------------

_countries: dict[int, str | None] = {}


def marketplace_country(session: Session, marketplace_id: int) -> str | None:
    """The country of a marketplace (cached like ``marketplace_family``)."""
    if marketplace_id not in _countries:
        _countries[marketplace_id] = session.scalar(
            select(Marketplace.country_id).where(Marketplace.id == marketplace_id)
        )
    return _countries[marketplace_id]


def _lock_order(session: Session, account_id: int, order_id: int, *, deleted: bool = False) -> Order:
    """The order, locked for this transaction (``FOR UPDATE`` on PostgreSQL; SQLite writers are serialised by
    BEGIN IMMEDIATE). 404 when it is not the account's (or is deleted, unless ``deleted``)."""
    query = select(Order).options(defer(Order.package_info)).where(Order.id == order_id, Order.account_id == account_id)
    if not deleted:
        query = query.where(Order.status != st.DELETED)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    order = session.scalar(query)
    if order is None:
        raise NotFound(ORDER_NOT_FOUND)
    return order


def order_payload(order: Order, **extra: Any) -> dict[str, Any]:
    """The payload of an order-topic outbox row: the hub id, the marketplace's order number and cart, then
    the topic's own keys (see ``marketplaces/sandbox.py`` for what channels read)."""
    return {"OrderId": order.id, "ExternalOrderId": order.external_order_id, "PackId": order.pack_id, **extra}


def _bounded(params: dict[str, str | None], name: str, limit: int) -> str | None:
    value = params.get(name)
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    if len(text) > limit:
        raise InvalidInput(TOO_LONG_PARAM.format(name=name, limit=limit))
    return text


TOO_LONG_PARAM = "'{name}' is too long (at most {limit} characters)"


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file received by an upload endpoint (multipart part or decoded base64), already size-checked."""

    data: bytes
    name: str | None
    extension: str | None


def split_file_name(raw_name: str | None, extension: str | None) -> tuple[str | None, str | None]:
    """``(display name without extension, declared extension)``. The name is metadata only (no directories);
    the declared extension is the explicit one, else the name's own suffix."""
    if raw_name is None or not raw_name.strip():
        return None, (extension or None)
    base = raw_name.replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, suffix = base.rpartition(".")
    if dot and stem and suffix.lower() in docs.EXTENSION_ALIASES:
        return stem, (extension or suffix)
    return base, (extension or None)


# --- POST /v2/orders/{orderId}/documents (spec 21 §3, §8.4) -------------------------------------------------

DOC_TYPE_UPLOAD = "documentType is required: 0 (Invoice), 1 (Receipt) or 2 (Electronic fiscal invoice)"


def _document_out(document: OrderDocument) -> dict[str, Any]:
    return {
        "Type": document.doc_type,
        "Name": document.name,
        "Extension": document.extension,
        "Fullfilename": f"{document.name}.{document.extension}",
        "Size": document.size,
        "DocumentDate": format_utc(document.document_date) if document.document_date else None,
        "DateCreated": format_utc(document.created_at),
    }


def attach_document(
    session: Session,
    store: docs.DocumentStore,
    settings: Settings,
    account_id: int,
    actor: str,
    order_id: int,
    params: dict[str, str | None],
    upload: UploadedFile,
    tz: Any,
) -> dict[str, Any]:
    """Attach a document (already size-checked); the same bytes as the same type again return the stored
    document and change nothing. Invoices are queued for the marketplace per spec 21 §8.4. Commits."""
    doc_type = query_int(params.get("documentType"), "documentType")
    if doc_type is None:
        raise InvalidInput(DOC_TYPE_UPLOAD)
    if doc_type not in docs.ALLOWED_FORMATS:
        raise InvalidInput(docs.UNKNOWN_TYPE.format(value=doc_type))
    raw_date = params.get("documentDate")
    document_date = _parse_date(raw_date, tz, "documentDate")
    name, extension = split_file_name(upload.name, upload.extension)
    request = DocumentUpload(
        doc_type=doc_type,
        data=upload.data,
        name=name,
        extension=extension,
        document_number=_bounded(params, "documentNumber", 60),
        document_date=document_date,
        fiscal_key=_bounded(params, "fiscalKey", 60),
        series_number=_bounded(params, "seriesNumber", 20),
        message_text=_bounded(params, "messageText", 500),
    )
    # Content checks before the order is locked: a bad file never waits for (or holds) a lock.
    docs.inspect(upload.data, doc_type=doc_type, declared_extension=extension, max_bytes=settings.documents_max_bytes)
    order = _lock_order(session, account_id, order_id)
    country = marketplace_country(session, order.marketplace_id)
    if doc_type == docs.NFE and country != "BR":
        raise PreconditionFailed(docs.NFE_ONLY_BRAZIL)
    document, created = store_document(session, store, settings, order, request)
    if created:
        now = clock.utcnow()
        session.execute(insert(OrderHistory), [history_row(order, actor, "document", now)])
        family = marketplace_family(session, order.marketplace_id)
        options = account_options(session, account_id)
        if docs.forwards(
            doc_type,
            marketplace_order=order.origin == ORIGIN_MARKETPLACE,
            family=family,
            country=country,
            logistic_type=order.logistic_type,
            ml_own_invoicing=bool(options and options.ml_own_invoicing),
        ):
            from alephee.marketplaces.outbox import enqueue

            enqueue(
                session,
                account_id=account_id,
                topic="order.document",
                aggregate_type="order",
                aggregate_id=order.id,
                payload=order_payload(
                    order,
                    DocumentId=document.id,
                    DocumentType=doc_type,
                    DocumentNumber=document.document_number,
                    DocumentDate=format_utc(document.document_date) if document.document_date else None,
                    FileName=f"{document.name}.{document.extension}",
                    Extension=document.extension,
                    ContentType=document.content_type,
                    Size=document.size,
                    Sha256=document.sha256,
                    StorageKey=document.sha256,
                    FiscalKey=document.fiscal_key,
                    SeriesNumber=document.series_number,
                    MessageText=document.message_text,
                ),
                marketplace_id=order.marketplace_id,
            )
    out = _document_out(document)
    session.commit()
    return out


# --- POST /v2/orders/{orderId}/split (spec 21 §4) ----------------------------------------------------------

SPLIT_REASONS = {1: "fragile", 2: "another_warehouse", 3: "irregular_shape", 4: "other_motive"}
SPLIT_REASON_REQUIRED = (
    "splitReasonId is required: 1 (fragile), 2 (another_warehouse), 3 (irregular_shape) or 4 (other_motive)"
)
BAD_SPLIT_REASON = "Invalid splitReasonId '{value}': use 1, 2, 3 or 4"
SPLIT_ONLY_ML = "Only Mercado Libre orders can be split"
SPLIT_NOT_IN_CART = "The order does not belong to a shopping cart (pack)"
SPLIT_SINGLE_ORDER = "The order's cart holds no other order: there is nothing to split"
SPLIT_DELIVERED = "The order was already delivered"
SPLIT_SHIPMENT_GONE = "The order's shipment is already '{status}': it can no longer be split"
SPLIT_CANCELLED = "The order is cancelled"
SPLIT_LABEL_SUBSTATUS = "The order's shipping label is in substate '{substatus}': it cannot be split now"
# New ids after a split, derived from the order id (an order leaves a cart once: its new cart holds only it).
SPLIT_PACK_BASE = 2_000_008_000_000_000
SPLIT_SHIPPING_BASE = 50_000_000_000
SPLIT_BLOCKING_SHIPMENTS = frozenset({ship.SHIPPED, ship.DELIVERED, ship.NOT_DELIVERED, ship.CANCELLED})


def split_pack_id(order_id: int) -> str:
    """The cart id an order gets when it is split out of its cart."""
    return str(SPLIT_PACK_BASE + order_id)


def parse_split_reason(raw: str | None) -> int:
    """``splitReasonId`` (400 when absent or not 1-4)."""
    if raw is None or not raw.strip():
        raise InvalidInput(SPLIT_REASON_REQUIRED)
    reason = int_from_text(raw)
    if reason is None or reason not in SPLIT_REASONS:
        raise InvalidInput(BAD_SPLIT_REASON.format(value=raw.strip()))
    return reason


def _split_out(order: Order) -> dict[str, Any]:
    return {
        "OrderId": order.id,
        "PackId": order.pack_id,
        "SourcePackId": order.source_pack_id,
        "ExternalShippingId": order.external_shipping_id,
    }


def split_refusal(order: Order, carts_orders: int) -> str | None:
    """Why the order cannot leave its cart now (spec 21 §4.2 rule 3), or None."""
    if not order.pack_id:
        return SPLIT_NOT_IN_CART
    if carts_orders < 2:
        return SPLIT_SINGLE_ORDER
    if order.status == st.DELIVERED or order.shipment_status == ship.DELIVERED:
        return SPLIT_DELIVERED
    if st.is_cancelled(order.status):
        return SPLIT_CANCELLED
    if order.shipment_status in SPLIT_BLOCKING_SHIPMENTS:
        return SPLIT_SHIPMENT_GONE.format(status=order.shipment_status)
    if order.shipment_substatus in ship.SPLIT_BLOCKED_SUBSTATUSES:
        return SPLIT_LABEL_SUBSTATUS.format(substatus=order.shipment_substatus.upper())
    return None


def split_order(session: Session, account_id: int, actor: str, order_id: int, reason: int) -> dict[str, Any]:
    """Move one order out of its Mercado Libre cart into its own cart and shipment. A repeat (the order was
    already split out) returns the same result and queues nothing. Commits."""
    from alephee.marketplaces.outbox import enqueue

    # Read the cart without a lock, then lock every order of it in ascending id order (two splits of the
    # same cart never wait on each other in a cycle), then check again under the lock.
    first = session.scalar(
        select(Order.pack_id).where(Order.id == order_id, Order.account_id == account_id, Order.status != st.DELETED)
    )
    pack_id = first
    ids = [order_id]
    if pack_id:
        ids = sorted(
            set(
                session.scalars(
                    select(Order.id).where(
                        Order.account_id == account_id, Order.pack_id == pack_id, Order.status != st.DELETED
                    )
                )
            )
            | {order_id}
        )
    locked = _locked_orders(session, account_id, ids)
    order = locked.get(order_id)
    if order is None:
        raise NotFound(ORDER_NOT_FOUND)
    if marketplace_family(session, order.marketplace_id) != "mercadolibre" or order.origin != ORIGIN_MARKETPLACE:
        raise PreconditionFailed(SPLIT_ONLY_ML)
    if order.pack_id == split_pack_id(order.id):
        session.rollback()
        return _split_out(order)  # already split out: a retry after a timeout
    if order.pack_id != pack_id:
        raise PreconditionFailed(SPLIT_NOT_IN_CART if not order.pack_id else SPLIT_SINGLE_ORDER)
    cart = [o for o in locked.values() if o.pack_id == pack_id]
    refusal = split_refusal(order, len(cart))
    if refusal:
        raise PreconditionFailed(refusal)
    now = clock.utcnow()
    old_pack = order.pack_id
    assert old_pack is not None
    order.source_pack_id = order.source_pack_id or old_pack
    order.pack_id = split_pack_id(order.id)
    order.pack_size = 1
    order.pack_complete = True
    order.external_shipping_id = SPLIT_SHIPPING_BASE + order.id
    if order.shipment_status == ship.READY_TO_SHIP:
        order.shipment_substatus = ship.SUB_READY_TO_PRINT  # a new shipment: a new label to print
    order.label_first_printed_at = None
    order.shipment_updated_at = now
    order.updated_at = now
    for other in cart:
        if other.id != order.id:
            other.pack_size = max(1, (other.pack_size or len(cart)) - 1)
            other.updated_at = now
    session.flush()
    refresh_pack(session, account_id, old_pack)
    session.execute(insert(OrderHistory), [history_row(order, actor, "split", now)])
    enqueue(
        session,
        account_id=account_id,
        topic="order.split",
        aggregate_type="order",
        aggregate_id=order.id,
        payload=order_payload(
            order,
            PackId=old_pack,
            SplitReasonId=reason,
            NewPackId=order.pack_id,
            NewExternalShippingId=order.external_shipping_id,
        ),
        marketplace_id=order.marketplace_id,
    )
    out = _split_out(order)
    session.commit()
    return out


# --- POST /v2/orders/{orderId}/messages (spec 21 §5) -------------------------------------------------------

MESSAGE_OK = "OK"


def _conversation(session: Session, order_id: int) -> list[msg.Sent]:
    rows = session.execute(
        select(OrderMessage.sender, OrderMessage.message_option, OrderMessage.text, OrderMessage.attachment_sha256)
        .where(OrderMessage.order_id == order_id)
        .order_by(OrderMessage.id)
    ).all()
    return [msg.Sent(sender=r[0], option=r[1], text=r[2], attachment_sha256=r[3]) for r in rows]


def send_message(
    session: Session,
    store: docs.DocumentStore,
    settings: Settings,
    account_id: int,
    actor: str,
    order_id: int,
    raw_option: str | int | None,
    raw_text: str | None,
    attachment: UploadedFile | None,
) -> str:
    """Send a message to the buyer (stored, queued as ``order.message``). 409 while the previous one is
    unanswered, except that repeating exactly that message is a 200 that sends nothing. Commits."""
    from alephee.marketplaces.outbox import enqueue

    option = msg.parse_option(raw_option)
    if option in msg.CUSTOM_TEXT:
        msg.message_text(option, raw_text, None)  # 400s (missing, too long) before anything is read
    sniffed = None
    name: str | None = None
    if attachment is not None:
        name, extension = split_file_name(attachment.name, attachment.extension)
        sniffed = docs.inspect_attachment(
            attachment.data, declared_extension=extension, max_bytes=settings.documents_max_bytes
        )
        name = docs.safe_name(name, f"adjunto-{order_id}")
    order = _lock_order(session, account_id, order_id)
    if marketplace_family(session, order.marketplace_id) != "mercadolibre" or order.origin != ORIGIN_MARKETPLACE:
        raise PreconditionFailed(msg.NOT_MERCADOLIBRE)
    text, problem = msg.message_text(option, raw_text, marketplace_country(session, order.marketplace_id))
    problem = problem or msg.applicability(option, logistic_type=order.logistic_type)
    if problem or text is None:
        raise PreconditionFailed(problem or msg.NOT_MERCADOLIBRE)
    conversation = _conversation(session, order.id)
    sha = sniffed.sha256 if sniffed else None
    if msg.is_replay(conversation, option, text, sha):
        session.rollback()
        return MESSAGE_OK
    refusal = msg.conversation_problem(conversation, option, sniffed is not None)
    if refusal is not None:
        code, message = refusal
        raise (Conflict if code == 409 else PreconditionFailed)(message)
    if attachment is not None and sniffed is not None:
        document_quota.reserve(session, settings, account_id, sniffed.size)
        store.put(attachment.data)
    now = clock.utcnow()
    message = OrderMessage(
        order_id=order.id,
        account_id=account_id,
        sender=MESSAGE_FROM_SELLER,
        message_option=option,
        text=text,
        attachment_name=f"{name}.{sniffed.fmt}" if sniffed else None,
        attachment_extension=sniffed.fmt if sniffed else None,
        attachment_sha256=sha,
        attachment_size=sniffed.size if sniffed else None,
        actor=actor,
        created_at=now,
    )
    session.add(message)
    session.flush()
    session.execute(insert(OrderHistory), [history_row(order, actor, "message", now)])
    enqueue(
        session,
        account_id=account_id,
        topic="order.message",
        aggregate_type="order",
        aggregate_id=order.id,
        payload=order_payload(
            order,
            MessageId=message.id,
            MessageOption=option,
            Text=text,
            AttachmentName=message.attachment_name,
            AttachmentStorageKey=sha,
        ),
        marketplace_id=order.marketplace_id,
    )
    session.commit()
    return MESSAGE_OK


def record_buyer_reply(session: Session, account_id: int, order_id: int, text: str) -> OrderMessage:
    """A reply of the buyer, as the marketplace reports it (opens the way for the next message; no commit)."""
    order = _lock_order(session, account_id, order_id)
    reply = OrderMessage(
        order_id=order.id,
        account_id=account_id,
        sender=MESSAGE_FROM_BUYER,
        message_option=None,
        text=text,
        actor="marketplace",
        created_at=clock.utcnow(),
    )
    session.add(reply)
    session.flush()
    return reply


def order_messages(session: Session, order_id: int) -> list[OrderMessage]:
    """The conversation of an order, oldest first."""
    return list(
        session.scalars(select(OrderMessage).where(OrderMessage.order_id == order_id).order_by(OrderMessage.id))
    )


# --- POST /v2/orders (spec 21 §6) --------------------------------------------------------------------------

MAX_CREATE_ITEMS = 50
MAX_CREATE_PAYMENTS = 10
MAX_PAYMENT_DISCOUNTS = 10
CREATE_LIMIT = "Too many {what} in one order: {count} sent, at most {cap} allowed. Nothing was processed"
ITEM_STATUSES = (st.READY_TO_SHIP, st.ARRIVED, st.SHIPPED, st.DELIVERED, st.CANCELLED)
BAD_ITEM_STATUS = "Items[{index}].Status {status} is not valid: use 10, 17, 20, 80 or 90"
DUPLICATE_LINE = (
    "Items[{index}] repeats the product {sku} with the same quantity and unit price as Items[{other}]; "
    "send one item with the total quantity"
)
AMBIGUOUS_SKU = "Items[{index}]: SKU {sku} exists under several brands; send Product.Brand"
MARKETPLACE_NOT_OF_ACCOUNT = "MarketplaceId {id} is not one of the account's marketplaces"
DUPLICATE_EXTERNAL = (
    "ExternalOrderId {external} already identifies order {id} of this account with different content; "
    "ExternalOrderId must be unique"
)
DUPLICATE_DELETED = "ExternalOrderId {external} belonged to order {id}, which was deleted; use another ExternalOrderId"
PICKUP_REQUIRED = "Shipping.Pickup is required when the logistic type is pickup"
COURIER_REQUIRED = "Shipping.CourierInfo is required when the logistic type is courier"
RECEIVER_ADDRESS_REQUIRED = "Shipping.ReceiverAddress is required (except for pick-up shipments)"
BAD_LOGISTIC = "Shipping.LogisticType '{value}' is not a known logistic type"
BAD_CODE = "Invalid code {value}: codes are integers from 0 to 2147483647"
BAD_DATE_FIELD = "Invalid date for '{name}': use ISO 8601, e.g. 2024-05-10T10:00:00-03:00"
# Item status progress: the order is as advanced as its least advanced live item (cancelled lines aside).
_PROGRESS = (st.READY_TO_SHIP, st.ARRIVED, st.SHIPPED, st.DELIVERED)


def _ci_get(raw: Any, name: str) -> Any:
    return raw_field(raw, name)[1]


def check_create_limits(raw: dict[str, Any]) -> None:
    """The usage limits of POST /v2/orders (spec 21 §6.5), checked on the raw body before validation:
    413 with nothing processed over 50 items, 10 payments or 10 discounts per payment."""
    items = _ci_get(raw, "Items")
    if isinstance(items, list) and len(items) > MAX_CREATE_ITEMS:
        raise PayloadTooLarge(CREATE_LIMIT.format(what="items", count=len(items), cap=MAX_CREATE_ITEMS))
    payments = _ci_get(raw, "Payments")
    if isinstance(payments, list):
        if len(payments) > MAX_CREATE_PAYMENTS:
            raise PayloadTooLarge(CREATE_LIMIT.format(what="payments", count=len(payments), cap=MAX_CREATE_PAYMENTS))
        for payment in payments:
            discounts = _ci_get(payment, "Discounts")
            if isinstance(discounts, list) and len(discounts) > MAX_PAYMENT_DISCOUNTS:
                raise PayloadTooLarge(
                    CREATE_LIMIT.format(what="discounts in a payment", count=len(discounts), cap=MAX_PAYMENT_DISCOUNTS)
                )


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k).lower(): _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def request_fingerprint(raw: dict[str, Any]) -> str:
    """SHA-256 of the body with property names lower-cased and sorted (a retry is byte-for-byte the same
    request, but a client may re-serialise it)."""
    import hashlib

    return hashlib.sha256(orjson.dumps(_canonical(raw), option=orjson.OPT_SORT_KEYS)).hexdigest()


def _parse_date(value: str | None, tz: Any, name: str) -> datetime | None:
    if value is None or not str(value).strip():
        return None
    try:
        parsed = parse_datetime(str(value), tz, name=name)
        parsed.astimezone(tz)  # representable in local time too (year 1 / 9999 edges overflow)
        return parsed
    except (InvalidInput, OverflowError, ValueError):
        raise InvalidInput(BAD_DATE_FIELD.format(name=name)) from None


def _kv_in(value: Any, default: tuple[int, str]) -> dict[str, Any]:
    """A ``{Key, Value}`` from a code, a name or an object (lenient input)."""
    if value is None:
        return {"Key": default[0], "Value": default[1]}
    if isinstance(value, int):
        if not 0 <= value <= 2_147_483_647:
            raise InvalidInput(BAD_CODE.format(value=value))
        return {"Key": value, "Value": None}
    if isinstance(value, str):
        return {"Key": 0, "Value": value}
    key = value.Key
    number = to_int(key)
    code = number if number is not None else 0
    if not 0 <= code <= 2_147_483_647:
        raise InvalidInput(BAD_CODE.format(value=key))
    return {"Key": code, "Value": value.Value or (key if isinstance(key, str) and number is None else None)}


def _logistic_in(value: Any) -> int:
    if value is None:
        return ship.CUSTOM
    raw = value
    if not isinstance(value, (int, str)):
        raw = value.Key if value.Key not in (None, "") else value.Value
    code = ship.logistic_type_code(raw)
    if code is None and isinstance(raw, str):
        text = raw.strip().lower().replace(" ", "_").replace("-", "_")
        code = {"pick_up": ship.PICKUP, "pickup": ship.PICKUP}.get(text, ship.logistic_type_code(text))
    if code is None:
        raise InvalidInput(BAD_LOGISTIC.format(value=raw))
    return code


@dataclass(slots=True)
class _CatalogMatch:
    product_id: int
    sku: str
    brand: str
    title: str
    ean: str | None
    product_type: int


def _find_products(session: Session, account_id: int, body: OrderInfoIn) -> list[_CatalogMatch | None]:
    from alephee.products.models import Brand, Product

    skus = sorted({item.Product.Sku for item in body.Items})
    rows = session.execute(
        select(Product.id, Product.sku, Brand.name, Brand.id, Product.name, Product.gtin, Product.product_type)
        .join(Brand, Brand.id == Product.brand_id)
        .where(Product.account_id == account_id, Product.sku.in_(skus))
        .order_by(Product.id)
    ).all()
    by_sku: dict[str, list[Any]] = {}
    for row in rows:
        by_sku.setdefault(row[1], []).append(row)
    found: list[_CatalogMatch | None] = []
    for index, item in enumerate(body.Items):
        candidates = by_sku.get(item.Product.Sku, [])
        wanted = (item.Product.Brand or "").strip().lower()
        if wanted:
            candidates = [r for r in candidates if r[2].strip().lower() == wanted or str(r[3]) == wanted]
        if len(candidates) > 1:
            raise InvalidInput(AMBIGUOUS_SKU.format(index=index, sku=item.Product.Sku))
        row = candidates[0] if candidates else None
        found.append(_CatalogMatch(row[0], row[1], row[2], row[4], row[5], row[6]) if row else None)
    return found


def _order_status_of(statuses: Sequence[int]) -> int:
    live = [s for s in statuses if s != st.CANCELLED]
    if not live:
        return st.CANCELLED
    return min(live, key=_PROGRESS.index)


def _address_out(address: Any) -> dict[str, Any] | None:
    return address.model_dump() if address is not None else None


CENT = Decimal("0.01")


def _shipping_amounts(
    given: Sequence[Decimal | None], cost: Decimal | None, receiver: Decimal | None, sender: Decimal | None
) -> tuple[list[Decimal], Decimal, Decimal, Decimal]:
    """The shipping numbers of a created order with what the client left out derived from what it sent:
    ``(ShippingAmount of each payment, Cost, ReceiverCost, SenderCost)``.

    What the buyer paid for shipping is both ``Shipping.ReceiverCost`` and the sum of the payments'
    ``ShippingAmount`` (spec 20 §1.5 rule 6); the seller's part is what the buyer did not pay of the cost; the
    cost is both parts. Unknown in every way: 0."""
    zero = Decimal(0)
    sent = sum((amount for amount in given if amount is not None), zero)
    receiver = sent if receiver is None else receiver
    if sender is None:
        sender = max(cost - receiver, zero) if cost is not None else zero
    cost = receiver + sender if cost is None else cost
    # The first payment without a ShippingAmount carries what the others' do not cover.
    left = max(receiver - sent, zero)
    amounts = []
    for amount in given:
        if amount is None:
            amount, left = left, zero
        amounts.append(amount)
    return amounts, cost, receiver, sender


def _created_detail(
    session: Session,
    account_id: int,
    marketplace: Marketplace,
    body: OrderInfoIn,
    matches: Sequence[_CatalogMatch | None],
    movements: dict[int, dict[str, Any]],
    sale_date: datetime,
    tz: Any,
) -> dict[str, Any]:
    account = session.get(Account, account_id)
    assert account is not None
    items = []
    for index, (item, match) in enumerate(zip(body.Items, matches, strict=True)):
        status = item.Status
        type_code = st.status_type_of(status) or 0
        product = item.Product
        movement = movements.get(index)
        items.append(
            {
                "Id": index + 1,
                "Type": {"Key": ITEM_KIT if match and match.product_type == 2 else ITEM_NORMAL, "Value": None},
                "ParentItemId": None,
                "Product": {
                    "Id": match.product_id if match else None,
                    "Sku": product.Sku,
                    "Brand": match.brand if match else product.Brand,
                    "SellerSku": product.SellerSku,
                    "EAN": product.EAN or (match.ean if match else None),
                    "Attributes": None,
                    "Title": product.Title or product.Description or (match.title if match else None),
                    "IntegrationCode": None,
                    "Category": None,
                },
                "ProductListing": None,
                "Quantity": item.Quantity,
                "QuantitiesDetails": {
                    "Requested": {"Key": "unidades", "Value": Decimal(item.Quantity)},
                    "Picked": {"Key": "unidades", "Value": Decimal(0)},
                    "StockMovements": [movement] if movement else [],
                },
                "UnitPrice": item.UnitPrice,
                "FullUnitPrice": item.UnitPrice,
                "UnitPriceCost": item.UnitPriceCost,
                "CalculatedComponentUnitPrice": None,
                "CalculatedComponentFullUnitPrice": None,
                "SaleFee": None,
                "Notes": item.Notes or "",
                "Status": {"Key": status, "Value": st.STATUS_LABELS[status]},
                "StatusType": {"Key": type_code, "Value": st.STATUS_TYPE_LABELS.get(type_code)},
                "IsCancelled": status == st.CANCELLED,
            }
        )
    for item in items:
        item["Type"]["Value"] = ITEM_TYPES[item["Type"]["Key"]]
    shipping_in = body.Shipping
    cost_in = shipping_in.Cost
    if isinstance(cost_in, Decimal):
        cost, receiver_cost, sender_cost = cost_in, shipping_in.ReceiverCost, shipping_in.SenderCost
    else:
        cost = cost_in.Cost if cost_in.Cost is not None else cost_in.Amount
        receiver_cost = cost_in.ReceiverCost if cost_in.ReceiverCost is not None else shipping_in.ReceiverCost
        sender_cost = cost_in.SenderCost if cost_in.SenderCost is not None else shipping_in.SenderCost
    shipping_amounts, cost, receiver_cost, sender_cost = _shipping_amounts(
        [payment.ShippingAmount for payment in body.Payments], cost, receiver_cost, sender_cost
    )
    payments = []
    for payment, shipping_amount in zip(body.Payments, shipping_amounts, strict=True):
        created = _parse_date(payment.DateCreated, tz, "Payments.DateCreated") or sale_date
        approved = _parse_date(payment.DateApproved, tz, "Payments.DateApproved")
        installments = payment.Installments or 1
        # Left out: the goods are what was paid but shipping (no financing surcharge known), the subtotal the
        # goods, and the instalments equal parts (spec 20 §2.6: Amount - TransactionAmount - shipping).
        transaction = payment.TransactionAmount
        if transaction is None:
            transaction = max(payment.Amount - shipping_amount, Decimal(0))
        payments.append(
            {
                "ExternalPaymentId": payment.ExternalPaymentId,
                "Amount": payment.Amount,
                "AmountNoDiscount": payment.AmountNoDiscount
                if payment.AmountNoDiscount is not None
                else payment.Amount,
                "ShippingAmount": shipping_amount,
                "ShippingAmountNoDiscount": shipping_amount,
                "TransactionAmount": transaction,
                "Total": payment.Total if payment.Total is not None else payment.Amount,
                "SubTotal": payment.SubTotal if payment.SubTotal is not None else transaction,
                "Installments": installments,
                "InstallmentAmount": payment.InstallmentAmount
                if payment.InstallmentAmount is not None
                else (payment.Amount / installments).quantize(CENT),
                "Notes": payment.Notes or "",
                "CurrencySymbol": payment.CurrencySymbol,
                "Method": _kv_in(payment.Method, (0, "other")),
                "Status": _kv_in(payment.Status, (1, "approved")),
                "Condition": {"Key": 1, "Value": "Contado" if (payment.Installments or 1) == 1 else "Cuotas"},
                "Discounts": [d.model_dump() for d in payment.Discounts],
                "Taxes": payment.Taxes.model_dump() if payment.Taxes else None,
                "AuthorizationCode": payment.AuthorizationCode,
                "DateCreated": created,
                "DateApproved": approved,
                "LastUpdate": approved or created,
            }
        )
    buyer = body.Buyer
    billing_info = buyer.BillingInfo.model_dump() if buyer.BillingInfo else None
    shipping = {
        "Cost": cost,
        "ReceiverCost": receiver_cost,
        "SenderCost": sender_cost,
        "CourierInfo": shipping_in.CourierInfo.model_dump() if shipping_in.CourierInfo else None,
        "ShippingLabels": {"SubStatus": None, "ShippingLabelUrlPdf": "", "ShippingLabelUrlZip": ""},
        "Pickup": shipping_in.Pickup.model_dump() if shipping_in.Pickup else None,
        "ReceiverAddress": _address_out(shipping_in.ReceiverAddress),
        "Receiver": shipping_in.Receiver.model_dump(),
        "EstimatedDeliveryDate": _parse_date(shipping_in.EstimatedDeliveryDate, tz, "Shipping.EstimatedDeliveryDate"),
        "DateCreated": sale_date,
        "LastUpdated": sale_date,
        "PackageInfo": None,
    }
    return {
        **order_parties(account, marketplace),
        "Items": items,
        "Payments": payments,
        "Adjustments": [],
        "Shipping": shipping,
        "Buyer": {
            "Code": buyer.Code,
            "Owncode": buyer.Owncode,
            "Name": buyer.Name,
            "Phone": buyer.Phone,
            "Email": buyer.Email,
            "DocType": buyer.DocType,
            "DocNumber": buyer.DocNumber,
            "Nickname": buyer.Nickname,
            "Address": _address_out(buyer.Address),
            "BillingInfo": billing_info,
        },
        "Billing": {"SaleFee": None, "Invoice": {"DanfePdfUrl": "", "XmlUrl": ""}},
        "ActiveClaims": [],
        "ExternalJson": {},
        "Notes": body.Notes or "",
    }


def _existing_creation(session: Session, account_id: int, external: str, fingerprint: str) -> tuple[int, bool] | None:
    """``(order id, same request)`` of an order already holding ``external`` in the account, or None.
    A deleted order, or another order (marketplace, B2B) with that number, is a 409."""
    # One statement, so one snapshot: an order and its creation row always appear together.
    rows = session.execute(
        select(Order.id, OrderCreation.order_id, OrderCreation.request_sha256, OrderCreation.deleted_at)
        .outerjoin(OrderCreation, OrderCreation.order_id == Order.id)
        .where(Order.account_id == account_id, Order.external_order_id == external)
        .order_by(OrderCreation.order_id.is_(None), Order.id)
    ).all()
    if not rows:
        return None
    order_id, created_id, sha, deleted_at = rows[0]
    if created_id is None:
        raise Conflict(DUPLICATE_EXTERNAL.format(external=external, id=order_id))
    if deleted_at is not None:
        raise Conflict(DUPLICATE_DELETED.format(external=external, id=order_id))
    if sha != fingerprint:
        raise Conflict(DUPLICATE_EXTERNAL.format(external=external, id=order_id))
    return order_id, True


def create_order(
    session: Session,
    account_id: int,
    actor: str,
    body: OrderInfoIn,
    raw: dict[str, Any],
    tz: Any,
) -> tuple[dict[str, Any], bool]:
    """Create one order (spec 21 §6): ``(order as GET shows it, created)``. The same request again (same
    ``ExternalOrderId`` and content) returns the existing order and changes nothing; stock moves of every
    item happen in the order's transaction. Commits."""
    from sqlalchemy.exc import IntegrityError

    from alephee.accounts.models import AccountMarketplace
    from alephee.products import stock as products

    fingerprint = request_fingerprint(raw)
    external = body.ExternalOrderId
    existing = _existing_creation(session, account_id, external, fingerprint)
    if existing is not None:
        session.rollback()
        return render_one(session, account_id, existing[0]), False
    marketplace = session.get(Marketplace, body.MarketplaceId)
    connected = session.scalar(
        select(AccountMarketplace.marketplace_id).where(
            AccountMarketplace.account_id == account_id, AccountMarketplace.marketplace_id == body.MarketplaceId
        )
    )
    if marketplace is None or connected is None:
        raise InvalidInput(MARKETPLACE_NOT_OF_ACCOUNT.format(id=body.MarketplaceId))
    sale_date = _parse_date(body.DateCreated, tz, "DateCreated")
    assert sale_date is not None
    logistic = _logistic_in(body.Shipping.LogisticType)
    if logistic == ship.PICKUP and body.Shipping.Pickup is None:
        raise InvalidInput(PICKUP_REQUIRED)
    if logistic == ship.COURIER and body.Shipping.CourierInfo is None:
        raise InvalidInput(COURIER_REQUIRED)
    if logistic != ship.PICKUP and body.Shipping.ReceiverAddress is None:
        raise InvalidInput(RECEIVER_ADDRESS_REQUIRED)
    seen: dict[tuple[str, str, int, Decimal], int] = {}
    for index, item in enumerate(body.Items):
        if item.Status not in ITEM_STATUSES:
            raise InvalidInput(BAD_ITEM_STATUS.format(index=index, status=item.Status))
        key = (item.Product.Sku, (item.Product.Brand or "").lower(), item.Quantity, item.UnitPrice)
        if key in seen:
            raise InvalidInput(DUPLICATE_LINE.format(index=index, sku=item.Product.Sku, other=seen[key]))
        seen[key] = index
    matches = _find_products(session, account_id, body)
    status = _order_status_of([item.Status for item in body.Items])
    # Stock: one movement per item that asks for it (live lines of catalogue products), in ascending product
    # id order so two orders never wait on each other in a cycle; clamped at 0, the units actually taken kept.
    now = clock.utcnow()
    moves: list[dict[str, Any]] = []
    movements: dict[int, dict[str, Any]] = {}
    wanted = [
        (match.product_id, index)
        for index, (item, match) in enumerate(zip(body.Items, matches, strict=True))
        if match is not None and item.StockMovement and item.Status != st.CANCELLED
    ]
    for product_id, index in sorted(wanted):
        quantity = body.Items[index].Quantity
        moved = products.move_stock_detailed(session, account_id, product_id, -quantity)
        taken = quantity - moved.shortfall
        moves.append({"product_id": product_id, "item": index + 1, "requested": quantity, "moved": taken})
        movements[index] = {
            "Account": {"Id": account_id},
            "PrevStock": moved.quantity + taken,
            "PostStock": moved.quantity,
            "Quantity": -taken,
            "DateCreated": now,
        }
    detail = _created_detail(session, account_id, marketplace, body, matches, movements, sale_date, tz)
    shipment = ship.SHIPMENT_FOR_ORDER_STATUS.get(status) or (
        (ship.PENDING, None) if logistic in (ship.PICKUP, ship.TO_BE_AGREED) else (ship.READY_TO_SHIP, None)
    )
    try:
        order = ingest_order(
            session,
            NewOrder(
                account_id=account_id,
                marketplace_id=marketplace.id,
                external_order_id=external,
                detail=OrderDetail.model_validate(detail),
                status=status,
                sale_date=sale_date,
                origin=ORIGIN_API,
                logistic_type=logistic,
                shipment_status=shipment[0],
                shipment_substatus=shipment[1],
                integrated=body.Integrated,
                erp_status=body.ErpStatus,
                created_at=now,
                status_date=now,
                stock_moved=any(m["moved"] for m in moves),
            ),
        )
        session.add(
            OrderCreation(
                order_id=order.id,
                account_id=account_id,
                external_order_id=external,
                request_sha256=fingerprint,
                stock_moves=moves,
                created_at=now,
            )
        )
        session.flush()
    except IntegrityError:
        # A concurrent request with this ExternalOrderId committed first (PostgreSQL; SQLite serialises
        # writers): everything here rolls back, stock movements included, and the answer is the repeat's.
        session.rollback()
        existing = _existing_creation(session, account_id, external, fingerprint)
        if existing is None:
            raise
        session.rollback()
        return render_one(session, account_id, existing[0]), False
    session.execute(
        insert(OrderHistory),
        [
            history_row(
                order,
                actor,
                "create",
                now,
                to_status=status,
                integrated=order.integrated,
                erp_status=order.erp_status,
            )
        ],
    )
    session.commit()
    return render_one(session, account_id, order.id), True


# --- DELETE /v2/orders (spec 21 §7) ------------------------------------------------------------------------

ORDER_ID_PARAM_REQUIRED = "orderId is required and must be an integer"
DELETE_ONLY_API = "Only orders created through POST /v2/orders can be deleted"


def parse_order_id(raw: str | None) -> int:
    """A required ``orderId`` query value (400 when absent, not an integer or out of range)."""
    value = _as_int(raw.strip()) if raw is not None and raw.strip() else None
    if value is None:
        raise InvalidInput(ORDER_ID_PARAM_REQUIRED)
    return value


def delete_order(session: Session, account_id: int, actor: str, order_id: int, revert_stock: bool) -> None:
    """Soft-delete an API-created order (status 70) and, with ``revert_stock``, give back exactly the stock
    its creation took. Deleting again is a no-op success; the stock is never given back twice. Commits."""
    from alephee.products import stock as products

    order = _lock_order(session, account_id, order_id, deleted=True)
    if order.origin != ORIGIN_API:
        raise PreconditionFailed(DELETE_ONLY_API)
    now = clock.utcnow()
    history: list[dict[str, Any]] = []
    creation = session.get(OrderCreation, order.id)
    if order.status != st.DELETED:
        previous = order.status
        order.status = st.DELETED
        order.status_type = None
        order.status_date = now
        order.date_closed = order.date_closed or now
        order.updated_at = now
        history.append(history_row(order, actor, "delete", now, from_status=previous, to_status=st.DELETED))
        webhook_events.order_status_changed(session, order, previous)
        if creation is not None:
            creation.deleted_at = now
    if revert_stock and order.stock_moved and not order.stock_reverted:
        moves = creation.stock_moves if creation is not None else []
        back: dict[int, int] = {}
        for move in moves:
            back[int(move["product_id"])] = back.get(int(move["product_id"]), 0) + int(move["moved"])
        for product_id in sorted(back):
            if back[product_id]:
                try:
                    products.move_stock(session, account_id, product_id, back[product_id])
                except NotFound:
                    continue  # the product left the catalogue since: nothing to give back to
        order.stock_reverted = True
        order.updated_at = now
        if creation is not None:
            creation.stock_reverted_at = now
        history.append(history_row(order, actor, "revert_stock", now, from_status=st.DELETED, to_status=st.DELETED))
    session.flush()
    if order.pack_id:
        refresh_pack(session, account_id, order.pack_id)
    if history:
        session.execute(insert(OrderHistory), history)
    session.commit()
