"""What the ``read_serials`` triggers (migration 0030r_read_serials) cost order writes.

    .venv/bin/python bench/write_triggers.py --backend sqlite [--orders 10000] [--rounds 6]

On a scratch copy of the generated database of N orders (``orders_data``), times three write shapes with the
triggers on and off, alternating in rounds so a busy moment of a shared machine weighs on both alike:

* one order updated per transaction (what most API calls and marketplace news do);
* one statement updating 100 orders (a bulk statement: integrate, ingestion over arrays);
* 100 single-order statements in one transaction (ORM flushes of a batch).

Each transaction commits (PostgreSQL's deferred triggers run at commit). Prints the median time per
transaction and per written row, with the triggers on and off.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Connection, create_engine, text

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

import orders_data  # noqa: E402
from pgscratch import recreate_database  # noqa: E402


def _scratch(target: orders_data.Target) -> str:
    """A copy of the generated database that this benchmark may write to."""
    if target.backend == "sqlite":
        source = Path(target.url.removeprefix("sqlite:///"))
        copy = source.with_name(f"write-triggers-{target.orders}.db")
        shutil.copyfile(source, copy)
        return f"sqlite:///{copy}"
    name = f"{orders_data.PG_PREFIX}_write_triggers_{target.orders}"
    return recreate_database(orders_data.PG_SERVER, name, template=target.url.rsplit("/", 1)[1])


def _switch(conn: Connection, on: bool, saved: list[str]) -> None:
    """Turn the orders triggers on or off (SQLite has no switch: drop them and create them again)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"ALTER TABLE orders {'ENABLE' if on else 'DISABLE'} TRIGGER USER"))
        return
    if on:
        for sql in saved:
            conn.exec_driver_sql(sql)
        return
    rows = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'orders'"))
    saved[:] = []
    for name, sql in rows.all():
        saved.append(sql)
        conn.exec_driver_sql(f"DROP TRIGGER {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--transactions", type=int, default=200, help="per shape, switch state and round")
    args = parser.parse_args()
    target = orders_data.Target(args.backend, args.orders)
    orders_data.generate(target)
    url = _scratch(target)
    engine = create_engine(url)
    rng = random.Random(3)
    ids = list(range(1, args.orders + 1))
    saved: list[str] = []

    def one(conn: Connection) -> int:
        conn.execute(text("UPDATE orders SET erp_status = :m WHERE id = :id"), {"m": "a", "id": rng.choice(ids)})
        return 1

    def bulk(conn: Connection) -> int:
        start = rng.randrange(1, args.orders - 100)
        conn.execute(
            text("UPDATE orders SET erp_status = 'b' WHERE id BETWEEN :a AND :b"), {"a": start, "b": start + 99}
        )
        return 100

    def batch(conn: Connection) -> int:
        for order_id in rng.sample(ids, 100):
            conn.execute(text("UPDATE orders SET erp_status = 'c' WHERE id = :id"), {"id": order_id})
        return 100

    shapes: dict[str, Callable[[Connection], int]] = {
        "one order": one,
        "one statement, 100": bulk,
        "100 statements": batch,
    }
    times: dict[tuple[str, bool], list[float]] = {(name, on): [] for name in shapes for on in (True, False)}
    rows_per: dict[str, int] = {}
    try:
        for _ in range(args.rounds):
            for on in (True, False):
                with engine.begin() as conn:
                    _switch(conn, on, saved)
                for name, shape in shapes.items():
                    for _ in range(args.transactions // args.rounds or 1):
                        started = time.perf_counter()
                        with engine.begin() as conn:
                            rows_per[name] = shape(conn)
                        times[(name, on)].append(time.perf_counter() - started)
    finally:
        with engine.begin() as conn:
            _switch(conn, True, saved)
        engine.dispose()
    print(f"{args.backend}, {args.orders:,} orders, load average {os.getloadavg()[0]:.2f}")
    for name in shapes:
        on, off = (statistics.median(times[(name, state)]) * 1000 for state in (True, False))
        extra = (on - off) / rows_per[name] * 1000
        print(f"  {name:20s} triggers on {on:7.3f} ms  off {off:7.3f} ms  per row {extra:+7.1f} us")


if __name__ == "__main__":
    main()
