"""Fiscal information of products (our design, CF-40.4): tax rate and codes, and the prices they derive."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from alephee import clock
from alephee.config import Settings
from alephee.http.paging import Page
from alephee.http.results import ActionResult, ActionResultBuilder, ItemOutcome
from alephee.products import hooks, rules
from alephee.products.batch import (
    AccountContext,
    Catalog,
    element_with_sku,
    load_account_context,
    only_items_with_messages,
    record_problem,
)
from alephee.products.catalog import ProductFilters, product_conditions
from alephee.products.models import Brand, Product, ProductPrice
from alephee.products.schemas import IdNameOut, ProductFiscalIn, ProductFiscalOut

products_t = Product.__table__
ZERO = Decimal(0)


# --- fiscal information (our design, CF-40.4) ----------------------------------------------------------

TAX_RATE_RANGE = "TaxRate must be between 0 and 100"
TAX_RATE_DECIMALS = "TaxRate accepts at most 4 decimals"
UNKNOWN_TAX_RULE = "There is no active fiscal tax rule with Code '{code}' in this account"
NOTHING_FISCAL = "Nothing to update: send TaxRate, TaxRuleCode, FiscalCode or Origin"


def update_fiscal(
    session: Session, settings: Settings, account_id: int, raw_items: list[Any]
) -> tuple[ActionResult, bool]:
    """Set tax rate and fiscal codes per product; prices derived from the tax rate follow. The caller owns
    the transaction."""
    account = load_account_context(session, settings, account_id)
    result = ActionResultBuilder("SKU")
    parsed: list[tuple[ItemOutcome, ProductFiscalIn, str]] = []
    for number, raw in enumerate(raw_items):
        outcome, item, sku = element_with_sku(result, number, raw, ProductFiscalIn)
        if item is None:
            continue
        problem = _fiscal_problem(item, account)
        if problem is not None:
            record_problem(outcome, problem)
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
            record_problem(outcome, problem)
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
    conditions = product_conditions(account_id, filters)
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
