"""The wait metrics of ``/metrics``: pool checkouts, GC pauses, event-loop lag and the route threads move."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable

from fastapi.testclient import TestClient

from alephee.http.context import AppContext
from alephee.http.observe import REGISTRY
from alephee.http.waits import loop_monitor, tune_collector, watch


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_the_wait_metrics_are_exposed(client: TestClient) -> None:
    body = client.get("/metrics").text
    for name in ("alephee_db_pool_wait_seconds", "alephee_gc_pause_seconds", "alephee_event_loop_lag_seconds"):
        assert f"# TYPE {name} histogram" in body, name
    assert "# TYPE alephee_route_threads gauge" in body


def test_every_checkout_is_timed_by_engine(ctx: AppContext, client: TestClient) -> None:
    before = {engine: _sample("alephee_db_pool_wait_seconds_count", engine=engine) for engine in ("read", "write")}
    assert client.get("/health").status_code == 200  # one read checkout
    with ctx.db.writing() as session:
        session.connection()  # one write checkout
    for engine in ("read", "write"):
        assert _sample("alephee_db_pool_wait_seconds_count", engine=engine) >= before[engine] + 1, engine
    assert _sample("alephee_db_pool_wait_seconds_sum", engine="read") >= 0


def test_the_observer_survives_a_dispose(ctx: AppContext) -> None:
    watch(ctx.db)
    ctx.db.dispose()  # the pools are recreated
    before = _sample("alephee_db_pool_wait_seconds_count", engine="write")
    with ctx.db.writing() as session:
        session.connection()
    assert _sample("alephee_db_pool_wait_seconds_count", engine="write") == before + 1


def test_a_collection_is_a_gc_pause(ctx: AppContext) -> None:
    watch(ctx.db)
    watch(ctx.db)  # idempotent: one hook, one observation per collection
    before = _sample("alephee_gc_pause_seconds_count", generation="2")
    cpu = _sample("alephee_gc_cpu_seconds_total")
    gc.collect()
    assert _sample("alephee_gc_pause_seconds_count", generation="2") >= before + 1
    assert _sample("alephee_gc_cpu_seconds_total") >= cpu


def test_a_server_tunes_its_collector(make_client: Callable[..., TestClient]) -> None:
    threshold = gc.get_threshold()
    try:
        assert tune_collector(freeze=True, threshold0=0) > 0 and gc.get_freeze_count() > 0
        assert gc.get_threshold() == threshold  # 0 keeps the interpreter's
        gc.unfreeze()
        with make_client(gc_freeze=True, gc_threshold0=12_345) as client:  # the lifespan tunes it as it starts
            assert client.get("/health").status_code == 200
            assert gc.get_freeze_count() > 0 and gc.get_threshold() == (12_345, *threshold[1:])
        gc.unfreeze()
        gc.set_threshold(*threshold)
        with make_client(gc_freeze=False, gc_threshold0=0) as client:
            assert client.get("/health").status_code == 200
            assert gc.get_freeze_count() == 0 and gc.get_threshold() == threshold
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def test_the_loop_monitor_ticks_and_counts_the_route_threads() -> None:
    before = _sample("alephee_event_loop_lag_seconds_count")

    async def run() -> None:
        async with loop_monitor(tick=0.001):
            while _sample("alephee_event_loop_lag_seconds_count") < before + 2:
                await asyncio.sleep(0.001)

    asyncio.run(run())
    assert _sample("alephee_route_threads", measure="size") >= 1
    assert _sample("alephee_route_threads", measure="waiting") == 0
