"""GET /v2/orders and its carts: the typed filters, the cached statements (total and page keys in one), the
page as sent, one order in wire shape and GET /v2/orders/packs/{packId}.

Rendering an order (the stored ``detail`` template overlaid with the relational columns) and the cache of
rendered orders live in ``orders/rendering.py``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, bindparam, false, func, literal_column, select, true
from sqlalchemy.orm import Session

from alephee.config import Settings
from alephee.db import Database, ReadStates
from alephee.errors import InvalidInput, NotFound
from alephee.http.dates import parse_filter_datetime
from alephee.http.numbers import plain_int
from alephee.http.paging import Page, SortOption
from alephee.http.params import query_bool, query_int
from alephee.orders import statuses as st
from alephee.orders.access import OrderNotFound
from alephee.orders.account_options import may_handle_pending_payments
from alephee.orders.models import Order
from alephee.orders.rendering import KEY_COLUMNS, OPTIONAL_BLOCKS, RENDER_COLUMNS, page_body, render_orders

ID_SORT = SortOption("Id", "Order by internal ID asc")
DATE_CREATED_SORT = SortOption("dateCreated", "Order by date of sale asc")
ORDER_SORTS = (ID_SORT, DATE_CREATED_SORT)


class PackNotFound(NotFound):
    """The account has no order in this cart (404)."""

    message = "Shopping cart (pack) not found"


class BadStatusType(InvalidInput):
    """statusType is not 0, 1, 2 or 99 (400)."""

    message = "Invalid statusType '{value}': use 0 (New), 1 (Pending), 2 (Closed) or 99 (Cancelled)"


_BLOCK_ALIASES = {"stockmovements": "quantitiesdetails", "claims": "activeclaims"}


@dataclass(frozen=True)
class OrderFilters:
    """The filters of GET /v2/orders, typed (CF-20.2.1). Dates are aware UTC."""

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
        raise BadStatusType(BadStatusType.message.format(value=raw.get("statusType")))

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


# The StateCache of page totals and keys (reused while the account's orders and options are unchanged; see
# list_orders).
PAGE_CACHE = "order_pages"


def list_orders(
    database: Database,
    connection: Connection,
    settings: Settings,
    account_id: int,
    filters: OrderFilters,
    page: Page,
    states: ReadStates | None = None,
    encoding: str | None = None,
) -> tuple[bytes, str | None]:
    """The page of orders as sent (the paged envelope, UTF-8 JSON), read on a read ``connection``, compressed
    with ``encoding`` when worth it: ``(body, content encoding or None)``.

    ``states``: the account's ``ReadStates`` (``db.read_states``) taken before any read of this request; while no
    order or order option of the account changed, polling the same page again reuses its total and keys instead
    of running the statement. A page of orders not integrated (the integration cycle) follows only the
    account's backlog: writes to integrated orders (status news, shipping, the ERP's marks) leave it in use.
    """
    state = None
    if states is not None:
        state = states.backlog if integrated_filter(filters, settings) is False else states.account
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
        raise OrderNotFound()
    return render_orders(session, [row])[0]


def get_pack(session: Session, account_id: int, pack_id: str) -> dict[str, Any]:
    """The OrdersPack of a cart: shared blocks once (from its first order) and every order."""
    key = pack_id.strip()
    rows = session.execute(
        select(*RENDER_COLUMNS)
        .where(Order.account_id == account_id, Order.pack_id == key, Order.status != st.DELETED)
        .order_by(Order.id)
    ).all()
    if not rows:
        raise PackNotFound()
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
