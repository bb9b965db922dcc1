"""Each product's account and ``date_updated`` as the ``dateUpdatedFrom`` filter reads them (``product_dates``):
on PostgreSQL an indexed copy that database triggers keep in step with every write, whatever runs it; on SQLite
a view of ``products``. The same tests hold on both."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, text, update

from alephee import clock
from alephee.accounts.models import Account
from alephee.accounts.schemas import AccountType
from alephee.db import utc
from alephee.http.context import AppContext
from alephee.products import b2b, brands, stock
from alephee.products.models import Product, ProductDate
from tests.fixtures.products import add_price_list, add_product
from tests.fixtures.tenants import Tenant

T0 = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)


def _at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _copies_in_step(ctx: AppContext) -> dict[int, tuple[int, datetime]]:
    """Every product has exactly one copy, with its account and date; returns the copies by product id."""
    with ctx.db.reading() as session:
        products = {
            pid: (account, utc(date))
            for pid, account, date in session.execute(select(Product.id, Product.account_id, Product.date_updated))
        }
        copies = {
            pid: (account, utc(date))
            for pid, account, date in session.execute(
                select(ProductDate.product_id, ProductDate.account_id, ProductDate.date_updated)
            )
        }
    assert copies == products
    return copies


def _post(client: TestClient, tenant: Tenant, body: list[dict[str, Any]]) -> None:
    response = client.post("/v2/products", params=tenant.q(), json=body)
    assert response.status_code == 200, response.text


def test_every_write_keeps_the_copy_in_step(
    client: TestClient, ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    owner = make_tenant(AccountType.DISTRIBUTOR)
    seller = make_tenant()
    with ctx.db.writing() as session, clock.frozen(_at(0)):
        add_price_list(session, owner.account_id, "General")
        ids = [add_product(session, owner.account_id, sku, quantity=10) for sku in ("A", "B", "C", "D")]
    assert {pid: date for pid, (_, date) in _copies_in_step(ctx).items()} == dict.fromkeys(ids, _at(0))

    # The batch write paths (one statement over arrays on PostgreSQL): absolute, movement, price-only touch.
    with clock.frozen(_at(1)):
        _post(
            client,
            owner,
            [
                {"SKU": "A", "Stock": {"Quantity": 3}},
                {"SKU": "B", "Stock": {"Movement": -20}},
                {"SKU": "C", "Price": {"PriceWithTaxes": 121}},
            ],
        )
    copies = _copies_in_step(ctx)
    assert [copies[pid][1] for pid in ids] == [_at(1), _at(1), _at(1), _at(0)]

    # ORM-statement writers of other domains, and plain SQL.
    with ctx.db.writing() as session, clock.frozen(_at(2)):
        session.execute(update(Product).where(Product.id == ids[3]).values(b2b_quantity=5))
        b2b.reserve_b2b_stock(session, owner.account_id, {ids[3]: 2})
    assert _copies_in_step(ctx)[ids[3]][1] == _at(2)
    with ctx.db.writing() as session, clock.frozen(_at(3)):
        stock.move_stock(session, owner.account_id, ids[0], 4)
    assert _copies_in_step(ctx)[ids[0]][1] == _at(3)
    with ctx.db.writing() as session:
        session.execute(update(Product).where(Product.id.in_(ids[1:3])).values(date_updated=_at(4), name="Renamed"))
    assert [_copies_in_step(ctx)[pid][1] for pid in ids[1:3]] == [_at(4), _at(4)]

    # A write that leaves the date alone leaves the copy alone.
    with ctx.db.writing() as session:
        session.execute(update(Product).where(Product.id == ids[0]).values(name="Only the name"))
    assert _copies_in_step(ctx)[ids[0]][1] == _at(3)

    # Inserts of another path (sharing into a seller account), then deletes of a product and of an account.
    with ctx.db.writing() as session, clock.frozen(_at(5)):
        assert brands.share_products(session, owner.account_id, seller.account_id, ["A", "B"]) == 2
    copies = _copies_in_step(ctx)
    assert sorted(date for account, date in copies.values() if account == seller.account_id) == [_at(5), _at(5)]
    with ctx.db.writing() as session:
        session.execute(delete(Product).where(Product.id == ids[2]))
    assert ids[2] not in _copies_in_step(ctx)
    with ctx.db.writing() as session:
        session.execute(delete(Account).where(Account.id == seller.account_id))
    assert {account for account, _ in _copies_in_step(ctx).values()} == {owner.account_id}


def test_date_updated_from_reads_the_copy_of_the_account(
    client: TestClient, ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    first, second = make_tenant(), make_tenant()
    with ctx.db.writing() as session, clock.frozen(_at(0)):
        for tenant in (first, second):
            for sku in ("OLD", "NEW"):
                add_product(session, tenant.account_id, sku)
    with clock.frozen(_at(10)):
        _post(client, first, [{"SKU": "NEW", "Stock": {"Quantity": 1}}])
        _post(client, second, [{"SKU": "NEW", "Stock": {"Quantity": 1}}, {"SKU": "OLD", "Stock": {"Movement": 1}}])

    def skus(tenant: Tenant, since: str) -> list[str]:
        response = client.get("/v2/products", params=tenant.q(dateUpdatedFrom=since))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["Paging"]["Total"] == len(body["Results"])
        return [r["Identification"]["SKU"] for r in body["Results"]]

    assert skus(first, "2030-05-01T12:10:00Z") == ["NEW"]
    assert skus(second, "2030-05-01T12:10:00Z") == ["OLD", "NEW"]
    assert skus(first, "2030-05-01T12:00:00Z") == ["OLD", "NEW"]
    assert skus(first, "2030-05-01T12:10:01Z") == []
    fiscal = client.get("/v2/products/fiscal", params=first.q(dateUpdatedFrom="2030-05-01T12:10:00Z"))
    assert fiscal.status_code == 200, fiscal.text
    assert [r["SKU"] for r in fiscal.json()["Results"]] == ["NEW"]


def test_the_filter_uses_the_date_index_on_sqlite(ctx: AppContext, tenant: Tenant) -> None:
    if ctx.db.dialect != "sqlite":
        pytest.skip("PostgreSQL picks its plan from statistics: a small test table is read whole")
    from alephee.products.catalog import ProductFilters, product_conditions

    query = select(Product.id).where(*product_conditions(tenant.account_id, ProductFilters(date_updated_from=T0)))
    with ctx.db.reading() as session:
        connection = session.connection()
        sql = str(query.compile(connection, compile_kwargs={"literal_binds": True}))
        plan = " ".join(str(row[-1]) for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
    assert "ix_products_account_id_date_updated" in plan


def test_stock_updates_are_hot_on_postgresql(client: TestClient, ctx: AppContext, tenant: Tenant) -> None:
    # With no index on products.date_updated, a stock write changes no indexed column: PostgreSQL rewrites the
    # row on its page (HOT) and adds no index entry; only the narrow copy's indexes change.
    if ctx.db.dialect != "postgresql":
        pytest.skip("HOT updates are PostgreSQL's")
    with ctx.db.writing() as session:
        add_product(session, tenant.account_id, "A", quantity=1)
        add_product(session, tenant.account_id, "B", quantity=1)
    # The backend's pending counters may still hold earlier transactions' updates (PostgreSQL flushes them when
    # idle), so the statement's own updates are the difference across it, inside one transaction.
    counters = text("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = 'products'")
    with ctx.db.writing() as session:
        updated_before, hot_before = session.execute(counters).one()
        session.execute(
            text("UPDATE products SET quantity = quantity + 1, date_updated = now() WHERE account_id = :account"),
            {"account": tenant.account_id},
        )
        updated, hot = session.execute(counters).one()
    assert (updated - updated_before, hot - hot_before) == (2, 2)


def test_large_and_small_statements_keep_the_copies(ctx: AppContext, tenant: Tenant) -> None:
    # PostgreSQL writes the copies of an update of a few rows with a plan made once per session and those of a
    # larger one with a plan made for its size: both in one session, in both orders.
    with ctx.db.writing() as session, clock.frozen(_at(0)):
        ids = [add_product(session, tenant.account_id, f"P{n:03d}") for n in range(150)]
    with ctx.db.writing() as session:
        session.execute(update(Product).where(Product.id == ids[0]).values(date_updated=_at(1)))
        session.execute(update(Product).where(Product.id.in_(ids[:100])).values(date_updated=_at(2)))
        session.execute(update(Product).where(Product.id == ids[1]).values(date_updated=_at(3)))
        session.execute(update(Product).where(Product.id.in_(ids[50:])).values(date_updated=_at(4)))
    copies = _copies_in_step(ctx)
    assert [copies[pid][1] for pid in (ids[0], ids[1], ids[2], ids[49], ids[50], ids[149])] == [
        _at(2),
        _at(3),
        _at(2),
        _at(2),
        _at(4),
        _at(4),
    ]
