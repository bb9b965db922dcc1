"""How POST /v2/products writes a batch: the narrow stock shapes (absolute quantity, movement, date only) in
one UPDATE of ``products``, with each element's own result."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from alephee import clock
from alephee.db import RowWriter, arrays, numeric_array, utc
from alephee.http.context import AppContext
from alephee.products.models import Product
from tests.fixtures.products import add_price_list, add_product
from tests.fixtures.statements import Statements, plain
from tests.fixtures.tenants import Tenant

T0 = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
T1 = datetime(2030, 5, 1, 12, 5, tzinfo=UTC)


@contextmanager
def _product_updates(ctx: AppContext) -> Iterator[list[str]]:
    """The UPDATEs of ``products`` run while the block is open (those sent down a batch's pipeline included)."""
    with Statements(ctx) as statements:
        seen: list[str] = []
        yield seen
    seen += [s for s in map(plain, statements.seen) if s.upper().startswith("UPDATE PRODUCTS")]


def test_narrow_stock_writes_are_one_statement(client: TestClient, ctx: AppContext, tenant: Tenant) -> None:
    with ctx.db.writing() as session, clock.frozen(T0):
        add_price_list(session, tenant.account_id, "General")
        for sku, quantity in (("ABS", 5), ("UP", 5), ("DOWN", 3), ("PRICE", 7), ("ZERO", 4), ("IDLE", 9)):
            add_product(session, tenant.account_id, sku, quantity=quantity)
    body = [
        {"SKU": "ABS", "Stock": {"Quantity": 40}},
        {"SKU": "UP", "Stock": {"Movement": 2}},
        {"SKU": "DOWN", "Stock": {"Movement": -5}},
        {"SKU": "PRICE", "Price": {"PriceWithTaxes": 121}},
        {"SKU": "ZERO", "Stock": {"Movement": 0}},
    ]
    with _product_updates(ctx) as updates, clock.frozen(T1):
        response = client.post("/v2/products", params=tenant.q(), json=body)
    assert response.status_code == 200, response.text
    assert len(updates) == 1
    result = response.json()
    assert (result["Quantities"]["Ok"], result["Quantities"]["Warning"]) == (4, 1)
    # Only the clamped movement says something, with the exact shortfall.
    [item] = result["Items"]
    assert (item["KeyValue"], item["Messages"][0]["Code"]) == ("DOWN", 35)
    assert "would leave the stock at -2" in item["Messages"][0]["Message"]
    with ctx.db.reading() as session:
        rows = {
            sku: (q, utc(d))
            for sku, q, d in session.execute(select(Product.sku, Product.quantity, Product.date_updated))
        }
    assert rows == {
        "ABS": (40, T1),
        "UP": (7, T1),
        "DOWN": (0, T1),
        "PRICE": (7, T1),
        "ZERO": (4, T1),
        "IDLE": (9, T0),
    }


def test_numeric_arrays_are_sent_as_one_literal_and_read_back_exactly(ctx: AppContext, backend: str) -> None:
    assert numeric_array([Decimal("1.5000"), None, Decimal("-0.0001"), Decimal("1E+3")]) == "{1.5000,NULL,-0.0001,1E+3}"
    assert arrays("integer", "numeric", "timestamptz") == "%b::integer[], %s::numeric[], %b::timestamptz[]"
    if backend != "postgresql":
        pytest.skip("SQLite writes one row per statement (no arrays)")
    values = [Decimal("12345678901234.5678"), None, Decimal("0.0001"), Decimal("1E+3"), Decimal("-7")]
    with ctx.db.writing() as session:
        conn = session.connection()
        money = RowWriter(conn).money
        sql = f"SELECT v.n FROM unnest({arrays('numeric', 'integer')}) AS v(n, i) ORDER BY v.i"
        back = [r[0] for r in conn.exec_driver_sql(sql, (numeric_array(map(money, values)), list(range(5))))]
        session.rollback()
    assert back == [money(v) for v in values]
