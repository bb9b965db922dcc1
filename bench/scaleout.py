"""Scale-out on one PostgreSQL + Redis: API throughput with 1, 2, 4 server processes, outbox deliveries per second
with 1 and 2 worker processes.

    .venv/bin/python bench/scaleout.py [--processes 1,2,4] [--seconds 20] [--workers 1,2] [--messages 2000]
        [--orders 20000] [--products 20000] [--json out.json]

API phase: the orders database of ``bench/orders_data.py`` (``--orders`` orders, 2,000 of them not integrated)
plus a catalog of ``--products`` products (``bench/products_update.py``'s, its own account). For each process
count N, one ``alephee serve --workers N`` (uvicorn's processes share the port) answers:

* ``GET /v2/orders`` (not integrated, pages of 100, walked round-robin) from 8 keep-alive connections for
  ``--seconds`` seconds: requests/s, p50/p99 (the loader of ``bench/orders_read.py``);
* ``POST /v2/products``: 500-item mixed stock/price batches from ``2 N`` connections (the batches of
  ``bench/products_update.py``): items/s.

With no writes during the GET phase every poll after the first finds the database unchanged (``db.StateCache``),
as a quiet shop's polling does. The hub's CPU per request (user + system of the server and its children, from
``/proc``) is printed with every figure: on a shared machine it moves far less than throughput.

Outbox phase: a scratch database with the demo tenant (its listings on the sandbox marketplace). For each worker
count W: stock changes of every SKU, applied in-process, fill the outbox with about ``--messages`` listing
updates (several per listing); then W ``alephee worker`` processes deliver them to the sandbox. Deliveries/s =
rows delivered / (last - first ``delivered_at``); the workers' CPU per delivery includes their start-up (an
upper bound). Checks on the delivered rows: every row claimed once (``attempts`` = 1: none delivered twice)
and, per listing, ``delivered_at`` never earlier than that of a row with a smaller id (order per aggregate
kept).

Two cores run the load generator, the servers, PostgreSQL and Redis: the curve flattens early and moves with
the machine's load (printed with every figure).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from channel_bench import EXE, free_port, percentile, scratch_postgres, stop, wait_answering, wait_for
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and its live descendants (uvicorn's workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError, IndexError):
            continue
    return total


def environment(url: str, redis: str) -> dict[str, str]:
    """The hub's settings for the run's processes (and nothing else of the caller's ALEPHEE_*)."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("ALEPHEE_")},
        "ALEPHEE_DATABASE_URL": url,
        "ALEPHEE_REDIS_URL": redis,
        "ALEPHEE_RATE_LIMIT_NAMESPACE": f"scaleout-{os.getpid()}",
        "ALEPHEE_LOG_LEVEL": "WARNING",
    }


def serve(env: dict[str, str], workdir: Path, processes: int) -> tuple[subprocess.Popen[bytes], int]:
    """``alephee serve --workers N`` on a free port, once each of its N processes has started (uvicorn logs
    "Application startup complete." once per process at INFO)."""
    port = free_port()
    log = workdir / f"serve-{processes}.log"
    log.unlink(missing_ok=True)
    process = subprocess.Popen(
        [EXE, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(processes)],
        env={**env, "ALEPHEE_LOG_LEVEL": "INFO"},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        cwd=workdir,
    )
    # N processes import the application at once: on a loaded 2-core machine that takes minutes.
    wait_for(lambda: log.read_text().count("Application startup complete.") >= processes, 300, [process])
    wait_answering(f"http://127.0.0.1:{port}/health", process, log)
    return process, port


def api_round(
    env: dict[str, str], workdir: Path, processes: int, args: argparse.Namespace, data: dict[str, Any]
) -> dict[str, Any]:
    """GET /v2/orders and POST /v2/products against ``processes`` server processes."""
    import orders_read
    import products_update

    process, port = serve(env, workdir, processes)
    try:
        cpu0, began = tree_cpu(process.pid), time.perf_counter()
        latencies = asyncio.run(orders_read.load(port, data["targets"], 8, args.seconds))
        elapsed = time.perf_counter() - began
        get_cpu = tree_cpu(process.pid) - cpu0
        batches = products_update.make_batches(args.products, args.batches_per_process * processes + 1, processes)
        cpu0, began = tree_cpu(process.pid), time.perf_counter()
        items = products_update.run_http(
            f"http://127.0.0.1:{port}", data["account_id"], data["key"], batches, 2 * processes
        )
        post_cpu = tree_cpu(process.pid) - cpu0
    finally:
        stop([process])
    return {
        "processes": processes,
        "load_average": round(os.getloadavg()[0], 2),
        "get_orders": {
            "rps": round(len(latencies) / elapsed, 1),
            "p50_ms": round(percentile(latencies, 0.5), 1),
            "p99_ms": round(percentile(latencies, 0.99), 1),
            "cpu_ms_per_request": round(1000 * get_cpu / max(1, len(latencies)), 2),
        },
        "post_products": {
            "items_per_s": round(items, 1),
            "cpu_ms_per_item": round(1000 * post_cpu / ((len(batches) - 1) * products_update.BATCH), 3),
        },
    }


FOOTPRINT_TABLES = ("orders", "products", "product_prices", "listings", "outbox", "audit_log", "webhook_events")


def footprint(url: str) -> dict[str, Any]:
    """Rows, bytes per row (table + TOAST + indexes: ``pg_total_relation_size``) and the index share of the
    tables that grow with the business, after VACUUM ANALYZE."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    out: dict[str, Any] = {}
    try:
        with engine.connect() as conn:
            for table in FOOTPRINT_TABLES:
                conn.execute(text(f"VACUUM ANALYZE {table}"))
                rows = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                total, indexes = conn.execute(
                    text("SELECT pg_total_relation_size(:t), pg_indexes_size(:t)"), {"t": table}
                ).one()
                out[table] = {
                    "rows": rows,
                    "bytes_per_row": round(total / rows) if rows else None,
                    "index_bytes_per_row": round(indexes / rows) if rows else None,
                }
    finally:
        engine.dispose()
    return out


def api_phase(args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    """Build (or reuse) the orders database, add the catalog, run every process count."""
    import orders_data
    import products_update

    target = orders_data.Target("postgresql", args.orders)
    orders_data.generate(target)
    account_id, key, _ = products_update.build_catalog(target.url, args.products)
    auth = {"API_KEY": orders_data.API_KEY, "accountId": 1}
    pages = range(0, orders_data.BACKLOG, 100)
    targets = ["/v2/orders?" + urlencode({**auth, "Integrated": "false", "offset": o}) for o in pages]
    data = {"targets": targets, "account_id": account_id, "key": key}
    env = environment(target.url, args.redis)
    rounds: list[dict[str, Any]] = [{"footprint": footprint(target.url)}]
    print(json.dumps(rounds[-1]), file=sys.stderr)
    for processes in args.processes:
        rounds.append(api_round(env, workdir, processes, args, data))
        print(json.dumps(rounds[-1]), file=sys.stderr)
    return rounds


# --- outbox -------------------------------------------------------------------------------------------------


def run_cli(env: dict[str, str], workdir: Path, *args: str) -> Any:
    """An ``alephee`` command's JSON output (its last line)."""
    done = subprocess.run([EXE, *args], env=env, capture_output=True, text=True, timeout=900, cwd=workdir)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return json.loads(lines[-1]) if lines else None


def fill(url: str, account_id: int, messages: int, seed: int) -> tuple[int, int]:
    """Change the stock of every SKU with listings, round after round, until about ``messages`` outbox rows
    wait; returns the ids the rows written lie between (first excluded, last included)."""
    from alephee.config import Settings
    from alephee.db import Database
    from alephee.products.bulk_update import update_products

    settings = Settings(database_url=url, _env_file=None, log_level="WARNING")  # type: ignore[call-arg]
    db = Database(settings)
    rng = random.Random(seed)
    try:
        with db.reading() as session:
            first = session.execute(text("SELECT coalesce(max(id), 0) FROM outbox")).scalar_one()
            skus = list(
                session.execute(
                    text(
                        "SELECT DISTINCT p.sku FROM products p JOIN listings l ON l.product_id = p.id "
                        "WHERE p.account_id = :a AND p.product_type IN (1, 5)"
                    ),
                    {"a": account_id},
                ).scalars()
            )
        waiting, last = 0, first
        while waiting < messages:
            items = [{"SKU": sku, "Stock": {"Quantity": rng.randrange(1, 500)}} for sku in skus]
            with db.writing() as session:
                update_products(session, settings, account_id, None, items)
            with db.reading() as session:
                waiting, last = session.execute(
                    text("SELECT count(*), max(id) FROM outbox WHERE id > :f"), {"f": first}
                ).one()
        return int(first), int(last)
    finally:
        db.dispose()


def check(url: str, after: int, last: int) -> dict[str, Any]:
    """Deliveries/s and the checks over the rows with ids in (``after``, ``last``]."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT id, aggregate_type, aggregate_id, status, attempts, delivered_at "
                    "FROM outbox WHERE id > :a AND id <= :l ORDER BY id"
                ),
                {"a": after, "l": last},
            ).all()
    finally:
        engine.dispose()
    delivered = [r for r in rows if r.status == "delivered"]
    latest: dict[tuple[str, int], Any] = {}
    out_of_order = 0
    for row in delivered:
        aggregate = (row.aggregate_type, row.aggregate_id)
        if aggregate in latest and row.delivered_at < latest[aggregate]:
            out_of_order += 1
        latest[aggregate] = row.delivered_at
    stamps = [r.delivered_at for r in delivered]
    span = (max(stamps) - min(stamps)).total_seconds() if len(stamps) > 1 else 0.0
    return {
        "messages": len(rows),
        "delivered": len(delivered),
        "aggregates": len(latest),
        "deliveries_per_s": round(len(delivered) / span, 1) if span else None,
        "claimed_more_than_once": sum(1 for r in delivered if r.attempts > 1),
        "out_of_order_per_aggregate": out_of_order,
    }


def outbox_phase(args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    """Demo tenant in a scratch database; for each worker count, fill the outbox and drain it."""
    url, drop = scratch_postgres(PG_SERVER + "/postgres", "scaleout_outbox")
    # Only the sandbox marketplace: the demo's Mercado Libre and Tiendanube stand-ins live in a serving hub.
    env = {**environment(url, args.redis), "ALEPHEE_DEMO_MERCADOLIBRE": "false", "ALEPHEE_DEMO_TIENDANUBE": "false"}
    rounds = []
    try:
        run_cli(env, workdir, "db", "upgrade")
        account_id = int(run_cli(env, workdir, "demo")["AccountId"])
        run_cli(env, workdir, "worker", "--once")  # the demo's listing creations reach the sandbox
        for workers in args.workers:
            after, last = fill(url, account_id, args.messages, seed=workers)
            load = os.getloadavg()[0]
            log = (workdir / f"worker-{workers}.log").open("ab")
            processes = [
                subprocess.Popen([EXE, "worker"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
                for _ in range(workers)
            ]
            engine = create_engine(url)
            cpu = 0.0
            try:
                deadline = time.monotonic() + 900
                while time.monotonic() < deadline:
                    with engine.connect() as conn:
                        left = conn.execute(
                            text(
                                "SELECT count(*) FROM outbox WHERE id > :a AND id <= :l "
                                "AND status IN ('pending', 'in_flight')"
                            ),
                            {"a": after, "l": last},
                        ).scalar_one()
                    if not left or any(p.poll() is not None for p in processes):
                        break
                    cpu = sum(tree_cpu(p.pid) for p in processes)  # read while they are alive
                    time.sleep(0.5)
            finally:
                engine.dispose()
                stop(processes)
            found = check(url, after, last)
            # Start-up (imports, the first claim) included: an upper bound per delivery.
            found["worker_cpu_ms_per_delivery"] = round(1000 * cpu / max(1, found["delivered"]), 2)
            rounds.append({"workers": workers, "load_average": round(load, 2), **found})
            print(json.dumps(rounds[-1], default=str), file=sys.stderr)
    finally:
        drop()
    return rounds


def main() -> None:
    # A TERM (or an INT when started in the background, where INT is ignored) stops the processes and drops
    # the scratch database on the way out.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", default="1,2,4", help="Server process counts (default 1,2,4).")
    parser.add_argument("--seconds", type=float, default=20, help="Seconds of GET /v2/orders per count.")
    parser.add_argument("--batches-per-process", type=int, default=8, help="POST batches per server process.")
    parser.add_argument("--workers", default="1,2", help="Worker process counts (default 1,2).")
    parser.add_argument("--messages", type=int, default=2000, help="Outbox rows per worker round (about).")
    parser.add_argument("--orders", type=int, default=20_000, help="Orders in the API database.")
    parser.add_argument("--products", type=int, default=20_000, help="Products of the POST catalog.")
    parser.add_argument("--redis", default=os.environ.get("ALEPHEE_BENCH_REDIS", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--skip", choices=("api", "outbox"), help="Leave one phase out.")
    parser.add_argument("--json", type=Path, help="Also write the report here.")
    args = parser.parse_args()
    args.processes = [int(n) for n in args.processes.split(",")]
    args.workers = [int(n) for n in args.workers.split(",")]
    workdir = ROOT / "out" / "scaleout"
    workdir.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"cpus": os.cpu_count()}
    if args.skip != "api":
        report["api"] = api_phase(args, workdir)
    if args.skip != "outbox":
        report["outbox"] = outbox_phase(args, workdir)
    print(json.dumps(report, indent=2, default=str))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
