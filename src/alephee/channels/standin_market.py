"""What keeps a local stand-in's market moving during ``make run``: a daemon thread that calls a market's
``tick`` every few seconds (buyers, carriers), never letting a failed tick take the server down; and the
mounting of a stand-in in the hub's application (its routes, its market while the application runs)."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol

import anyio.to_thread
from fastapi import APIRouter, FastAPI

log = logging.getLogger("alephee.standin.market")


class Ticking(Protocol):
    """A stand-in's market: one ``tick`` makes what happens in a few seconds of its world happen."""

    def tick(self) -> object:
        """One step of the market (what it returns is ignored)."""


class MarketThread:
    """Runs ``market.tick`` every ``interval`` seconds in a daemon thread until stopped."""

    def __init__(self, market: Ticking, interval: float) -> None:
        self.market = market
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start ticking."""
        self._thread = threading.Thread(target=self._run, name="alephee-standin-market", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.market.tick()
            except Exception:  # the stand-in's market must never take the server down
                log.exception("stand-in market tick failed")

    def stop(self) -> None:
        """Stop after the current tick."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)


def mount(
    app: FastAPI, router: APIRouter, prefix: str, *, market: Ticking, seconds: float, close: Callable[[], None]
) -> None:
    """Serve a stand-in's ``router`` at ``prefix``; while the application runs, tick its ``market`` every
    ``seconds`` (not at all when 0); ``close`` it when the application stops."""
    app.include_router(router, prefix=prefix)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        thread = MarketThread(market, seconds) if seconds > 0 else None
        if thread is not None:
            thread.start()
        try:
            async with inner(application) as state:
                yield state
        finally:
            if thread is not None:
                await anyio.to_thread.run_sync(thread.stop)
            close()

    app.router.lifespan_context = lifespan
