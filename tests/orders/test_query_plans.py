"""Both documented integration cycles are answered from an index on SQLite and PostgreSQL (CF-00.5.2):
normal (Integrated=false, default approved payments) and late cancellation (statusType=99 & statusDateFrom).

PostgreSQL plans by table statistics, so on PostgreSQL the test first adds a few thousand closed,
integrated orders (a shop's history); docs/performance.md (Orders) has the plans on 1,000,000 orders.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from alephee import clock
from alephee.http.context import AppContext
from alephee.http.paging import Page
from alephee.orders import statuses as st
from alephee.orders.diagnostics import cycle_queries, explain
from alephee.orders.query import ID_SORT, ORDER_SORTS, OrderFilters, integrated_filter, order_query
from tests.fixtures.orders import AddOrder
from tests.fixtures.tenants import Tenant

# Each cycle is one statement (the page's keys and the total): both of its parts use the cycle's index.
EXPECTED = {"normal": "ix_orders_integration_keys", "late": "ix_orders_status_type_updated_keys"}


def _shop_history(ctx: AppContext, seller: Tenant, add_order: AddOrder) -> None:
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
                    " status_date - n * interval '1 hour', true, false, sale_date - n * interval '1 hour',"
                    " created_at - n * interval '1 hour', updated_at - n * interval '1 hour', 0,"
                    " false, false, 1, detail FROM orders, generate_series(1, 300) AS n"
                )
            )
            session.execute(text("ANALYZE orders"))
        else:
            session.execute(
                text(
                    "WITH RECURSIVE n(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM n WHERE n < 300)"
                    " INSERT INTO orders (account_id, marketplace_id, external_order_id, origin, status, status_type,"
                    " status_date, integrated, payment_pending, sale_date, created_at, updated_at, document_count,"
                    " stock_moved, stock_reverted, version, detail)"
                    " SELECT account_id, marketplace_id, external_order_id || '-' || n, origin, 80, 2,"
                    " status_date, 1, 0, strftime('%Y-%m-%d %H:%M:%f', sale_date, -n || ' hours'),"
                    " created_at, strftime('%Y-%m-%d %H:%M:%f', updated_at, -n || ' hours'), 0,"
                    " 0, 0, 1, detail FROM orders, n"
                )
            )
            session.execute(text("ANALYZE"))


def test_cycle_queries_use_their_indexes(ctx: AppContext, seller: Tenant, add_order: AddOrder) -> None:
    _shop_history(ctx, seller, add_order)
    with ctx.db.reading() as session:
        since = clock.utcnow() - timedelta(days=7)
        for name, (query, values) in cycle_queries(session, ctx.settings, seller.account_id, since).items():
            plan = "\n".join(explain(session, query, values))
            assert plan.count(EXPECTED[name]) >= 2, (name, plan)  # the page and the total
            if ctx.db.dialect == "sqlite":  # total and page answered from the index alone
                assert plan.count(f"COVERING INDEX {EXPECTED[name]}") >= 2, (name, plan)
            else:
                assert plan.count(f"Index Only Scan using {EXPECTED[name]}") >= 2, (name, plan)
            assert "SCAN orders\n" not in plan + "\n" and "Seq Scan" not in plan, (name, plan)
            # The page's keys (version, updated_at) come from the index too: no order row is read.
            assert "PRIMARY KEY" not in plan and "pk_orders" not in plan, (name, plan)


# Each date filter alone (an incremental sync sends back a timestamp it read), and on the whole history
# (Integrated=true and both): the index of the column the filter reads answers it, never a scan of the table.
DATE_FILTERS = {
    "dateCreatedFrom": ("date_created_from", "ix_orders_sale_date"),
    "saleDateFrom": ("sale_date_from", "ix_orders_sale_date"),
    "statusDateFrom": ("status_date_from", "ix_orders_updated_at"),
}


@pytest.mark.parametrize("name", sorted(DATE_FILTERS))
@pytest.mark.parametrize("integrated", [None, True, False])
def test_date_filters_use_the_index_of_their_column(
    ctx: AppContext, seller: Tenant, add_order: AddOrder, name: str, integrated: bool | None
) -> None:
    _shop_history(ctx, seller, add_order)
    field, index = DATE_FILTERS[name]
    since = clock.utcnow() - timedelta(hours=2)
    page = Page(offset=0, limit=100, sort=ID_SORT, sort_requested=False, partial=False,
                available=ORDER_SORTS)  # fmt: skip
    filters = OrderFilters(**{field: since, "integrated": integrated})
    with ctx.db.reading() as session:
        query = order_query(session, ctx.settings, seller.account_id, filters, page)
        plan = "\n".join(explain(session, query.statement, query.params))
    assert "SCAN orders\n" not in plan + "\n" and "Seq Scan on orders" not in plan, plan
    if integrated_filter(filters, ctx.settings) is not False:
        assert index in plan, plan
    # With Integrated=false (the default of dateCreatedFrom/saleDateFrom) the integration queue's index may be
    # chosen instead: also an index, and the queue of orders not yet integrated is what an ERP keeps short.
