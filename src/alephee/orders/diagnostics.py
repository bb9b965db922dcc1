"""Query plans of the orders list: the database's plan of a statement and the statements of the two
documented integration cycles (used by the plan tests and the benchmarks, never by a route).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from alephee.config import Settings
from alephee.http.paging import Page
from alephee.orders import statuses as st
from alephee.orders.query import ID_SORT, ORDER_SORTS, OrderFilters, order_query


def explain(session: Session, statement: Select[Any], values: dict[str, Any] | None = None) -> list[str]:
    """The database's plan for ``statement`` run with ``values`` (EXPLAIN QUERY PLAN on SQLite, EXPLAIN on
    PostgreSQL)."""
    connection = session.connection()
    compiled = statement.compile(dialect=connection.dialect)
    processors = compiled._bind_processors
    merged = {**compiled.params, **(values or {})}
    params = {key: processors[key](value) if key in processors else value for key, value in merged.items()}
    if connection.dialect.name == "sqlite":
        positional = tuple(params[key] for key in compiled.positiontup or ())
        rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), positional).all()
        return [str(row[-1]) for row in rows]
    rows = connection.exec_driver_sql("EXPLAIN " + str(compiled), params).all()
    return [str(row[0]) for row in rows]


def cycle_queries(
    session: Session, settings: Settings, account_id: int, status_date_from: datetime, offset: int = 0
) -> dict[str, tuple[Select[Any], dict[str, Any]]]:
    """The statements of the two documented integration cycles, with their values (for plans)."""
    page = Page(offset=offset, limit=100, sort=ID_SORT, sort_requested=False, partial=False, available=ORDER_SORTS)
    normal = order_query(session, settings, account_id, OrderFilters(), page)
    late_filters = OrderFilters(status_type=st.TYPE_CANCELLED, status_date_from=status_date_from)
    late = order_query(session, settings, account_id, late_filters, page)
    return {"normal": (normal.statement, normal.params), "late": (late.statement, late.params)}
