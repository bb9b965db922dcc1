"""Catalog import (``alephee catalog import FILE --account ID``): CSV or JSON, one row per product or variation.

Rows are validated one by one (errors carry the row number and the row is skipped) and upserted by brand +
SKU. Masters are written first, then normal products and variations, then kits (whose components may be
any earlier row or an existing product). The file format is documented in docs/catalog-import.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from alephee import clock
from alephee.accounts.models import PriceList
from alephee.errors import InvalidInput
from alephee.products import hooks, rules
from alephee.products.batch import AccountContext, load_account_context
from alephee.products.brands import brand_key, get_or_create_brand
from alephee.products.import_rows import (
    CatalogRow,
    RowProblem,
    normalise_key,
    parse_row,
)
from alephee.products.models import Brand, KitComponent, Product, ProductPrice
from alephee.products.schemas import (
    KIT,
    NORMAL,
    VARIATION_CHILD,
    VARIATION_MASTER,
)


class ImportPriceListNotFound(InvalidInput):
    """The import's ``--price-list`` names no price list of the account."""

    message = "price list '{name}' does not exist in the account"

    def __init__(self, name: str) -> None:
        super().__init__(self.message.format(name=name))


@dataclass
class RowError:
    """One rejected row."""

    row: int
    sku: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        """JSON shape of the report."""
        return {"Row": self.row, "SKU": self.sku, "Message": self.message}


@dataclass
class ImportReport:
    """What an import did (or, with --dry-run, would do)."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False

    def as_dict(self, account_id: int) -> dict[str, Any]:
        """JSON shape printed by the CLI."""
        return {
            "AccountId": account_id,
            "Rows": self.rows,
            "Created": self.created,
            "Updated": self.updated,
            "Errors": [e.as_dict() for e in self.errors],
            "DryRun": self.dry_run,
        }


# --- writing -------------------------------------------------------------------------------------------------


@dataclass
class _Context:
    session: Session
    account: AccountContext
    default_price_list: int | None
    price_lists: dict[str, int]
    brands: dict[str, int] = field(default_factory=dict)
    # (brand key, sku) → product, for rows already written and products loaded from the database.
    products: dict[tuple[str, str], Product] = field(default_factory=dict)
    touched: set[int] = field(default_factory=set)
    # Existing products whose other texts (``TEXTS``) changed, and the name each renamed one had before.
    texts: set[int] = field(default_factory=set)
    former_names: dict[int, str] = field(default_factory=dict)


# The columns besides the name whose change the channels that send texts after publishing deliver (the
# barcode and the variation values through the master's listings).
TEXTS = ("description", "gtin", "attributes")


def import_catalog(
    session: Session,
    settings: Any,
    account_id: int,
    raw_rows: list[tuple[int, dict[str, Any]]],
    *,
    price_list: str | None = None,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Validate and upsert ``raw_rows``; with ``dry_run`` everything is rolled back. Does not commit."""
    report = ImportReport(rows=len(raw_rows), dry_run=dry_run)
    ctx = _context(session, settings, account_id, price_list)
    parsed: list[CatalogRow] = []
    seen: dict[tuple[str, str], int] = {}
    for number, raw in raw_rows:
        try:
            row = parse_row(number, raw)
            key = (brand_key(row.brand), row.sku)
            if key in seen:
                raise RowProblem(f"brand {row.brand} / sku {row.sku} already appears in row {seen[key]}")
            for target in row.prices:
                if _price_list_id(ctx, target) is None:
                    raise RowProblem(f"price list '{target or '(default)'}' does not exist in the account")
            seen[key] = number
            parsed.append(row)
        except RowProblem as exc:
            report.errors.append(RowError(number, _raw_sku(raw), str(exc)))
            if progress:
                progress(1)
    _preload(ctx, parsed)
    order = {VARIATION_MASTER: 0, NORMAL: 1, VARIATION_CHILD: 1, None: 1, KIT: 2}
    for row in sorted(parsed, key=lambda r: (order[r.product_type], r.row)):
        try:
            # A savepoint per row: a refused row is undone alone (the caller owns the transaction).
            with session.begin_nested():
                created = _write(ctx, row)
        except RowProblem as exc:
            report.errors.append(RowError(row.row, row.sku, str(exc)))
        except (SQLAlchemyError, OverflowError) as exc:  # a value the database refuses: the row alone fails
            detail = str(getattr(exc, "orig", exc)).splitlines()[0][:200]
            report.errors.append(RowError(row.row, row.sku, f"the database refused the row: {detail}"))
        else:
            if created:
                report.created += 1
            else:
                report.updated += 1
        if progress:
            progress(1)
    report.errors.sort(key=lambda e: e.row)
    if ctx.touched:
        hooks.notify(
            session,
            hooks.CatalogChange(
                account_id=account_id,
                stock_product_ids=frozenset(ctx.touched),
                price_product_ids=frozenset(ctx.touched),
                price_list_ids=frozenset(ctx.price_lists.values()),
                text_product_ids=frozenset(ctx.texts),
                former_names=tuple(sorted(ctx.former_names.items())),
            ),
        )
    session.flush()
    if dry_run:
        session.rollback()
    return report


def _raw_sku(raw: dict[str, Any]) -> str | None:
    value = next((v for k, v in raw.items() if isinstance(k, str) and normalise_key(k) == "sku"), None)
    return None if value is None else str(value)


def _context(session: Session, settings: Any, account_id: int, price_list: str | None) -> _Context:
    account = load_account_context(session, settings, account_id)
    lists = session.execute(
        select(PriceList.id, PriceList.name, PriceList.is_default).where(PriceList.account_id == account_id)
    ).all()
    by_name: dict[str, int] = {}
    default = None
    for pid, name, _default in sorted(lists, key=lambda r: (not r[2], r[0])):
        by_name.setdefault(str(pid), pid)
        by_name.setdefault(name.strip().lower(), pid)
        if default is None:
            default = pid
    ctx = _Context(session=session, account=account, default_price_list=default, price_lists=by_name)
    if price_list is not None:
        chosen = _price_list_id(ctx, price_list)
        if chosen is None:
            raise ImportPriceListNotFound(price_list)
        ctx.default_price_list = chosen
    return ctx


def _price_list_id(ctx: _Context, target: str) -> int | None:
    if not target:
        return ctx.default_price_list
    return ctx.price_lists.get(target.strip().lower())


def _preload(ctx: _Context, rows: list[CatalogRow]) -> None:
    skus = {r.sku for r in rows} | {r.parent_sku for r in rows if r.parent_sku}
    skus |= {sku for r in rows for sku, *_ in (r.components or [])}
    wanted = sorted(s for s in skus if s)
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        stmt = (
            select(Product, Brand.name_key)
            .join(Brand, Brand.id == Product.brand_id)
            .where(Product.account_id == ctx.account.account_id, Product.sku.in_(chunk))
        )
        for product, key in ctx.session.execute(stmt):
            ctx.products[(key, product.sku)] = product
            ctx.brands[key] = product.brand_id


def _find(ctx: _Context, sku: str, brand: str | None) -> Product:
    """A product by SKU (same brand first, then any brand when unique)."""
    if brand is not None and (brand_key(brand), sku) in ctx.products:
        return ctx.products[(brand_key(brand), sku)]
    matches = [p for (_, s), p in ctx.products.items() if s == sku]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise RowProblem(f"product {sku} does not exist (neither in the file nor in the catalog)")
    raise RowProblem(f"SKU {sku} exists under several brands")


def _write(ctx: _Context, row: CatalogRow) -> bool:
    session = ctx.session
    key = (brand_key(row.brand), row.sku)
    product = ctx.products.get(key)
    created = product is None
    now = clock.utcnow()
    if product is None:
        if not row.values.get("name"):
            raise RowProblem("name is required for a new product")
        product = Product(
            account_id=ctx.account.account_id,
            brand_id=get_or_create_brand(session, ctx.account.account_id, row.brand, ctx.brands),
            sku=row.sku,
            name=row.values["name"],
            product_type=row.product_type or NORMAL,
            catalog_status=1,
            quantity=0,
            b2b_quantity=0,
            min_publication_quantity=0,
            max_publication_quantity=0,
            alert_red=0,
            alert_yellow=0,
            created_at=now,
        )
        session.add(product)
    elif row.product_type is not None and row.product_type != product.product_type:
        raise RowProblem("the type of an existing product cannot be changed by an import")
    before = None if created else (product.name, tuple(getattr(product, name) for name in TEXTS))
    if not ctx.account.profile.selling and (
        "min_publication_quantity" in row.values or "max_publication_quantity" in row.values
    ):
        raise RowProblem("min/max_publication_quantity are only for seller or official-store accounts")
    for name, value in row.values.items():
        column = {"origin": "fiscal_origin"}.get(name, name)
        if name == "name" and value is None:
            continue
        setattr(product, column, value)
    if row.attributes is not None:
        product.attributes = row.attributes
    if row.parent_sku:
        parent = _find(ctx, row.parent_sku, row.brand)
        if parent.product_type != VARIATION_MASTER:
            raise RowProblem(f"parent_sku {row.parent_sku} is not a variation master")
        product.parent_id = parent.id
    product.date_updated = now
    session.flush()
    if row.components is not None:
        _write_components(ctx, product, row)
    for target, values in row.prices.items():
        plid = _price_list_id(ctx, target)
        assert plid is not None
        _write_price(ctx, product, plid, values, now)
    ctx.products[key] = product
    ctx.touched.add(product.id)
    if before is not None:
        if before[1] != tuple(getattr(product, name) for name in TEXTS):
            ctx.texts.add(product.id)
        if before[0] != product.name:
            ctx.former_names.setdefault(product.id, before[0])
    return created


def _write_components(ctx: _Context, kit: Product, row: CatalogRow) -> None:
    session = ctx.session
    wanted: list[KitComponent] = []
    for sku, units, principal in row.components or []:
        component = _find(ctx, sku, row.brand)
        if component.product_type not in (NORMAL, VARIATION_CHILD):
            raise RowProblem(f"component {sku} must be a normal product or a variation")
        wanted.append(KitComponent(kit_id=kit.id, component_id=component.id, quantity=units, principal=principal))
    for existing in session.scalars(select(KitComponent).where(KitComponent.kit_id == kit.id)):
        session.delete(existing)
    session.flush()
    session.add_all(wanted)
    session.flush()


def _write_price(ctx: _Context, product: Product, price_list_id: int, values: dict[str, Decimal], now: Any) -> None:
    session = ctx.session
    row = session.get(ProductPrice, (product.id, price_list_id))
    if row is None:
        row = ProductPrice(product_id=product.id, price_list_id=price_list_id, price_auto=False, srp_auto=True)
        session.add(row)
    rate = ctx.account.tax_rate(product.tax_rate, product.tax_rule_code)
    if "price" in values:
        row.price = values["price"]
        row.price_with_taxes = rules.with_taxes(values["price"], rate)
        row.price_auto = False
    if "price_with_taxes" in values:
        row.price_with_taxes = values["price_with_taxes"]
        row.price = rules.without_taxes(values["price_with_taxes"], rate)
        row.price_auto = True
    if "suggested_retail_price" in values:
        row.suggested_retail_price = values["suggested_retail_price"]
        row.srp_auto = False
    elif row.srp_auto:
        row.suggested_retail_price = row.price_with_taxes
    for name in ("cost", "sales_margin", "b2b_discount_rate"):
        if name in values:
            setattr(row, name, values[name])
    row.date_updated = now
    session.flush()
