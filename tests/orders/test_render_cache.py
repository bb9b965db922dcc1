"""The cache of rendered orders (orders/rendering.py) and the version rule it relies on (orders/models.py).

A cached rendering must never be served for an order that changed: every write path bumps ``version`` (one
place: the ORM flush hook and the UPDATE hook), and GET /v2/orders answered through the cache must be
byte-identical to a rendering from scratch after any sequence of writes.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from alephee.http.context import AppContext
from alephee.orders import rendering
from alephee.orders import statuses as st
from alephee.orders.ingest import refresh_pack
from alephee.orders.models import Order
from tests.fixtures.orders import PDF, AddOrder
from tests.fixtures.shipping import PACK
from tests.fixtures.tenants import Tenant

# --- the LRU ------------------------------------------------------------------------------------------------


def test_lru_keeps_the_most_recent_within_its_byte_budget() -> None:
    cache = rendering.RenderedOrders(max_bytes=10)
    cache.put_many([((1, 1, "a"), b"aaaa"), ((2, 1, "b"), b"bbbb")])
    assert cache.get_many([(1, 1, "a"), (3, 1, "c")]) == [b"aaaa", None]  # 1 becomes the most recent
    cache.put_many([((3, 1, "c"), b"cccc")])  # 12 bytes > 10: the least recent (2) goes
    assert cache.get_many([(2, 1, "b"), (1, 1, "a"), (3, 1, "c")]) == [None, b"aaaa", b"cccc"]
    assert cache.size == 8 and len(cache) == 2
    assert (cache.hits, cache.misses) == (3, 2)


def test_lru_replaces_an_entry_and_skips_what_can_never_fit() -> None:
    cache = rendering.RenderedOrders(max_bytes=10)
    cache.put_many([((1, 1, "a"), b"aaaa"), ((1, 1, "a"), b"AAAAAA"), ((9, 1, "z"), b"z" * 11)])
    assert cache.get_many([(1, 1, "a"), (9, 1, "z")]) == [b"AAAAAA", None]
    assert cache.size == 6


def test_another_version_is_another_entry() -> None:
    cache = rendering.RenderedOrders(max_bytes=100)
    cache.put_many([((1, 1, "t"), b"old")])
    assert cache.get_many([(1, 2, "t"), (1, 1, "u")]) == [None, None]


def test_the_cache_belongs_to_one_database_and_can_be_turned_off(
    ctx: AppContext, make_client: Any, seller: Tenant, add_order: AddOrder
) -> None:
    add_order(seller)
    with ctx.db.reading() as session:
        cache = rendering.cache_of(session)
        assert cache is not None and rendering.cache_of(session) is cache
    ctx.db.clear_process_caches()
    with ctx.db.reading() as session:
        assert rendering.cache_of(session) is not cache
    off = AppContext.build(ctx.settings.model_copy(update={"order_cache_mb": 0}))
    try:
        with off.db.reading() as session:
            assert rendering.cache_of(session) is None
    finally:
        off.db.dispose()


# --- the version rule ---------------------------------------------------------------------------------------


def _version(ctx: AppContext, order_id: int) -> int:
    with ctx.db.reading() as session:
        return int(session.scalar(select(Order.version).where(Order.id == order_id)) or 0)


def test_every_flushed_change_bumps_the_version_once(ctx: AppContext, seller: Tenant, add_order: AddOrder) -> None:
    order_id = add_order(seller)
    before = _version(ctx, order_id)
    with ctx.db.writing() as session:
        order = session.get(Order, order_id)
        assert order is not None
        order.erp_status = "picked"
        order.integrated_order_id = "ERP-1"
    assert _version(ctx, order_id) == before + 1
    with ctx.db.writing() as session:
        order = session.get(Order, order_id)
        assert order is not None
        order.erp_status = "picked"  # the same value: the row is not written
    assert _version(ctx, order_id) == before + 1


def test_update_statements_bump_the_version(ctx: AppContext, seller: Tenant, add_order: AddOrder) -> None:
    first, second = add_order(seller), add_order(seller)
    before = {first: _version(ctx, first), second: _version(ctx, second)}
    with ctx.db.writing() as session:
        session.execute(update(Order).where(Order.id == first).values(erp_status="bulk"))
    assert _version(ctx, first) == before[first] + 1
    assert _version(ctx, second) == before[second]


def test_a_cart_refresh_bumps_only_the_orders_whose_flag_changes(
    ctx: AppContext, seller: Tenant, add_order: AddOrder
) -> None:
    pack = "2000009000000001"
    first = add_order(seller, pack_id=pack, pack_size=2)
    complete_before = _version(ctx, first)
    second = add_order(seller, pack_id=pack, pack_size=2)  # completes the cart: the first order's flag flips
    assert _version(ctx, first) == complete_before + 1
    settled = {first: _version(ctx, first), second: _version(ctx, second)}
    with ctx.db.writing() as session:
        refresh_pack(session, seller.account_id, pack)  # nothing changes
    assert {first: _version(ctx, first), second: _version(ctx, second)} == settled


# --- cached pages equal fresh pages -------------------------------------------------------------------------


def _pages(client: TestClient, tenant: Tenant) -> list[bytes]:
    queries = [
        tenant.q(Integrated="false"),
        tenant.q(Integrated="true"),
        tenant.q(statusType=st.TYPE_CANCELLED, statusDateFrom="2000-01-01T00:00:00Z"),
        tenant.q(idFrom=0, limit=3, offset=1),
        tenant.q(idFrom=0, additionalInfo="Documents,Invoice"),
    ]
    bodies = []
    for params in queries:
        response = client.get("/v2/orders", params=params)
        assert response.status_code == 200, response.text
        bodies.append(response.content)
    return bodies


def _write(client: TestClient, tenant: Tenant, rng: random.Random, order_id: int) -> None:
    action = rng.choice(("integrate", "erp", "status", "document", "packaging", "label", "none"))
    if action == "integrate":
        body = [{"OrderId": order_id, "Integrated": rng.choice((True, False)), "IntegratedOrderId": f"E{rng.random()}"}]
        response = client.put("/v2/orders/integrate", params=tenant.q(), json=body)
    elif action == "erp":
        body = [{"OrderId": order_id, "ErpStatus": rng.choice(("new", "picked", "billed"))}]
        response = client.put("/v2/orders/integrate", params=tenant.q(), json=body)
    elif action == "status":
        status = rng.choice((st.READY_TO_SHIP, 20, st.CANCELLED))
        response = client.put("/v2/orders", params=tenant.q(), json=[{"OrderId": order_id, "Status": status}])
    elif action == "document":
        content = PDF + str(rng.random()).encode()
        files = {"file": ("factura.pdf", content, "application/pdf")}
        response = client.post(f"/v2/orders/{order_id}/documents", params=tenant.q(documentType=0), files=files)
    elif action == "packaging":
        pack = dict(PACK, Quantity=rng.randint(1, 5))
        response = client.post(f"/v2/orders/{order_id}/shipping/packaging", params=tenant.q(), json=pack)
    elif action == "label":
        response = client.get(f"/v2/orders/{order_id}/shippinglabel", params=tenant.q(format="PDF"))
    else:
        return
    # Some writes are refused in some states (a closed order, a label not printable yet): fine, nothing changed.
    assert response.status_code < 500, response.text


@pytest.mark.parametrize("seed", [1, 2])
def test_pages_served_from_the_cache_equal_fresh_renderings_after_any_writes(
    ctx: AppContext, client: TestClient, seller: Tenant, add_order: AddOrder, seed: int
) -> None:
    rng = random.Random(seed)
    orders = [add_order(seller, pack_id="2000009000000077" if n < 2 else None, pack_size=2 if n < 2 else None)
              for n in range(6)]  # fmt: skip
    _pages(client, seller)  # warm the cache
    for _ in range(25):
        _write(client, seller, rng, rng.choice(orders))
        cached = _pages(client, seller)
        ctx.db.clear_process_caches()
        assert cached == _pages(client, seller)
    with ctx.db.reading() as session:
        cache = rendering.cache_of(session)
        assert cache is not None and cache.hits > 0


def test_metrics_show_the_cache(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    add_order(seller)
    for _ in range(2):
        # Uncompressed: a compressed poll would be answered from the compressed pages instead.
        response = client.get("/v2/orders", params=seller.q(), headers={"Accept-Encoding": "identity"})
        assert response.json()["Total"] == 1
    metrics = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in client.get("/metrics").text.splitlines()
        if line.startswith("alephee_order_cache{")
    }
    assert metrics['alephee_order_cache{measure="hits"}'] >= 1
    assert metrics['alephee_order_cache{measure="misses"}'] >= 1
    assert metrics['alephee_order_cache{measure="entries"}'] == 1
    assert metrics['alephee_order_cache{measure="bytes"}'] > 1000
