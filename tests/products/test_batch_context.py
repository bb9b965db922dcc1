"""What a POST /v2/products batch knows about its account before it locks anything (type, B2B portal, active
tax rules, the price list it writes into) is the same whether it is read with one statement (PostgreSQL,
no priceListId) or with one per part."""

from __future__ import annotations

from decimal import Decimal

import pytest

from alephee.accounts.models import FiscalTaxRule
from alephee.http.context import AppContext
from alephee.products.batch import AccountNotFound, load_account_context
from alephee.products.bulk_update import _load_context
from alephee.products.price_lists import resolve_price_list
from alephee.webhooks import events as webhook_events
from alephee.webhooks.models import WebhookSubscription
from tests.fixtures.products import add_price_list
from tests.fixtures.tenants import Tenant


def _rule(account_id: int, code: str, percentage: str, *, active: bool = True) -> FiscalTaxRule:
    return FiscalTaxRule(
        account_id=account_id, code=code, name=code, tax_type="iva", percentage=Decimal(percentage), active=active
    )


def test_the_context_is_read_alike_in_one_statement(ctx: AppContext, tenant: Tenant) -> None:
    account = tenant.account_id
    with ctx.db.writing() as session:
        assert _load_context(session, ctx.settings, account, None)[1] is None  # no price list yet
        add_price_list(session, account, "General")
        wholesale = add_price_list(session, account, "Wholesale")
        session.add_all(
            [
                _rule(account, "IVA-105", "10.5"),
                _rule(account, "iva-27", "27.0001"),
                _rule(account, "OLD", "3", active=False),
            ]
        )
    with ctx.db.writing() as session:
        generic = (load_account_context(session, ctx.settings, account), resolve_price_list(session, account, None))
        assert _load_context(session, ctx.settings, account, None) == generic
        assert generic[0].tax_rules == {"iva-105": Decimal("10.5"), "iva-27": Decimal("27.0001")}
        assert _load_context(session, ctx.settings, account, str(wholesale)) == (generic[0], wholesale)


def test_a_missing_account_is_refused_either_way(ctx: AppContext) -> None:
    with ctx.db.writing() as session:
        for raw in (None, "1"):
            with pytest.raises(AccountNotFound):
                _load_context(session, ctx.settings, 10**8, raw)


def test_the_webhook_subscriptions_read_with_the_context_are_those_read_alone(
    ctx: AppContext, tenant: Tenant, backend: str
) -> None:
    account = tenant.account_id
    with ctx.db.writing() as session:
        add_price_list(session, account, "General")
        for types, active in ((["product.stock_alert"], True), (["*"], True), (["order.created"], False), (None, True)):
            session.add(
                WebhookSubscription(
                    account_id=account, url="https://x.example/h", event_types=types, secret="s", active=active
                )
            )
    with ctx.db.writing() as session:
        alone = webhook_events._subscriptions(session, account)
    with ctx.db.writing() as session:
        _load_context(session, ctx.settings, account, None)
        cached = webhook_events._cache(session).get(account)
        assert webhook_events._subscriptions(session, account) == alone
    assert len(alone) == 3
    assert cached == (alone if backend == "postgresql" else None)
