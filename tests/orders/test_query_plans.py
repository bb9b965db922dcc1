"""Both documented integration cycles are answered from an index on SQLite and PostgreSQL (spec 00 §5.2):
normal (Integrated=false, default approved payments) and late cancellation (statusType=99 & statusDateFrom).

PostgreSQL plans by table statistics, so on PostgreSQL the test first adds a few thousand closed,
integrated orders (a shop's history); docs/performance.md (Orders) has the plans on 1,000,000 orders.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from alephee import clock
from alephee.context import AppContext
from alephee.orders import service
from alephee.orders import statuses as st
from tests.conftest import Tenant
from tests.orders.conftest import AddOrder

# Each cycle is one statement (the page's keys and the total): both of its parts use the cycle's index.
EXPECTED = {"normal": "ix_orders_integration_keys", "late": "ix_orders_status_type_date_keys"}


def test_cycle_queries_use_their_indexes(ctx: AppContext, seller: Tenant, add_order: AddOrder) -> None:
    for n in range(30):
        add_order(seller, integrated=n % 3 == 0, status=st.CANCELLED if n % 5 == 0 else st.READY_TO_SHIP)
    with ctx.db.writing() as session:
        if ctx.db.dialect == "postgresql":
            # PostgreSQL plans by statistics: give it a history of integrated, closed orders to plan against.
            session.execute(
                text(
                    "INSERT INTO orders (account_id, marketplace_id, external_order_id, origin, status, status_type,"
                    " status_date, integrated, payment_pending, sale_date, created_at, updated_at, document_count,"
                    " stock_moved, stock_reverted, version, detail)"
                    " SELECT account_id, marketplace_id, external_order_id || '-' || n, origin, 80, 2,"
                    " status_date - n * interval '1 hour', true, false, sale_date, created_at, updated_at, 0,"
                    " false, false, 1, detail FROM orders, generate_series(1, 300) AS n"
                )
            )
            session.execute(text("ANALYZE orders"))
        else:
            session.execute(text("ANALYZE"))
    with ctx.db.reading() as session:
        since = clock.utcnow() - timedelta(days=7)
        for name, (query, values) in service.cycle_queries(session, ctx.settings, seller.account_id, since).items():
            plan = "\n".join(service.explain(session, query, values))
            assert plan.count(EXPECTED[name]) >= 2, (name, plan)  # the page and the total
            if ctx.db.dialect == "sqlite":  # total and page answered from the index alone
                assert plan.count(f"COVERING INDEX {EXPECTED[name]}") >= 2, (name, plan)
            else:
                assert plan.count(f"Index Only Scan using {EXPECTED[name]}") >= 2, (name, plan)
            assert "SCAN orders\n" not in plan + "\n" and "Seq Scan" not in plan, (name, plan)
            # The page's keys (version, updated_at) come from the index too: no order row is read.
            assert "PRIMARY KEY" not in plan and "pk_orders" not in plan, (name, plan)
