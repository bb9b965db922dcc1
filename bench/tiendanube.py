"""The Tiendanube connector under load, against the local stand-in on loopback (nothing leaves the machine).

    .venv/bin/python bench/tiendanube.py [--postgres URL] [--products 10000] [--rate 100] [--duration 60]
                                         [--orders 1000] [--workers 0] [--plan Esencial] [--drain 600]
                                         [--store-texts same|different]
                                         [--json out.json]

1. **Setup**: a seller with ``--products`` simple products (one variant each, so products = variants); the same
   products already in a store on the stand-in with the same SKUs and, unless ``--store-texts different``, the same
   name, description and brand (the seller had them before connecting, as the hub shows them); the
   app installed on that store with the webhooks the hub registers on an install (``product/updated`` among
   them, pointing at the hub), the account connected to marketplace 40 against the stand-in served alone in a
   process of its own (Tiendanube is not the hub and must not share its CPU); one ``alephee serve
   --with-worker`` process (plus ``--workers`` extra ``alephee worker`` processes); ``alephee channel sync``
   links every product (timed). The store's plan (``--plan``) sets its rate limit: ``Esencial`` 2 calls/s
   (bucket of 40), ``Next``/``Evolution`` ten times that.
2. **Stock sync**: ``--rate`` stock changes per second for ``--duration`` seconds through ``POST /v2/products``
   (batches of a tenth of the rate every 100 ms; a fifth of the changes on 20 hot SKUs, the rest spread), then
   until the outbox is empty (at most ``--drain`` seconds). The stand-in's process records when each
   ``PATCH /products/stock-price`` was answered and which stock it set on which variant: the answer's moment
   for the variant's last write minus the moment its last change was sent is one latency sample (p50, p99);
   every variant must end with the quantity last sent (those that do not are "stale"). Also counted there, once
   the inbox has read the ``product/updated`` echoes of the writes too:
   ``stock-price`` calls per change (coalescing and the 50-variant batches keep it under 1), variants per call,
   all calls per change, and the 429s it answered.
3. **Webhook burst**: ``--orders`` paid orders placed on the stand-in (one unit of a product each), then their
   ``order/created`` and ``order/paid`` webhooks, signed with the app's secret as Tiendanube signs them, posted
   to the hub by 8 clients at once: the webhook route's latency (p50, p99) and orders ingested per second from
   the first webhook to the last order stored (the worker reads each order back, paced by the store's rate
   limit) — none lost, none twice.

Run once per database: SQLite always, PostgreSQL when ``--postgres`` names a server (a scratch database is
created and dropped there).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from channel_bench import (
    KEY,
    alive,
    cpu_seconds,
    free_port,
    hub_environment,
    hub_settings,
    link,
    percentile,
    scratch_postgres,
    start,
    stop,
    wait_answering,
    wait_for,
)
from sqlalchemy import func, insert, select

from alephee.accounts import service as accounts
from alephee.accounts.schemas import AccountType
from alephee.bootstrap import prepare_database
from alephee.channels import connections
from alephee.channels.tiendanube.auth import CONNECTOR, WEBHOOK_EVENTS, WEBHOOKS_PATH
from alephee.channels.tiendanube.routes import SIGNATURE_HEADER
from alephee.channels.tiendanube.standin import products as standin_products
from alephee.channels.tiendanube.standin import stores
from alephee.channels.tiendanube.standin.app import TiendanubeStandIn, create_app
from alephee.config import Settings
from alephee.db import Database
from alephee.marketplaces.models import ChannelNotification, OutboxMessage
from alephee.orders.models import Order
from alephee.products.models import Brand, Product, ProductPrice

APP = "4242"
SECRET = "bench-tiendanube-secret"
MARKETPLACE = 40
HOT = 20
STATS_PATH = "/_bench/stats"
STOCK_PRICE = "/products/stock-price"


def sku(index: int) -> str:
    """The SKU of product ``index`` (the same in the hub and in the store)."""
    return f"TN-{index:06d}"


def environment(url: str, workdir: Path, hub: str) -> dict[str, str]:
    """The hub's environment: the database, the app's credentials, no stand-in or demo of its own."""
    return hub_environment(
        url,
        workdir,
        hub,
        {
            "ALEPHEE_TIENDANUBE_APP_ID": APP,
            "ALEPHEE_TIENDANUBE_CLIENT_SECRET": SECRET,
            "ALEPHEE_TIENDANUBE_STANDIN": "false",
            "ALEPHEE_DEMO_TIENDANUBE": "false",
        },
    )


def open_standin(workdir: Path, *, webhooks: bool = False) -> TiendanubeStandIn:
    """The stand-in over the run's file (every process opened on it shares its state)."""
    return TiendanubeStandIn(workdir / "standin.sqlite3", app_id=APP, client_secret=SECRET, webhooks=webhooks)


BRAND = "Bosch"


def store_texts(index: int, same: bool) -> dict[str, Any]:
    """The texts of product ``index`` in the store: the hub's (name, description, brand; as a store looks once
    the seller's catalogue and the hub agree) or, with ``same`` false, the store's own description and brand,
    so each product's first delivery writes an edit (``PUT /products/{id}``)."""
    if same:
        return {"name": {"es": f"Producto {index}"}, "description": {"es": description(index)}, "brand": BRAND}
    return {"name": {"es": f"Producto {index}"}, "description": {"es": f"Texto de la tienda {index}"}, "brand": "Otra"}


def description(index: int) -> str:
    """The hub's description of product ``index``."""
    return f"Descripción del producto {index}"


def seed(
    url: str, workdir: Path, count: int, api_base: str, hub: str, plan: str, *, same_texts: bool = True
) -> tuple[int, str, int]:
    """Migrate; the seller, its products and prices; the store, its products (with the hub's texts unless
    ``same_texts`` is false) and webhooks; the connection to ``api_base``. (account, key, store id)"""
    settings = Settings(database_url=url, secret_key=KEY, _env_file=None)  # type: ignore[call-arg]
    prepare_database(settings)
    db = Database(settings)
    now = datetime.now(UTC)
    with db.writing() as session:
        account = accounts.create_account(session, name="Bench TN", account_type=AccountType.SELLER)
        _, key = accounts.create_key(session, [account.id], rate_limit=10_000_000)
        plist = accounts.create_price_list(session, account.id, "General", currency="ARS").id
        brand = Brand(account_id=account.id, name=BRAND, name_key=BRAND.lower())
        session.add(brand)
        session.flush()
        account_id, brand_id = account.id, brand.id
    base = {"brand_id": brand_id, "product_type": 1, "catalog_status": 1, "b2b_quantity": 0, "quantity": 100,
            "min_publication_quantity": 0, "max_publication_quantity": 0, "alert_red": 0, "alert_yellow": 0,
            "date_updated": now, "created_at": now, "account_id": account_id}  # fmt: skip
    with db.writing() as session:
        rows = [base | {"sku": sku(i), "name": f"Producto {i}", "description": description(i)} for i in range(count)]
        for first in range(0, len(rows), 5_000):
            session.execute(insert(Product), rows[first : first + 5_000])
    with db.writing() as session:
        ids = session.scalars(select(Product.id).where(Product.account_id == account_id)).all()
        prices = [{"product_id": pid, "price_list_id": plist, "price": Decimal(1000), "price_with_taxes": Decimal(1210),
                   "price_auto": True, "suggested_retail_price": Decimal(1210), "srp_auto": True,
                   "date_updated": now} for pid in ids]  # fmt: skip
        for first in range(0, len(prices), 5_000):
            session.execute(insert(ProductPrice), prices[first : first + 5_000])
    # Seeded with webhooks off: the products existed before the hub was connected, their creation is no news.
    standin = open_standin(workdir)
    shop = standin.create_store(stores.StandInShop(name="Tienda Bench", email="owner@bench.example", plan_name=plan))
    store_id = int(shop["id"])
    grant = standin.issue_token(store_id)
    for first in range(0, count, 500):
        with standin.store.begin() as tx:
            found = stores.get(tx, store_id)
            assert found is not None
            for i in range(first, min(count, first + 500)):
                body = {**store_texts(i, same_texts), "variants": [{"sku": sku(i), "price": "1210.00", "stock": 100}]}
                standin_products.create(tx, standin.webhooks, found, body)
    with standin.store.begin() as tx:
        # As an install registers them, so each stock write comes back to the hub as ``product/updated``.
        for event in WEBHOOK_EVENTS:
            standin.webhooks.create(tx, store_id, {"event": event, "url": hub + WEBHOOKS_PATH})
    standin.close()
    with db.writing() as session:
        accounts.add_marketplace(session, account_id, MARKETPLACE, external_seller_id=str(store_id))
        connections.store_grant(
            session,
            settings,
            connections.Grant(account_id=account_id, marketplace_id=MARKETPLACE, connector=CONNECTOR,
                              access_token=str(grant["access_token"]), refresh_token=None, expires_in=None,
                              seller_id=store_id, nickname="Tienda Bench", api_base=api_base, api_version="v1"),
        )  # fmt: skip
    db.dispose()
    return account_id, key, store_id


class Recorder:
    """ASGI wrapper of the served stand-in: counts calls, 429s and ``stock-price`` calls and keeps, per variant,
    the moment of the last ``stock-price`` answer that set its stock and that stock; ``STATS_PATH`` answers them.
    Kept in the bench: the stand-in's variant dates have whole seconds only."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.calls = 0
        self.too_many = 0
        self.stock_price = 0
        self.variants = 0
        self.arrivals: dict[int, tuple[float, int]] = {}
        self.kinds: dict[str, int] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == STATS_PATH:
            await self._stats(send)
            return
        chunks: list[bytes] = []
        status = [0]
        watched = scope["method"] == "PATCH" and scope["path"].endswith(STOCK_PRICE)

        async def receiving() -> Any:
            message = await receive()
            if watched and message["type"] == "http.request":
                chunks.append(message.get("body", b""))
            return message

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                self._count(scope["method"], scope["path"], status[0], watched, b"".join(chunks))
            await send(message)

        await self.app(scope, receiving, sending)

    def _count(self, method: str, path: str, status: int, watched: bool, raw: bytes) -> None:
        at = time.time()
        # ``/v1/{store}/orders/123`` counts as ``GET orders/{id}``: which calls a phase made, not only how many.
        kind = "/".join("{id}" if part.isdigit() else part for part in path.split("/")[3:])
        with self.lock:
            self.calls += 1
            self.kinds[f"{method} {kind}"] = self.kinds.get(f"{method} {kind}", 0) + 1
            self.too_many += status == 429
            if not watched or status != 200:
                return
            self.stock_price += 1
            for product in json.loads(raw or b"[]"):
                for variant in product.get("variants") or []:
                    self.variants += 1
                    levels = variant.get("inventory_levels") or []
                    if levels:
                        self.arrivals[int(variant["id"])] = (at, int(levels[0]["stock"]))

    async def _stats(self, send: Any) -> None:
        with self.lock:
            found = {"calls": self.calls, "too_many": self.too_many, "stock_price": self.stock_price,
                     "variants": self.variants, "arrivals": self.arrivals, "kinds": self.kinds}  # fmt: skip
            body = json.dumps(found).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def serve_standin(workdir: str, port: int) -> None:
    """The stand-in alone in this process (``--serve-standin``), delivering its webhooks to the hub."""
    import uvicorn

    standin = open_standin(Path(workdir), webhooks=True)
    try:
        uvicorn.run(Recorder(create_app(standin)), host="127.0.0.1", port=port, log_level="warning", access_log=False)
    finally:
        standin.close()


def start_standin(workdir: Path, port: int) -> subprocess.Popen[bytes]:
    """The stand-in in a process of its own (see ``serve_standin``); waits until it answers."""
    log = (workdir / "standin.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve-standin", str(workdir), str(port)], stdout=log, stderr=log, cwd=workdir
    )
    return wait_answering(f"http://127.0.0.1:{port}{STATS_PATH}", process, workdir / "standin.log")


def stats(standin_url: str) -> dict[str, Any]:
    """What the stand-in's process counted so far."""
    return dict(httpx.get(standin_url + STATS_PATH, timeout=30).json())


def kinds(before: dict[str, Any], after: dict[str, Any]) -> dict[str, int]:
    """The calls made between two ``stats`` readings, by kind."""
    made = {kind: count - before["kinds"].get(kind, 0) for kind, count in after["kinds"].items()}
    return {kind: count for kind, count in sorted(made.items()) if count}


def stock_sync(
    hub: str, standin_url: str, account_id: int, key: str, store_id: int, db: Database, args: argparse.Namespace,
    processes: list[subprocess.Popen[bytes]],
) -> dict[str, Any]:  # fmt: skip
    """Phase 2 (see the module docstring)."""
    rng = random.Random(11)
    per_tick = max(1, args.rate // 10)
    ticks = int(args.duration * 10)
    last: dict[str, tuple[int, float]] = {}
    sent = 0
    before = stats(standin_url)
    params = {"API_KEY": key, "accountId": account_id}
    with httpx.Client(base_url=hub, timeout=60) as http:
        began = time.monotonic()
        for tick in range(ticks):
            batch = []
            for _ in range(per_tick):
                index = rng.randrange(min(HOT, args.products)) if rng.random() < 0.2 else rng.randrange(args.products)
                batch.append({"SKU": sku(index), "Stock": {"Quantity": rng.randint(1, 500)}})
            at = time.time()
            answer = http.post("/v2/products", params=params, json=batch)
            if answer.status_code != 200:
                raise RuntimeError(f"POST /v2/products {answer.status_code}: {answer.text[:300]}")
            for item in batch:
                last[item["SKU"]] = (item["Stock"]["Quantity"], at)
            sent += len(batch)
            pause = began + (tick + 1) / 10 - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            if tick % 50 == 0:
                alive(processes)
        sent_s = time.monotonic() - began

    def drained() -> bool:
        with db.reading() as session:
            open_rows = OutboxMessage.status.in_(("pending", "in_flight")) & (
                OutboxMessage.marketplace_id == MARKETPLACE
            )
            waiting = session.scalar(select(func.count()).select_from(OutboxMessage).where(open_rows))
        return waiting == 0

    settled = wait_for(drained, args.drain, processes)
    drain_s = time.monotonic() - began - sent_s

    def read_all() -> bool:
        # The echoes of the writes: the store's webhooks come a moment after each write, so the inbox must stay
        # empty for a second (and the outbox too) before the calls are counted.
        with db.reading() as session:
            open_rows = ChannelNotification.status.in_(("pending", "in_flight")) & (
                ChannelNotification.marketplace_id == MARKETPLACE
            )
            waiting = session.scalar(select(func.count()).select_from(ChannelNotification).where(open_rows))
        return waiting == 0 and drained()

    def still_read_all() -> bool:
        if not read_all():
            return False
        time.sleep(1.0)
        return read_all()

    echoes_from = time.monotonic()
    echoes_read = wait_for(still_read_all, args.drain, processes)
    after = stats(standin_url)
    standin = open_standin(Path(args.workdir))
    try:
        with standin.store.begin() as tx:
            variants = {v["sku"]: v for p in tx.find("tn_product", store_id) for v in p["variants"]}
    finally:
        standin.close()
    latencies, stale = [], 0
    for code, (quantity, at) in last.items():
        variant = variants[code]
        if variant["stock"] != quantity:
            stale += 1
            continue
        arrival = after["arrivals"].get(str(variant["id"]))
        if arrival is not None and arrival[1] == quantity:
            latencies.append(max(0.0, arrival[0] - at))
    calls = after["stock_price"] - before["stock_price"]
    return {
        "changes": sent,
        "variants_changed": len(last),
        "drained": settled,
        "drain_s": round(drain_s, 1),
        # The notices (the writes' echoes) read after the outbox drained; the calls are counted once they are.
        "echoes_read": echoes_read,
        "echoes_read_s": round(time.monotonic() - echoes_from, 1),
        "stale_quantity": stale,
        "latency_p50_s": round(percentile(latencies, 0.5), 3),
        "latency_p99_s": round(percentile(latencies, 0.99), 3),
        "stock_price_calls": calls,
        "stock_price_calls_per_change": round(calls / max(1, sent), 3),
        "variants_per_call": round((after["variants"] - before["variants"]) / max(1, calls), 2),
        "calls_per_change": round((after["calls"] - before["calls"]) / max(1, sent), 3),
        "too_many_429": after["too_many"] - before["too_many"],
        "calls_by_kind": kinds(before, after),
    }


def signed(body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """The raw webhook body and its headers, signed as Tiendanube signs them (HMAC-SHA256 with the secret)."""
    raw = json.dumps(body, separators=(",", ":")).encode()
    digest = hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return raw, {"content-type": "application/json", SIGNATURE_HEADER: digest}


def webhook_burst(
    hub: str, standin_url: str, store_id: int, db: Database, args: argparse.Namespace,
    processes: list[subprocess.Popen[bytes]],
) -> dict[str, Any]:  # fmt: skip
    """Phase 3 (see the module docstring)."""
    # Placed with webhooks off in this process: the bench itself posts them, from 8 clients at once.
    standin = open_standin(Path(args.workdir))
    try:
        with standin.store.begin() as tx:
            variant_ids = [v["id"] for p in tx.find("tn_product", store_id) for v in p["variants"]]
        orders = [int(standin.place_order(store_id, [(variant_ids[n % len(variant_ids)], 1)])["id"])
                  for n in range(args.orders)]  # fmt: skip
    finally:
        standin.close()
    bodies = [
        signed({"store_id": store_id, "event": event, "id": oid})
        for oid in orders
        for event in ("order/created", "order/paid")
    ]
    before = stats(standin_url)
    route: list[float] = []
    clients = [httpx.Client(base_url=hub, timeout=30) for _ in range(8)]

    def post(pair: tuple[int, tuple[bytes, dict[str, str]]]) -> None:
        raw, headers = pair[1]
        began = time.perf_counter()
        answer = clients[pair[0] % 8].post(WEBHOOKS_PATH, content=raw, headers=headers)
        route.append(time.perf_counter() - began)
        if answer.status_code != 200:
            raise RuntimeError(f"webhook answered {answer.status_code}: {answer.text[:200]}")

    externals = [str(oid) for oid in orders]

    def stored() -> int:
        with db.reading() as session:
            query = select(func.count()).select_from(Order).where(Order.external_order_id.in_(externals))
            return int(session.scalar(query) or 0)

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(post, enumerate(bodies)))
    posted = time.monotonic() - started
    for client in clients:
        client.close()
    complete = wait_for(lambda: stored() >= len(orders), args.drain, processes)
    elapsed = time.monotonic() - started
    after = stats(standin_url)
    with db.reading() as session:
        distinct = session.scalar(
            select(func.count(func.distinct(Order.external_order_id))).where(Order.external_order_id.in_(externals))
        )
    return {
        "webhooks": len(bodies),
        "posting_s": round(posted, 2),
        "route_p50_ms": round(percentile(route, 0.5) * 1000, 1),
        "route_p99_ms": round(percentile(route, 0.99) * 1000, 1),
        "orders_stored": stored(),
        "orders_distinct": distinct,
        "complete": complete,
        "ingest_s": round(elapsed, 1),
        "orders_per_s": round(stored() / elapsed, 2),
        "calls_per_order": round((after["calls"] - before["calls"]) / max(1, len(orders)), 2),
        "too_many_429": after["too_many"] - before["too_many"],
        "calls_by_kind": kinds(before, after),
    }


def bench(url: str, args: argparse.Namespace) -> dict[str, Any]:
    """One run on the database at ``url``: setup, stock sync, webhook burst."""
    workdir = Path(tempfile.mkdtemp(prefix="alephee-bench-tn-"))
    args.workdir = str(workdir)
    port, standin_port = free_port(), free_port()
    hub, standin_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{standin_port}"
    began = time.monotonic()
    account_id, key, store_id = seed(
        url, workdir, args.products, standin_url, hub, args.plan, same_texts=args.store_texts == "same"
    )
    result: dict[str, Any] = {
        "products": args.products,
        "plan": args.plan,
        "store_texts": args.store_texts,
        "seed_s": round(time.monotonic() - began, 1),
    }
    env = {**environment(url, workdir, hub), **hub_settings(args.hub_setting)}
    processes = [start_standin(workdir, standin_port)]
    try:
        processes += start(env, workdir, port, args.workers)
    except RuntimeError:
        stop(processes)
        raise
    db = Database(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
    try:
        linked_from = stats(standin_url)["calls"]
        result["link"], result["link_s"] = link(env, workdir, account_id, MARKETPLACE)
        result["link_calls"] = stats(standin_url)["calls"] - linked_from
        # The machine's load when the measured phases start (other work on it skews every figure).
        result["load"] = " ".join(f"{n:.2f}" for n in os.getloadavg())
        hub_processes = processes[1:]
        before = cpu_seconds(hub_processes)
        result["stock_sync"] = stock_sync(hub, standin_url, account_id, key, store_id, db, args, processes)
        after = cpu_seconds(hub_processes)
        # The hub's CPU per change sent: what sets how many changes per second one core can take.
        result["stock_sync"]["hub_cpu_ms_per_change"] = round(
            1000 * (sum(after) - sum(before)) / max(1, result["stock_sync"]["changes"]), 2
        )
        result["webhook_burst"] = webhook_burst(hub, standin_url, store_id, db, args, processes)
        result["webhook_burst"]["hub_cpu_ms_per_order"] = round(
            1000 * (sum(cpu_seconds(hub_processes)) - sum(after)) / max(1, args.orders), 2
        )
    finally:
        db.dispose()
        stop(processes)
    return result


def main() -> None:
    """Parse the options, run on SQLite (and PostgreSQL), print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="URL of a PostgreSQL server's database to create a scratch one from")
    parser.add_argument("--products", type=int, default=10_000, help="simple products (one variant each)")
    parser.add_argument("--rate", type=int, default=100, help="stock changes per second")
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--orders", type=int, default=1_000)
    parser.add_argument("--workers", type=int, default=0, help="extra worker processes")
    parser.add_argument("--plan", default="Esencial", help="the store's plan (Next/Evolution: 10x the rate limit)")
    parser.add_argument(
        "--store-texts",
        choices=("same", "different"),
        default="same",
        help="the store's products with the hub's texts (default) or their own (each first delivery edits)",
    )
    parser.add_argument("--drain", type=float, default=600.0, help="seconds to wait for the outbox and the orders")
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--hub-setting", action="append", metavar="NAME=VALUE", help="a hub setting for this run (repeatable)"
    )
    parser.add_argument("--serve-standin", nargs=2, metavar=("WORKDIR", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_standin:
        serve_standin(args.serve_standin[0], int(args.serve_standin[1]))
        return
    results: dict[str, Any] = {}
    sqlite_dir = Path(tempfile.mkdtemp(prefix="alephee-bench-tn-db-"))
    results["sqlite"] = bench(f"sqlite:///{sqlite_dir / 'hub.db'}", args)
    print("sqlite", json.dumps(results["sqlite"]), flush=True)
    if args.postgres:
        url, drop = scratch_postgres(args.postgres, "bench_tn")
        try:
            results["postgresql"] = bench(url, args)
        finally:
            drop()
        print("postgresql", json.dumps(results["postgresql"]), flush=True)
    for backend, found in results.items():
        sync, burst = found["stock_sync"], found["webhook_burst"]
        twice = "none twice" if burst["orders_distinct"] == burst["orders_stored"] else "SOME TWICE"
        print(
            f"{backend} (plan {found['plan']}, load {found['load']}): link {found['products']} products "
            f"{found['link_s']} s; stock sync p50 {sync['latency_p50_s']} s p99 {sync['latency_p99_s']} s, "
            f"{sync['stock_price_calls_per_change']} stock-price calls/change ({sync['variants_per_call']} "
            f"variants/call), {sync['stale_quantity']} stale, {sync['too_many_429']} 429s, hub CPU "
            f"{sync['hub_cpu_ms_per_change']} ms/change; burst: route p99 {burst['route_p99_ms']} ms, "
            f"{burst['orders_per_s']} orders/s, hub CPU {burst['hub_cpu_ms_per_order']} ms/order, "
            f"{burst['orders_distinct']}/{args.orders} orders, {twice}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
