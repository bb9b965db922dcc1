"""The local Tiendanube's market: buyers who check out the stores' published products now and then (most pay at
once, some pay a little later) and a carrier who delivers what was dispatched — what makes the stand-in look
alive during ``make run``. Every step goes through the stand-in's own functions, so the hub hears of it through
the webhooks it registered, as it would from Tiendanube."""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta
from typing import Any

from alephee.channels.tiendanube.standin import fulfillment, stores
from alephee.channels.tiendanube.standin.app import TiendanubeStandIn
from alephee.channels.tiendanube.standin.common import TNError, now, parse_date, stamp

log = logging.getLogger("alephee.standin.market")

DELIVERY_AFTER = timedelta(minutes=5)
BUYERS = (
    {"name": "Lucía Fernández", "email": "lucia@buyer.example", "phone": "+54 11 5555-0101"},
    {"name": "Martín Gómez", "email": "martin@buyer.example", "phone": "+54 11 5555-0102"},
    {"name": "Ana Souza", "email": "ana@buyer.example", "phone": "+55 11 95555-0103"},
)


class Market:
    """One tick places at most one order (with probability ``sales_per_tick``; one in five stays pending until a
    later tick pays it) and delivers dispatched fulfillment orders. Deterministic for a given ``seed``."""

    def __init__(self, standin: TiendanubeStandIn, *, seed: int = 7, sales_per_tick: float = 1.0) -> None:
        self.standin = standin
        self.rng = random.Random(seed)
        self.sales_per_tick = sales_per_tick

    def tick(self, moment: datetime | None = None) -> dict[str, int]:
        """One step of the market; what it did (``Sold``, ``Paid``, ``Delivered``)."""
        moment = moment or now()
        done = {"Sold": 0, "Paid": 0, "Delivered": 0}
        try:
            if self.rng.random() < self.sales_per_tick:
                done["Sold"] = self._sell()
            done["Paid"] = self._pay()
            done["Delivered"] = self._deliver(moment)
        except (TNError, KeyError) as refused:  # sold out meanwhile, store gone...
            log.debug("stand-in market step refused: %s", refused)
        return done

    def _installed(self) -> list[int]:
        with self.standin.store.begin() as tx:
            return [shop["id"] for shop in tx.find("tn_store") if shop["_app"] == stores.INSTALLED]

    def _sell(self) -> int:
        shops = self._installed()
        if not shops:
            return 0
        store_id = self.rng.choice(shops)
        choices: list[tuple[int, int | None]] = [
            (variant["id"], variant["stock"])
            for product in self.standin.products(store_id)
            if product["published"]
            for variant in product["variants"]
            if variant["price"] is not None and (variant["stock"] is None or variant["stock"] > 0)
        ]
        if not choices:
            return 0
        variant_id, stock = self.rng.choice(choices)
        quantity = min(stock if stock is not None else 2, self.rng.choice((1, 1, 1, 2)))
        paid = self.rng.random() >= 0.2
        self.standin.place_order(store_id, [(variant_id, quantity)], paid=paid, buyer=dict(self.rng.choice(BUYERS)))
        return 1

    def _pay(self) -> int:
        paid = 0
        for store_id in self._installed():
            for order in self.standin.orders(store_id):
                if order["payment_status"] == "pending" and order["status"] == "open" and self.rng.random() < 0.5:
                    self.standin.pay_order(store_id, order["id"])
                    paid += 1
        return paid

    def _deliver(self, moment: datetime) -> int:
        delivered = 0
        with self.standin.store.begin() as tx:
            for key, fo in tx.keyed("tn_fo"):
                changed = parse_date(str(fo.get("updated_at") or ""))
                if fo["status"] != "DISPATCHED" or changed is None or moment - changed < DELIVERY_AFTER:
                    continue
                order = tx.get("tn_order", fo["_order_id"])
                if order is None:
                    continue
                store_id = int(order["store_id"])
                event: dict[str, Any] = {
                    "status": "delivered",
                    "description": "Entregado",
                    "happened_at": stamp(moment),
                }
                fulfillment.add_event(tx, self.standin.webhooks, store_id, fo["_order_id"], key, event)
                delivered += 1
        return delivered
