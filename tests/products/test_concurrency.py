"""Relative stock movements never lose an update: 8 clients × 50 requests through a real server."""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx
import pytest

from alephee.http.context import AppContext
from alephee.products import stock
from tests.fixtures.products import add_product, quantity_of
from tests.fixtures.servers import LiveServer
from tests.fixtures.tenants import Tenant

THREADS = 8
REQUESTS = 50


def _run_together(client: Callable[[], None]) -> None:
    """``client`` in ``THREADS`` threads at once, until every one has ended."""
    threads = [threading.Thread(target=client) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


@pytest.mark.slow
def test_parallel_movements_through_http(ctx: AppContext, live_server: LiveServer, tenant: Tenant) -> None:
    with ctx.db.writing() as session:
        pid = add_product(session, tenant.account_id, "HOT", quantity=1000)
    failures: list[str] = []
    start = threading.Barrier(THREADS)

    def client_thread() -> None:
        with httpx.Client(base_url=live_server.base_url, timeout=60) as http:
            start.wait()
            for _ in range(REQUESTS):
                response = http.post(
                    "/v2/products", params=tenant.q(), json=[{"SKU": "HOT", "Stock": {"Movement": -1}}]
                )
                if response.status_code != 200 or response.json()["Quantities"]["Ok"] != 1:
                    failures.append(f"{response.status_code} {response.text[:200]}")

    _run_together(client_thread)
    assert failures == []
    with ctx.db.reading() as session:
        assert quantity_of(session, pid) == 1000 - THREADS * REQUESTS


def test_parallel_move_stock_calls(ctx: AppContext, tenant: Tenant) -> None:
    """The service entry point used by orders: concurrent transactions, each moving one unit."""
    with ctx.db.writing() as session:
        pid = add_product(session, tenant.account_id, "SVC", quantity=100)
    errors: list[BaseException] = []

    def mover() -> None:
        try:
            for _ in range(10):
                with ctx.db.writing() as session:
                    stock.move_stock(session, tenant.account_id, pid, -1)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=mover) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with ctx.db.reading() as session:
        assert quantity_of(session, pid) == 100 - THREADS * 10


@pytest.mark.slow
def test_parallel_batches_clamp_exactly_once_per_missing_unit(
    ctx: AppContext, live_server: LiveServer, tenant: Tenant
) -> None:
    """Concurrent batches (applied together when they wait for each other) clamp as if applied one by one:
    every unit taken beyond the stock gives exactly one warning, and the stock ends at 0."""
    with ctx.db.writing() as session:
        pid = add_product(session, tenant.account_id, "CLAMP", quantity=100)
        other = add_product(session, tenant.account_id, "PLAIN", quantity=0)
    warnings: list[int] = []
    failures: list[str] = []
    start = threading.Barrier(THREADS)

    def client_thread() -> None:
        with httpx.Client(base_url=live_server.base_url, timeout=60) as http:
            start.wait()
            for _ in range(20):
                body = [{"SKU": "CLAMP", "Stock": {"Movement": -1}}, {"SKU": "PLAIN", "Stock": {"Movement": 1}}]
                response = http.post("/v2/products", params=tenant.q(), json=body)
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text[:200]}")
                    continue
                quantities = response.json()["Quantities"]
                warnings.append(quantities["Warning"])
                if quantities["Total"] != 2 or quantities["Error"] != 0:
                    failures.append(response.text[:200])

    _run_together(client_thread)
    assert failures == []
    assert sum(warnings) == THREADS * 20 - 100
    with ctx.db.reading() as session:
        assert quantity_of(session, pid) == 0
        assert quantity_of(session, other) == THREADS * 20
