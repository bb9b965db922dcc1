"""A database of N realistic orders for the orders benchmarks, generated fast and kept for reuse.

    .venv/bin/python bench/orders_data.py --backend sqlite --orders 1000000

The shape is that of a shop with a long history: orders spread over three years, all integrated by the ERP
except a fixed backlog of the most recent ones (``BACKLOG``), about 5% cancelled, and a fixed number of
integrated orders cancelled in the last days (``LATE_CANCELLED``): what each integration cycle reads does not
grow with the history, which is what an index must guarantee. Rows are written with executemany (SQLite) or
COPY (PostgreSQL) from a handful of templates built by the same code as the demo, never through the ORM.
SQLite files live in bench/out/; PostgreSQL databases are named ``alephee_bench_orders_<N>`` (another prefix
through ``BENCH_PG_PREFIX``, so two checkouts on one server keep their own).
"""

from __future__ import annotations

import argparse
import os
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pgscratch import recreate_database
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import create_engine, text

from alephee.accounts import service as accounts
from alephee.bootstrap import prepare_database
from alephee.config import Settings
from alephee.db import Database
from alephee.orders import demo, rendering
from alephee.orders import shipping_rules as ship
from alephee.orders import statuses as st
from alephee.orders.ingest import ITEM_ID_FACTOR

ROOT = Path(__file__).resolve().parent

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
PG_PREFIX = os.environ.get("BENCH_PG_PREFIX", "alephee_bench_orders")
API_KEY = "BE7C0000-0000-4000-8000-000000000001"
BACKLOG = 2_000
LATE_CANCELLED = 300
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
LATE_SINCE = NOW - timedelta(days=7)
COLUMNS = (
    "id", "account_id", "marketplace_id", "external_order_id", "origin", "pack_id", "source_pack_id", "pack_size",
    "pack_complete", "status", "status_type", "status_date", "integrated", "integrated_order_id", "erp_status",
    "payment_pending", "sale_date", "created_at", "updated_at", "date_closed", "logistic_type", "shipping_method",
    "external_shipping_id", "shipment_status", "shipment_substatus", "shipment_updated_at", "document_count",
    "stock_moved", "stock_reverted", "version", "detail",
)  # fmt: skip


@dataclass(frozen=True)
class Target:
    """Where a generated database lives."""

    backend: str
    orders: int

    @property
    def url(self) -> str:
        if self.backend == "sqlite":
            return f"sqlite:///{ROOT / 'out' / f'orders-{self.orders}.db'}"
        return f"{PG_SERVER}/{PG_PREFIX}_{self.orders}"


def _templates(session: Any, account_id: int) -> list[tuple[list[str], dict[str, Any]]]:
    """Serialised order details split around the item ids (filled per order), with their header fields."""
    rng = random.Random(7)
    seller = demo.seller_of(session, account_id)
    channels = [demo.channel_of(session, m) for m in (100, 101, 24)]
    out = []
    for n in range(24):
        channel = channels[n % len(channels)]
        lines = [(rng.randrange(len(demo.CATALOG)), rng.choice((1, 2)))]
        if n % 4 == 0:
            lines.append((5, 1))
        logistic = rng.choice(demo.ML_LOGISTICS) if channel.family == "mercadolibre" else ship.CUSTOM
        new = demo.build_order(
            rng,
            seller=seller,
            channel=channel,
            external_order_id="X",
            sale_date=NOW,
            status=st.DELIVERED,
            lines=lines,
            logistic_type=logistic,
        )
        detail = new.detail.model_dump(mode="json")
        for item in detail["Items"]:
            item["Id"] = f"@@{item['Id']}@@"
            if item.get("ParentItemId"):
                item["ParentItemId"] = f"@@{item['ParentItemId']}@@"
        raw = rendering.detail_template(detail)
        parts = raw.split('"@@')
        segments = [parts[0]]
        for part in parts[1:]:
            number, rest = part.split('@@"', 1)
            segments.append(number)
            segments.append(rest)
        out.append((segments, {"marketplace_id": channel.id, "logistic_type": logistic, "family": channel.family}))
    return out


def _detail(segments: list[str], order_id: int) -> str:
    base = order_id * ITEM_ID_FACTOR
    return "".join(s if i % 2 == 0 else str(base + int(s)) for i, s in enumerate(segments))


def late_ids(n: int) -> range:
    """The ids of the integrated orders cancelled in the last days (what the late-cancellations cycle reads)."""
    return range(max(1, n - BACKLOG - 50 * LATE_CANCELLED), n - BACKLOG, 50)


def history_ids(n: int) -> list[int]:
    """Ids of orders neither integration cycle reads (not in the backlog, not a late cancellation): what a
    benchmark may write to without changing what the polls return."""
    late = set(late_ids(n))
    return [order_id for order_id in range(1, max(1, n - BACKLOG) + 1) if order_id not in late]


def rows(n: int, account_id: int, templates: list[tuple[list[str], dict[str, Any]]], start: int, stop: int):  # type: ignore[no-untyped-def]
    """Rows ``start..stop-1`` (1-based ids) as tuples in ``COLUMNS`` order."""
    span = timedelta(days=3 * 365)
    rng = random.Random(start)
    late = set(late_ids(n))
    for order_id in range(start, stop):
        segments, head = templates[order_id % len(templates)]
        sale = NOW - span * (1 - order_id / n) - timedelta(hours=2)
        created = sale + timedelta(seconds=40)
        backlog = order_id > n - BACKLOG
        if order_id in late:
            status, status_date = st.CANCELLED, NOW - timedelta(hours=rng.randrange(1, 150))
        elif backlog:
            status, status_date = st.READY_TO_SHIP, created
        else:
            roll = rng.random()
            status = st.CANCELLED if roll < 0.05 else st.DELIVERED
            status_date = created + timedelta(days=3)
        labelled = head["logistic_type"] in ship.LABELLED_LOGISTICS
        pending = backlog and order_id % 100 == 0
        integrated = not backlog
        yield (
            order_id, account_id, head["marketplace_id"], str(2_000_000_000 + order_id), "marketplace", None, None,
            None, None, status, st.status_type_of(status), status_date, integrated,
            f"ERP-{order_id}" if integrated else None, "complete" if integrated else None, pending, sale, created,
            status_date, status_date if st.closes_order(status) else None, head["logistic_type"],
            ship.default_method(head["logistic_type"], marketplace_family=head["family"]),
            40_000_000_000 + order_id if labelled else None,
            _shipment(status) if labelled else ship.PENDING,
            ship.SUB_READY_TO_PRINT if labelled and status == st.READY_TO_SHIP else None,
            status_date, 0, False, False, 1, _detail(segments, order_id),
        )  # fmt: skip


def _shipment(status: int) -> str:
    if status == st.READY_TO_SHIP:
        return ship.READY_TO_SHIP
    return ship.CANCELLED if st.is_cancelled(status) else ship.DELIVERED


def exists(target: Target) -> int:
    """How many orders the target database already holds (0 when missing)."""
    if target.backend == "sqlite":
        path = ROOT / "out" / f"orders-{target.orders}.db"
        if not path.exists():
            return 0
    engine = create_engine(target.url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM orders")).scalar() or 0)
    except Exception:
        return 0
    finally:
        engine.dispose()


def _create_empty(target: Target) -> None:
    if target.backend == "sqlite":
        path = ROOT / "out" / f"orders-{target.orders}.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        return
    recreate_database(PG_SERVER, f"{PG_PREFIX}_{target.orders}")


def generate(target: Target, *, force: bool = False) -> None:
    """Create (or reuse) the database of ``target.orders`` orders, with a progress bar."""
    if not force and exists(target) == target.orders:
        # Bring a kept database up to the current migrations (new tables since it was generated).
        prepare_database(Settings(database_url=target.url, _env_file=None))  # type: ignore[call-arg]
        print(f"reusing {target.backend} database with {target.orders:,} orders")
        return
    _create_empty(target)
    settings = Settings(database_url=target.url, _env_file=None, log_level="WARNING")  # type: ignore[call-arg]
    prepare_database(settings)
    db = Database(settings)
    with db.writing() as session:
        account = accounts.create_account(
            session, name="Bench Store", account_type="seller", business_name="Bench Store S.A."
        )
        # Marketplaces that can be connected (they have a connector): two sandbox sites, the own shop, B2B.
        for marketplace_id in (100, 101, 24, 30):
            accounts.add_marketplace(session, account.id, marketplace_id)
        accounts.create_key(session, [account.id], label="bench", secret=API_KEY, rate_limit=100_000_000)
        account_id = account.id
        templates = _templates(session, account_id)
    db.dispose()
    started = time.perf_counter()
    batch = 20_000
    columns = ", ".join(COLUMNS)
    engine = create_engine(target.url)
    with Progress(
        TextColumn(f"[bold]{target.backend}[/] orders"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()
    ) as progress:
        task = progress.add_task("insert", total=target.orders)
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            if target.backend == "sqlite":
                cur.execute("PRAGMA synchronous=OFF")
                cur.execute("PRAGMA cache_size=-262144")
                marks = ", ".join("?" for _ in COLUMNS)
                sql = f"INSERT INTO orders ({columns}) VALUES ({marks})"
                for start in range(1, target.orders + 1, batch):
                    stop = min(target.orders + 1, start + batch)
                    cur.execute("BEGIN")
                    cur.executemany(
                        sql, [_sqlite_row(r) for r in rows(target.orders, account_id, templates, start, stop)]
                    )
                    cur.execute("COMMIT")
                    progress.advance(task, stop - start)
                cur.execute("ANALYZE")
            else:
                for start in range(1, target.orders + 1, batch):
                    stop = min(target.orders + 1, start + batch)
                    with cur.copy(f"COPY orders ({columns}) FROM STDIN") as copy:
                        for row in rows(target.orders, account_id, templates, start, stop):
                            copy.write_row(row)
                    raw.commit()
                    progress.advance(task, stop - start)
                cur.execute(f"SELECT setval(pg_get_serial_sequence('orders', 'id'), {target.orders})")
                raw.commit()
                raw.driver_connection.autocommit = True  # type: ignore[union-attr]
                raw.driver_connection.execute("VACUUM ANALYZE orders")  # type: ignore[union-attr]
        finally:
            raw.close()
            engine.dispose()
    print(f"generated {target.orders:,} orders on {target.backend} in {time.perf_counter() - started:.0f} s")


def _sqlite_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    # The ORM's UtcDateTime stores naive UTC text on SQLite; do the same without the ORM.
    return tuple(v.replace(tzinfo=None).isoformat(sep=" ") if isinstance(v, datetime) else v for v in row)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--force", action="store_true", help="regenerate even if the database exists")
    args = parser.parse_args()
    generate(Target(args.backend, args.orders), force=args.force)


if __name__ == "__main__":
    main()
