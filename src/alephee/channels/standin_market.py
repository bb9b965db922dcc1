"""What keeps a local stand-in's market moving during ``make run``: a daemon thread that calls a market's
``tick`` every few seconds (buyers, carriers), never letting a failed tick take the server down."""

from __future__ import annotations

import logging
import threading
from typing import Protocol

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
