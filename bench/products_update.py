"""Benchmark of POST /v2/products: 500-item batches of mixed stock/price updates over a 100,000-product catalog.

For each backend (SQLite file, PostgreSQL database) it builds the catalog, starts a real ``alephee serve``
process and sends batches through HTTP (items/s), and applies the same kind of updates with the fastest plain
SQL we can write against the same database (the ceiling: SKU lookups and writes in the statements, one
transaction per batch; on SQLite executemany per statement shape, on PostgreSQL one statement per shape over
arrays joined by SKU). Both write the same schema, so the ceiling also pays what the database does on every
product write (the ``product_dates`` triggers). The two phases alternate in rounds; the medians and the median
per-round ratio are printed. Timings are printed, never asserted.

    .venv/bin/python bench/products_update.py [--products 100000] [--batches 40] [--rounds 4] [--concurrency 1]
        [--backends sqlite,postgresql] [--pg postgresql+psycopg://postgres@127.0.0.1:5432]
        [--pg-database alephee_bench_products] [--pg-template alephee_bench_products_template]
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
from machine import cpu_probe_seconds
from pgscratch import drop_database, recreate_database
from sqlalchemy import create_engine, insert, text

from alephee.accounts import service as accounts
from alephee.accounts.schemas import AccountType
from alephee.bootstrap import prepare_database
from alephee.config import Settings
from alephee.db import SCALE, Database
from alephee.products.models import Brand, Product, ProductPrice

BATCH = 500
TAX = Decimal(21)
FOUR = Decimal("0.0001")


# --- catalog ------------------------------------------------------------------------------------------------


def build_catalog(url: str, products: int) -> tuple[int, str, int]:
    """Migrate, create a distributor account with a key and a price list, insert ``products`` products."""
    settings = Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]
    prepare_database(settings)
    db = Database(settings)
    now = datetime.now(UTC)
    with db.writing() as session:
        account = accounts.create_account(session, name="Bench", account_type=AccountType.DISTRIBUTOR)
        _, secret = accounts.create_key(session, [account.id], rate_limit=10_000_000)
        plist = accounts.create_price_list(session, account.id, "General", currency="ARS").id
        brands = []
        for name in ("Bosch", "BUJ", "Philips", "Stanley", "Makita"):
            brand = Brand(account_id=account.id, name=name, name_key=name.lower())
            session.add(brand)
            session.flush()
            brands.append(brand.id)
        account_id = account.id
    rows = []
    for i in range(products):
        rows.append(
            {
                "account_id": account_id,
                "brand_id": brands[i % len(brands)],
                "sku": f"SKU-{i:07d}",
                "own_code": f"ERP-{i:07d}",
                "name": f"Product {i}",
                "product_type": 1,
                "catalog_status": 1,
                "quantity": 100,
                "b2b_quantity": 0,
                "min_publication_quantity": 0,
                "max_publication_quantity": 0,
                "alert_red": 0,
                "alert_yellow": 0,
                "date_updated": now,
                "created_at": now,
            }
        )
    with db.writing() as session:
        for start in range(0, len(rows), 10_000):
            session.execute(insert(Product), rows[start : start + 10_000])
    with db.writing() as session:
        ids = session.execute(text("SELECT id FROM products WHERE account_id = :a"), {"a": account_id}).scalars().all()
        prices = [
            {
                "product_id": pid,
                "price_list_id": plist,
                "price": Decimal(1000),
                "price_with_taxes": Decimal(1210),
                "price_auto": True,
                "suggested_retail_price": Decimal(1210),
                "srp_auto": True,
                "date_updated": now,
            }
            for pid in ids
        ]
        for start in range(0, len(prices), 10_000):
            session.execute(insert(ProductPrice), prices[start : start + 10_000])
    db.dispose()
    if url.startswith("postgresql"):
        # What autovacuum does after a bulk load, at once: without statistics the planner takes the fresh
        # tables for small ones, and the timings would depend on when autovacuum comes by.
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("VACUUM ANALYZE"))
        engine.dispose()
    return account_id, secret, plist


def catalog_from_template(server: str, template: str, name: str, products: int) -> tuple[int, str, int]:
    """The database ``name`` as a copy of ``template`` (built first when missing, kept afterwards), with a new API
    key: A/B runs then start from the same catalog, and a copy takes seconds where building takes a minute."""
    engine = create_engine(f"{server}/postgres")
    with engine.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": template}).first()
    engine.dispose()
    if exists is None:
        build_catalog(recreate_database(server, template), products)
    url = recreate_database(server, name, template=template)
    settings = Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]
    db = Database(settings)
    with db.writing() as session:
        account_id = session.execute(text("SELECT min(id) FROM accounts")).scalar_one()
        plist = session.execute(text("SELECT min(id) FROM price_lists WHERE account_id = :a"), {"a": account_id})
        plist_id = plist.scalar_one()
        _, secret = accounts.create_key(session, [account_id], rate_limit=10_000_000)
    db.dispose()
    return account_id, secret, plist_id


def make_batches(products: int, batches: int, seed: int) -> list[list[dict[str, Any]]]:
    """Mixed updates: absolute quantities, movements, prices, and stock + price together."""
    rng = random.Random(seed)
    out = []
    for _ in range(batches):
        batch = []
        for sku_index in rng.sample(range(products), BATCH):
            sku = f"SKU-{sku_index:07d}"
            kind = rng.random()
            if kind < 0.35:
                item: dict[str, Any] = {"SKU": sku, "Stock": {"Quantity": rng.randint(0, 500)}}
            elif kind < 0.6:
                item = {"SKU": sku, "Stock": {"Movement": rng.randint(-5, 5) or 1}}
            elif kind < 0.85:
                item = {"SKU": sku, "Price": {"PriceWithTaxes": round(rng.uniform(100, 9000), 2)}}
            else:
                item = {
                    "SKU": sku,
                    "Stock": {"Quantity": rng.randint(0, 500)},
                    "Price": {"PriceWithTaxes": round(rng.uniform(100, 9000), 2)},
                }
            batch.append(item)
        out.append(batch)
    return out


# --- HTTP ---------------------------------------------------------------------------------------------------


def start_server(url: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket_port() as port:
        pass
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ALEPHEE_")},
        "ALEPHEE_DATABASE_URL": url,
        "ALEPHEE_LOG_LEVEL": "warning",
        "ALEPHEE_DOCUMENTS_DIR": str(workdir / "documents"),
    }
    exe = Path(sys.executable).with_name("alephee")
    log = (workdir / "server.log").open("wb")
    process = subprocess.Popen(
        [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)], env=env, stdout=log, stderr=log, cwd=workdir
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError((workdir / "server.log").read_text())


class socket_port:
    def __enter__(self) -> int:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        return None


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux ``/proc``; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_http(
    base: str, account_id: int, key: str, batches: list[list[dict[str, Any]]], concurrency: int, pid: int = 0
) -> tuple[float, float]:
    """Items/s of the batches through HTTP with ``concurrency`` client connections, and the server's CPU
    milliseconds per batch (process ``pid``)."""
    params = {"API_KEY": key, "accountId": account_id}
    headers = {"content-type": "application/json"}
    # Bodies are encoded before the clock starts: the client shares the machine with the server.
    bodies = [orjson.dumps(batch) for batch in batches]

    def send(body: bytes, http: httpx.Client) -> None:
        response = http.post("/v2/products", params=params, content=body, headers=headers)
        if response.status_code != 200 or b'"Error":0' not in response.content:
            raise RuntimeError(f"{response.status_code}: {response.text[:300]}")

    clients = [httpx.Client(base_url=base, timeout=120) for _ in range(concurrency)]
    try:
        send(bodies[0], clients[0])  # warm-up (not timed)
        started, cpu = time.perf_counter(), process_cpu(pid)
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(lambda pair: send(pair[1], clients[pair[0] % concurrency]), enumerate(bodies[1:])))
        elapsed, cpu = time.perf_counter() - started, process_cpu(pid) - cpu
    finally:
        for client in clients:
            client.close()
    return (len(batches) - 1) * BATCH / elapsed, cpu * 1000 / (len(batches) - 1)


# --- plain SQL ceiling ----------------------------------------------------------------------------------------


def _split(
    batch: list[dict[str, Any]],
) -> tuple[list[tuple[str, int]], list[tuple[str, int]], list[tuple[str, Decimal]]]:
    absolute, moves, prices = [], [], []
    for item in batch:
        stock, price = item.get("Stock"), item.get("Price")
        if stock and "Quantity" in stock:
            absolute.append((item["SKU"], stock["Quantity"]))
        if stock and "Movement" in stock:
            moves.append((item["SKU"], stock["Movement"]))
        if price:
            prices.append((item["SKU"], Decimal(repr(price["PriceWithTaxes"]))))
    return absolute, moves, prices


def _net(gross: Decimal) -> Decimal:
    return (gross / (1 + TAX / 100)).quantize(FOUR, rounding=ROUND_HALF_UP)


def run_sql_sqlite(path: str, account_id: int, plist: int, batches: list[list[dict[str, Any]]]) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    started = time.perf_counter()
    for batch in batches[1:]:
        now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
        absolute, moves, prices = _split(batch)
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "UPDATE products SET quantity = ?, date_updated = ? WHERE account_id = ? AND sku = ?",
            [(q, now, account_id, sku) for sku, q in absolute],
        )
        conn.executemany(
            "UPDATE products SET quantity = max(quantity + ?, 0), date_updated = ? WHERE account_id = ? AND sku = ?",
            [(d, now, account_id, sku) for sku, d in moves],
        )
        conn.executemany(
            "INSERT INTO product_prices (product_id, price_list_id, price, price_with_taxes, price_auto,"
            " suggested_retail_price, srp_auto, date_updated)"
            " SELECT id, ?, ?, ?, 1, ?, 1, ? FROM products WHERE account_id = ? AND sku = ?"
            " ON CONFLICT (product_id, price_list_id) DO UPDATE SET price = excluded.price,"
            " price_with_taxes = excluded.price_with_taxes, price_auto = 1,"
            " suggested_retail_price = excluded.suggested_retail_price, date_updated = excluded.date_updated",
            [(plist, int(_net(g) * SCALE), int(g * SCALE), int(g * SCALE), now, account_id, sku) for sku, g in prices],
        )
        conn.executemany(
            "UPDATE products SET date_updated = ? WHERE account_id = ? AND sku = ?",
            [(now, account_id, sku) for sku, _ in prices],
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return (len(batches) - 1) * BATCH / elapsed


def run_sql_postgresql(url: str, account_id: int, plist: int, batches: list[list[dict[str, Any]]]) -> float:
    # Two statements per batch over arrays joined by SKU: every product's stock and date in one UPDATE (one run
    # of the product_dates trigger), every price in one upsert. Per-row executemany (pipelined) measured 2.2x
    # slower on this schema: each row's statement runs the statement-level trigger once.
    import psycopg

    conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
    started = time.perf_counter()
    with conn.cursor() as cur:
        for batch in batches[1:]:
            now = datetime.now(UTC)
            absolute, moves, prices = _split(batch)
            quantities, deltas = dict(absolute), dict(moves)
            skus = list(dict.fromkeys([sku for sku, _ in absolute + moves] + [sku for sku, _ in prices]))
            cur.execute(
                "UPDATE products AS p SET quantity = CASE WHEN v.q IS NOT NULL THEN v.q WHEN v.d <> 0"
                " THEN GREATEST(p.quantity + v.d, 0) ELSE p.quantity END, date_updated = %s"
                " FROM unnest(%s::text[], %s::integer[], %s::integer[]) AS v(sku, q, d)"
                " WHERE p.account_id = %s AND p.sku = v.sku",
                (now, skus, [quantities.get(s) for s in skus], [deltas.get(s, 0) for s in skus], account_id),
            )
            cur.execute(
                "INSERT INTO product_prices (product_id, price_list_id, price, price_with_taxes, price_auto,"
                " suggested_retail_price, srp_auto, date_updated)"
                " SELECT p.id, %s, v.net, v.gross, true, v.gross, true, %s"
                " FROM unnest(%s::text[], %s::numeric[], %s::numeric[]) AS v(sku, net, gross)"
                " JOIN products AS p ON p.account_id = %s AND p.sku = v.sku"
                " ON CONFLICT (product_id, price_list_id) DO UPDATE SET price = excluded.price,"
                " price_with_taxes = excluded.price_with_taxes, price_auto = true,"
                " suggested_retail_price = excluded.suggested_retail_price, date_updated = excluded.date_updated",
                (
                    plist,
                    now,
                    [sku for sku, _ in prices],
                    [_net(g) for _, g in prices],
                    [g for _, g in prices],
                    account_id,
                ),
            )
            conn.commit()
    elapsed = time.perf_counter() - started
    conn.close()
    return (len(batches) - 1) * BATCH / elapsed


# --- main -----------------------------------------------------------------------------------------------------


def bench_backend(backend: str, args: argparse.Namespace, workdir: Path) -> dict[str, float]:
    """Alternate HTTP and plain-SQL rounds over the same database, so a busy machine slows both alike; report
    the median rates and the median of the per-round ratios."""
    if backend == "sqlite":
        path = str(workdir / "bench.db")
        url = f"sqlite:///{path}"
    else:
        name = args.pg_database
        url = recreate_database(args.pg, name)
    started = time.perf_counter()
    if backend == "postgresql" and args.pg_template:
        account_id, key, plist = catalog_from_template(args.pg, args.pg_template, name, args.products)
        url = f"{args.pg}/{name}"
    else:
        account_id, key, plist = build_catalog(url, args.products)
    print(f"[{backend}] catalog of {args.products} products built in {time.perf_counter() - started:.1f}s", flush=True)
    per_round = max(2, args.batches // args.rounds)
    http_rates: list[float] = []
    sql_rates: list[float] = []
    server_cpu: list[float] = []
    process, base = start_server(url, workdir)
    try:
        for number in range(args.rounds):
            # +1: the first batch of each phase is a warm-up, not timed.
            http_batches = make_batches(args.products, per_round + 1, seed=2 * number + 1)
            sql_batches = make_batches(args.products, per_round + 1, seed=2 * number + 2)
            rate, cpu = run_http(base, account_id, key, http_batches, args.concurrency, process.pid)
            http_rates.append(rate)
            server_cpu.append(cpu)
            if backend == "sqlite":
                sql_rates.append(run_sql_sqlite(path, account_id, plist, sql_batches))
            else:
                sql_rates.append(run_sql_postgresql(url, account_id, plist, sql_batches))
            print(
                f"[{backend}] round {number + 1}: HTTP {http_rates[-1]:,.0f} items/s"
                f" (server CPU {server_cpu[-1]:.1f} ms per batch), SQL {sql_rates[-1]:,.0f} items/s",
                flush=True,
            )
    finally:
        process.terminate()
        process.wait(timeout=30)
        if backend == "postgresql":
            drop_database(args.pg, name)
    result = {
        "http": statistics.median(http_rates),
        "sql": statistics.median(sql_rates),
        "ratio": statistics.median(h / q for h, q in zip(http_rates, sql_rates, strict=True)),
        "cpu": statistics.median(server_cpu),
    }
    print(
        f"[{backend}] median HTTP {result['http']:,.0f} items/s | plain SQL {result['sql']:,.0f} items/s"
        f" | ratio {result['ratio']:.2f} | server CPU {result['cpu']:.1f} ms per batch"
        f" | load {os.getloadavg()[0]:.2f}, machine probe {cpu_probe_seconds():.3f} s",
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--batches", type=int, default=40, help="timed batches of 500 items per phase, in total")
    parser.add_argument("--rounds", type=int, default=4, help="alternating HTTP/SQL rounds")
    parser.add_argument("--concurrency", type=int, default=1, help="HTTP client connections")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--pg", default=os.environ.get("ALEPHEE_TEST_PG_SERVER", "postgresql+psycopg://postgres@127.0.0.1:5432")
    )
    parser.add_argument("--pg-database", default="alephee_bench_products", help="created, and dropped at the end")
    parser.add_argument(
        "--pg-template",
        default=None,
        help="copy the PostgreSQL catalog from this database (built there first when missing; kept: drop it yourself)",
    )
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="alephee-bench-") as tmp:
        for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
            results[backend] = bench_backend(backend, args, Path(tmp))
    print()
    print(f"{'backend':<12}{'HTTP items/s':>14}{'SQL items/s':>14}{'ratio':>8}")
    for backend, r in results.items():
        print(f"{backend:<12}{r['http']:>14,.0f}{r['sql']:>14,.0f}{r['ratio']:>8.2f}")


if __name__ == "__main__":
    main()
