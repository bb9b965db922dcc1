"""Business rules of the products domain: the catalog read, bulk stock/price updates, fiscal information,
removal from a price list, and the atomic stock movement other domains call (``move_stock``).

Concurrency: every writer first locks the product rows it touches, in id order (``SELECT ... FOR UPDATE`` on
PostgreSQL; on SQLite the write transaction is ``BEGIN IMMEDIATE``, so writers are already serialised). The
values read are therefore current, and relative movements are still written as ``quantity = quantity + d``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlalchemy import and_, case, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session

from alephee import clock
from alephee.accounts.models import Account, FiscalTaxRule, PriceList
from alephee.accounts.tokens import check_confirmation_token
from alephee.config import Settings
from alephee.db import Money, UtcDateTime
from alephee.errors import Forbidden, InvalidInput, NotFound, PayloadTooLarge, Unauthorized
from alephee.http.body import TOO_MANY, raw_property
from alephee.http.errors import describe_validation_errors
from alephee.http.numbers import int_from_text
from alephee.http.paging import Page
from alephee.http.params import MAX_INT32
from alephee.http.results import ActionResult, ActionResultBuilder, ItemOutcome, validate_element
from alephee.http.wire import read_input
from alephee.products import hooks, rules
from alephee.products.models import Brand, KitComponent, Product, ProductPrice
from alephee.products.schemas import (
    CATALOG_STATUSES,
    KIT,
    PRODUCT_TYPES,
    VARIATION_CHILD,
    VARIATION_MASTER,
    AlertOut,
    CatalogStatusOut,
    IdNameOut,
    KitComponentOut,
    MeasurableQuantityOut,
    PriceListInfoIn,
    PriceListRefOut,
    ProductAttributeOut,
    ProductCatalogOut,
    ProductFeaturesOut,
    ProductFiscalIn,
    ProductFiscalOut,
    ProductIdentificationOut,
    ProductPriceOut,
    ProductStockOut,
    ProductUpdateIn,
    VariationProductOut,
)

products_t = Product.__table__
prices_t = ProductPrice.__table__
ZERO = Decimal(0)

BAD_PRICE_LIST_ID = f"'priceListId' must be an integer between 0 and {MAX_INT32}"
UNKNOWN_PRICE_LIST = "Price list {id} does not exist in this account"
BAD_CODE_LIST = "'{name}' must be a comma-separated list of integers ({allowed})"


# --- account and price-list context ------------------------------------------------------------------


@dataclass(slots=True)
class AccountContext:
    """What a batch needs to know about the account, loaded once per request."""

    account_id: int
    profile: rules.AccountProfile
    default_tax_rate: Decimal
    tax_rules: dict[str, Decimal] = field(default_factory=dict)

    def tax_rate(self, own: Decimal | None, rule_code: str | None) -> Decimal:
        """The product's rate, else its rule's percentage, else the configured default."""
        if own is not None:
            return own
        if rule_code and rule_code.lower() in self.tax_rules:
            return self.tax_rules[rule_code.lower()]
        return self.default_tax_rate


def load_account_context(session: Session, settings: Settings, account_id: int) -> AccountContext:
    """Account type, B2B portal flag and active tax rules of the account."""
    row = session.execute(
        select(Account.account_type, Account.b2b_portal_enabled).where(Account.id == account_id)
    ).one_or_none()
    if row is None:
        raise Unauthorized("The accountId is not associated with the given API_KEY")
    taxes = {
        code.lower(): pct
        for code, pct in session.execute(
            select(FiscalTaxRule.code, FiscalTaxRule.percentage).where(
                FiscalTaxRule.account_id == account_id, FiscalTaxRule.active.is_(True)
            )
        )
    }
    return AccountContext(
        account_id=account_id,
        profile=rules.AccountProfile(account_type=row[0], b2b_portal=bool(row[1])),
        default_tax_rate=settings.default_tax_rate,
        tax_rules=taxes,
    )


def parse_price_list_id(raw: str | None) -> int | None:
    """The ``priceListId`` query value (None when absent or empty)."""
    if raw is None or not raw.strip():
        return None
    value = int_from_text(raw)
    if value is None or not 0 <= value <= MAX_INT32:
        raise InvalidInput(BAD_PRICE_LIST_ID)
    return value


def resolve_price_list(session: Session, account_id: int, raw: str | None) -> int | None:
    """The price list to write: the one given (404 when not of the account), else the account's default
    (or its only/first) list, else None (the account has no price list)."""
    wanted = parse_price_list_id(raw)
    if wanted is not None:
        found = session.scalar(select(PriceList.id).where(PriceList.id == wanted, PriceList.account_id == account_id))
        if found is None:
            raise NotFound(UNKNOWN_PRICE_LIST.format(id=wanted))
        return found
    return session.scalar(
        select(PriceList.id)
        .where(PriceList.account_id == account_id)
        .order_by(PriceList.is_default.desc(), PriceList.id)
        .limit(1)
    )


# --- product lookup (spec 40 §3.4) ----------------------------------------------------------------------


@dataclass(slots=True)
class ProductState:
    """A locked product row as the batch sees it; changes are applied here, then written once.

    The first fields follow ``_STATE_COLUMNS`` so a result row unpacks straight into it.
    """

    id: int
    brand_id: int
    brand_name: str
    sku: str
    own_code: str | None
    product_type: int
    parent_id: int | None
    source_product_id: int | None
    tax_rate: Decimal | None
    tax_rule_code: str | None
    measure_unit: str | None
    measure_per_unit: Decimal | None
    quantity: int
    b2b_quantity: int
    min_publication_quantity: int
    max_publication_quantity: int
    alert_red: int
    alert_yellow: int
    measurable_quantity: Decimal | None
    visibility: int | None
    # Write bookkeeping: absolute stock write needed (``wide`` when more than the quantity changed), pure
    # movement delta, anything touched, publishable change.
    absolute: bool = False
    wide: bool = False
    delta: int = 0
    touched: bool = False
    stock_changed: bool = False

    @property
    def shared(self) -> bool:
        """A seller's copy of a product shared by a brand/wholesaler account."""
        return self.source_product_id is not None

    @property
    def facts(self) -> rules.ProductFacts:
        """The product as the rules see it."""
        return rules.ProductFacts(
            product_type=self.product_type,
            shared=self.shared,
            measure_unit=self.measure_unit,
            measure_per_unit=self.measure_per_unit,
        )


_STATE_COLUMNS = (
    Product.id,
    Product.brand_id,
    Brand.name,
    Product.sku,
    Product.own_code,
    Product.product_type,
    Product.parent_id,
    Product.source_product_id,
    Product.tax_rate,
    Product.tax_rule_code,
    Product.measure_unit,
    Product.measure_per_unit,
    Product.quantity,
    Product.b2b_quantity,
    Product.min_publication_quantity,
    Product.max_publication_quantity,
    Product.alert_red,
    Product.alert_yellow,
    Product.measurable_quantity,
    Product.visibility,
)


def _state(row: Sequence[Any]) -> ProductState:
    return ProductState(*row)


def in_list(conn: Any, column: str, values: Sequence[Any]) -> tuple[str, tuple[Any, ...]]:
    """``column IN (...)`` as driver SQL: one array parameter on PostgreSQL (``= ANY(%s)``), one ``?`` per
    value on SQLite. Compiling a 500-value expanding IN through SQLAlchemy costs milliseconds per query."""
    if conn.dialect.name == "postgresql":
        return f"{column} = ANY(%s)", (list(values),)
    return f"{column} IN ({', '.join('?' * len(values))})", tuple(values)


def mark(conn: Any) -> str:
    """The driver's positional placeholder."""
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def _lock(session: Session, stmt: Any) -> Any:
    """``FOR UPDATE OF products`` on PostgreSQL (SQLite serialises writers with BEGIN IMMEDIATE)."""
    if session.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update(of=Product)
    return stmt


_STATE_SQL = (
    "SELECT p.id, p.brand_id, b.name, p.sku, p.own_code, p.product_type, p.parent_id, p.source_product_id,"
    " p.tax_rate, p.tax_rule_code, p.measure_unit, p.measure_per_unit, p.quantity, p.b2b_quantity,"
    " p.min_publication_quantity, p.max_publication_quantity, p.alert_red, p.alert_yellow, p.measurable_quantity,"
    " p.visibility FROM products p JOIN brands b ON b.id = p.brand_id"
)
# Positions of the Money columns in _STATE_SQL (converted by the column type's result processor).
_STATE_MONEY = (8, 11, 18)


class Catalog:
    """The products a batch refers to (by SKU or OwnCode), loaded (and on PostgreSQL locked, in id order).

    SKUs are looked up first and OwnCodes only for the codes no SKU matched, in two index range scans (one
    query with ``sku IN (...) OR own_code IN (...)`` makes SQLite scan the whole account). Plain SQL through
    the driver: this is the hot path of POST /v2/products and SQLAlchemy's expanding-IN compilation and row
    processing cost as much as the query itself.
    """

    def __init__(self, session: Session, account_id: int, codes: Iterable[str], *, lock: bool = True) -> None:
        self.by_sku: dict[str, list[ProductState]] = defaultdict(list)
        self.by_own_code: dict[str, list[ProductState]] = defaultdict(list)
        self.states: dict[int, ProductState] = {}
        wanted = sorted(set(codes))
        if not wanted:
            return
        conn = session.connection()
        dialect = conn.dialect
        money_type = Money()

        def money(value: Any) -> Decimal | None:
            return money_type.process_result_value(value, dialect)

        placeholder = mark(conn)

        def fetch(column: str, values: Sequence[Any], *, scoped: bool = True, suffix: str = "") -> list[list[Any]]:
            condition, params = in_list(conn, column, values)
            if scoped:
                condition, params = f"p.account_id = {placeholder} AND {condition}", (account_id, *params)
            rows = [list(r) for r in conn.exec_driver_sql(f"{_STATE_SQL} WHERE {condition}{suffix}", params).all()]
            for row in rows:
                for i in _STATE_MONEY:
                    if row[i] is not None:
                        row[i] = money(row[i])
            return rows

        rows = fetch("p.sku", wanted)
        found = {row[3] for row in rows}
        rest = [code for code in wanted if code not in found]
        if rest:
            rows += fetch("p.own_code", rest)
        if lock and rows and dialect.name == "postgresql":
            # Lock every row in id order (no two batches wait on each other in a cycle) and re-read them:
            # what the lock returns is the latest committed version.
            ids = sorted({row[0] for row in rows})
            rows = fetch("p.id", ids, scoped=False, suffix=" ORDER BY p.id FOR UPDATE OF p")
        for row in sorted(rows, key=lambda r: r[0]):
            if row[0] in self.states:
                continue
            state = ProductState(*row)
            self.states[state.id] = state
            self.by_sku[state.sku].append(state)
            if state.own_code:
                self.by_own_code[state.own_code].append(state)

    def find(self, sku: str, brand: str | None) -> tuple[ProductState | None, rules.Problem | None]:
        """SKU first, then OwnCode (§3.4 rule 2); ``brand`` (id or name) narrows; ambiguity is an error."""
        for index in (self.by_sku, self.by_own_code):
            matches = [s for s in index.get(sku, ()) if brand_matches(s.brand_id, s.brand_name, brand)]
            if len(matches) == 1:
                return matches[0], None
            if len(matches) > 1:
                return None, rules.Problem(rules.CODE_AMBIGUOUS, rules.AMBIGUOUS, sku)
        return None, rules.Problem(rules.CODE_NOT_FOUND, rules.NOT_FOUND, sku)


def brand_matches(brand_id: int, brand_name: str, wanted: str | None) -> bool:
    """A brand given by id or by name (case-insensitive); no brand matches every brand."""
    if wanted is None or not wanted.strip():
        return True
    text = wanted.strip()
    return text.lower() == brand_name.strip().lower() or int_from_text(text) == brand_id


def _error(outcome: ItemOutcome, problem: rules.Problem) -> None:
    outcome.error(problem.message, problem.value, problem.code)


def only_items_with_messages(builder: ActionResultBuilder) -> ActionResult:
    """The builder's ActionResult without the Ok items that carry no message (spec 40 §0.4 note 2: they are
    counted in ``Quantities`` only). Those items are dropped before rendering: most of a healthy batch."""
    everything = builder.items
    listed = [item for item in everything if item.messages]
    builder.items = listed
    try:
        result = builder.build()
    finally:
        builder.items = everything
    result.Quantities.Ok += len(everything) - len(listed)
    result.Quantities.Total = len(everything)
    return result


# --- POST /v2/products -----------------------------------------------------------------------------------


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


def _load_prices(session: Session, product_ids: Collection[int], price_list_id: int) -> dict[int, PriceState]:
    states: dict[int, PriceState] = {}
    if not product_ids:
        return states
    conn = session.connection()
    money_type = Money()

    def money(value: Any) -> Decimal | None:
        return money_type.process_result_value(value, conn.dialect)

    condition, params = in_list(conn, "product_id", sorted(product_ids))
    sql = (
        "SELECT product_id, price, price_with_taxes, price_auto, suggested_retail_price, srp_auto, sales_margin,"
        f" cost, b2b_discount_rate FROM product_prices WHERE price_list_id = {mark(conn)} AND {condition}"
    )
    for row in conn.exec_driver_sql(sql, (price_list_id, *params)).all():
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


@dataclass(slots=True)
class _Element:
    number: int
    outcome: ItemOutcome
    item: ProductUpdateIn
    sku: str


def update_products(
    session: Session, settings: Settings, account_id: int, raw_price_list: str | None, raw_items: list[Any]
) -> tuple[ActionResult, bool]:
    """Apply a POST /v2/products batch: each element validated and applied on its own (never half-applied).

    Returns the ActionResult and whether anything was processed. Commits.
    """
    account = load_account_context(session, settings, account_id)
    price_list_id = resolve_price_list(session, account_id, raw_price_list)
    result = ActionResultBuilder("SKU")
    elements = _validate_elements(result, raw_items, account)
    catalog = Catalog(session, account_id, (e.sku for e in elements))
    resolved: list[tuple[_Element, ProductState]] = []
    for element in elements:
        product, problem = catalog.find(element.sku, element.item.Brand)
        if product is None:
            assert problem is not None
            _error(element.outcome, problem)
            continue
        problems = _product_problems(element.item, account, product, price_list_id)
        if problems:
            for p in problems:
                _error(element.outcome, p)
            continue
        resolved.append((element, product))
    # Only the price rows the batch writes are read (and their Money columns converted).
    priced = {product.id for element, product in resolved if element.item.Price is not None}
    prices = _load_prices(session, priced, price_list_id) if priced and price_list_id is not None else {}
    for element, product in resolved:
        stock = element.item.Stock
        if stock is not None and stock.Movement is not None and product.quantity + stock.Movement > rules.MAX_STOCK:
            too_large = rules.STOCK_TOO_LARGE.format(field="Stock.Movement (resulting stock)", max=rules.MAX_STOCK)
            element.outcome.error(too_large, stock.Movement, rules.CODE_STOCK_TOO_LARGE)
            continue
        _apply_stock(element, product)
        _apply_features(element.item, product)
        if element.item.Price is not None:
            state = prices.setdefault(product.id, PriceState())
            _apply_price(element.item.Price, state, product, account)
        product.touched = True
        if element.item.Stock is not None and element.item.Stock.Relationships is not None:
            element.outcome.info(rules.RELATIONSHIPS_IGNORED, code=rules.CODE_IGNORED)
    now = clock.utcnow()
    _write_products(session, catalog.states.values(), now)
    if price_list_id is not None:
        _write_prices(session, prices, price_list_id, now)
    stock_ids = {s.id for s in catalog.states.values() if s.stock_changed}
    price_ids = {pid for pid, p in prices.items() if p.sale_price_changed}
    _notify(session, account_id, catalog.states.values(), stock_ids, price_ids, {price_list_id} if price_ids else set())
    session.commit()
    return only_items_with_messages(result), result.processed_any


M = TypeVar("M", bound=ProductUpdateIn | ProductFiscalIn)


def _element_with_sku(
    result: ActionResultBuilder, number: int, raw: Any, model: type[M]
) -> tuple[ItemOutcome, M | None, str]:
    """Validate one batch element keyed by SKU; ``None`` (error recorded) when invalid or without a SKU."""
    outcome, item = validate_element(result, number, raw, model, "SKU", rules.CODE_INVALID)
    if item is None:
        return outcome, None, ""
    sku = (getattr(item, "SKU", None) or "").strip()
    if not sku:
        outcome.error(rules.SKU_REQUIRED, None, rules.CODE_SKU_REQUIRED)
        return outcome, None, ""
    outcome.key_value = sku
    return outcome, item, sku


def _validate_elements(result: ActionResultBuilder, raw_items: list[Any], account: AccountContext) -> list[_Element]:
    """Shape and product-independent rules of every element; the failing ones get their errors now."""
    elements: list[_Element] = []
    for number, raw in enumerate(raw_items):
        outcome, item, sku = _element_with_sku(result, number, raw, ProductUpdateIn)
        if item is None:
            continue
        problems: list[rules.Problem] = []
        if item.Stock is None and item.Price is None and item.Features is None:
            problems.append(rules.Problem(rules.CODE_NOTHING_TO_UPDATE, rules.NOTHING_TO_UPDATE))
        if item.Price is not None:
            problems += rules.price_problems(item.Price, account.profile)
        if item.Stock is not None:
            problems += rules.stock_problems(item.Stock, account.profile)
        if problems:
            for p in problems:
                _error(outcome, p)
            continue
        elements.append(_Element(number=number, outcome=outcome, item=item, sku=sku))
    return elements


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
    """Apply a validated Price object; the net/gross counterpart is derived from the tax rate (§3.6)."""
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


# The batch write path runs plain parameterised SQL through the driver's executemany: with a few hundred
# rows per statement, SQLAlchemy's per-row parameter processing costs more than the SQL itself. Values go
# through the column types once (``_Binder``), so what is stored is exactly what the ORM would store.
_SQL_ABSOLUTE = (
    "UPDATE products SET quantity = ?, b2b_quantity = ?, min_publication_quantity = ?, max_publication_quantity = ?,"
    " alert_red = ?, alert_yellow = ?, measurable_quantity = ?, visibility = ?, date_updated = ? WHERE id = ?"
)
_SQL_QUANTITY = "UPDATE products SET quantity = ?, date_updated = ? WHERE id = ?"
# A pure relative movement: one atomic increment, clamped at 0 (the lock makes the clamp check exact).
_SQL_DELTA = (
    "UPDATE products SET quantity = CASE WHEN quantity + ? < 0 THEN 0 ELSE quantity + ? END, date_updated = ?"
    " WHERE id = ?"
)
_SQL_TOUCH = "UPDATE products SET date_updated = ? WHERE id = ?"
_SQL_PRICE_UPDATE = (
    "UPDATE product_prices SET price = ?, price_with_taxes = ?, price_auto = ?, suggested_retail_price = ?,"
    " srp_auto = ?, sales_margin = ?, cost = ?, b2b_discount_rate = ?, date_updated = ?"
    " WHERE product_id = ? AND price_list_id = ?"
)
_SQL_PRICE_INSERT = (
    "INSERT INTO product_prices (price, price_with_taxes, price_auto, suggested_retail_price, srp_auto,"
    " sales_margin, cost, b2b_discount_rate, date_updated, product_id, price_list_id)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class _Binder:
    """Bind processors of the column types for one connection's dialect, and its parameter style."""

    def __init__(self, conn: Any) -> None:
        dialect = conn.dialect
        self.conn = conn
        money = Money().dialect_impl(dialect).bind_processor(dialect)
        stamp = UtcDateTime().dialect_impl(dialect).bind_processor(dialect)
        self.money: Any = money or (lambda v: v)
        self.stamp: Any = stamp or (lambda v: v)
        self.qmark = dialect.paramstyle == "qmark"

    def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """Run ``sql`` (written with ``?``) once per row."""
        if rows:
            self.conn.exec_driver_sql(sql if self.qmark else sql.replace("?", "%s"), rows)


def _write_products(session: Session, states: Iterable[ProductState], now: datetime) -> None:
    bind = _Binder(session.connection())
    stamp = bind.stamp(now)
    absolute: list[tuple[Any, ...]] = []
    quantities: list[tuple[Any, ...]] = []
    deltas: list[tuple[Any, ...]] = []
    touched: list[tuple[Any, ...]] = []
    for s in states:
        if not s.touched:
            continue
        if s.absolute and not s.wide:
            quantities.append((s.quantity, stamp, s.id))
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
        elif s.delta:
            deltas.append((s.delta, s.delta, stamp, s.id))
        else:
            touched.append((stamp, s.id))
    bind.executemany(_SQL_ABSOLUTE, absolute)
    bind.executemany(_SQL_QUANTITY, quantities)
    bind.executemany(_SQL_DELTA, deltas)
    bind.executemany(_SQL_TOUCH, touched)


def _write_prices(session: Session, prices: dict[int, PriceState], price_list_id: int, now: datetime) -> None:
    bind = _Binder(session.connection())
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
    bind.executemany(_SQL_PRICE_UPDATE, updates)
    bind.executemany(_SQL_PRICE_INSERT, inserts)


def _notify(
    session: Session,
    account_id: int,
    states: Iterable[ProductState],
    stock_ids: set[int],
    price_ids: set[int],
    price_list_ids: set[int | None],
) -> None:
    """Expand stock changes to the kits and masters they feed, then tell the listeners."""
    if not stock_ids and not price_ids:
        return
    affected = set(stock_ids)
    if stock_ids:
        parents = {s.parent_id for s in states if s.id in stock_ids and s.parent_id is not None}
        affected |= parents | kits_containing(session, stock_ids)
    hooks.notify(
        session,
        hooks.CatalogChange(
            account_id=account_id,
            stock_product_ids=frozenset(affected),
            price_product_ids=frozenset(price_ids),
            price_list_ids=frozenset(i for i in price_list_ids if i is not None),
        ),
    )


def kits_containing(session: Session, product_ids: Collection[int]) -> set[int]:
    """Ids of the kits that have any of ``product_ids`` as a component."""
    if not product_ids:
        return set()
    conn = session.connection()
    condition, params = in_list(conn, "component_id", sorted(product_ids))
    return {
        row[0] for row in conn.exec_driver_sql(f"SELECT DISTINCT kit_id FROM kit_components WHERE {condition}", params)
    }


def kit_components_among(session: Session, product_ids: Collection[int]) -> set[int]:
    """Which of ``product_ids`` are a component of at least one kit."""
    if not product_ids:
        return set()
    return set(
        session.scalars(
            select(KitComponent.component_id).where(KitComponent.component_id.in_(sorted(product_ids))).distinct()
        )
    )


# --- atomic stock movement for other domains ------------------------------------------------------------

MOVE_UNKNOWN = "Product {id} does not exist in account {account}"
MOVE_MASTER = "A variation master has no stock of its own; move one of its variations"


@dataclass(frozen=True, slots=True)
class StockMove:
    """Outcome of ``move_stock_detailed``: the new quantity and the units that could not be taken."""

    quantity: int
    shortfall: int


def move_stock(session: Session, account_id: int, product_id: int, delta: int) -> int:
    """Move a product's stock by ``delta`` atomically (clamped at 0) and return the new quantity.

    For orders: a sale or an API-created order decrements stock here. A kit moves each of its components
    by ``delta × units`` (its quantity is derived). Listings are notified in the same transaction; the
    caller commits. Callers moving several products in one transaction should go through
    ``move_stocks`` (ascending ids, so two transactions never wait on each other in a cycle).
    """
    return move_stock_detailed(session, account_id, product_id, delta).quantity


def move_stocks(session: Session, account_id: int, deltas: dict[int, int]) -> dict[int, StockMove]:
    """Several ``move_stock`` calls in ascending product-id order."""
    return {pid: move_stock_detailed(session, account_id, pid, deltas[pid]) for pid in sorted(deltas)}


def move_stock_detailed(session: Session, account_id: int, product_id: int, delta: int) -> StockMove:
    """``move_stock`` that also reports the shortfall (units asked for beyond the available stock)."""
    row = session.execute(
        _lock(
            session,
            select(Product.product_type, Product.quantity, Product.parent_id).where(
                Product.id == product_id, Product.account_id == account_id
            ),
        )
    ).one_or_none()
    if row is None:
        raise NotFound(MOVE_UNKNOWN.format(id=product_id, account=account_id))
    product_type, quantity, parent_id = row
    if product_type == VARIATION_MASTER:
        raise InvalidInput(MOVE_MASTER)
    if product_type == KIT:
        return _move_kit(session, account_id, product_id, delta)
    now = clock.utcnow()
    new_quantity = session.execute(
        update(products_t)
        .where(products_t.c.id == product_id)
        .values(
            quantity=case((products_t.c.quantity + delta < 0, 0), else_=products_t.c.quantity + delta),
            date_updated=now,
        )
        .returning(products_t.c.quantity)
    ).scalar_one()
    shortfall = max(0, -(quantity + delta))
    affected = {product_id} | kits_containing(session, [product_id]) | ({parent_id} if parent_id else set())
    hooks.notify(session, hooks.CatalogChange(account_id=account_id, stock_product_ids=frozenset(affected)))
    return StockMove(quantity=new_quantity, shortfall=shortfall)


def _move_kit(session: Session, account_id: int, kit_id: int, delta: int) -> StockMove:
    components = session.execute(
        select(KitComponent.component_id, KitComponent.quantity)
        .where(KitComponent.kit_id == kit_id)
        .order_by(KitComponent.component_id)
    ).all()
    shortfall = 0
    for component_id, units in components:
        moved = move_stock_detailed(session, account_id, component_id, delta * units)
        shortfall = max(shortfall, -(-moved.shortfall // units))
    snapshot = stock_snapshots(session, [kit_id])[kit_id]
    return StockMove(quantity=snapshot.quantity, shortfall=shortfall)


# --- stock snapshots (GET and listings) -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StockSnapshot:
    """The stock of a product as listings and GET see it (kits and masters derived)."""

    product_id: int
    product_type: int
    quantity: int
    publish_quantity: int
    min_publication_quantity: int
    max_publication_quantity: int


def stock_snapshots(session: Session, product_ids: Collection[int]) -> dict[int, StockSnapshot]:
    """Quantity and PublishQuantity of each product: kits from their components (whole kits only), variation
    masters as the sum of their variations."""
    if not product_ids:
        return {}
    ids = sorted(set(product_ids))
    rows = session.execute(
        select(
            Product.id,
            Product.product_type,
            Product.quantity,
            Product.min_publication_quantity,
            Product.max_publication_quantity,
        ).where(Product.id.in_(ids))
    ).all()
    derived = _derived_quantities(
        session,
        kit_ids=[r[0] for r in rows if r[1] == KIT],
        master_ids=[r[0] for r in rows if r[1] == VARIATION_MASTER],
    )
    out: dict[int, StockSnapshot] = {}
    for pid, ptype, quantity, min_pub, max_pub in rows:
        qty = derived.get(pid, quantity) if ptype in (KIT, VARIATION_MASTER) else quantity
        out[pid] = StockSnapshot(
            product_id=pid,
            product_type=ptype,
            quantity=qty,
            publish_quantity=rules.publish_quantity(qty, min_pub, max_pub),
            min_publication_quantity=min_pub,
            max_publication_quantity=max_pub,
        )
    return out


def _derived_quantities(session: Session, *, kit_ids: list[int], master_ids: list[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    if kit_ids:
        per_kit: dict[int, int] = {}
        stmt = (
            select(KitComponent.kit_id, KitComponent.quantity, Product.quantity)
            .join(Product, Product.id == KitComponent.component_id)
            .where(KitComponent.kit_id.in_(kit_ids))
        )
        for kit_id, units, available in session.execute(stmt):
            whole = available // max(units, 1)
            per_kit[kit_id] = min(per_kit.get(kit_id, whole), whole)
        out.update({kit_id: per_kit.get(kit_id, 0) for kit_id in kit_ids})
    if master_ids:
        stmt2 = (
            select(Product.parent_id, func.coalesce(func.sum(Product.quantity), 0))
            .where(Product.parent_id.in_(master_ids))
            .group_by(Product.parent_id)
        )
        sums = {pid: int(total) for pid, total in session.execute(stmt2)}
        out.update({mid: sums.get(mid, 0) for mid in master_ids})
    return out


def sale_prices(session: Session, product_ids: Collection[int], price_list_ids: Collection[int]) -> dict:
    """``{(product_id, price_list_id): PriceWithTaxes}`` of the rows that have one (listings' base price)."""
    if not product_ids or not price_list_ids:
        return {}
    stmt = select(ProductPrice.product_id, ProductPrice.price_list_id, ProductPrice.price_with_taxes).where(
        ProductPrice.product_id.in_(sorted(set(product_ids))),
        ProductPrice.price_list_id.in_(sorted(set(price_list_ids))),
        ProductPrice.price_with_taxes.is_not(None),
    )
    return {(pid, plid): pwt for pid, plid, pwt in session.execute(stmt)}


# --- GET /v2/products ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProductFilters:
    """Filters of GET /v2/products (spec 40 §2.1), already parsed."""

    sku: str | None = None
    brand: str | None = None
    own_code: str | None = None
    date_updated_from: datetime | None = None
    types: tuple[int, ...] = ()
    catalog_statuses: tuple[int, ...] = ()


def parse_code_list(raw: str | None, name: str, allowed: Collection[int]) -> tuple[int, ...]:
    """``"1, 5,6"`` → (1, 5, 6); anything else is a 400 naming the allowed codes."""
    if raw is None or not raw.strip():
        return ()
    allowed_text = ", ".join(str(c) for c in sorted(allowed))
    out: list[int] = []
    for part in raw.split(","):
        text = part.strip()
        if not text:
            continue
        code = int_from_text(text)
        if code is None or code not in allowed:
            raise InvalidInput(BAD_CODE_LIST.format(name=name, allowed=allowed_text))
        out.append(code)
    return tuple(dict.fromkeys(out))


def _brand_filter(value: str) -> Any:
    text = value.strip()
    condition = Brand.name_key == brand_key(text)
    brand_id = int_from_text(text)
    if brand_id is not None and 0 <= brand_id <= MAX_INT32:
        condition = or_(condition, Brand.id == brand_id)
    return condition


def list_products(
    session: Session,
    settings: Settings,
    account_id: int,
    filters: ProductFilters,
    price_list_id: int | None,
    page: Page,
) -> tuple[int, list[ProductCatalogOut]]:
    """One page of the catalog with prices (narrowed to ``price_list_id``), stock, kits and publications."""
    if (
        price_list_id is not None
        and session.scalar(
            select(PriceList.id).where(PriceList.id == price_list_id, PriceList.account_id == account_id)
        )
        is None
    ):
        raise NotFound(UNKNOWN_PRICE_LIST.format(id=price_list_id))
    conditions: list[Any] = [Product.account_id == account_id]
    if filters.sku:
        conditions.append(Product.sku == filters.sku.strip())
    if filters.own_code:
        conditions.append(Product.own_code == filters.own_code.strip())
    if filters.brand:
        conditions.append(_brand_filter(filters.brand))
    if filters.date_updated_from is not None:
        conditions.append(Product.date_updated >= filters.date_updated_from)
    if filters.types:
        conditions.append(Product.product_type.in_(filters.types))
    if filters.catalog_statuses:
        conditions.append(Product.catalog_status.in_(filters.catalog_statuses))
    base = select(Product.id).join(Brand, Brand.id == Product.brand_id).where(and_(*conditions))
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    ids = list(session.scalars(base.order_by(Product.id).offset(page.offset).limit(page.limit)))
    return total, build_catalog(session, settings, account_id, ids, price_list_id)


def build_catalog(
    session: Session, settings: Settings, account_id: int, ids: Sequence[int], price_list_id: int | None
) -> list[ProductCatalogOut]:
    """ProductCatalog objects for ``ids`` (in that order), with a fixed number of queries."""
    if not ids:
        return []
    products = _products_by_id(session, ids)
    components: dict[int, list[KitComponent]] = defaultdict(list)
    kit_ids = [pid for pid in ids if products[pid][0].product_type == KIT]
    if kit_ids:
        for comp in session.scalars(
            select(KitComponent).where(KitComponent.kit_id.in_(kit_ids)).order_by(KitComponent.component_id)
        ):
            components[comp.kit_id].append(comp)
    component_ids = {c.component_id for comps in components.values() for c in comps}
    master_ids = [pid for pid in ids if products[pid][0].product_type == VARIATION_MASTER]
    children: dict[int, list[int]] = defaultdict(list)
    if master_ids:
        for child_id, parent_id in session.execute(
            select(Product.id, Product.parent_id).where(Product.parent_id.in_(master_ids)).order_by(Product.id)
        ):
            children[parent_id].append(child_id)
    child_ids = {c for cs in children.values() for c in cs}
    containing: dict[int, list[int]] = defaultdict(list)
    plain_ids = [pid for pid in ids if products[pid][0].product_type != KIT]
    if plain_ids:
        for kit_id, component_id in session.execute(
            select(KitComponent.kit_id, KitComponent.component_id)
            .where(KitComponent.component_id.in_(plain_ids))
            .order_by(KitComponent.kit_id)
        ):
            containing[component_id].append(kit_id)
    extra = (component_ids | child_ids | {k for ks in containing.values() for k in ks}) - set(products)
    products.update(_products_by_id(session, sorted(extra)))
    snapshots = stock_snapshots(session, list(ids) + sorted(component_ids | child_ids))
    prices = _prices_by_product(session, list(ids) + sorted(component_ids), price_list_id)
    publications = hooks.publications(session, settings, account_id, ids)

    def ident(pid: int) -> ProductIdentificationOut:
        product, brand = products[pid]
        return identification(product, brand)

    out: list[ProductCatalogOut] = []
    for pid in ids:
        product, _ = products[pid]
        out.append(
            ProductCatalogOut(
                Identification=ident(pid),
                Stock=stock_out(product, snapshots[pid]),
                Price=prices.get(pid, []),
                Kits=[ident(k) for k in containing.get(pid, [])],
                KitComponents=[
                    KitComponentOut(
                        Identification=ident(c.component_id),
                        Price=prices.get(c.component_id, []),
                        Stock=stock_out(products[c.component_id][0], snapshots[c.component_id]),
                        Quantity=c.quantity,
                        Principal=c.principal,
                    )
                    for c in components.get(pid, [])
                ],
                Publications=publications.get(pid, []),
                Features=ProductFeaturesOut(Visibility=product.visibility),
                Attributes=attributes_out(product.attributes),
                Variations=[
                    VariationProductOut(
                        Identification=ident(c),
                        Attributes=attributes_out(products[c][0].attributes),
                        Stock=stock_out(products[c][0], snapshots[c]),
                    )
                    for c in children.get(pid, [])
                ],
            )
        )
    return out


def _products_by_id(session: Session, ids: Sequence[int]) -> dict[int, tuple[Product, Brand]]:
    if not ids:
        return {}
    rows = session.execute(select(Product, Brand).join(Brand, Brand.id == Product.brand_id).where(Product.id.in_(ids)))
    return {p.id: (p, b) for p, b in rows}


def identification(product: Product, brand: Brand) -> ProductIdentificationOut:
    """ProductIdentification of a product."""
    status_name = CATALOG_STATUSES.get(product.catalog_status, str(product.catalog_status))
    return ProductIdentificationOut(
        Id=product.id,
        SKU=product.sku,
        OwnCode=product.own_code,
        Brand=IdNameOut(Id=brand.id, Name=brand.name),
        Name=product.name,
        CatalogStatus=CatalogStatusOut(
            Id=product.catalog_status, Name=status_name, Key=product.catalog_status, Value=status_name
        ),
        ProductType=IdNameOut(
            Id=product.product_type, Name=PRODUCT_TYPES.get(product.product_type, str(product.product_type))
        ),
    )


def stock_out(product: Product, snapshot: StockSnapshot) -> ProductStockOut:
    """ProductStockGet of a product."""
    return ProductStockOut(
        Quantity=snapshot.quantity,
        B2BQuantity=product.b2b_quantity,
        PublishQuantity=snapshot.publish_quantity,
        MinPublicationQuantity=product.min_publication_quantity,
        MaxPublicationQuantity=product.max_publication_quantity,
        MeasurableQuantity=MeasurableQuantityOut(
            Quantity=product.measurable_quantity or ZERO,
            Unit=product.measure_unit if product.measurable_quantity is not None else None,
        ),
        Alert=AlertOut(RedQty=product.alert_red, YellowQty=product.alert_yellow),
    )


def attributes_out(raw: list[dict[str, Any]] | None) -> list[ProductAttributeOut]:
    """Stored attributes as ProductAttribute objects."""
    out: list[ProductAttributeOut] = []
    for attr in raw or []:
        value = attr.get("Value")
        out.append(
            ProductAttributeOut(
                Name=str(attr.get("Name", "")),
                Value=None if value is None else str(value),
                ValueName=attr.get("ValueName") if attr.get("ValueName") is not None else value,
                MeasurementUnit=attr.get("MeasurementUnit"),
            )
        )
    return out


def _prices_by_product(
    session: Session, product_ids: Sequence[int], price_list_id: int | None
) -> dict[int, list[ProductPriceOut]]:
    stmt = (
        select(ProductPrice, PriceList.name, PriceList.discount_rate)
        .join(PriceList, PriceList.id == ProductPrice.price_list_id)
        .where(ProductPrice.product_id.in_(sorted(set(product_ids))))
        .order_by(ProductPrice.product_id, ProductPrice.price_list_id)
    )
    if price_list_id is not None:
        stmt = stmt.where(ProductPrice.price_list_id == price_list_id)
    out: dict[int, list[ProductPriceOut]] = defaultdict(list)
    for row, name, discount in session.execute(stmt):
        pwt = row.price_with_taxes or ZERO
        out[row.product_id].append(
            ProductPriceOut(
                Price=row.price or ZERO,
                PriceWithTaxes=pwt,
                SuggestedRetailPrice=row.suggested_retail_price or ZERO,
                SuggestedRetailPriceAutoCalculated=row.srp_auto,
                PriceAutoCalculated=row.price_auto,
                FinalPriceWithShippingCost=pwt,
                B2BDiscountRate=row.b2b_discount_rate or ZERO,
                SalesMargin=row.sales_margin or ZERO,
                PriceList=PriceListRefOut(Id=row.price_list_id, Name=name, DiscountRate=discount or ZERO),
                Cost=row.cost or ZERO,
            )
        )
    return out


# --- fiscal information (our design, spec 40 §4) ----------------------------------------------------------

TAX_RATE_RANGE = "TaxRate must be between 0 and 100"
TAX_RATE_DECIMALS = "TaxRate accepts at most 4 decimals"
UNKNOWN_TAX_RULE = "There is no active fiscal tax rule with Code '{code}' in this account"
NOTHING_FISCAL = "Nothing to update: send TaxRate, TaxRuleCode, FiscalCode or Origin"


def update_fiscal(
    session: Session, settings: Settings, account_id: int, raw_items: list[Any]
) -> tuple[ActionResult, bool]:
    """Set tax rate and fiscal codes per product; prices derived from the tax rate follow. Commits."""
    account = load_account_context(session, settings, account_id)
    result = ActionResultBuilder("SKU")
    parsed: list[tuple[ItemOutcome, ProductFiscalIn, str]] = []
    for number, raw in enumerate(raw_items):
        outcome, item, sku = _element_with_sku(result, number, raw, ProductFiscalIn)
        if item is None:
            continue
        problem = _fiscal_problem(item, account)
        if problem is not None:
            _error(outcome, problem)
            continue
        parsed.append((outcome, item, sku))
    catalog = Catalog(session, account_id, (sku for _, _, sku in parsed))
    now = clock.utcnow()
    changed_rates: set[int] = set()
    writes: dict[int, dict[str, Any]] = {}
    for outcome, item, sku in parsed:
        product, problem = catalog.find(sku, item.Brand)
        if product is None:
            assert problem is not None
            _error(outcome, problem)
            continue
        before = account.tax_rate(product.tax_rate, product.tax_rule_code)
        values = writes.setdefault(product.id, {})
        if item.TaxRate is not None:
            product.tax_rate = item.TaxRate
            values["tax_rate"] = item.TaxRate
        if item.TaxRuleCode is not None:
            product.tax_rule_code = item.TaxRuleCode.strip() or None
            values["tax_rule_code"] = product.tax_rule_code
        if item.FiscalCode is not None:
            values["fiscal_code"] = item.FiscalCode.strip() or None
        if item.Origin is not None:
            values["fiscal_origin"] = item.Origin.strip() or None
        if account.tax_rate(product.tax_rate, product.tax_rule_code) != before:
            changed_rates.add(product.id)
    for pid, values in writes.items():
        session.execute(update(products_t).where(products_t.c.id == pid).values(**values, date_updated=now))
    repriced = _reprice_for_tax(session, account, catalog, changed_rates, now)
    if repriced:
        lists = {plid for _, plid in repriced}
        hooks.notify(
            session,
            hooks.CatalogChange(
                account_id=account_id,
                price_product_ids=frozenset(pid for pid, _ in repriced),
                price_list_ids=frozenset(lists),
            ),
        )
    session.commit()
    return only_items_with_messages(result), result.processed_any


def _fiscal_problem(item: ProductFiscalIn, account: AccountContext) -> rules.Problem | None:
    if item.TaxRate is None and item.TaxRuleCode is None and item.FiscalCode is None and item.Origin is None:
        return rules.Problem(rules.CODE_NOTHING_TO_UPDATE, NOTHING_FISCAL)
    if item.TaxRate is not None:
        if not ZERO <= item.TaxRate <= 100:
            return rules.Problem(rules.CODE_INVALID, TAX_RATE_RANGE, item.TaxRate)
        if rules.decimals(item.TaxRate) > 4:
            return rules.Problem(rules.CODE_INVALID, TAX_RATE_DECIMALS, item.TaxRate)
    code = (item.TaxRuleCode or "").strip()
    if code and code.lower() not in account.tax_rules:
        return rules.Problem(rules.CODE_INVALID, UNKNOWN_TAX_RULE.format(code=code), code)
    return None


def _reprice_for_tax(
    session: Session, account: AccountContext, catalog: Catalog, product_ids: set[int], now: datetime
) -> set[tuple[int, int]]:
    """Recompute the derived half of every price row of products whose tax rate changed."""
    if not product_ids:
        return set()
    changed: set[tuple[int, int]] = set()
    rows = session.scalars(select(ProductPrice).where(ProductPrice.product_id.in_(sorted(product_ids)))).all()
    for row in rows:
        state = catalog.states[row.product_id]
        rate = account.tax_rate(state.tax_rate, state.tax_rule_code)
        before = row.price_with_taxes
        if row.price_auto and row.price_with_taxes is not None:
            row.price = rules.without_taxes(row.price_with_taxes, rate)
        elif row.price is not None:
            row.price_with_taxes = rules.with_taxes(row.price, rate)
            if row.srp_auto:
                row.suggested_retail_price = row.price_with_taxes
        row.date_updated = now
        if row.price_with_taxes != before:
            changed.add((row.product_id, row.price_list_id))
    session.flush()
    return changed


def list_fiscal(
    session: Session, settings: Settings, account_id: int, filters: ProductFilters, page: Page
) -> tuple[int, list[ProductFiscalOut]]:
    """Fiscal information of the account's products (filters SKU, brand, ownCode, dateUpdatedFrom)."""
    account = load_account_context(session, settings, account_id)
    conditions: list[Any] = [Product.account_id == account_id]
    if filters.sku:
        conditions.append(Product.sku == filters.sku.strip())
    if filters.own_code:
        conditions.append(Product.own_code == filters.own_code.strip())
    if filters.brand:
        conditions.append(_brand_filter(filters.brand))
    if filters.date_updated_from is not None:
        conditions.append(Product.date_updated >= filters.date_updated_from)
    base = select(Product, Brand).join(Brand, Brand.id == Product.brand_id).where(and_(*conditions))
    total = session.scalar(select(func.count()).select_from(base.with_only_columns(Product.id).subquery())) or 0
    rows = session.execute(base.order_by(Product.id).offset(page.offset).limit(page.limit)).all()
    return total, [
        ProductFiscalOut(
            Id=p.id,
            Brand=IdNameOut(Id=b.id, Name=b.name),
            SKU=p.sku,
            OwnCode=p.own_code,
            TaxRate=p.tax_rate,
            TaxRuleCode=p.tax_rule_code,
            EffectiveTaxRate=account.tax_rate(p.tax_rate, p.tax_rule_code),
            FiscalCode=p.fiscal_code,
            Origin=p.fiscal_origin,
            DateUpdated=p.date_updated,
        )
        for p, b in rows
    ]


# --- DELETE /v2/products/prices (spec 40 §5) -------------------------------------------------------------

DELETE_ACCOUNT_TYPE = "Only BRAND and WHOLESALER/DISTRIBUTOR accounts can remove products from a price list"
DELETE_NOT_ENABLED = (
    "Removing products from price lists is not enabled for this account; ask customer service to enable it"
)
TOKEN_REQUIRED = "The confirmationToken query parameter is required: get one from GET logintoken with module=2"
DELETE_NOT_IN_LIST = "The given SKU was not found or it is not assigned to the given price list ID"
DELETE_SHARED = (
    "The product with SKU {sku} is shared to one or more seller accounts. Cannot remove the product from the "
    "price list. This product will be ignored and will not be processed"
)
CATALOG_OWNERS = frozenset({"brand", "distributor"})


def check_delete_allowed(session: Session, account_id: int, account_type: str) -> None:
    """Preconditions (a) and (b) of spec 40 §5.2 (403 otherwise)."""
    if account_type not in CATALOG_OWNERS:
        raise Forbidden(DELETE_ACCOUNT_TYPE)
    if not session.scalar(select(Account.allow_pricelist_delete).where(Account.id == account_id)):
        raise Forbidden(DELETE_NOT_ENABLED)


def delete_from_price_list(
    session: Session,
    account_id: int,
    account_type: str,
    token: str | None,
    body: PriceListInfoIn,
    cap: int | None,
) -> tuple[ActionResult, bool, int]:
    """Remove the listed products (or all, when none are listed) from one price list. Commits.

    Returns the ActionResult, whether anything was removed and how many products were considered.
    Order: permission (403) → cap (413) → price list of the account (404) → token (403; valid for its whole
    life, so a client may remove in several chunks with one token).
    """
    check_delete_allowed(session, account_id, account_type)
    requested = body.Products or []
    if cap is not None and len(requested) > cap:
        raise PayloadTooLarge(TOO_MANY.format(count=len(requested), cap=cap))
    owner = session.scalar(select(PriceList.account_id).where(PriceList.id == body.PriceListId))
    if owner != account_id:
        raise NotFound(UNKNOWN_PRICE_LIST.format(id=body.PriceListId))
    if token is None or not token.strip():
        raise Forbidden(TOKEN_REQUIRED)
    try:
        check_confirmation_token(session, token, account_id=account_id)
    except Unauthorized as exc:  # spec 40 §5.5: token problems are 403 with a clear message
        raise Forbidden(exc.message) from None
    result = ActionResultBuilder("SKU")
    targets: list[tuple[ItemOutcome, ProductState]] = []
    if requested:
        targets = _delete_targets(session, account_id, body.PriceListId, requested, result)
    else:
        stmt = (
            select(*_STATE_COLUMNS)
            .join(Brand, Brand.id == Product.brand_id)
            .join(ProductPrice, ProductPrice.product_id == Product.id)
            .where(Product.account_id == account_id, ProductPrice.price_list_id == body.PriceListId)
            .order_by(Product.id)
        )
        for number, row in enumerate(session.execute(_lock(session, stmt))):
            state = _state(row)
            targets.append((result.item(number, state.sku), state))
    shared = _shared_product_ids(session, [s.id for _, s in targets])
    removed: set[int] = set()
    for outcome, state in targets:
        if state.id in shared:
            outcome.error(DELETE_SHARED.format(sku=state.sku))
        else:
            removed.add(state.id)
    if removed:
        session.execute(
            delete(ProductPrice).where(
                ProductPrice.price_list_id == body.PriceListId, ProductPrice.product_id.in_(sorted(removed))
            )
        )
        session.execute(
            update(products_t).where(products_t.c.id.in_(sorted(removed))).values(date_updated=clock.utcnow())
        )
        hooks.notify(
            session,
            hooks.CatalogChange(
                account_id=account_id,
                price_product_ids=frozenset(removed),
                price_list_ids=frozenset({body.PriceListId}),
            ),
        )
    session.commit()
    return only_items_with_messages(result), bool(removed), len(result.items)


def _delete_targets(
    session: Session, account_id: int, price_list_id: int, requested: list[Any], result: ActionResultBuilder
) -> list[tuple[ItemOutcome, ProductState]]:
    from alephee.products.schemas import PLProductInfoIn

    parsed: list[tuple[ItemOutcome, str, str | None]] = []
    for number, raw in enumerate(requested):
        key = raw_property(raw, "SKU")
        outcome = result.item(number, key)
        if not isinstance(raw, dict):
            outcome.error("Each element must be a JSON object", None, rules.CODE_INVALID)
            continue
        try:
            item = read_input(PLProductInfoIn, raw)
        except ValidationError as exc:
            outcome.error(describe_validation_errors(exc.errors()), key, rules.CODE_INVALID)
            continue
        sku = (item.SKU or "").strip()
        if not sku:
            outcome.error(rules.SKU_REQUIRED, None, rules.CODE_SKU_REQUIRED)
            continue
        outcome.key_value = sku
        parsed.append((outcome, sku, item.Brand))
    catalog = Catalog(session, account_id, (sku for _, sku, _ in parsed))
    in_list = set(
        session.scalars(
            select(ProductPrice.product_id).where(
                ProductPrice.price_list_id == price_list_id, ProductPrice.product_id.in_(sorted(catalog.states))
            )
        )
    )
    targets: list[tuple[ItemOutcome, ProductState]] = []
    seen: set[int] = set()
    for outcome, sku, brand in parsed:
        product, _problem = catalog.find(sku, brand)
        if product is None or product.id not in in_list or product.id in seen:
            outcome.error(DELETE_NOT_IN_LIST)
            continue
        seen.add(product.id)
        targets.append((outcome, product))
    return targets


def _shared_product_ids(session: Session, product_ids: Collection[int]) -> set[int]:
    if not product_ids:
        return set()
    return set(
        session.scalars(
            select(Product.source_product_id).where(Product.source_product_id.in_(sorted(product_ids))).distinct()
        )
    )


# --- operator helpers (import, demo, CLI) ----------------------------------------------------------------


def brand_key(name: str) -> str:
    """The case-insensitive key of a brand name."""
    return " ".join(name.split()).lower()


def get_or_create_brand(session: Session, account_id: int, name: str, cache: dict[str, int] | None = None) -> int:
    """The id of the account's brand called ``name`` (created when missing)."""
    key = brand_key(name)
    if cache is not None and key in cache:
        return cache[key]
    brand_id = session.scalar(select(Brand.id).where(Brand.account_id == account_id, Brand.name_key == key))
    if brand_id is None:
        brand = Brand(account_id=account_id, name=" ".join(name.split()), name_key=key)
        session.add(brand)
        session.flush()
        brand_id = brand.id
    if cache is not None:
        cache[key] = brand_id
    return brand_id


SHARE_SOURCE_TYPE = "Products can only be shared from a BRAND or DISTRIBUTOR account"
SHARE_TARGET_TYPE = "Products can only be shared to a seller-type account"


def share_products(session: Session, source_account_id: int, target_account_id: int, skus: Sequence[str]) -> int:
    """Copy products of a brand/wholesaler account into a seller account, linked to their source (so the
    seller cannot set their prices and the source cannot drop them from a price list). Returns how many
    were shared (existing links are kept)."""
    source = session.get(Account, source_account_id)
    target = session.get(Account, target_account_id)
    if source is None or target is None:
        raise NotFound("Account not found")
    if source.account_type not in CATALOG_OWNERS:
        raise InvalidInput(SHARE_SOURCE_TYPE)
    if target.account_type not in rules.SELLING_TYPES:
        raise InvalidInput(SHARE_TARGET_TYPE)
    stmt = (
        select(Product, Brand).join(Brand, Brand.id == Product.brand_id).where(Product.account_id == source_account_id)
    )
    if skus:
        stmt = stmt.where(Product.sku.in_(list(skus)))
    shared = 0
    brands: dict[str, int] = {}
    for product, brand in session.execute(stmt.order_by(Product.id)).all():
        if product.product_type not in (1, VARIATION_CHILD):
            continue
        linked = session.scalar(
            select(exists().where(Product.account_id == target_account_id, Product.source_product_id == product.id))
        )
        if linked:
            continue
        session.add(
            Product(
                account_id=target_account_id,
                brand_id=get_or_create_brand(session, target_account_id, brand.name, brands),
                sku=product.sku,
                own_code=product.own_code,
                name=product.name,
                product_type=1,
                catalog_status=product.catalog_status,
                source_product_id=product.id,
                gtin=product.gtin,
                tax_rate=product.tax_rate,
                quantity=product.quantity,
                attributes=product.attributes,
                date_updated=clock.utcnow(),
                created_at=clock.utcnow(),
            )
        )
        shared += 1
    session.flush()
    return shared
