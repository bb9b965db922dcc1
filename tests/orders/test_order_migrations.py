"""Data migrations of stored orders, run again on rows written the way older versions stored them (the
schema is already at the head: the migrations are idempotent)."""

from __future__ import annotations

import importlib.util
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson
from alembic.migration import MigrationContext
from alembic.operations import Operations
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, delete, inspect, select, update

import alephee
from alephee import clock
from alephee.http.context import AppContext
from alephee.orders.models import Order, OrderPayment
from tests.fixtures.orders import AddOrder, assert_numbers, order_info
from tests.fixtures.tenants import Tenant

VERSIONS = Path(alephee.__file__).parent / "migrations" / "versions"


def migration(name: str) -> ModuleType:
    """The revision module ``versions/<name>.py``."""
    spec = importlib.util.spec_from_file_location(f"revision_{name}", VERSIONS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade(ctx: AppContext, name: str) -> None:
    """Run the ``upgrade()`` of one revision on the test database, as Alembic would (from another connection,
    with the application's caches left as they are: what the migration changes must show anyway)."""
    engine = create_engine(ctx.settings.database_url)
    try:
        with engine.begin() as connection, Operations.context(MigrationContext.configure(connection)):
            migration(name).upgrade()
    finally:
        engine.dispose()


def test_orders_dated_after_their_arrival_get_their_arrival_as_sale_date(
    client: TestClient, ctx: AppContext, seller: Tenant, add_order: AddOrder
) -> None:
    now = clock.utcnow()
    future, past = add_order(seller, created_at=now), add_order(seller, sale_date=now - timedelta(days=1))
    with ctx.db.writing() as session:
        # What a sandbox sale on a simulated clock three days ahead was stored as.
        session.execute(update(Order).where(Order.id == future).values(sale_date=now + timedelta(days=3)))
    before = client.get("/v2/orders", params=seller.q()).json()["Results"]
    upgrade(ctx, "0015_orders_dates")
    with ctx.db.reading() as session:
        rows = {o.id: o for o in session.scalars(select(Order))}
    assert rows[future].sale_date == rows[future].created_at == now
    assert rows[past].sale_date == now - timedelta(days=1)
    after = {o["Id"]: o for o in client.get("/v2/orders", params=seller.q()).json()["Results"]}
    assert after[future]["DateCreated"] == now.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert after[past] == next(o for o in before if o["Id"] == past)


def _legacy(value: Any) -> Any:
    """A stored detail as older versions wrote it: null where they knew no number (every 0 but enum keys)."""
    if isinstance(value, dict):
        return {k: v if k == "Key" else _legacy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_legacy(v) for v in value]
    return None if value == 0 and not isinstance(value, bool) else value


def test_stored_orders_get_numbers_where_they_had_nulls(
    client: TestClient, ctx: AppContext, seller: Tenant, add_order: AddOrder
) -> None:
    kit = add_order(seller, lines=[(5, 1), (0, 2)])  # a kit with its components, and a product
    response = client.post("/v2/orders", params=seller.q(), json=order_info("WEB-9", marketplace_id=30))
    assert response.status_code == 201, response.text
    created = response.json()["Id"]
    with ctx.db.writing() as session:
        for order in session.scalars(select(Order).where(Order.id.in_([kit, created]))):
            detail = _legacy(orjson.loads(order.detail))
            if order.id == created:
                for payment in detail["Payments"]:
                    payment.update(ShippingAmount=None, ShippingAmountNoDiscount=None, TransactionAmount=None,
                                   SubTotal=None, InstallmentAmount=None)  # fmt: skip
            order.detail = orjson.dumps(detail).decode()
    legacy = {o["Id"]: o for o in client.get("/v2/orders", params=seller.q()).json()["Results"]}
    assert legacy[kit]["Items"][1]["UnitPrice"] is None and legacy[created]["Payments"][0]["SubTotal"] is None
    upgrade(ctx, "0016_orders_numbers")
    after = client.get("/v2/orders", params=seller.q()).json()["Results"]
    assert_numbers(after)
    fixed = {o["Id"]: o for o in after}
    assert [i["UnitPrice"] for i in fixed[kit]["Items"]][1:3] == [0, 0]
    [payment] = fixed[created]["Payments"]
    assert (payment["TransactionAmount"], payment["SubTotal"], payment["InstallmentAmount"]) == (3000, 3000, 3000)
    # Idempotent: a second run finds nothing to change.
    with ctx.db.reading() as session:
        versions = {row.id: row.version for row in session.execute(select(Order.id, Order.version))}
    upgrade(ctx, "0016_orders_numbers")
    with ctx.db.reading() as session:
        assert {row.id: row.version for row in session.execute(select(Order.id, Order.version))} == versions


def run(ctx: AppContext, module: ModuleType, step: str) -> None:
    """Run ``upgrade`` or ``downgrade`` of an already loaded revision module on the test database."""
    engine = create_engine(ctx.settings.database_url)
    try:
        with engine.begin() as connection, Operations.context(MigrationContext.configure(connection)):
            getattr(module, step)()
    finally:
        engine.dispose()


def test_the_payment_ids_of_stored_orders_are_backfilled(
    client: TestClient, ctx: AppContext, seller: Tenant, add_order: AddOrder
) -> None:
    marketplace = add_order(seller, marketplace_id=1)
    cart = [add_order(seller, marketplace_id=1, pack_id="P9", pack_size=2) for _ in range(2)]
    body = order_info("WEB-10", marketplace_id=30)
    body["Payments"] = [
        {"ExternalPaymentId": "PAY-1", "Amount": 1000.00, "Method": "credit_card", "Installments": 1},
        {"ExternalPaymentId": "PAY-1", "Amount": 1000.00, "Method": "credit_card", "Installments": 1},
        {"Amount": 1000.00, "Method": "credit_card", "Installments": 1},
    ]
    response = client.post("/v2/orders", params=seller.q(), json=body)
    assert response.status_code == 201, response.text
    damaged = add_order(seller, marketplace_id=1)
    with ctx.db.writing() as session:
        # Documents the backfill must survive: payments that are not objects, an id too long to be one.
        session.execute(
            update(Order)
            .where(Order.id == damaged)
            .values(detail=orjson.dumps({"Payments": ["x", {"ExternalPaymentId": "9" * 101}, None]}).decode())
        )
        session.execute(delete(OrderPayment).where(OrderPayment.order_id == damaged))
    query = select(
        OrderPayment.order_id, OrderPayment.external_payment_id, OrderPayment.account_id, OrderPayment.marketplace_id
    )
    with ctx.db.reading() as session:
        before = sorted(tuple(r) for r in session.execute(query))
    assert {r[0] for r in before} == {marketplace, *cart, response.json()["Id"]}
    assert [r[1] for r in before if r[0] == response.json()["Id"]] == ["PAY-1"]

    revision = migration("0033c_order_payments")
    revision.BATCH = 2  # several batches out of five orders
    run(ctx, revision, "downgrade")
    try:
        with ctx.db.write_engine.connect() as connection:
            assert "order_payments" not in inspect(connection).get_table_names()
    finally:
        run(ctx, revision, "upgrade")
    with ctx.db.reading() as session:
        assert sorted(tuple(r) for r in session.execute(query)) == before
