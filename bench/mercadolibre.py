"""The Mercado Libre connector under load, against the local stand-in on loopback (nothing leaves the machine).

    .venv/bin/python bench/mercadolibre.py [--postgres URL] [--listings 10000] [--rate 100] [--duration 60]
                                           [--orders 1000] [--workers 0] [--standin own|shared] [--json out.json]

1. **Setup**: a seller with ``--listings`` products; the same number of items already on the stand-in with the
   products' SKUs as ``SELLER_SKU`` (the seller had them before connecting); the account connected; one
   ``alephee serve --with-worker`` process serving the hub (plus ``--workers`` extra ``alephee worker``
   processes); the stand-in in a process of its own (``--standin own``, the default: Mercado Libre is not the
   hub and must not share its CPU) or served by the hub's process at ``/_standin/mercadolibre``
   (``--standin shared``, as ``alephee demo`` runs it); ``alephee channel sync`` links every item to its
   product (timed).
2. **Stock sync**: ``--rate`` stock changes per second for ``--duration`` seconds through ``POST /v2/products``
   (batches of a tenth of the rate every 100 ms; a fifth of the changes on 20 hot SKUs, the rest spread), then
   until the outbox is empty and the inbox has read the pushes' echoes (``echoes_s``). For each item the
   stand-in's ``last_updated`` minus the moment its last change was sent is one latency sample (p50, p99); every
   item must end with the quantity last sent. ``PUTs per change`` = items the stand-in saw change / changes sent
   (coalescing keeps it under 1).
3. **Order burst**: ``--orders`` purchases on the stand-in, then their ``orders_v2`` notifications posted to the
   hub by 8 clients at once: the notification route's latency (p50, p99; the aim is well under 500 ms), and
   orders ingested per second from the first notification to the last order stored — none lost, none twice; the
   hub's CPU per order to that moment and once the pushes and echoes the sales caused are done too, with ``PUT
   /items`` and echo reads per order (a sale whose stock Mercado Libre already lowered should cause neither).

Run once per database: SQLite always, PostgreSQL when ``--postgres`` names a server (a scratch database is
created and dropped there).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
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
from machine import cpu_probe_seconds
from sqlalchemy import delete, func, insert, select

from alephee.accounts import service as accounts
from alephee.accounts.schemas import AccountType
from alephee.bootstrap import prepare_database
from alephee.channels import connections
from alephee.channels.mercadolibre.auth import STANDIN
from alephee.channels.mercadolibre.routes import NOTIFICATIONS_PATH
from alephee.channels.mercadolibre.standin.app import MercadoLibreStandIn, create_app
from alephee.channels.standin_store import documents
from alephee.config import Settings
from alephee.db import Database
from alephee.marketplaces.models import NOTICE_IN_FLIGHT, NOTICE_PENDING, ChannelNotification, OutboxMessage
from alephee.orders.models import Order
from alephee.products.models import Brand, Product, ProductPrice

APP = "5387223166827464"
SECRET = "bench-secret"
HOT = 20


def environment(url: str, workdir: Path, hub: str) -> dict[str, str]:
    """The hub's environment: the database, the stand-in's file, no market (the bench is the market)."""
    return hub_environment(
        url,
        workdir,
        hub,
        {
            "ALEPHEE_MERCADOLIBRE_CLIENT_ID": APP,
            "ALEPHEE_MERCADOLIBRE_CLIENT_SECRET": SECRET,
            "ALEPHEE_MERCADOLIBRE_STANDIN_PATH": str(workdir / "standin.sqlite3"),
            "ALEPHEE_MERCADOLIBRE_STANDIN_MARKET_SECONDS": "0",
        },
    )


def seed(url: str, workdir: Path, listings: int, api_base: str) -> tuple[int, str]:
    """Migrate; the seller, its products and prices; the stand-in's items; the connection to ``api_base``.
    (account, key)"""
    settings = Settings(database_url=url, secret_key=KEY, _env_file=None)  # type: ignore[call-arg]
    prepare_database(settings)
    db = Database(settings)
    now = datetime.now(UTC)
    with db.writing() as session:
        account = accounts.create_account(session, name="Bench ML", account_type=AccountType.SELLER)
        _, key = accounts.create_key(session, [account.id], rate_limit=10_000_000)
        plist = accounts.create_price_list(session, account.id, "General", currency="ARS").id
        brand = Brand(account_id=account.id, name="Bosch", name_key="bosch")
        session.add(brand)
        session.flush()
        account_id, brand_id = account.id, brand.id
        accounts.add_marketplace(session, account_id, 1)
    base = {"brand_id": brand_id, "product_type": 1, "catalog_status": 1, "b2b_quantity": 0, "quantity": 100,
            "min_publication_quantity": 0, "max_publication_quantity": 0, "alert_red": 0, "alert_yellow": 0,
            "date_updated": now, "created_at": now, "account_id": account_id}  # fmt: skip
    with db.writing() as session:
        rows = [base | {"sku": f"ML-{i:06d}", "name": f"Producto {i}"} for i in range(listings)]
        for start in range(0, len(rows), 5_000):
            session.execute(insert(Product), rows[start : start + 5_000])
    with db.writing() as session:
        ids = session.scalars(select(Product.id).where(Product.account_id == account_id)).all()
        prices = [{"product_id": pid, "price_list_id": plist, "price": Decimal(1000), "price_with_taxes": Decimal(1210),
                   "price_auto": True, "suggested_retail_price": Decimal(1210), "srp_auto": True,
                   "date_updated": now} for pid in ids]  # fmt: skip
        for start in range(0, len(prices), 5_000):
            session.execute(insert(ProductPrice), prices[start : start + 5_000])
    standin = MercadoLibreStandIn(workdir / "standin.sqlite3", client_id=APP, client_secret=SECRET)
    bodies = [
        {"title": f"Producto {i}", "category_id": "MLA3530", "price": 1210, "currency_id": "ARS",
         "available_quantity": 100, "buying_mode": "buy_it_now", "condition": "new",
         "listing_type_id": "gold_special", "pictures": [{"source": f"https://img.bench.example/{i}.jpg"}],
         "attributes": [{"id": "BRAND", "value_name": "Bosch"}, {"id": "SELLER_SKU", "value_name": f"ML-{i:06d}"}]}
        for i in range(listings)
    ]  # fmt: skip
    for start in range(0, listings, 1_000):
        standin.create_items(bodies[start : start + 1_000])
    # The items existed before the hub was connected: their creation is no news for it.
    with standin.store.begin() as tx:
        tx.conn.execute(delete(documents).where(documents.c.kind == "feed"))
    grant = standin.issue_token()
    with db.writing() as session:
        connections.store_grant(
            session,
            settings,
            connections.Grant(account_id=account_id, marketplace_id=1, connector="mercadolibre",
                              access_token=str(grant["access_token"]), refresh_token=str(grant["refresh_token"]),
                              expires_in=int(grant["expires_in"]), seller_id=standin.seller.id,
                              nickname=standin.seller.nickname, site_id="MLA", api_base=api_base),
        )  # fmt: skip
    standin.close()
    db.dispose()
    return account_id, key


def serve_standin(path: str, port: int, notifications: str) -> None:
    """The stand-in alone in this process (``--serve-standin``), pushing its notifications to the hub."""
    import uvicorn

    standin = MercadoLibreStandIn(path, client_id=APP, client_secret=SECRET, notifications_url=notifications)
    try:
        uvicorn.run(create_app(standin), host="127.0.0.1", port=port, log_level="warning", access_log=False)
    finally:
        standin.close()


def start_standin(workdir: Path, port: int, hub: str) -> subprocess.Popen[bytes]:
    """The stand-in in a process of its own (see ``serve_standin``); waits until it answers."""
    log = (workdir / "standin.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve-standin", str(workdir / "standin.sqlite3"), str(port),
         hub + NOTIFICATIONS_PATH],
        stdout=log, stderr=log, cwd=workdir,
    )  # fmt: skip
    return wait_answering(f"http://127.0.0.1:{port}/users/me", process, workdir / "standin.log")


def drained(db: Database) -> bool:
    """Whether the outbox of Mercado Libre (marketplace 1) has nothing left to deliver."""
    with db.reading() as session:
        open_rows = OutboxMessage.status.in_(("pending", "in_flight")) & (OutboxMessage.marketplace_id == 1)
        waiting = session.scalar(select(func.count()).select_from(OutboxMessage).where(open_rows))
    return waiting == 0


def echoes_read(db: Database) -> bool:
    """Whether the inbox has nothing left to read."""
    with db.reading() as session:
        open_notices = ChannelNotification.status.in_((NOTICE_PENDING, NOTICE_IN_FLIGHT))
        return not session.scalar(select(func.count()).select_from(ChannelNotification).where(open_notices))


def pushes_and_echo_reads(db: Database, standin: MercadoLibreStandIn) -> tuple[int, int]:
    """``PUT /items`` the stand-in took so far (the ``items`` notifications it delivered to the hub: one per change
    of an item the bench did not make itself, whose own purchases deliver nothing) and the ``items`` notices the
    hub's inbox read so far (its rows' attempts)."""
    with standin.store.begin() as tx:
        pushes = sum(1 for body in tx.find("feed") if body["notice"]["topic"] == "items" and body["request"])
    with db.reading() as session:
        reads = session.scalar(
            select(func.sum(ChannelNotification.attempts)).where(ChannelNotification.topic == "items")
        )
    return pushes, int(reads or 0)


def stock_sync(
    hub: str, account_id: int, key: str, db: Database, standin: MercadoLibreStandIn, args: argparse.Namespace,
    processes: list[subprocess.Popen[bytes]],
) -> dict[str, Any]:  # fmt: skip
    """Phase 2 (see the module docstring)."""
    rng = random.Random(11)
    per_tick = max(1, args.rate // 10)
    ticks = int(args.duration * 10)
    last: dict[str, tuple[int, float]] = {}
    posts: list[float] = []
    sent = 0
    params = {"API_KEY": key, "accountId": account_id}
    with httpx.Client(base_url=hub, timeout=60) as http:
        began = time.monotonic()
        for tick in range(ticks):
            batch = []
            for _ in range(per_tick):
                index = rng.randrange(HOT) if rng.random() < 0.2 else rng.randrange(args.listings)
                sku = f"ML-{index:06d}"
                quantity = rng.randint(1, 500)
                batch.append({"SKU": sku, "Stock": {"Quantity": quantity}})
            at = time.time()
            answer = http.post("/v2/products", params=params, json=batch)
            posts.append(time.time() - at)
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

    settled = wait_for(lambda: drained(db), 180, processes)
    # The pushes' echoes (``items`` notifications read back) are still in the inbox when the outbox is empty: the
    # order burst starts once they are read too, so it measures orders, not the stock phase's leftovers.
    echoes_began = time.monotonic()
    echoes_settled = wait_for(lambda: echoes_read(db), 300, processes)
    echoes_s = time.monotonic() - echoes_began
    with standin.store.begin() as tx:
        items = {item["attributes"][1]["value_name"]: item for item in tx.find("item")}
        changed = sum(1 for body in tx.find("feed") if body["notice"]["topic"] == "items")
    latencies, wrong = [], 0
    for sku, (quantity, at) in last.items():
        item = items[sku]
        if item["available_quantity"] != quantity:
            wrong += 1
            continue
        arrived = datetime.fromisoformat(item["last_updated"].replace("Z", "+00:00")).timestamp()
        latencies.append(max(0.0, arrived - at))
    return {
        "changes": sent,
        "items_changed": len(last),
        "drained": settled,
        # How long the hub still read the pushes' echoes after the outbox was empty.
        "echoes_read": echoes_settled,
        "echoes_s": round(echoes_s, 1),
        "wrong_final_quantity": wrong,
        "latency_p50_s": round(percentile(latencies, 0.5), 3),
        "latency_p99_s": round(percentile(latencies, 0.99), 3),
        # The ERP's POST /v2/products of a batch (its changes are in the outbox when it answers).
        "post_p50_ms": round(percentile(posts, 0.5) * 1000, 1),
        "post_p99_ms": round(percentile(posts, 0.99) * 1000, 1),
        # No change sent (``--duration 0``, only the order burst measured): no ratio.
        "puts_per_change": round(changed / sent, 3) if sent else None,
    }


def order_burst(
    hub: str, db: Database, standin: MercadoLibreStandIn, args: argparse.Namespace,
    processes: list[subprocess.Popen[bytes]], hub_cpu: Callable[[], float],
) -> dict[str, Any]:  # fmt: skip
    """Phase 3 (see the module docstring). The hub's CPU per order is counted from the first notification to the
    last order stored; then the bench waits for the pushes the sales caused and their echoes, and counts them."""
    pushes_before, reads_before = pushes_and_echo_reads(db, standin)
    load = " ".join(f"{n:.2f}" for n in os.getloadavg())
    cpu_before = hub_cpu()
    with standin.store.begin() as tx:
        item_ids = [item["id"] for item in tx.find("item")][: args.orders]
    orders = [standin.buy(item_ids[n % len(item_ids)], 1)["id"] for n in range(args.orders)]
    seller = standin.seller.id
    bodies = [
        {"resource": f"/orders/{oid}", "user_id": seller, "topic": "orders_v2", "application_id": int(APP),
         "attempts": 1, "sent": "2026-12-04T10:00:00.000Z", "received": "2026-12-04T10:00:00.000Z"}
        for oid in orders
    ]  # fmt: skip
    route: list[float] = []
    clients = [httpx.Client(base_url=hub, timeout=30) for _ in range(8)]

    def post(pair: tuple[int, dict[str, Any]]) -> None:
        began = time.perf_counter()
        answer = clients[pair[0] % 8].post("/channels/mercadolibre/notifications", json=pair[1])
        route.append(time.perf_counter() - began)
        if answer.status_code != 200:
            raise RuntimeError(f"notification answered {answer.status_code}: {answer.text[:200]}")

    externals = [str(oid) for oid in orders]

    def stored() -> int:
        with db.reading() as session:
            return int(
                session.scalar(select(func.count()).select_from(Order).where(Order.external_order_id.in_(externals)))
                or 0
            )

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(post, enumerate(bodies)))
    posted = time.monotonic() - started
    for client in clients:
        client.close()
    complete = wait_for(lambda: stored() >= len(orders), 300, processes)
    elapsed = time.monotonic() - started
    cpu_stored = hub_cpu()
    # What the sales leave behind: the pushes of the stock they moved and those pushes' echoes.
    settled = wait_for(lambda: drained(db), 180, processes)
    settled = wait_for(lambda: echoes_read(db), 300, processes) and settled
    cpu_settled = hub_cpu()
    pushes_after, reads_after = pushes_and_echo_reads(db, standin)
    with db.reading() as session:
        distinct = session.scalar(
            select(func.count(func.distinct(Order.external_order_id))).where(Order.external_order_id.in_(externals))
        )
    return {
        "load": load,
        "notifications": len(bodies),
        "posting_s": round(posted, 2),
        "route_p50_ms": round(percentile(route, 0.5) * 1000, 1),
        "route_p99_ms": round(percentile(route, 0.99) * 1000, 1),
        "orders_stored": stored(),
        "orders_distinct": distinct,
        "complete": complete,
        "orders_per_s": round(stored() / elapsed, 1),
        "hub_cpu_ms_per_order": round(1000 * (cpu_stored - cpu_before) / max(1, len(orders)), 2),
        # Including the pushes and echoes the sales caused, read after the last order was stored.
        "settled": settled,
        "hub_cpu_ms_per_order_settled": round(1000 * (cpu_settled - cpu_before) / max(1, len(orders)), 2),
        "puts_per_order": round((pushes_after - pushes_before) / max(1, len(orders)), 3),
        "echo_reads_per_order": round((reads_after - reads_before) / max(1, len(orders)), 3),
    }


def bench(url: str, args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="alephee-bench-ml-"))
    port = free_port()
    hub = f"http://127.0.0.1:{port}"
    own = args.standin == "own"
    standin_port = free_port()
    began = time.monotonic()
    account_id, key = seed(url, workdir, args.listings, f"http://127.0.0.1:{standin_port}" if own else STANDIN)
    result: dict[str, Any] = {
        "listings": args.listings,
        "standin": args.standin,
        "seed_s": round(time.monotonic() - began, 1),
    }
    env = {**environment(url, workdir, hub), **hub_settings(args.hub_setting)}
    processes = [start_standin(workdir, standin_port, hub)] if own else []
    try:
        processes += start(env, workdir, port, args.workers)
    except RuntimeError:
        stop(processes)
        raise
    settings = Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]
    db = Database(settings)
    standin = MercadoLibreStandIn(workdir / "standin.sqlite3", client_id=APP, client_secret=SECRET)
    try:
        result["link"], result["link_s"] = link(env, workdir, account_id, 1)
        # The machine's load when the measured phases start (other work on it skews every figure).
        result["load"] = " ".join(f"{n:.2f}" for n in os.getloadavg())
        result["machine_cpu_probe_s"] = cpu_probe_seconds()
        hub_processes = processes[1:] if own else processes
        before = cpu_seconds(hub_processes)
        result["stock_sync"] = stock_sync(hub, account_id, key, db, standin, args, processes)
        after = cpu_seconds(hub_processes)
        # The hub's CPU per change sent: what sets how many changes per second one core can take.
        # No change sent (``--duration 0``): the phase's CPU is the echo wait's idle rounds, not a change's cost.
        changes = result["stock_sync"]["changes"]
        result["stock_sync"]["hub_cpu_ms_per_change"] = (
            round(1000 * (sum(after) - sum(before)) / changes, 2) if changes else None
        )
        result["order_burst"] = order_burst(hub, db, standin, args, processes, lambda: sum(cpu_seconds(hub_processes)))
    finally:
        standin.close()
        db.dispose()
        stop(processes)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="URL of a PostgreSQL server's database to create a scratch one from")
    parser.add_argument("--listings", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=100, help="stock changes per second")
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--orders", type=int, default=1_000)
    parser.add_argument("--workers", type=int, default=0, help="extra worker processes")
    parser.add_argument(
        "--standin", choices=("own", "shared"), default="own",
        help="the stand-in in a process of its own, or served by the hub's process",
    )  # fmt: skip
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--hub-setting", action="append", metavar="NAME=VALUE", help="a hub setting for this run (repeatable)"
    )
    parser.add_argument("--skip-sqlite", action="store_true", help="with --postgres, measure PostgreSQL only")
    parser.add_argument("--db-prefix", default="bench_ml", help="with --postgres, the scratch database's name prefix")
    parser.add_argument("--serve-standin", nargs=3, metavar=("PATH", "PORT", "NOTIFICATIONS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_standin:
        serve_standin(args.serve_standin[0], int(args.serve_standin[1]), args.serve_standin[2])
        return
    results: dict[str, Any] = {}
    if not (args.skip_sqlite and args.postgres):
        sqlite_dir = Path(tempfile.mkdtemp(prefix="alephee-bench-ml-db-"))
        results["sqlite"] = bench(f"sqlite:///{sqlite_dir / 'hub.db'}", args)
        print("sqlite", json.dumps(results["sqlite"]), flush=True)
    if args.postgres:
        url, drop = scratch_postgres(args.postgres, args.db_prefix)
        try:
            results["postgresql"] = bench(url, args)
        finally:
            drop()
        print("postgresql", json.dumps(results["postgresql"]), flush=True)
    for backend, found in results.items():
        sync, burst = found["stock_sync"], found["order_burst"]
        twice = "none twice" if burst["orders_distinct"] == burst["orders_stored"] else "SOME TWICE"
        print(
            f"{backend} (stand-in {found['standin']}, load {found['load']}): link {found['listings']} items "
            f"{found['link_s']} s; stock sync p50 {sync['latency_p50_s']} s "
            f"p99 {sync['latency_p99_s']} s (aim < 2), {sync['puts_per_change']} PUTs/change, "
            f"{sync['wrong_final_quantity']} wrong, hub CPU {sync['hub_cpu_ms_per_change']} ms/change; "
            f"burst: route p99 {burst['route_p99_ms']} ms (aim < 500), {burst['orders_per_s']} orders/s "
            f"(aim >= 100), hub CPU {burst['hub_cpu_ms_per_order']} ms/order "
            f"({burst['hub_cpu_ms_per_order_settled']} with what the sales left, load {burst['load']}), "
            f"{burst['puts_per_order']} PUTs/order, {burst['echo_reads_per_order']} echo reads/order, "
            f"{burst['orders_distinct']}/{burst['notifications']} orders, {twice}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
