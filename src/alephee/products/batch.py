"""What every catalog batch shares: the account context, the locked product lookup by SKU/OwnCode, element
validation and the ActionResult shape.

Concurrency: every writer first locks the product rows it touches, in id order (``SELECT ... FOR UPDATE`` on
PostgreSQL; on SQLite the write transaction is ``BEGIN IMMEDIATE``, so writers are already serialised). The
values read are therefore current, and relative movements are still written as ``quantity = quantity + d``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

import orjson
from sqlalchemy import select
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from alephee.accounts.models import Account, FiscalTaxRule
from alephee.config import Settings
from alephee.db import Money
from alephee.errors import Unauthorized
from alephee.http.numbers import int_from_text
from alephee.http.results import ActionResult, ActionResultBuilder, ItemOutcome, validate_element
from alephee.products import hooks, rules
from alephee.products.models import Brand, Product
from alephee.products.schemas import ProductFiscalIn, ProductUpdateIn

# --- account and price-list context ------------------------------------------------------------------


class AccountNotFound(Unauthorized):
    """The account of the request no longer exists (401)."""

    message = "The accountId is not associated with the given API_KEY"


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
        raise AccountNotFound()
    taxes = session.execute(
        select(FiscalTaxRule.code, FiscalTaxRule.percentage).where(
            FiscalTaxRule.account_id == account_id, FiscalTaxRule.active.is_(True)
        )
    )
    return account_context(settings, account_id, row[0], bool(row[1]), taxes)


def account_context(
    settings: Settings, account_id: int, account_type: str, b2b_portal: bool, tax_rules: Iterable[Any]
) -> AccountContext:
    """The ``AccountContext`` of an account read by the caller: its type, B2B portal flag and active tax rules
    (``(code, percentage)`` pairs)."""
    return AccountContext(
        account_id=account_id,
        profile=rules.AccountProfile(account_type=account_type, b2b_portal=b2b_portal),
        default_tax_rate=settings.default_tax_rate,
        tax_rules={code.lower(): pct for code, pct in tax_rules},
    )


@dataclass(slots=True)
class ProductState:
    """A locked product row as the batch sees it; changes are applied here, then written once.

    The first fields follow ``STATE_COLUMNS`` so a result row unpacks straight into it.
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
    # Listing-data columns to write (``products.listing_data``), the last element's value winning.
    listing_data: dict[str, Any] = field(default_factory=dict)
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


STATE_COLUMNS = (
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


# An escape orjson writes that an array literal does not read the same way (``\n``, ``\u0001``, ...): only
# texts with control characters have one, and request texts are refused with them (``http.wire``).
_JSON_ONLY_ESCAPE = re.compile(r'\\[^"\\]')


def array_literal(values: Iterable[int | bool | str | None]) -> str | list[Any]:
    """The PostgreSQL array literal of ``values`` (integers, booleans or texts; None is NULL) for a
    ``%s::<type>[]`` parameter, written by orjson: psycopg's dumping of a 500-element list costs ≈ 0.5 µs of Python
    per element in either format, orjson ≈ 0.03 µs (PRD-33). JSON's array is an array literal once its brackets
    are braces: numbers, ``true``/``false``/``null`` and double-quoted texts escaping only ``"`` and ``\\``. A
    text with a control character (which JSON escapes otherwise) is returned as a list for psycopg to dump."""
    listed = values if isinstance(values, list) else list(values)
    try:
        text = orjson.dumps(listed).decode()
    except orjson.JSONEncodeError:  # a text orjson refuses (a lone surrogate): psycopg says what is wrong
        return listed
    if "\\" in text and _JSON_ONLY_ESCAPE.search(text):
        return listed
    return "{" + text[1:-1] + "}"


def in_list(conn: Any, column: str, values: Sequence[Any]) -> tuple[str, tuple[Any, ...]]:
    """``column IN (...)`` as driver SQL: one array parameter on PostgreSQL (``= ANY(%s::bigint[])`` for
    integers, ``text[]`` otherwise, written by ``array_literal``), one ``?`` per value on SQLite. Compiling a
    500-value expanding IN through SQLAlchemy costs milliseconds per query."""
    if conn.dialect.name == "postgresql":
        kind = "bigint" if values and isinstance(values[0], int) else "text"
        return f"{column} = ANY(%s::{kind}[])", (array_literal(values),)
    return f"{column} IN ({', '.join('?' * len(values))})", tuple(values)


def mark(conn: Any) -> str:
    """The driver's positional placeholder."""
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def lock_rows(session: Session, stmt: Any) -> Any:
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
# The batch's rows by SKU or OwnCode, locked in id order (PostgreSQL). Each code list is joined to its index
# (``unnest`` probed by ``(account_id, sku)`` and ``(account_id, own_code)``): with ``sku = ANY(%b) OR own_code
# = ANY(%b)`` the planner costed 500 codes as a scan of the account's rows and compared every row with both
# arrays (PRD-29). The ids are an array computed once (an InitPlan), not a join: when a row is found locked and
# then updated by another transaction, PostgreSQL re-checks it against the query with the join's other side
# fixed, and with the ids as a joined subquery that re-check dropped the row (the batch then said "not found"
# for a product that exists); an id compared with an array survives the re-check.
# The ids of the account's products named by a code list (two parameters each: codes, account).
_IDS_OF_CODES = (
    "ARRAY(SELECT q.id FROM unnest(%s::text[]) AS w(code) JOIN products q"
    " ON q.account_id = %s AND q.sku = w.code"
    " UNION ALL SELECT q.id FROM unnest(%s::text[]) AS w(code) JOIN products q"
    " ON q.account_id = %s AND q.own_code = w.code)"
)
_LOCK_CONDITION = f"p.id = ANY({_IDS_OF_CODES}) ORDER BY p.id FOR UPDATE OF p"
# _STATE_SQL and, last, the kits the product is a component of (PostgreSQL).
_STATE_KITS_SQL = _STATE_SQL.replace(
    " FROM products p", ", ARRAY(SELECT k.kit_id FROM kit_components k WHERE k.component_id = p.id) FROM products p"
)


def locking_read(account_id: int, codes: Collection[str], *, with_kits: bool) -> tuple[str, tuple[Any, ...]]:
    """The PostgreSQL statement that finds the account's products named by ``codes`` (SKU or OwnCode) and locks
    them in id order, and its parameters."""
    listed = array_literal(sorted(codes))
    sql = f"{_STATE_KITS_SQL if with_kits else _STATE_SQL} WHERE {_LOCK_CONDITION}"
    return sql, (listed, account_id, listed, account_id)


class Catalog:
    """The products a batch refers to (by SKU or OwnCode), loaded (and on PostgreSQL locked, in id order).

    SKUs are looked up first and OwnCodes only for the codes no SKU matched, in two index range scans (one
    query with ``sku IN (...) OR own_code IN (...)`` makes SQLite scan the whole account). Plain SQL through
    the driver: this is the hot path of POST /v2/products and SQLAlchemy's expanding-IN compilation and row
    processing cost as much as the query itself.

    ``with_kits``: also learn the kits each product is a component of (``kits_of``); on PostgreSQL the locking
    statement returns them, so the batch needs no read of its own for them while it holds the locks.
    """

    def __init__(
        self, session: Session, account_id: int, codes: Iterable[str], *, lock: bool = True, with_kits: bool = False
    ) -> None:
        self._start()
        wanted = sorted(set(codes))
        if not wanted:
            return
        conn = session.connection()
        if lock and conn.dialect.name == "postgresql":
            # One statement finds and locks the rows in id order (the sort comes before the locking, so no two
            # batches wait on each other in a cycle) and returns each row's latest committed version. FOR UPDATE,
            # not FOR NO KEY UPDATE: a row referencing the product (a new listing, price or kit component) must
            # wait for this batch's commit, so that its writer reads the stock this batch writes.
            sql, params = locking_read(account_id, wanted, with_kits=with_kits)
            rows = [list(r) for r in conn.exec_driver_sql(sql, params).all()]
            self._take(rows, wanted, conn.dialect, with_kits=with_kits)
            return
        placeholder = mark(conn)

        def fetch(column: str, values: Sequence[Any]) -> list[list[Any]]:
            condition, params = in_list(conn, column, values)
            sql = f"{_STATE_SQL} WHERE p.account_id = {placeholder} AND {condition}"
            return [list(r) for r in conn.exec_driver_sql(sql, (account_id, *params)).all()]

        rows = fetch("p.sku", wanted)
        found = {row[3] for row in rows}
        rest = [code for code in wanted if code not in found]
        if rest:
            rows += fetch("p.own_code", rest)
        self._take(rows, wanted, conn.dialect, with_kits=False)

    @classmethod
    def of_rows(cls, rows: list[list[Any]], wanted: Collection[str], dialect: Dialect, *, with_kits: bool) -> Catalog:
        """The catalog of rows read by ``locking_read(..., with_kits=with_kits)`` for (at least) ``wanted``."""
        catalog = cls.__new__(cls)
        catalog._start()
        catalog._take(rows, wanted, dialect, with_kits=with_kits)
        return catalog

    def _start(self) -> None:
        self.by_sku: dict[str, list[ProductState]] = defaultdict(list)
        self.by_own_code: dict[str, list[ProductState]] = defaultdict(list)
        self.states: dict[int, ProductState] = {}
        # Kit ids per product id, when read with the rows (None: not read, ask ``products.stock``).
        self.kits: dict[int, list[int]] | None = None

    def _take(self, rows: list[list[Any]], wanted: Collection[str], dialect: Dialect, *, with_kits: bool) -> None:
        """Index the rows read (``_STATE_SQL``'s columns, then the kits when ``with_kits``) for ``find``."""
        money_type = Money()
        for row in rows:
            for i in _STATE_MONEY:
                if row[i] is not None:
                    row[i] = money_type.process_result_value(row[i], dialect)
        if with_kits:
            self.kits = {row[0]: row.pop() for row in rows}
        # Own codes count only for the codes no SKU matched (CF-40.3.4 rule 2), whichever rows were read.
        wanted_set = set(wanted)
        matched_skus = {row[3] for row in rows if row[3] in wanted_set}
        for row in sorted(rows, key=lambda r: r[0]):
            if row[0] in self.states:
                continue
            state = ProductState(*row)
            self.states[state.id] = state
            self.by_sku[state.sku].append(state)
            if state.own_code and state.own_code not in matched_skus:
                self.by_own_code[state.own_code].append(state)

    def kits_of(self, product_ids: Collection[int]) -> set[int] | None:
        """The kits any of ``product_ids`` is a component of, when the rows were read with them (else None)."""
        if self.kits is None:
            return None
        return {kit for pid in product_ids for kit in self.kits.get(pid, ())}

    def find(self, sku: str, brand: str | None) -> tuple[ProductState | None, rules.Problem | None]:
        """SKU first, then OwnCode (CF-40.3.4 rule 2); ``brand`` (id or name) narrows; ambiguity is an error."""
        for index in (self.by_sku, self.by_own_code):
            matches = [s for s in index.get(sku, ()) if brand_matches(s.brand_id, s.brand_name, brand)]
            if len(matches) == 1:
                return matches[0], None
            if len(matches) > 1:
                return None, rules.Problem(rules.CODE_AMBIGUOUS, rules.AMBIGUOUS, sku)
        return None, rules.Problem(rules.CODE_NOT_FOUND, rules.NOT_FOUND, sku)


class CatalogAhead:
    """A batch's products read and locked while its elements are validated, and its writes sent together
    (PostgreSQL, PRD-34).

    Entered with the codes the raw elements name (``schemas.sku_candidates``), before validating them: on
    PostgreSQL the locking read (``locking_read``) goes out at once in psycopg's pipeline mode, so the database
    finds and locks the rows while Python validates instead of after it. ``catalog`` takes the rows and sends,
    by their ids, the caller's ``reads`` of rows hanging on them (their prices), which ``rows`` takes. The
    writes that need no answer go through ``execute``; ``probe`` sends the listeners' probes
    (``hooks.ahead_probes``: which products have listings, which have an announced alert level) after them, all
    in one round trip, and ``finish`` takes their answers (``probed``) and gives the connection back to the
    session. Until then nothing may use the session: SQLAlchemy knows nothing of the pipeline. Everything after
    the locking read runs in its transaction with the rows locked, so what it saw holds until the commit (a new
    listing, price row or alert level of a locked product waits for it).

    Elsewhere (SQLite), with no codes, or once ``catalog`` had to read everything again (a SKU spelled in a way
    the read ahead did not foresee), there is no pipeline: ``rows`` gives None (the caller reads on its own),
    ``execute`` runs through the session's connection and ``probe`` does nothing.

    ``reads``: name → (SQL with ``{ids}`` where the rows' id array goes, parameters before it).
    """

    def __init__(
        self,
        session: Session,
        account_id: int,
        codes: Collection[str],
        *,
        with_kits: bool,
        reads: Mapping[str, tuple[str, tuple[Any, ...]]] | None = None,
    ) -> None:
        self.session = session
        self.account_id = account_id
        self.codes = set(codes)
        self.with_kits = with_kits
        self.reads = dict(reads or {})
        # What the probes found (probe name → ids), once ``finish`` took it.
        self.probed: dict[str, set[int]] = {}
        self._driver: Any = None
        self._pipeline: Any = None
        self._locking: Any = None
        self._read: dict[str, Any] = {}
        self._probes: list[tuple[str, Any]] = []

    def __enter__(self) -> CatalogAhead:
        conn = self.session.connection()
        if conn.dialect.name != "postgresql" or not self.codes:
            return self
        self._driver = conn.connection.driver_connection
        self._pipeline = self._driver.pipeline()
        self._pipeline.__enter__()
        try:
            self._locking = self._send(*locking_read(self.account_id, self.codes, with_kits=self.with_kits))
        except BaseException:
            self._close(quietly=True)
            raise
        return self

    def _send(self, sql: str, params: Sequence[Any]) -> Any:
        cursor = self._driver.cursor()
        cursor.execute(sql, params)
        return cursor

    def catalog(self, codes: Iterable[str]) -> Catalog:
        """The catalog of ``codes`` (the validated elements' SKUs): the rows read ahead when they cover them,
        else everything read and locked again (and no pipeline from then on)."""
        wanted = set(codes)
        if self._pipeline is None:
            return Catalog(self.session, self.account_id, wanted, with_kits=self.with_kits)
        try:
            rows = [list(r) for r in self._locking.fetchall()]
            if wanted <= self.codes:
                dialect = self.session.get_bind().dialect
                catalog = Catalog.of_rows(rows, self.codes, dialect, with_kits=self.with_kits)
                if catalog.states:
                    ids = array_literal(sorted(catalog.states))
                    for name, (sql, before) in self.reads.items():
                        self._read[name] = self._send(sql.format(ids="%s::bigint[]"), (*before, ids))
                return catalog
        except BaseException:
            self._close(quietly=True)
            raise
        self._close()
        return Catalog(self.session, self.account_id, wanted | self.codes, with_kits=self.with_kits)

    def rows(self, name: str) -> list[Any] | None:
        """The rows of the read ``name`` sent with the catalog; None when it was not (read it on your own, after
        ``finish``)."""
        cursor = self._read.get(name)
        return None if cursor is None or self._pipeline is None else list(cursor.fetchall())

    def execute(self, sql: str, params: Sequence[Any]) -> None:
        """Run a statement whose answer nobody reads: sent down the pipeline, else through the session."""
        if self._pipeline is not None:
            self._send(sql, params)
        else:
            self.session.connection().exec_driver_sql(sql, tuple(params))

    def probe(self, ids: Collection[int]) -> None:
        """Send the listeners' probes of ``ids`` (the locked rows), behind the writes sent so far."""
        if self._pipeline is None or not ids:
            return
        listed = array_literal(sorted(ids))
        for name, sql in hooks.ahead_probes("%s::bigint[]"):
            self._probes.append((name, self._send(sql, (listed,))))

    def finish(self) -> None:
        """Take the probes' answers and give the connection back to the session (a database error of anything
        sent is raised here at the latest)."""
        if self._pipeline is None:
            return
        try:
            probed = {name: {row[0] for row in cursor.fetchall()} for name, cursor in self._probes}
        except BaseException:
            self._close(quietly=True)
            raise
        self._close()
        self.probed = probed

    def _close(self, *, quietly: bool = False) -> None:
        """Leave the pipeline mode (the connection is the session's again); ``quietly`` while another error is
        on its way (the transaction is rolled back for it)."""
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is None:
            return
        try:
            pipeline.__exit__(None, None, None)
        except Exception:
            if not quietly:
                raise

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        self._close(quietly=kind is not None)


def brand_matches(brand_id: int, brand_name: str, wanted: str | None) -> bool:
    """A brand given by id or by name (case-insensitive); no brand matches every brand."""
    if wanted is None or not wanted.strip():
        return True
    text = wanted.strip()
    return text.lower() == brand_name.strip().lower() or int_from_text(text) == brand_id


def record_problem(outcome: ItemOutcome, problem: rules.Problem) -> None:
    outcome.error(problem.message, problem.value, problem.code)


def only_items_with_messages(builder: ActionResultBuilder) -> ActionResult:
    """The builder's ActionResult without the Ok items that carry no message (CF-40.0.4 note 2: they are
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


M = TypeVar("M", bound=ProductUpdateIn | ProductFiscalIn)


def element_with_sku(
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
