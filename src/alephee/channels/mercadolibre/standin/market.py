"""The stand-in's market: buyers who purchase the sellers' active items now and then, write to them after a
sale, ask one pre-sale question and open one claim (so the console has one of each to show), and a carrier who
ships and delivers what was printed — what makes a local Mercado Libre look alive during ``make run``. Every step
goes through the same functions as the ``/_test`` hooks, so the hub hears of it through notifications, as it
would from Mercado Libre.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from alephee.channels.mercadolibre.standin import claims, messages, orders, questions
from alephee.channels.mercadolibre.standin.common import MLError
from alephee.channels.mercadolibre.standin.notify import Notifier
from alephee.channels.standin_store import Store, Tx
from alephee.clock import utcnow

log = logging.getLogger("alephee.standin.market")

# How long a printed label waits for the carrier, and a shipment for its delivery (stand-in minutes).
PICKUP_AFTER = timedelta(minutes=2)
DELIVERY_AFTER = timedelta(minutes=5)
BUYER_QUESTIONS = (
    "¡Hola! ¿Cuándo despachan mi compra?",
    "Hola, ¿me confirman la factura por favor?",
    "Gracias, ¿tienen número de seguimiento?",
)
PRE_SALE_QUESTION = "Hola, ¿tienen stock para entrega inmediata? ¿Hacen factura A?"


def _parse(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None


class Market:
    """One tick buys at most one item (with probability ``sales_per_tick``), may have a buyer write, and moves
    shipments along (printed → shipped → delivered). Deterministic for a given ``seed``."""

    def __init__(self, store: Store, notifier: Notifier, *, seed: int = 7, sales_per_tick: float = 1.0) -> None:
        self.store = store
        self.notifier = notifier
        self.rng = random.Random(seed)
        self.sales_per_tick = sales_per_tick

    def tick(self, now: datetime | None = None) -> dict[str, int]:
        """One step of the market; what it did (``Sold``, ``Messages``, ``Shipped``, ``Delivered``, ``Questions``,
        ``Claims``)."""
        now = now or utcnow()
        done = {"Sold": 0, "Messages": 0, "Shipped": 0, "Delivered": 0}
        if self.rng.random() < self.sales_per_tick:
            done["Sold"] = self._sell()
        if self.rng.random() < 0.3:
            done["Messages"] = self._write()
        moved = self._carry(now)
        done["Shipped"], done["Delivered"] = moved
        done["Questions"] = self._ask_once()
        done["Claims"] = self._claim_once()
        return done

    def _ask_once(self) -> int:
        """The first buyer question of the market (only while the sellers have none)."""

        def work(tx: Tx) -> int:
            active = [item for item in tx.find("item") if item.get("status") == "active"]
            if not active or tx.find("question"):
                return 0
            questions.ask(tx, self.notifier, str(active[0]["id"]), PRE_SALE_QUESTION)
            return 1

        return int(self._attempt(work) or 0)

    def _claim_once(self) -> int:
        """The first claim of the market, on the oldest sale not cancelled (only while there is none)."""

        def work(tx: Tx) -> int:
            if tx.find("claim"):
                return 0
            sold = [order for order in tx.find("order") if order.get("status") == "paid"]
            if not sold:
                return 0
            claims.open_claim(tx, self.notifier, int(sold[0]["id"]), reason_id="PNR9501")
            return 1

        return int(self._attempt(work) or 0)

    def _attempt(self, work: Callable[[Tx], Any]) -> Any:
        try:
            with self.store.begin() as tx:
                return work(tx)
        except MLError as refused:  # the item sold out meanwhile, the conversation is blocked...
            log.debug("stand-in market step refused: %s", refused)
            return None

    def _sell(self) -> int:
        def work(tx: Tx) -> int:
            active = [item for item in tx.find("item") if item.get("status") == "active"]
            if not active:
                return 0
            item = self.rng.choice(active)
            variation = self.rng.choice(item["variations"]) if item.get("variations") else None
            stock = (variation or item).get("available_quantity") or 0
            if stock < 1:
                return 0
            request: dict[str, Any] = {"item_id": item["id"], "quantity": min(stock, self.rng.choice((1, 1, 1, 2)))}
            if variation is not None:
                request["variation_id"] = variation["id"]
            orders.buy(tx, self.notifier, request)
            return 1

        return int(self._attempt(work) or 0)

    def _write(self) -> int:
        def work(tx: Tx) -> int:
            packs = [p for p in tx.find("pack") if p.get("status") != "cancelled"]
            if not packs:
                return 0
            messages.from_buyer(tx, self.notifier, int(self.rng.choice(packs)["id"]), self.rng.choice(BUYER_QUESTIONS))
            return 1

        return int(self._attempt(work) or 0)

    def _carry(self, now: datetime) -> tuple[int, int]:
        def work(tx: Tx) -> tuple[int, int]:
            shipped = delivered = 0
            for found in tx.find("shipment"):
                changed = _parse(found.get("last_updated"))
                if changed is None:
                    continue
                if found.get("status") == "ready_to_ship" and found.get("substatus") == "printed":
                    if now - changed >= PICKUP_AFTER:
                        orders.set_shipment_status(tx, self.notifier, int(found["id"]), "shipped", None)
                        shipped += 1
                elif found.get("status") == "shipped" and now - changed >= DELIVERY_AFTER:
                    orders.set_shipment_status(tx, self.notifier, int(found["id"]), "delivered", None)
                    delivered += 1
            return shipped, delivered

        moved = self._attempt(work)
        return moved if moved is not None else (0, 0)
