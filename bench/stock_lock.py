"""What a stock batch does while it holds its products' row locks: statements, CPU and wall time from the
catalog's row lock to the commit, per batch of ``POST /v2/products`` run in-process (no HTTP).

    .venv/bin/python bench/stock_lock.py [--batches 40] [--size 50] [--keep] [--show]

Set-up (a fresh PostgreSQL database ``stock_lock`` unless ``--keep``): migrations and the demo tenant (the
catalog, listings and orders the soak uses). Then ``--batches`` batches of ``--size`` random SKUs of the
products carrying their own stock (normal products and variations), each with an absolute
``Stock.Quantity``, each in its own transaction through ``products.bulk_update.update_products``, one writer
(no lock waits: the figures are what a batch costs while it holds the locks, not a queue).

The lock is taken by the first statement that locks ``products`` rows (``FOR UPDATE`` / ``FOR NO KEY
UPDATE``); "under the lock" counts every statement from it to the commit included, the CPU time of this
thread (``time.thread_time``) and the wall time over the same span. ``--show`` prints the statements of the
last batch.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from soak import run_cli

ROOT = Path(__file__).resolve().parent.parent


class Probe:
    """Counts the statements of a write engine and stamps the moment the products' lock is asked for."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.locked_at: int | None = None  # index in ``statements``
        self.lock_cpu = self.lock_wall = 0.0

    def reset(self) -> None:
        self.statements, self.locked_at = [], None

    def before(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        text = " ".join(statement.split())
        if self.locked_at is None and "FROM products" in text and "UPDATE OF p" in text:
            self.locked_at = len(self.statements)
            self.lock_cpu, self.lock_wall = time.thread_time(), time.perf_counter()
        self.statements.append(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--size", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="Reuse the database instead of recreating it.")
    parser.add_argument("--show", action="store_true", help="Print the statements of the last batch.")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "ALEPHEE_STOCK_LOCK_DATABASE", "postgresql+psycopg://postgres@127.0.0.1:5432/stock_lock"
        ),
    )
    args = parser.parse_args()

    from pgscratch import recreate_database
    from sqlalchemy import event, text

    from alephee.config import Settings
    from alephee.db import Database
    from alephee.products.bulk_update import update_products

    server_url, _, name = args.database_url.rpartition("/")
    if not args.keep:
        recreate_database(server_url, name)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("ALEPHEE_")},
            "ALEPHEE_DATABASE_URL": args.database_url,
            "ALEPHEE_LOG_LEVEL": "WARNING",
        }
        run_cli(env, "db", "upgrade")
        run_cli(env, "demo")

    settings = Settings(database_url=args.database_url, _env_file=None, log_level="WARNING")  # type: ignore[call-arg]
    db = Database(settings)
    probe = Probe()
    event.listen(db.write_engine, "before_cursor_execute", probe.before)
    rng = random.Random(args.seed)
    try:
        with db.reading() as session:
            account_id, skus = None, []
            for account, sku in session.execute(
                text("SELECT account_id, sku FROM products WHERE product_type IN (1, 5) ORDER BY id")
            ):
                account_id = account_id or account
                if account == account_id:
                    skus.append(sku)
        assert account_id is not None
        under: list[int] = []
        total: list[int] = []
        cpu: list[float] = []
        wall: list[float] = []
        batch_cpu: list[float] = []
        for n in range(args.batches + 3):
            items = [{"SKU": s, "Stock": {"Quantity": rng.randrange(0, 500)}} for s in rng.sample(skus, args.size)]
            probe.reset()
            began = time.thread_time()
            with db.writing() as session:
                update_products(session, settings, account_id, None, items)
            ended_cpu, ended_wall = time.thread_time(), time.perf_counter()
            if n < 3:  # warm-up: statement caches, first imports
                continue
            assert probe.locked_at is not None, "no products lock seen"
            under.append(len(probe.statements) - probe.locked_at + 1)  # + COMMIT
            total.append(len(probe.statements) + 1)
            cpu.append(1000 * (ended_cpu - probe.lock_cpu))
            wall.append(1000 * (ended_wall - probe.lock_wall))
            batch_cpu.append(1000 * (ended_cpu - began))
        out = {
            "batches": args.batches,
            "size": args.size,
            "load_average": os.getloadavg()[0],
            "statements_per_batch": statistics.fmean(total),
            "statements_under_lock": statistics.fmean(under),
            "cpu_ms_per_batch": round(statistics.fmean(batch_cpu), 2),
            "cpu_ms_under_lock": round(statistics.fmean(cpu), 2),
            "wall_ms_under_lock_p50": round(statistics.median(wall), 2),
            "wall_ms_under_lock_mean": round(statistics.fmean(wall), 2),
        }
        if args.show:
            for i, statement in enumerate(probe.statements):
                marker = "L" if probe.locked_at is not None and i >= probe.locked_at else " "
                print(f"{marker} {statement[:220]}", file=sys.stderr)
        print(json.dumps(out, indent=2))
    finally:
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
