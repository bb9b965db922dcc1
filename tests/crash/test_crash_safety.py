"""Crash safety: a real server is SIGKILLed in the middle of a 500-product POST /v2/products batch and a
100-order PUT /v2/orders/integrate batch (sent at the same time), then restarted. On each backend:

* every element is either fully applied or not at all: a product's (Quantity, PriceWithTaxes, Cost) is the
  old triple or the batch's, never a mix; an order's (Integrated, IntegratedOrderId, ErpStatus) likewise;
* the database passes its integrity checks (SQLite ``PRAGMA integrity_check`` and ``foreign_key_check``;
  PostgreSQL amcheck on every table and index when the extension is available) and every foreign key and
  unique constraint of the schema holds (checked by query, so SQLite's unenforced keys are covered too);
* re-sending the batches reaches the final state.

The kill lands after a seeded random fraction of a calibrated batch time (runs with fixed seeds); each
run's outcome (elements applied) is printed (``pytest -s``) and appended to ``ALEPHEE_CRASH_REPORT``.
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import UniqueConstraint, func, select

from alephee import clock
from alephee.accounts import service as accounts
from alephee.db import Database
from alephee.http.context import AppContext
from alephee.orders import demo as orders_demo
from alephee.orders.ingest import ingest_order
from alephee.orders.models import Order
from alephee.products.models import Product, ProductPrice
from alephee.registry import metadata
from tests.fixtures.products import add_product
from tests.fixtures.servers import LiveServer, start_server
from tests.fixtures.tenants import Tenant

pytestmark = pytest.mark.slow

PRODUCTS = 500
ORDERS = 100
SEEDS = [int(s) for s in os.environ.get("ALEPHEE_CRASH_SEEDS", "101,202,303").split(",")]
REPORT = os.environ.get("ALEPHEE_CRASH_REPORT")

ProductState = tuple[int, Decimal | None, Decimal | None]
OrderState = tuple[bool, str | None, str | None]


# --- data ---------------------------------------------------------------------------------------------------


def _seed(ctx: AppContext, tenant: Tenant) -> tuple[int, list[str], list[int]]:
    """A price list, 500 products and 100 orders for ``tenant``."""
    with ctx.db.writing() as session:
        price_list = accounts.create_price_list(session, tenant.account_id, "General", currency="ARS", is_default=True)
        skus = [f"CR-{n:04d}" for n in range(PRODUCTS)]
        for n, sku in enumerate(skus):
            add_product(session, tenant.account_id, sku, quantity=n, prices={price_list.id: Decimal(100 + n)})
        rng = random.Random(5)
        seller = orders_demo.seller_of(session, tenant.account_id)
        channel = orders_demo.channel_of(session, 100)
        now = clock.utcnow()
        ids = []
        for n in range(ORDERS):
            new = orders_demo.build_order(
                rng, seller=seller, channel=channel, external_order_id=f"{4_000_000_000 + n}", sale_date=now
            )
            ids.append(ingest_order(session, new).id)
        return price_list.id, skus, ids


def products_batch(skus: list[str], run: int) -> list[dict[str, Any]]:
    """Absolute values only, so re-sending the batch is idempotent."""
    return [
        {
            "SKU": sku,
            "Stock": {"Quantity": 1000 * run + n + 1},
            "Price": {"PriceWithTaxes": 200 * run + n + 1.5, "Cost": 50 * run + n + 1},
        }
        for n, sku in enumerate(skus)
    ]


def product_target(run: int, n: int) -> ProductState:
    return (1000 * run + n + 1, Decimal(200 * run + n) + Decimal("1.5"), Decimal(50 * run + n + 1))


def orders_batch(order_ids: list[int], run: int) -> list[dict[str, Any]]:
    return [
        {"OrderId": oid, "OwnOrderId": f"ERP-{run}-{oid}", "Integrated": True, "ErpStatus": f"run-{run}"}
        for oid in order_ids
    ]


def order_target(run: int, oid: int) -> OrderState:
    return (True, f"ERP-{run}-{oid}", f"run-{run}")


def read_products(db: Database, price_list_id: int, account_id: int) -> list[ProductState]:
    with db.read_engine.connect() as conn:
        rows = conn.execute(
            select(Product.quantity, ProductPrice.price_with_taxes, ProductPrice.cost)
            .join(ProductPrice, ProductPrice.product_id == Product.id)
            .where(Product.account_id == account_id, ProductPrice.price_list_id == price_list_id)
            .order_by(Product.sku)
        ).all()
    return [(int(q), Decimal(p) if p is not None else None, Decimal(c) if c is not None else None) for q, p, c in rows]


def read_orders(db: Database, order_ids: list[int]) -> list[OrderState]:
    with db.read_engine.connect() as conn:
        rows = dict(
            (oid, (bool(i), r, e))
            for oid, i, r, e in conn.execute(
                select(Order.id, Order.integrated, Order.integrated_order_id, Order.erp_status).where(
                    Order.id.in_(order_ids)
                )
            )
        )
    return [rows[oid] for oid in order_ids]


# --- integrity ----------------------------------------------------------------------------------------------


def check_integrity(db: Database) -> list[str]:
    """Problems found (empty when the database is sound)."""
    problems: list[str] = []
    engine = db.read_engine if db.dialect == "sqlite" else db.write_engine
    with engine.connect() as conn:
        if db.dialect == "sqlite":
            result = [row[0] for row in conn.exec_driver_sql("PRAGMA integrity_check")]
            if result != ["ok"]:
                problems.append(f"integrity_check: {result[:5]}")
            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
            if broken:
                problems.append(f"foreign_key_check: {broken[:5]}")
        else:
            problems.extend(_amcheck(conn))
        for table in metadata.sorted_tables:
            for fk in table.foreign_key_constraints:
                child = [table.c[c.parent.name] for c in fk.elements]
                parent_table = fk.elements[0].column.table
                parent = [parent_table.c[c.column.name] for c in fk.elements]
                stmt = (
                    select(func.count())
                    .select_from(table.outerjoin(parent_table, *[a == b for a, b in zip(child, parent, strict=True)]))
                    .where(*[c.is_not(None) for c in child], parent[0].is_(None))
                )
                if table is parent_table:
                    continue  # self-references (kits, variations): checked by the driver constraints
                orphans = conn.execute(stmt).scalar()
                if orphans:
                    problems.append(f"{orphans} rows of {table.name} break {fk.name or child}")
            for constraint in table.constraints:
                if isinstance(constraint, UniqueConstraint):
                    cols = list(constraint.columns)
                    dupes = conn.execute(
                        select(func.count()).select_from(
                            select(*cols)
                            .where(*[c.is_not(None) for c in cols])
                            .group_by(*cols)
                            .having(func.count() > 1)
                            .subquery()
                        )
                    ).scalar()
                    if dupes:
                        problems.append(f"{dupes} duplicate keys in {table.name} {[c.name for c in cols]}")
    return problems


def _amcheck(conn: Any) -> list[str]:
    try:
        with conn.begin():
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS amcheck")
    except Exception:  # not installed or not allowed: the constraint queries still run
        return []
    problems = []
    tables = [
        r[0]
        for r in conn.exec_driver_sql(
            "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'"
        )
    ]
    for table in tables:
        corrupt = conn.exec_driver_sql(f"SELECT count(*) FROM verify_heapam('{table}')").scalar()
        if corrupt:
            problems.append(f"verify_heapam({table}): {corrupt} problems")
    indexes = [
        r[0]
        for r in conn.exec_driver_sql(
            "SELECT c.oid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_am am ON am.oid = c.relam "
            "WHERE n.nspname = 'public' AND am.amname = 'btree'"
        )
    ]
    for index in indexes:
        conn.exec_driver_sql(f"SELECT bt_index_check('{index}', true)")  # raises on corruption
    conn.rollback()
    return problems


def wait_for_open_write(db: Database, timeout: float) -> bool:
    """Block until another connection holds an open write transaction on the database (SQLite: the write lock
    is taken; PostgreSQL: a backend has a transaction id, i.e. has written and not yet committed)."""
    deadline = time.monotonic() + timeout
    if db.dialect == "sqlite":
        path = db.settings.database_url.split("///", 1)[1]
        probe = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            while time.monotonic() < deadline:
                try:
                    probe.execute("BEGIN IMMEDIATE")
                    probe.execute("ROLLBACK")
                except sqlite3.OperationalError:
                    return True
                time.sleep(0.001)
        finally:
            probe.close()
        return False
    query = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
    )
    with db.read_engine.connect() as conn:
        while time.monotonic() < deadline:
            if conn.exec_driver_sql(query).scalar():
                return True
            conn.rollback()
            time.sleep(0.001)
    return False


# --- the test -----------------------------------------------------------------------------------------------


class Call(threading.Thread):
    """One request in a thread; ``out`` gets its status or the client-side error."""

    def __init__(self, base_url: str, method: str, path: str, params: dict[str, Any], body: Any) -> None:
        super().__init__(daemon=True)
        self.args_ = (method, base_url + path, params, body)
        self.out: dict[str, Any] = {}

    def run(self) -> None:
        method, url, params, body = self.args_
        try:
            self.out["status"] = httpx.request(method, url, params=params, json=body, timeout=60).status_code
        except httpx.HTTPError as exc:
            self.out["error"] = type(exc).__name__

    def seen(self) -> str:
        return str(self.out.get("status") or self.out.get("error"))


def _fire(server: LiveServer, tenant: Tenant, skus: list[str], order_ids: list[int], run: int) -> list[Call]:
    """Send both batches of ``run`` at once."""
    calls = [
        Call(server.base_url, "POST", "/v2/products", tenant.q(), products_batch(skus, run)),
        Call(server.base_url, "PUT", "/v2/orders/integrate", tenant.q(), orders_batch(order_ids, run)),
    ]
    for call in calls:
        call.start()
    return calls


def _report(line: str) -> None:
    print(line)
    if REPORT:
        with open(REPORT, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


def test_sigkill_mid_batch_applies_each_element_fully_or_not_at_all(
    ctx: AppContext, make_tenant: Callable[..., Tenant], tmp_path: Path
) -> None:
    tenant = make_tenant(marketplaces=(100,))
    price_list_id, skus, order_ids = _seed(ctx, tenant)
    products_before = read_products(ctx.db, price_list_id, tenant.account_id)
    orders_before = read_orders(ctx.db, order_ids)
    server: LiveServer = start_server(ctx.settings.database_url, tmp_path)
    try:
        # Run 0, not killed: checks the batches work and measures how long the pair takes.
        began = time.perf_counter()
        outs = _fire(server, tenant, skus, order_ids, 0)
        for thread in outs:
            thread.join(60)
        window = time.perf_counter() - began
        assert [t.out.get("status") for t in outs] == [200, 200], [t.out for t in outs]
        products_before = read_products(ctx.db, price_list_id, tenant.account_id)
        orders_before = read_orders(ctx.db, order_ids)
        assert products_before == [product_target(0, n) for n in range(PRODUCTS)]
        assert orders_before == [order_target(0, oid) for oid in order_ids]

        # Seeded delays, then one run killed the moment a write transaction is seen open (seed None).
        for run, seed in enumerate([*SEEDS, None], start=1):
            outs = _fire(server, tenant, skus, order_ids, run)
            began = time.perf_counter()
            if seed is not None:
                time.sleep(random.Random(seed).uniform(0.2, 1.4) * window)
                how = f"seed={seed} kill after"
            else:
                assert wait_for_open_write(ctx.db, timeout=10 * window + 5), "no write transaction seen"
                how = "kill inside an open write transaction, at"
            delay = time.perf_counter() - began
            server.process.kill()
            server.process.wait()
            for thread in outs:
                thread.join(30)
            server = start_server(ctx.settings.database_url, tmp_path)

            products_now = read_products(ctx.db, price_list_id, tenant.account_id)
            orders_now = read_orders(ctx.db, order_ids)
            mixed = [
                (skus[n], now)
                for n, now in enumerate(products_now)
                if now not in (products_before[n], product_target(run, n))
            ]
            assert mixed == [], f"run {run}: products half-applied: {mixed[:5]}"
            mixed_orders = [
                (oid, now)
                for oid, now, old in zip(order_ids, orders_now, orders_before, strict=True)
                if now not in (old, order_target(run, oid))
            ]
            assert mixed_orders == [], f"run {run}: orders half-applied: {mixed_orders[:5]}"
            problems = check_integrity(ctx.db)
            assert problems == [], f"run {run}: {problems}"
            applied_p = sum(now == product_target(run, n) for n, now in enumerate(products_now))
            applied_o = sum(now == order_target(run, oid) for oid, now in zip(order_ids, orders_now, strict=True))
            _report(
                f"{ctx.db.dialect} {how} {delay * 1000:.0f} ms (batches ~{window * 1000:.0f} ms): "
                f"products {applied_p}/{PRODUCTS} applied, orders {applied_o}/{ORDERS} applied; "
                f"client saw {outs[0].seen()}/{outs[1].seen()}; integrity ok"
            )
            products_before, orders_before = products_now, orders_now

        # Re-sending the last batches reaches the final state.
        last = len(SEEDS) + 1
        outs = _fire(server, tenant, skus, order_ids, last)
        for thread in outs:
            thread.join(60)
        assert [t.out.get("status") for t in outs] == [200, 200], [t.out for t in outs]
        assert read_products(ctx.db, price_list_id, tenant.account_id) == [
            product_target(last, n) for n in range(PRODUCTS)
        ]
        assert read_orders(ctx.db, order_ids) == [order_target(last, oid) for oid in order_ids]
        assert check_integrity(ctx.db) == []
    finally:
        server.stop()


def test_integrity_check_finds_an_orphan(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> None:
    """The constraint queries do detect a broken row (SQLite does not enforce foreign keys by default)."""
    assert check_integrity(ctx.db) == []
    if ctx.db.dialect != "sqlite":
        pytest.skip("PostgreSQL enforces the keys itself")
    tenant = make_tenant()
    raw = ctx.db.write_engine.raw_connection()  # autocommit at the driver level (isolation_level None)
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA foreign_keys=OFF")
        cursor.execute(
            "INSERT INTO price_lists (account_id, name, is_default, is_b2b, created_at) VALUES (?, 'x', 0, 0, 0)",
            (tenant.account_id + 999,),
        )
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        raw.close()
    assert any("price_lists" in p for p in check_integrity(ctx.db))
