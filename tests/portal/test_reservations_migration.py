"""Migration 0017: portal orders placed before it get their B2B reservation from their stored detail, so cancelling
one later still gives its units back; cancelled ones get none (their units came back already)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import command

from alephee.db import alembic_config

BEFORE = "0016_orders_numbers"


def _detail(*items: dict[str, Any]) -> str:
    return orjson.dumps({"Items": list(items)}).decode()


def _filler(column: sa.Column[Any]) -> Any:
    # A value for a required column this test does not care about.
    if isinstance(column.type, sa.JSON):
        return {}
    kind = column.type.python_type
    return {int: 0, str: "x", bool: False}.get(kind, datetime(2026, 1, 1, tzinfo=UTC))


def test_existing_portal_orders_get_their_reservation(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    config = alembic_config(url)
    command.upgrade(config, BEFORE)
    engine = sa.create_engine(url)
    orders = sa.Table("orders", sa.MetaData(), autoload_with=engine)
    required = [c for c in orders.columns if not c.nullable and c.server_default is None and not c.primary_key]
    kit_lines = _detail(
        {"Id": 1, "Product": {"Id": 7}, "Quantity": 2},
        {"Id": 2, "ParentItemId": 1, "Product": {"Id": 8}, "Quantity": 4},  # a kit's component: never reserved
        {"Id": 3, "Product": {"Id": 9}, "Quantity": 1},
    )
    rows = [
        (1, "b2b", 0, kit_lines),
        (2, "b2b", 90, _detail({"Id": 1, "Product": {"Id": 7}, "Quantity": 1})),  # cancelled already
        (3, "marketplace", 0, _detail({"Id": 1, "Product": {"Id": 7}, "Quantity": 1})),  # not a portal order
    ]
    try:
        with engine.begin() as conn:
            for order_id, origin, status, detail in rows:
                values = {c.name: _filler(c) for c in required}
                values.update(id=order_id, account_id=1, origin=origin, status=status, detail=detail)
                values["external_order_id"] = f"E{order_id}"
                conn.execute(orders.insert().values(**values))
        command.upgrade(config, "heads")
        command.upgrade(config, "heads")  # nothing left to do
        with engine.connect() as conn:
            found = conn.execute(sa.text("SELECT order_id, quantities FROM order_b2b_reservations")).all()
    finally:
        engine.dispose()
    assert [(order_id, orjson.loads(q) if isinstance(q, str) else q) for order_id, q in found] == [
        (1, {"7": 2, "9": 1})
    ]
