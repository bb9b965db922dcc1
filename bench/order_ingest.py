"""The cost of storing marketplace orders in batches, in process: ``sync.order_feed.apply_orders`` over batches of
new Mercado Libre orders (one line, one approved payment each, every fifth pair of orders one cart), as the inbox
applies them (``inbox_apply_batch`` orders per write transaction).

    .venv/bin/python bench/order_ingest.py [--backend sqlite|postgresql] [--postgres URL] [--orders 2000]
                                           [--batch 25] [--repeat 3] [--time-upkeep] [--backfill]

Reports, per run: CPU of this process per order (``time.process_time``: the hub's Python and, on SQLite, the
database engine too; on PostgreSQL the server's CPU is not counted), statements sent per batch and how many of
them ran over many parameter sets, from SQLAlchemy's ``before_cursor_execute``; with ``--time-upkeep`` (and a
tree that has ``orders.payment_ids``) also the CPU spent in the payment-id upkeep, its two functions timed around
each call (the timer's own cost then adds to the total); with ``--backfill`` then the migration's backfill of
every stored order's payment ids (the table emptied first), timed. The lines name no listing the hub has (no
stock moves), so the figures isolate the order's own storage: a fixed extra cost per order shows larger here than
in the whole ingestion. Meant to be run with ``PYTHONPATH`` on two source trees back to back
(before/after a change); it uses only functions both have.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from channel_bench import scratch_postgres
from sqlalchemy import event

from alephee.accounts import service as accounts
from alephee.accounts.schemas import AccountType
from alephee.bootstrap import prepare_database
from alephee.config import Settings
from alephee.db import Database
from alephee.marketplaces.contract import ChannelOrder, ChannelOrderItem, ChannelPayment
from alephee.marketplaces.registry import marketplace_ref
from alephee.sync.order_feed import apply_orders

WHEN = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def entries(start: int, count: int) -> list[ChannelOrder]:
    """``count`` new paid orders numbered from ``start``."""
    found = []
    for n in range(start, start + count):
        cart = (n // 2) % 5 == 0
        found.append(
            ChannelOrder(
                external_order_id=str(2_000_000_000 + n),
                status="paid",
                date_created=WHEN + timedelta(seconds=n),
                date_updated=WHEN + timedelta(seconds=n),
                items=(ChannelOrderItem(external_listing_id=f"MLA{n % 50}", quantity=1, unit_price=Decimal(1500)),),
                payments=(
                    ChannelPayment(
                        external_payment_id=str(90_000_000_000 + n),
                        status="approved",
                        amount=Decimal(1500),
                        date_created=WHEN,
                        date_approved=WHEN,
                    ),
                ),
                total=Decimal(1500),
                currency="ARS",
                pack_id=str(2_000_009_000_000_000 + n // 2) if cart else None,
                pack_size=2 if cart else None,
            )
        )
    return found


def _timed_payment_ids(spent: list[float]) -> None:
    """Accumulate in ``spent[0]`` the CPU of the payment-id upkeep (``orders.payment_ids``), when the tree has it."""
    try:
        from alephee.orders import payment_ids
    except ImportError:
        return
    for name in ("rows_of", "insert_rows"):
        original = getattr(payment_ids, name)

        def timed(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
            started = time.process_time()
            try:
                return _original(*args, **kwargs)
            finally:
                spent[0] += time.process_time() - started

        setattr(payment_ids, name, timed)


def _time_backfill(db: Database, orders: int) -> dict[str, Any]:
    """Empty ``order_payments`` and run migration 0033c's backfill over every stored order, timed."""
    import alephee

    path = Path(alephee.__file__).parent / "migrations" / "versions" / "0033c_order_payments.py"
    spec = importlib.util.spec_from_file_location("revision_0033c", path)
    assert spec is not None and spec.loader is not None
    revision = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(revision)
    with db.write_engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM order_payments")
    with db.write_engine.begin() as connection:
        cpu, wall = time.process_time(), time.perf_counter()
        rows = revision.backfill(connection)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {
        "backfill_rows": rows,
        "backfill_cpu_ms_per_order": round(cpu * 1000 / orders, 4),
        "backfill_wall_s": round(wall, 3),
    }


def run(url: str, orders: int, batch: int, time_upkeep: bool = False, backfill: bool = False) -> dict[str, Any]:
    """One measured ingestion of ``orders`` orders on a fresh database at ``url``."""
    settings = Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]
    prepare_database(settings)
    db = Database(settings)
    try:
        with db.writing() as session:
            account = accounts.create_account(session, name="Bench", account_type=AccountType.SELLER)
            accounts.add_marketplace(session, account.id, 1)
            account_id = account.id
        statements = {"all": 0, "many": 0}

        def count(_conn: Any, _cursor: Any, _statement: str, _params: Any, _context: Any, executemany: bool) -> None:
            statements["all"] += 1
            statements["many"] += executemany

        warm = entries(0, batch * 2)
        for start in range(0, len(warm), batch):
            with db.writing() as session:
                apply_orders(session, account_id, marketplace_ref(session, 1), warm[start : start + batch])
        measured = entries(len(warm), orders)
        spent = [0.0]
        if time_upkeep:
            _timed_payment_ids(spent)
        event.listen(db.write_engine, "before_cursor_execute", count)
        cpu, wall = time.process_time(), time.perf_counter()
        for start in range(0, len(measured), batch):
            with db.writing() as session:
                ref = marketplace_ref(session, 1)
                apply_orders(session, account_id, ref, measured[start : start + batch])
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        event.remove(db.write_engine, "before_cursor_execute", count)
        batches = -(-orders // batch)
        extra = _time_backfill(db, orders + len(warm)) if backfill else {}
        return {
            **extra,
            "cpu_ms_per_order": round(cpu * 1000 / orders, 3),
            "wall_ms_per_order": round(wall * 1000 / orders, 3),
            "statements_per_batch": round(statements["all"] / batches, 2),
            "executemany_per_batch": round(statements["many"] / batches, 2),
            "payment_ids_cpu_ms_per_order": round(spent[0] * 1000 / orders, 4),
            "loadavg": Path("/proc/loadavg").read_text().split()[0],
        }
    finally:
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=25)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--time-upkeep", action="store_true", help="time the payment-id upkeep on its own")
    parser.add_argument("--backfill", action="store_true", help="then time migration 0033c's backfill of them all")
    args = parser.parse_args()
    for _ in range(args.repeat):
        if args.backend == "sqlite":
            with tempfile.TemporaryDirectory() as folder:
                url = f"sqlite:///{Path(folder) / 'hub.db'}"
                result = run(url, args.orders, args.batch, args.time_upkeep, args.backfill)
        else:
            url, drop = scratch_postgres(args.postgres, "claims_bench")
            try:
                result = run(url, args.orders, args.batch, args.time_upkeep, args.backfill)
            finally:
                drop()
        print(json.dumps({"backend": args.backend, **result}), flush=True)


if __name__ == "__main__":
    main()
