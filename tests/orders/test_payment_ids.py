"""The orders' payment ids (``orders.payment_ids``, table ``order_payments``) follow the order documents on every
path that writes payments: an order stored alone or in a batch (one insert for the whole batch), POST /v2/orders,
the marketplace replacing the payment list (only a change of ids writes), and an order deleted from the table."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import delete, event, select, text

from alephee import clock
from alephee.http.context import AppContext
from alephee.marketplaces.contract import ChannelPayment
from alephee.marketplaces.registry import marketplace_ref
from alephee.orders import demo, payment_ids, rendering
from alephee.orders.access import marketplace_family
from alephee.orders.diagnostics import explain
from alephee.orders.marketplace_news import MarketplaceNews, apply_marketplace_news
from alephee.orders.models import Order, OrderPayment
from alephee.orders.schemas import PaymentOut
from alephee.sync.order_feed import apply_orders
from tests.channels.inbox_fakes import sale
from tests.fixtures.orders import AddOrder, order_info
from tests.fixtures.tenants import Tenant


def rows(ctx: AppContext, account_id: int | None = None) -> list[tuple[int, str, int, int]]:
    """Every ``order_payments`` row (of ``account_id`` when given), sorted."""
    query = select(
        OrderPayment.order_id, OrderPayment.external_payment_id, OrderPayment.account_id, OrderPayment.marketplace_id
    )
    if account_id is not None:
        query = query.where(OrderPayment.account_id == account_id)
    with ctx.db.reading() as session:
        return sorted(tuple(r) for r in session.execute(query))  # type: ignore[misc]


def found(ctx: AppContext, account_id: int, marketplace_id: int, payment_id: str) -> int | None:
    with ctx.db.reading() as session:
        return session.scalar(select(payment_ids.order_id_of(account_id, marketplace_id, payment_id)))


def stored_ids(ctx: AppContext, order_id: int) -> list[str]:
    with ctx.db.reading() as session:
        order = session.get(Order, order_id)
        assert order is not None
        return [p["ExternalPaymentId"] for p in rendering.detail_of(order.detail)["Payments"]]


def test_payment_ids_keep_the_distinct_non_empty_ids_in_order() -> None:
    payments: list[dict[str, Any]] = [
        {"ExternalPaymentId": " 77 "},
        {"ExternalPaymentId": None},
        {"ExternalPaymentId": ""},
        {},
        {"ExternalPaymentId": 78},
        {"ExternalPaymentId": "77"},
        {"ExternalPaymentId": "x" * 101},
    ]
    assert payment_ids.payment_ids(payments) == ["77", "78"]
    assert payment_ids.rows_of(5, 6, 7, payments[:1]) == [
        {"order_id": 5, "external_payment_id": "77", "account_id": 6, "marketplace_id": 7}
    ]


def test_a_stored_order_gets_its_payment_ids_and_a_cart_shares_them(
    ctx: AppContext, seller: Tenant, make_tenant: Callable[..., Tenant], add_order: AddOrder
) -> None:
    alone = add_order(seller, marketplace_id=1)
    [payment] = stored_ids(ctx, alone)
    assert rows(ctx) == [(alone, payment, seller.account_id, 1)]
    assert found(ctx, seller.account_id, 1, payment) == alone
    # Another channel or account holding the same id is not this order.
    assert found(ctx, seller.account_id, 100, payment) is None
    other = make_tenant()
    assert found(ctx, other.account_id, 1, payment) is None
    assert found(ctx, seller.account_id, 1, "nope") is None
    # The orders of a cart paid once share the payment: the lowest order id answers.
    with ctx.db.reading() as session:
        channel = demo.channel_of(session, 1)
    shared = demo.make_shared(random.Random(7), channel, clock.utcnow(), Decimal(500), False)
    [payment] = [p["ExternalPaymentId"] for p in shared["Payments"]]
    first = add_order(seller, marketplace_id=1, shared=shared)
    second = add_order(seller, marketplace_id=1, shared=shared)
    assert [r[:2] for r in rows(ctx) if r[0] != alone] == [(first, payment), (second, payment)]
    assert found(ctx, seller.account_id, 1, payment) == first
    # Deleting an order from the table takes its rows with it.
    with ctx.db.writing() as session:
        session.execute(delete(Order).where(Order.id == first))
    assert found(ctx, seller.account_id, 1, payment) == second


def test_an_order_created_through_the_api_gets_its_payment_ids(
    client: TestClient, ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    seller = make_tenant(marketplaces=(24,))
    body = order_info("WEB-77", marketplace_id=24)
    body["Payments"] = [
        {"ExternalPaymentId": "PAY-1", "Amount": 1000.00, "Method": "credit_card", "Installments": 1},
        {"ExternalPaymentId": "PAY-2", "Amount": 2000.00, "Method": "credit_card", "Installments": 1},
        {"Amount": 0.00, "Method": "credit_card", "Installments": 1},
    ]
    response = client.post("/v2/orders", params=seller.q(), json=body)
    assert response.status_code == 201, response.text
    order_id = response.json()["Id"]
    assert rows(ctx) == [(order_id, "PAY-1", seller.account_id, 24), (order_id, "PAY-2", seller.account_id, 24)]


@contextmanager
def payment_writes(ctx: AppContext) -> Iterator[list[tuple[str, bool]]]:
    """The statements written to ``order_payments`` meanwhile (text, whether run over many parameter sets)."""
    seen: list[tuple[str, bool]] = []

    def record(_conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, executemany: bool) -> None:
        if "order_payments" in statement and not statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, executemany))

    event.listen(ctx.db.write_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(ctx.db.write_engine, "before_cursor_execute", record)


def paid(external_order_id: str, *payment_ids_: str, **values: Any) -> Any:
    """A feed entry of one sale paid with ``payment_ids_``."""
    payments = tuple(
        ChannelPayment(external_payment_id=p, status="approved", amount=Decimal(750)) for p in payment_ids_
    )
    return sale(external_order_id, payments=payments, **values)


def test_a_batch_of_orders_writes_its_payment_ids_in_one_statement(
    ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    tenant = make_tenant(marketplaces=(1,))
    entries = [paid("4000001", "91", "92"), paid("4000002", "93"), paid("4000003"), paid("4000004", "91")]
    with payment_writes(ctx) as seen, ctx.db.writing() as session:
        assert apply_orders(session, tenant.account_id, marketplace_ref(session, 1), entries) == 4
    assert len(seen) == 1 and seen[0][0].lstrip().upper().startswith("INSERT")
    with ctx.db.reading() as session:
        ids = {external: order_id for external, order_id in session.execute(select(Order.external_order_id, Order.id))}
    assert [r[:2] for r in rows(ctx, tenant.account_id)] == sorted(
        [(ids["4000001"], "91"), (ids["4000001"], "92"), (ids["4000002"], "93"), (ids["4000004"], "91")]
    )
    assert found(ctx, tenant.account_id, 1, "93") == ids["4000002"]
    # The same entries again change nothing and write nothing.
    with payment_writes(ctx) as seen, ctx.db.writing() as session:
        assert apply_orders(session, tenant.account_id, marketplace_ref(session, 1), entries) == 0
    assert seen == []


def test_an_order_created_and_repaid_in_one_batch_keeps_its_last_payment_ids(
    ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    tenant = make_tenant(marketplaces=(1,))
    later = datetime(2026, 12, 2, tzinfo=UTC)
    entries = [
        paid("4100001", "71"),
        paid("4100002", "81"),
        paid("4100001", "71", "72", date_updated=later),
        paid("4100003", "91"),
        paid("4100001", "72", date_updated=later),
    ]
    with ctx.db.writing() as session:
        assert apply_orders(session, tenant.account_id, marketplace_ref(session, 1), entries) == 5
    with ctx.db.reading() as session:
        ids = {external: order_id for external, order_id in session.execute(select(Order.external_order_id, Order.id))}
    assert [r[:2] for r in rows(ctx, tenant.account_id)] == sorted(
        [(ids["4100001"], "72"), (ids["4100002"], "81"), (ids["4100003"], "91")]
    )


def wire(payment_id: str, status: str, key: int) -> dict[str, Any]:
    return PaymentOut.model_validate(
        {"ExternalPaymentId": payment_id, "Amount": "100.00", "Status": {"Key": key, "Value": status}}
    ).model_dump(mode="json")


def news(ctx: AppContext, order_id: int, *payments: dict[str, Any]) -> bool:
    with ctx.db.writing() as session:
        order = session.get(Order, order_id)
        assert order is not None
        told = MarketplaceNews(status=order.status, payment_pending=False, payments=payments)
        return apply_marketplace_news(
            session, order.account_id, order, told, family=marketplace_family(session, order.marketplace_id)
        )


def test_the_marketplace_replacing_the_payments_replaces_the_ids_only_when_they_change(
    ctx: AppContext, seller: Tenant, add_order: AddOrder
) -> None:
    order_id = add_order(seller, marketplace_id=1, payment_pending=True)
    [first] = stored_ids(ctx, order_id)
    # The payment approved: same id, new status. The document changes, the index is not written.
    with payment_writes(ctx) as seen:
        assert news(ctx, order_id, wire(first, "approved", 1)) is True
    assert seen == [] and [r[1] for r in rows(ctx)] == [first]
    # A second payment, then the first one gone: the index follows, row by row.
    with payment_writes(ctx) as seen:
        assert news(ctx, order_id, wire(first, "approved", 1), wire("P-9", "approved", 1)) is True
    assert [r[1] for r in rows(ctx)] == sorted([first, "P-9"]) and len(seen) == 1
    assert news(ctx, order_id, wire("P-9", "approved", 1), wire("P-10", "rejected", 4)) is True
    assert rows(ctx) == [(order_id, "P-10", seller.account_id, 1), (order_id, "P-9", seller.account_id, 1)]
    assert stored_ids(ctx, order_id) == ["P-9", "P-10"]
    assert found(ctx, seller.account_id, 1, first) is None and found(ctx, seller.account_id, 1, "P-10") == order_id
    # The replace itself writes nothing when the rows already match.
    with ctx.db.writing() as session:
        assert payment_ids.replace(session, order_id, seller.account_id, 1, [wire("P-9", "x", 0)] * 2) is True
        assert payment_ids.replace(session, order_id, seller.account_id, 1, [wire("P-9", "x", 0)]) is False


def test_the_lookup_reads_the_index_alone(ctx: AppContext, seller: Tenant, add_order: AddOrder) -> None:
    order_id = add_order(seller, marketplace_id=1)
    with ctx.db.writing() as session:
        # A few thousand payments of the account, so PostgreSQL plans by real statistics.
        numbers = (
            "SELECT generate_series(1, 5000) AS n"
            if ctx.db.dialect == "postgresql"
            else "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 5000) SELECT n FROM s"
        )
        session.execute(
            text(
                "INSERT INTO order_payments (order_id, external_payment_id, account_id, marketplace_id)"
                f" SELECT :order_id, 'PAY-' || n, :account_id, 1 FROM ({numbers}) AS numbers"
            ),
            {"order_id": order_id, "account_id": seller.account_id},
        )
        session.execute(text("ANALYZE"))
        plan = " ".join(explain(session, select(payment_ids.order_id_of(seller.account_id, 1, "PAY-77"))))
    assert "ix_order_payments_lookup" in plan, plan
    if ctx.db.dialect == "sqlite":
        assert "COVERING INDEX" in plan, plan
    else:
        assert "Index Only Scan" in plan, plan
