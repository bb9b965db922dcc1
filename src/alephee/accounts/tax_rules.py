"""Fiscal tax rules of an account (our design, CF-10.6): upserted by ``Code``, one result per element."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alephee import clock
from alephee.accounts.models import (
    FiscalTaxRule,
)
from alephee.accounts.reads import paged
from alephee.accounts.schemas import FiscalTaxRuleIn
from alephee.http.paging import Page
from alephee.http.results import ActionResult, ActionResultBuilder, validate_element

RULE_CREATED = "Tax rule created"
RULE_UPDATED = "Tax rule updated"
DUPLICATE_CODE = "The same Code appears more than once in the request; only the first was applied"


def upsert_fiscal_tax_rules(session: Session, account_id: int, raw_items: list[Any]) -> ActionResult:
    """Create or update rules by ``Code``; each element validated and applied on its own."""
    result = ActionResultBuilder("Code")
    existing = {
        r.code.lower(): r for r in session.scalars(select(FiscalTaxRule).where(FiscalTaxRule.account_id == account_id))
    }
    seen: set[str] = set()
    now = clock.utcnow()
    for number, raw in enumerate(raw_items):
        outcome, rule = validate_element(result, number, raw, FiscalTaxRuleIn, "Code")
        if rule is None:
            continue
        code = rule.Code.strip()
        if code.lower() in seen:
            outcome.error(DUPLICATE_CODE, code)
            continue
        seen.add(code.lower())
        row = existing.get(code.lower())
        if row is None:
            row = FiscalTaxRule(account_id=account_id, code=code)
            session.add(row)
            existing[code.lower()] = row
            outcome.info(RULE_CREATED, code)
        else:
            outcome.info(RULE_UPDATED, code)
        row.name = rule.Name
        row.tax_type = rule.TaxType
        row.percentage = rule.Percentage
        row.state_code = rule.StateCode
        row.active = rule.Active
        row.date_updated = now
    session.flush()
    return result.build()


def list_fiscal_tax_rules(session: Session, account_id: int, page: Page) -> tuple[int, list[FiscalTaxRule]]:
    """The account's tax rules ordered by code."""
    stmt = select(FiscalTaxRule).where(FiscalTaxRule.account_id == account_id)
    return paged(session, stmt, [FiscalTaxRule.code, FiscalTaxRule.id], page)
