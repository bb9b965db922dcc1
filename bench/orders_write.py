"""Benchmark of PUT /v2/orders/integrate: 100-order batches over a generated database of N orders.

    .venv/bin/python bench/orders_write.py --backend sqlite --orders 1000000 [--batches 200]

Through HTTP (a real uvicorn server, one process) and, in the same run, the plain-SQL ceiling: the same
statements (lock/select the batch, update the marks, insert the history rows) executed directly with
executemany, without HTTP, JSON or auth. Prints orders/s for both and the ratio.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent


def _batches(orders: int, count: int, seed: int) -> list[list[int]]:
    rng = random.Random(seed)
    return [sorted(rng.sample(range(1, orders + 1), 100)) for _ in range(count)]


def http_run(port: int, api_key: str, batches: list[list[int]], tag: str) -> float:
    """Integrate every batch through HTTP; returns orders/s."""
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        started = time.perf_counter()
        for n, batch in enumerate(batches):
            body = [{"OrderId": i, "OwnOrderId": f"{tag}-{n}-{i}", "Integrated": True, "ErpStatus": tag} for i in batch]
            response = client.put("/v2/orders/integrate", params={"API_KEY": api_key, "accountId": 1}, json=body)
            assert response.status_code == 200, response.text[:200]
        return len(batches) * 100 / (time.perf_counter() - started)


def sql_run(url: str, batches: list[list[int]], tag: str) -> float:
    """The same writes as plain SQL (the ceiling); returns orders/s."""
    engine = create_engine(url)
    postgres = engine.dialect.name == "postgresql"
    started = time.perf_counter()
    with engine.connect() as conn:
        for n, batch in enumerate(batches):
            with conn.begin():
                ids = ",".join(str(i) for i in batch)
                lock = " FOR UPDATE" if postgres else ""
                conn.execute(
                    text(f"SELECT id FROM orders WHERE account_id = 1 AND id IN ({ids}) ORDER BY id{lock}")
                ).all()
                now = datetime.now(UTC).replace(tzinfo=None) if not postgres else datetime.now(UTC)
                conn.execute(
                    text(
                        "UPDATE orders SET integrated = true, integrated_order_id = :own, erp_status = :erp,"
                        " updated_at = :now, version = version + 1 WHERE id = :id"
                    ),
                    [{"own": f"{tag}-{n}-{i}", "erp": tag, "now": now, "id": i} for i in batch],
                )
                conn.execute(
                    text(
                        "INSERT INTO order_history (order_id, account_id, at, actor, action, integrated,"
                        " integrated_order_id, erp_status)"
                        " VALUES (:id, 1, :now, 'bench', 'integrate', true, :own, :erp)"
                    ),
                    [{"own": f"{tag}-{n}-{i}", "erp": tag, "now": now, "id": i} for i in batch],
                )
    engine.dispose()
    return len(batches) * 100 / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--batches", type=int, default=200)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    import orders_data
    import orders_read

    target = orders_data.Target(args.backend, args.orders)
    orders_data.generate(target)
    ceiling_file = ROOT / "out" / "unused-ceiling.json"
    ceiling_file.parent.mkdir(parents=True, exist_ok=True)
    ceiling_file.write_bytes(b"{}")
    process, port = orders_read._start(target.url, ceiling_file)
    try:
        http_run(port, orders_data.API_KEY, _batches(args.orders, 5, 1), "warm")
        stamp = str(int(time.time()))
        http = http_run(port, orders_data.API_KEY, _batches(args.orders, args.batches, 2), f"h{stamp}")
        sql = sql_run(target.url, _batches(args.orders, args.batches, 3), f"s{stamp}")
    finally:
        process.terminate()
        process.wait(timeout=20)
    print(f"{args.backend}, {args.orders:,} orders, {args.batches} batches of 100:")
    print(f"  HTTP PUT /v2/orders/integrate: {http:8.0f} orders/s")
    print(f"  plain SQL ceiling:             {sql:8.0f} orders/s")
    print(f"  ratio: {http / sql:.2f}")


if __name__ == "__main__":
    main()
