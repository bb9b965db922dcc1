"""POST /v2/products: bulk stock, price and feature updates, each element validated and applied on its own."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from alephee import clock
from alephee.accounts.models import Account, FiscalTaxRule
from alephee.config import Settings
from alephee.db import BulkStatement, Money, RowWriter, arrays, numeric_array
from alephee.http.results import ActionResult, ActionResultBuilder, ItemOutcome
from alephee.products import hooks, listing_data, rules
from alephee.products.batch import (
    AccountContext,
    AccountNotFound,
    Catalog,
    CatalogAhead,
    ProductState,
    account_context,
    array_literal,
    element_with_sku,
    in_list,
    load_account_context,
    mark,
    only_items_with_messages,
    record_problem,
)
from alephee.products.models import Product
from alephee.products.price_lists import default_price_list_query, resolve_price_list
from alephee.products.schemas import ProductUpdateIn, quick_update_in, sku_candidates
from alephee.products.stock import kits_containing, snapshot_of
from alephee.webhooks import events as webhook_events


@dataclass(slots=True)
class PriceState:
    """A product's price row in the target list as the batch sees it."""

    price: Decimal | None = None
    price_with_taxes: Decimal | None = None
    price_auto: bool = False
    suggested_retail_price: Decimal | None = None
    srp_auto: bool = True
    sales_margin: Decimal | None = None
    cost: Decimal | None = None
    b2b_discount_rate: Decimal | None = None
    exists: bool = False
    dirty: bool = False
    sale_price_changed: bool = False


_PRICE_READ = (
    "product_id, price, price_with_taxes, price_auto, suggested_retail_price, srp_auto, sales_margin, cost,"
    " b2b_discount_rate"
)
# The price rows of a batch's products, read with its locking read (``batch.CatalogAhead``, PostgreSQL).
_PG_PRICES_AHEAD = f"SELECT {_PRICE_READ} FROM product_prices WHERE price_list_id = %s AND product_id = ANY({{ids}})"


def _load_prices(session: Session, product_ids: Collection[int], price_list_id: int) -> dict[int, PriceState]:
    if not product_ids:
        return {}
    conn = session.connection()
    condition, params = in_list(conn, "product_id", sorted(product_ids))
    sql = f"SELECT {_PRICE_READ} FROM product_prices WHERE price_list_id = {mark(conn)} AND {condition}"
    return _price_states(conn.exec_driver_sql(sql, (price_list_id, *params)).all(), product_ids, conn.dialect)


def _price_states(rows: Iterable[Any], product_ids: Collection[int], dialect: Any) -> dict[int, PriceState]:
    """The price rows read (``_PRICE_READ``) of ``product_ids`` as the batch's states."""
    # On PostgreSQL NUMERIC(18,4) comes back as a Decimal with its four places: the type's processor would copy it.
    money: Callable[[Any], Decimal | None] = (
        _same if dialect.name == "postgresql" else partial(Money().process_result_value, dialect=dialect)
    )
    states: dict[int, PriceState] = {}
    for row in rows:
        if row[0] not in product_ids:
            continue
        states[row[0]] = PriceState(
            price=money(row[1]),
            price_with_taxes=money(row[2]),
            price_auto=bool(row[3]),
            suggested_retail_price=money(row[4]),
            srp_auto=bool(row[5]),
            sales_margin=money(row[6]),
            cost=money(row[7]),
            b2b_discount_rate=money(row[8]),
            exists=True,
        )
    return states


def _same(value: Any) -> Any:
    return value


@dataclass(slots=True)
class _Element:
    number: int
    outcome: ItemOutcome
    item: ProductUpdateIn
    sku: str
    # Cleaned ProductAdditionalData changes (column → value), empty when none was sent.
    listing: dict[str, Any]
    # Read by ``quick_update_in`` and ``rules.plainly_valid``: only the product rules of those shapes can apply.
    plain: bool = False


def update_products(
    session: Session, settings: Settings, account_id: int, raw_price_list: str | None, raw_items: list[Any]
) -> tuple[ActionResult, bool]:
    """Apply a POST /v2/products batch: each element validated and applied on its own (never half-applied).

    Returns the ActionResult and whether anything was processed. The caller owns the transaction.
    """
    return update_product_batches(session, settings, account_id, raw_price_list, [raw_items])[0]


def update_product_batches(
    session: Session, settings: Settings, account_id: int, raw_price_list: str | None, batches: list[list[Any]]
) -> list[tuple[ActionResult, bool]]:
    """Apply several POST /v2/products batches of one account (and price list) in one transaction, as if each
    had been applied alone after the ones before it: the rows of all of them are locked at once (in id order),
    each batch's elements are validated and applied in its order after the previous batches' elements, and each
    batch gets its own ActionResult. The rows are written, and the listeners told, once (STK-15).

    Returns one ``(ActionResult, processed)`` per batch. The caller owns the transaction.
    """
    account, price_list_id = _load_context(session, settings, account_id, raw_price_list)
    # Read before the rows are locked: every statement after the lock lengthens the other batches' wait.
    webhook_events.prefetch_subscriptions(session, account_id)
    results = [ActionResultBuilder("SKU") for _ in batches]
    candidates, priced_any = sku_candidates(raw for raw_items in batches for raw in raw_items)
    # The rows are read and locked while the elements are validated (PostgreSQL; PRD-34).
    ahead_reads = {"prices": (_PG_PRICES_AHEAD, (price_list_id,))} if priced_any and price_list_id is not None else None
    with CatalogAhead(session, account_id, candidates, with_kits=True, reads=ahead_reads) as ahead:
        elements = [
            element
            for result, raw_items in zip(results, batches, strict=True)
            for element in _validate_elements(result, raw_items, account)
        ]
        catalog = ahead.catalog(e.sku for e in elements)
        resolved = _resolve(elements, catalog, account, price_list_id)
        # Only the price rows the batch writes are read (and their Money columns converted).
        priced = {product.id for element, product in resolved if element.item.Price is not None}
        if not priced or price_list_id is None:
            prices: dict[int, PriceState] = {}
        elif (price_rows := ahead.rows("prices")) is not None:
            prices = _price_states(price_rows, priced, session.get_bind().dialect)
        else:
            ahead.finish()
            prices = _load_prices(session, priced, price_list_id)
        _apply(resolved, prices, account)
        now = clock.utcnow()
        _write_products(session, catalog.states.values(), now, ahead.execute)
        if price_list_id is not None:
            _write_prices(session, prices, price_list_id, now, ahead.execute)
        # In the writes' round trip: what the listeners would otherwise read (PostgreSQL).
        ahead.probe(catalog.states.keys())
        ahead.finish()
    text_ids = _write_listing_data(session, catalog.states.values())
    stock_ids = {s.id for s in catalog.states.values() if s.stock_changed}
    price_ids = {pid for pid, p in prices.items() if p.sale_price_changed}
    price_lists = {price_list_id} if price_ids else set()
    probes = (catalog.states.keys(), ahead.probed) if ahead.probed else None
    _notify(session, account_id, catalog, stock_ids, price_ids, price_lists, text_ids, probes)
    return [(only_items_with_messages(result), result.processed_any) for result in results]


def _apply(
    resolved: list[tuple[_Element, ProductState]], prices: dict[int, PriceState], account: AccountContext
) -> None:
    """Each resolved element's changes onto its product's state (and price row), in the batch's order."""
    for element, product in resolved:
        stock = element.item.Stock
        if stock is not None and stock.Movement is not None and product.quantity + stock.Movement > rules.MAX_STOCK:
            too_large = rules.STOCK_TOO_LARGE.format(field="Stock.Movement (resulting stock)", max=rules.MAX_STOCK)
            element.outcome.error(too_large, stock.Movement, rules.CODE_STOCK_TOO_LARGE)
            continue
        _apply_stock(element, product)
        _apply_features(element.item, product)
        product.listing_data.update(element.listing)
        if element.item.Price is not None:
            state = prices.setdefault(product.id, PriceState())
            _apply_price(element.item.Price, state, product, account)
        product.touched = True
        if element.item.Stock is not None and element.item.Stock.Relationships is not None:
            element.outcome.info(rules.RELATIONSHIPS_IGNORED, code=rules.CODE_IGNORED)


def _resolve(
    elements: list[_Element], catalog: Catalog, account: AccountContext, price_list_id: int | None
) -> list[tuple[_Element, ProductState]]:
    """Each element's product, for the elements whose product exists and takes their changes (the others get
    their errors now)."""
    resolved: list[tuple[_Element, ProductState]] = []
    for element in elements:
        product, problem = catalog.find(element.sku, element.item.Brand)
        if product is None:
            assert problem is not None
            record_problem(element.outcome, problem)
            continue
        if element.plain and rules.plainly_applicable(
            element.item.Stock, element.item.Price, account.profile, product.product_type, product.shared, price_list_id
        ):
            resolved.append((element, product))
            continue
        problems = _product_problems(element.item, account, product, price_list_id)
        if problems:
            for p in problems:
                record_problem(element.outcome, p)
            continue
        resolved.append((element, product))
    return resolved


def _load_context(
    session: Session, settings: Settings, account_id: int, raw_price_list: str | None
) -> tuple[AccountContext, int | None]:
    """The account's context and the price list the batch writes into (``load_account_context``,
    ``resolve_price_list``). On PostgreSQL, for a batch naming no price list, one statement instead of four, the
    webhook subscriptions read with them (STK-17): each statement is a round trip, and on a busy machine a wake-up
    of the database's process."""
    if raw_price_list is not None or session.get_bind().dialect.name != "postgresql":
        return load_account_context(session, settings, account_id), resolve_price_list(
            session, account_id, raw_price_list
        )
    active = (FiscalTaxRule.account_id == account_id) & FiscalTaxRule.active.is_(True)
    codes, rates = (
        select(func.array_agg(aggregate_order_by(column, FiscalTaxRule.id))).where(active).scalar_subquery()
        for column in (FiscalTaxRule.code, FiscalTaxRule.percentage)
    )
    row = session.execute(
        select(
            Account.account_type,
            Account.b2b_portal_enabled,
            codes,
            rates,
            default_price_list_query(account_id).scalar_subquery(),
            webhook_events.subscriptions_json(account_id),
        ).where(Account.id == account_id)
    ).one_or_none()
    if row is None:
        raise AccountNotFound()
    webhook_events.remember_subscriptions(session, account_id, row[5])
    taxes = zip(row[2] or (), row[3] or (), strict=True)
    return account_context(settings, account_id, row[0], bool(row[1]), taxes), row[4]


def _validate_elements(result: ActionResultBuilder, raw_items: list[Any], account: AccountContext) -> list[_Element]:
    """Shape and product-independent rules of every element; the failing ones get their errors now."""
    elements: list[_Element] = []
    for number, raw in enumerate(raw_items):
        quick = quick_update_in(raw)
        if quick is not None and (sku := quick.SKU.strip()):  # type: ignore[union-attr]
            # The common shapes (PRD-32): the model the generic validation gives, the key it records, and, when
            # the values are plainly within the rules, no need to run them.
            outcome, item = result.item(number, sku), quick
            if rules.plainly_valid(quick.Stock, quick.Price):
                elements.append(_Element(number=number, outcome=outcome, item=item, sku=sku, listing={}, plain=True))
                continue
        else:
            outcome, item, sku = element_with_sku(result, number, raw, ProductUpdateIn)  # type: ignore[assignment]
            if item is None:
                continue
        problems: list[rules.Problem] = []
        listing, listing_problem = _listing_changes(item)
        if listing_problem is not None:
            problems.append(listing_problem)
        elif item.Stock is None and item.Price is None and item.Features is None and not listing:
            problems.append(rules.Problem(rules.CODE_NOTHING_TO_UPDATE, rules.NOTHING_TO_UPDATE))
        if item.Price is not None:
            problems += rules.price_problems(item.Price, account.profile)
        if item.Stock is not None:
            problems += rules.stock_problems(item.Stock, account.profile)
        if problems:
            for p in problems:
                record_problem(outcome, p)
            continue
        elements.append(_Element(number=number, outcome=outcome, item=item, sku=sku, listing=listing))
    return elements


def _listing_changes(item: ProductUpdateIn) -> tuple[dict[str, Any], rules.Problem | None]:
    """The listing-data columns an element changes: the properties sent in ``ProductAdditionalData`` (left out =
    unchanged, null = cleared), or all four cleared when the object itself is null."""
    if "ProductAdditionalData" not in item.model_fields_set:
        return {}, None
    data = item.ProductAdditionalData
    if data is None:
        return dict.fromkeys(listing_data.FIELDS), None
    sent = {name.lower(): getattr(data, name) for name in data.model_fields_set}
    try:
        return listing_data.clean_changes(sent), None
    except listing_data.ListingDataProblem as exc:
        return {}, rules.Problem(exc.code, exc.message_for(listing_data.API_NAMES[exc.field]), exc.value)


def _product_problems(
    item: ProductUpdateIn, account: AccountContext, product: ProductState, price_list_id: int | None
) -> list[rules.Problem]:
    problems: list[rules.Problem] = []
    if item.Price is not None:
        if price_list_id is None:
            problems.append(rules.Problem(rules.CODE_NO_PRICE_LIST, rules.NO_PRICE_LIST))
        problems += rules.price_product_problems(item.Price, account.profile, product.facts)
    if item.Stock is not None:
        problems += rules.stock_product_problems(item.Stock, product.facts)
    return problems


def _apply_stock(element: _Element, product: ProductState) -> None:
    stock = element.item.Stock
    if stock is None:
        return
    if stock.Quantity is not None:
        product.quantity = stock.Quantity
        product.absolute = product.stock_changed = True
    if stock.Movement is not None:
        new_quantity, warning = rules.apply_movement(product.quantity, stock.Movement)
        if warning is not None:
            element.outcome.warning(warning.message, warning.value, warning.code)
            product.absolute = True
        product.delta += stock.Movement
        product.quantity = new_quantity
        product.stock_changed = True
    if stock.MeasurableQuantity is not None and stock.MeasurableQuantity.Quantity is not None:
        measured = stock.MeasurableQuantity
        assert measured.Unit is not None
        factor = rules.unit_factor(measured.Unit, product.measure_unit or "")
        assert factor is not None
        product.measurable_quantity = measured.Quantity * factor
        product.quantity = rules.measurable_units(measured.Quantity, measured.Unit, product.facts)
        product.absolute = product.wide = product.stock_changed = True
    if stock.MinPublicationQuantity is not None:
        product.min_publication_quantity = stock.MinPublicationQuantity
        product.absolute = product.wide = product.stock_changed = True
    if stock.MaxPublicationQuantity is not None:
        product.max_publication_quantity = stock.MaxPublicationQuantity
        product.absolute = product.wide = product.stock_changed = True
    if stock.B2BQuantity is not None:
        product.b2b_quantity = stock.B2BQuantity
        product.absolute = product.wide = True
    if stock.Alert is not None:
        if stock.Alert.RedQty is not None:
            product.alert_red = stock.Alert.RedQty
            product.absolute = product.wide = True
        if stock.Alert.YellowQty is not None:
            product.alert_yellow = stock.Alert.YellowQty
            product.absolute = product.wide = True


def _apply_features(item: ProductUpdateIn, product: ProductState) -> None:
    if item.Features is not None and item.Features.Visibility is not None:
        product.visibility = item.Features.Visibility
        product.absolute = product.wide = True


def _apply_price(price: Any, state: PriceState, product: ProductState, account: AccountContext) -> None:
    """Apply a validated Price object; the net/gross counterpart is derived from the tax rate (CF-40.3.6)."""
    rate = account.tax_rate(product.tax_rate, product.tax_rule_code)
    before = state.price_with_taxes
    gross = price.PriceWithTaxes
    if price.MeasurablePriceWithTaxes is not None:
        measured = price.MeasurablePriceWithTaxes
        gross = rules.measurable_unit_price(measured.Price, measured.Unit, product.facts)
    if price.Price is not None:
        state.price = price.Price
        state.price_with_taxes = rules.with_taxes(price.Price, rate)
        state.price_auto = False
    elif gross is not None:
        state.price_with_taxes = gross
        state.price = rules.without_taxes(gross, rate)
        state.price_auto = True
    if price.SuggestedRetailPrice is not None:
        state.suggested_retail_price = price.SuggestedRetailPrice
        state.srp_auto = False
    elif state.srp_auto:
        state.suggested_retail_price = state.price_with_taxes
    if price.SalesMargin is not None:
        state.sales_margin = price.SalesMargin
    if price.Cost is not None:
        state.cost = price.Cost
    if price.B2BDiscountRate is not None:
        state.b2b_discount_rate = price.B2BDiscountRate
    state.dirty = True
    if state.price_with_taxes != before:
        state.sale_price_changed = True


# The batch write path runs plain parameterised SQL through the driver: with a few hundred rows per
# statement, SQLAlchemy's per-row parameter processing costs more than the SQL itself. Values go through the
# column types once (``db.RowWriter``), so what is stored is exactly what the ORM would store. SQLite runs one
# statement per row (executemany, in-process and cheap); PostgreSQL runs one statement per shape over arrays
# (``unnest``), since each row's statement there is a round of parsing, planning and executing on the server.
_SQL_ABSOLUTE = BulkStatement(
    "UPDATE products SET quantity = ?, b2b_quantity = ?, min_publication_quantity = ?, max_publication_quantity = ?,"
    " alert_red = ?, alert_yellow = ?, measurable_quantity = ?, visibility = ?, date_updated = ? WHERE id = ?",
    "UPDATE products AS p SET quantity = v.q, b2b_quantity = v.b2b, min_publication_quantity = v.lo,"
    " max_publication_quantity = v.hi, alert_red = v.red, alert_yellow = v.yellow, measurable_quantity = v.m,"
    " visibility = v.vis, date_updated = v.t"
    f" FROM unnest({arrays(*['integer'] * 6, 'numeric', 'integer', 'timestamptz', 'integer')})"
    " AS v(q, b2b, lo, hi, red, yellow, m, vis, t, id) WHERE p.id = v.id",
)
# The narrow stock writes of a batch in one statement (one trigger run of ``product_dates`` and one round trip
# on PostgreSQL instead of one per shape): an absolute quantity ``q``; else a pure relative movement ``d``, one
# atomic increment clamped at 0 (the lock makes the clamp check exact); else only the date (a price or listing
# change).
_SQL_STOCK = BulkStatement(
    "UPDATE products SET quantity = CASE WHEN ?1 IS NOT NULL THEN ?1 WHEN ?2 <> 0 THEN max(quantity + ?2, 0)"
    " ELSE quantity END, date_updated = ?3 WHERE id = ?4",
    "UPDATE products AS p SET quantity = CASE WHEN v.q IS NOT NULL THEN v.q WHEN v.d <> 0"
    " THEN GREATEST(p.quantity + v.d, 0) ELSE p.quantity END, date_updated = v.t"
    f" FROM unnest({arrays('integer', 'integer', 'timestamptz', 'integer')}) AS v(q, d, t, id) WHERE p.id = v.id",
)
_PRICE_TYPES = ("numeric", "numeric", "boolean", "numeric", "boolean", "numeric", "numeric", "numeric", "timestamptz")
_SQL_PRICE_UPDATE = BulkStatement(
    "UPDATE product_prices SET price = ?, price_with_taxes = ?, price_auto = ?, suggested_retail_price = ?,"
    " srp_auto = ?, sales_margin = ?, cost = ?, b2b_discount_rate = ?, date_updated = ?"
    " WHERE product_id = ? AND price_list_id = ?",
    "UPDATE product_prices AS pp SET price = v.price, price_with_taxes = v.gross, price_auto = v.auto,"
    " suggested_retail_price = v.srp, srp_auto = v.srp_auto, sales_margin = v.margin, cost = v.cost,"
    " b2b_discount_rate = v.b2b, date_updated = v.t"
    f" FROM unnest({arrays(*_PRICE_TYPES, 'integer', 'integer')})"
    " AS v(price, gross, auto, srp, srp_auto, margin, cost, b2b, t, product_id, price_list_id)"
    " WHERE pp.product_id = v.product_id AND pp.price_list_id = v.price_list_id",
)
_PRICE_COLUMNS = (
    "price, price_with_taxes, price_auto, suggested_retail_price, srp_auto, sales_margin, cost, b2b_discount_rate,"
    " date_updated, product_id, price_list_id"
)
_SQL_PRICE_INSERT = BulkStatement(
    f"INSERT INTO product_prices ({_PRICE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    f"INSERT INTO product_prices ({_PRICE_COLUMNS})"
    f" SELECT * FROM unnest({arrays(*_PRICE_TYPES, 'integer', 'integer')})",
)


# PostgreSQL's forms of the statements above: the arrays as literals written by orjson (``batch.array_literal``,
# numeric ones by ``db.numeric_array``) and the one timestamp of the batch as one parameter, instead of psycopg
# dumping every element of ten lists (a 500-element list ≈ 0.25 ms of Python, the timestamps' ≈ 0.45 ms; PRD-33).
_PG_ABSOLUTE = (
    "UPDATE products AS p SET quantity = v.q, b2b_quantity = v.b2b, min_publication_quantity = v.lo,"
    " max_publication_quantity = v.hi, alert_red = v.red, alert_yellow = v.yellow, measurable_quantity = v.m,"
    " visibility = v.vis, date_updated = %s"
    " FROM unnest(%s::integer[], %s::integer[], %s::integer[], %s::integer[], %s::integer[], %s::integer[],"
    " %s::numeric[], %s::integer[], %s::integer[]) AS v(q, b2b, lo, hi, red, yellow, m, vis, id) WHERE p.id = v.id"
)
_PG_STOCK = (
    "UPDATE products AS p SET quantity = CASE WHEN v.q IS NOT NULL THEN v.q WHEN v.d <> 0"
    " THEN GREATEST(p.quantity + v.d, 0) ELSE p.quantity END, date_updated = %s"
    " FROM unnest(%s::integer[], %s::integer[], %s::integer[]) AS v(q, d, id) WHERE p.id = v.id"
)
_PG_PRICE_ARRAYS = (
    "unnest(%s::numeric[], %s::numeric[], %s::boolean[], %s::numeric[], %s::boolean[], %s::numeric[],"
    " %s::numeric[], %s::numeric[], %s::integer[])"
    " AS v(price, gross, auto, srp, srp_auto, margin, cost, b2b, product_id)"
)
_PG_PRICE_UPDATE = (
    "UPDATE product_prices AS pp SET price = v.price, price_with_taxes = v.gross, price_auto = v.auto,"
    " suggested_retail_price = v.srp, srp_auto = v.srp_auto, sales_margin = v.margin, cost = v.cost,"
    f" b2b_discount_rate = v.b2b, date_updated = %s FROM {_PG_PRICE_ARRAYS}"
    " WHERE pp.product_id = v.product_id AND pp.price_list_id = %s"
)
_PG_PRICE_INSERT = (
    "INSERT INTO product_prices (price, price_with_taxes, price_auto, suggested_retail_price, srp_auto,"
    " sales_margin, cost, b2b_discount_rate, product_id, date_updated, price_list_id)"
    f" SELECT v.*, %s, %s FROM {_PG_PRICE_ARRAYS}"
)


def _pg_columns(rows: list[tuple[Any, ...]], numeric: Collection[int], skip: Collection[int]) -> list[Any]:
    """The array parameters of ``rows`` (one per column, but the ``skip`` ones): numeric literals at the
    ``numeric`` positions, ``batch.array_literal`` elsewhere."""
    return [
        numeric_array(column) if i in numeric else array_literal(column)
        for i, column in enumerate(zip(*rows, strict=True))
        if i not in skip
    ]


def _write_products(
    session: Session, states: Iterable[ProductState], now: datetime, execute: Callable[[str, Any], None]
) -> None:
    """The touched products' new stock and columns: on PostgreSQL one statement per shape over arrays, through
    ``execute`` (``CatalogAhead.execute``: down the batch's pipeline), elsewhere one row per statement."""
    bind = RowWriter(session.connection())
    stamp = bind.stamp(now)
    absolute: list[tuple[Any, ...]] = []
    narrow: list[tuple[Any, ...]] = []
    for s in states:
        if not s.touched:
            continue
        if s.absolute and not s.wide:
            narrow.append((s.quantity, 0, stamp, s.id))
        elif s.absolute:
            absolute.append(
                (
                    s.quantity,
                    s.b2b_quantity,
                    s.min_publication_quantity,
                    s.max_publication_quantity,
                    s.alert_red,
                    s.alert_yellow,
                    bind.money(s.measurable_quantity),
                    s.visibility,
                    stamp,
                    s.id,
                )
            )
        else:
            narrow.append((None, s.delta, stamp, s.id))
    if bind.arrays:
        if absolute:
            execute(_PG_ABSOLUTE, (stamp, *_pg_columns(absolute, (6,), (8,))))
        if narrow:
            execute(_PG_STOCK, (stamp, *_pg_columns(narrow, (), (2,))))
        return
    bind.executemany(_SQL_ABSOLUTE, absolute)
    bind.executemany(_SQL_STOCK, narrow)


def _write_listing_data(session: Session, states: Iterable[ProductState]) -> set[int]:
    """Write the listing-data changes (one executemany per set of columns; ``date_updated`` is written with
    the product's other changes). Returns the products whose description changed (the one text of these that
    channels send after publishing)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    described: dict[int, str | None] = {}
    for s in states:
        if s.touched and s.listing_data:
            columns = tuple(sorted(s.listing_data))
            groups.setdefault(columns, []).append({"row_id": s.id, **{f"v_{c}": s.listing_data[c] for c in columns}})
            if "description" in s.listing_data:
                described[s.id] = s.listing_data["description"]
    table = Product.__table__
    changed: set[int] = set()
    if described:
        # Only a description that differs is a change: sending the same text again must not reach the stores.
        current = session.execute(select(table.c.id, table.c.description).where(table.c.id.in_(sorted(described))))
        changed = {pid for pid, text in current if text != described[pid]}
    for columns, rows in groups.items():
        stmt = (
            update(table)
            .where(table.c.id == bindparam("row_id"))
            .values({column: bindparam(f"v_{column}") for column in columns})
        )
        session.execute(stmt, rows)
    return changed


def _write_prices(
    session: Session,
    prices: dict[int, PriceState],
    price_list_id: int,
    now: datetime,
    execute: Callable[[str, Any], None],
) -> None:
    """The changed price rows (updated or inserted), as ``_write_products`` writes the products."""
    bind = RowWriter(session.connection())
    stamp, money = bind.stamp(now), bind.money
    updates: list[tuple[Any, ...]] = []
    inserts: list[tuple[Any, ...]] = []
    for pid, p in prices.items():
        if not p.dirty:
            continue
        row = (
            money(p.price),
            money(p.price_with_taxes),
            p.price_auto,
            money(p.suggested_retail_price),
            p.srp_auto,
            money(p.sales_margin),
            money(p.cost),
            money(p.b2b_discount_rate),
            stamp,
            pid,
            price_list_id,
        )
        (updates if p.exists else inserts).append(row)
    if bind.arrays:
        # Positions of the rows: 8 is the timestamp, 10 the price list (each one parameter).
        numeric, skip = (0, 1, 3, 5, 6, 7), (8, 10)
        if updates:
            execute(_PG_PRICE_UPDATE, (stamp, *_pg_columns(updates, numeric, skip), price_list_id))
        if inserts:
            execute(_PG_PRICE_INSERT, (stamp, price_list_id, *_pg_columns(inserts, numeric, skip)))
        return
    bind.executemany(_SQL_PRICE_UPDATE, updates)
    bind.executemany(_SQL_PRICE_INSERT, inserts)


def _notify(
    session: Session,
    account_id: int,
    catalog: Catalog,
    stock_ids: set[int],
    price_ids: set[int],
    price_list_ids: set[int | None],
    text_ids: set[int],
    probes: tuple[Collection[int], dict[str, set[int]]] | None = None,
) -> None:
    """Expand stock changes to the kits and masters they feed, then tell the listeners (with what the probes
    run with the locking read found, ``batch.CatalogAhead``)."""
    if not stock_ids and not price_ids and not text_ids:
        return
    states = catalog.states.values()
    affected = set(stock_ids)
    unwatched: set[int] = set()
    if stock_ids:
        parents = {s.parent_id for s in states if s.id in stock_ids and s.parent_id is not None}
        kits = catalog.kits_of(stock_ids)
        affected |= parents | (kits if kits is not None else kits_containing(session, stock_ids))
        # The rows are locked and hold this batch's thresholds: those without one need no alert read.
        unwatched = {s.id for s in states if s.id in stock_ids and s.alert_red <= 0 and s.alert_yellow <= 0}
    # The rows are locked and hold what this batch wrote: the listeners need not read their stock again. When the
    # probes say which products have listings, only those and the ones with alert thresholds can be asked for
    # (a snapshot not given is read, so leaving one out is never wrong).
    listed = probes[1].get(hooks.LISTED_PROBE) if probes is not None else None
    known = (
        snapshot_of(s.id, s.product_type, s.quantity, s.min_publication_quantity, s.max_publication_quantity)
        for s in states
        if listed is None or s.id in listed or s.alert_red > 0 or s.alert_yellow > 0
    )
    hooks.notify(
        session,
        hooks.CatalogChange(
            account_id=account_id,
            stock_product_ids=frozenset(affected),
            price_product_ids=frozenset(price_ids),
            price_list_ids=frozenset(i for i in price_list_ids if i is not None),
            unwatched_product_ids=frozenset(unwatched),
            text_product_ids=frozenset(text_ids),
        ),
        known_stock={k.product_id: k for k in known if k is not None},
        # The rows are locked: their variation masters are current.
        known_parents={s.id: s.parent_id for s in states},
        known_probes=probes,
    )
