"""What a request waits on besides its own work, as ``/metrics`` histograms: a pooled database connection, the
garbage collector, and the event loop (a request's coroutine is late by the loop's lag; the worker threads that
run the routes are counted too). Cheap enough to stay on: a clock read per checkout and per collection, one
timer tick per ``LOOP_TICK`` seconds. Also what shortens the collector's pauses: ``tune_collector``."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import anyio.to_thread
from prometheus_client import Counter, Gauge, Histogram

from alephee.db import Database
from alephee.http.observe import REGISTRY

# From "nothing" to "the pool timeout": a healthy checkout takes microseconds, a starved one up to 30 s.
_WAIT_BUCKETS = (0.0001, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

POOL_WAIT = Histogram(
    "alephee_db_pool_wait_seconds",
    "Time a checkout took to get a database connection (idle, newly opened, or waited for), by engine",
    ["engine"],
    buckets=_WAIT_BUCKETS,
    registry=REGISTRY,
)
GC_PAUSE = Histogram(
    "alephee_gc_pause_seconds",
    "Garbage-collection pauses of this process (every thread stops), by generation",
    ["generation"],
    buckets=_WAIT_BUCKETS,
    registry=REGISTRY,
)
GC_CPU = Counter(
    "alephee_gc_cpu_seconds",
    "CPU time the garbage collector took (thread time of the collecting thread: unlike the pauses' wall time, "
    "it does not grow with the machine's load)",
    registry=REGISTRY,
)
LOOP_LAG = Histogram(
    "alephee_event_loop_lag_seconds",
    "How late the event loop ran a timer (a request's coroutine is late by as much)",
    buckets=_WAIT_BUCKETS,
    registry=REGISTRY,
)
THREADS = Gauge(
    "alephee_route_threads",
    "Threads that run the synchronous routes, at the last loop tick: size (the limit), busy, waiting (requests "
    "queued for a thread)",
    ["measure"],
    registry=REGISTRY,
)

# Seconds between two ticks of the loop monitor.
LOOP_TICK = 0.25

_gc_started: list[tuple[float, float]] = []


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    # Called by the interpreter around every collection, in the thread that triggered it (the GIL is held).
    if phase == "start":
        _gc_started.append((time.perf_counter(), time.thread_time()))
    elif _gc_started:
        wall, cpu = _gc_started.pop()
        GC_PAUSE.labels(str(info.get("generation", ""))).observe(time.perf_counter() - wall)
        GC_CPU.inc(max(0.0, time.thread_time() - cpu))


def tune_collector(*, freeze: bool, threshold0: int) -> int:
    """Shorten and thin out the collector's pauses for a server; returns how many objects were frozen.

    ``freeze``: move every object alive now (modules, schemas, the application: what start-up built, never
    garbage) to the permanent generation; a full collection then scans only what requests left behind (on this
    application ~120-180 ms of CPU with every thread stopped before, under 10 ms after). ``threshold0``: net
    allocations between two collections of the youngest generation (0 leaves the interpreter's); a request
    allocates thousands of short-lived objects, and at Python's 700 the collector scans most of them before
    reference counting frees them."""
    if threshold0:
        gc.set_threshold(threshold0, *gc.get_threshold()[1:])
    if not freeze:
        return 0
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def watch(db: Database) -> None:
    """Time ``db``'s pool checkouts and this process's garbage collections (the GC hook once per process)."""
    db.observe_pool_waits(lambda engine, seconds: POOL_WAIT.labels(engine).observe(seconds))
    if _on_gc not in gc.callbacks:
        gc.callbacks.append(_on_gc)


async def _monitor_loop(tick: float) -> None:
    """Every ``tick`` seconds: how late the timer fired, and the route threads' use."""
    loop = asyncio.get_running_loop()
    limiter = anyio.to_thread.current_default_thread_limiter()
    while True:
        due = loop.time() + tick
        await asyncio.sleep(tick)
        LOOP_LAG.observe(max(0.0, loop.time() - due))
        stats = limiter.statistics()
        THREADS.labels("size").set(stats.total_tokens)
        THREADS.labels("busy").set(stats.borrowed_tokens)
        THREADS.labels("waiting").set(stats.tasks_waiting)


@asynccontextmanager
async def loop_monitor(tick: float = LOOP_TICK) -> AsyncIterator[None]:
    """Run the loop monitor for the duration of the block (the application's lifespan)."""
    task = asyncio.create_task(_monitor_loop(tick), name="alephee-loop-monitor")
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
