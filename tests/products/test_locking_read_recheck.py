"""The batch's locking read returns every row it was waiting for, also when another transaction updated them.

PostgreSQL re-checks a row it found locked against the query once the holder commits; the read must keep the
rows whose codes still match, whatever plan the query got (forced here to probe the products by index in a
nested loop, the plan of a large catalog)."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text, update

from alephee.http.context import AppContext
from alephee.products.batch import Catalog
from alephee.products.models import Product
from tests.fixtures.products import add_product
from tests.fixtures.tenants import Tenant

COUNT = 40


def _waiting_on_a_lock(ctx: AppContext) -> bool:
    with ctx.db.write_engine.connect() as conn:
        waiting = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND query LIKE '%FOR UPDATE OF p%'"
            )
        ).scalar_one()
    return bool(waiting)


def test_rows_updated_while_the_batch_waited_are_still_found(ctx: AppContext, tenant: Tenant) -> None:
    if ctx.db.dialect != "postgresql":
        pytest.skip("SQLite serialises writers before they read")
    codes = [f"RECHECK-{n:03d}" for n in range(COUNT)]
    with ctx.db.writing() as session:
        ids = [add_product(session, tenant.account_id, code, quantity=5) for code in codes]
    found: dict[str, int] = {}
    failures: list[BaseException] = []

    def batch_read() -> None:
        try:
            with ctx.db.writing() as session:
                for setting in ("enable_hashjoin", "enable_mergejoin", "enable_seqscan", "enable_bitmapscan"):
                    session.execute(text(f"SET LOCAL {setting} = off"))
                catalog = Catalog(session, tenant.account_id, codes)
                found["rows"] = len(catalog.states)
                found["matched"] = sum(catalog.find(code, None)[0] is not None for code in codes)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    holder = ctx.db.writing()
    session = holder.__enter__()
    reader = threading.Thread(target=batch_read)
    try:
        session.execute(update(Product).where(Product.id.in_(ids)).values(quantity=Product.quantity + 1))
        reader.start()
        deadline = time.monotonic() + 30
        while not _waiting_on_a_lock(ctx) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _waiting_on_a_lock(ctx), "the batch's read never waited for the rows"
    finally:
        holder.__exit__(None, None, None)  # commits the update: the waiting read re-checks every row
    reader.join(30)
    assert failures == []
    assert found == {"rows": COUNT, "matched": COUNT}
