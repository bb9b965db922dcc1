"""Benchmark of PUT /v2/orders/integrate: 100-order batches over a generated database of N orders.

    .venv/bin/python bench/orders_write.py --backend sqlite --orders 1000000 [--batches 200]

Through HTTP (a real uvicorn server, one process) and, in the same run, the plain-SQL ceiling: the same
statements (lock/select the batch, update the marks, insert the history rows) executed directly, without
HTTP, JSON or auth: executemany on SQLite, one statement per shape over arrays on PostgreSQL. The two
alternate in rounds, so a busy minute of a shared machine weighs on both alike; prints each round, the median
rates and the median of the per-round ratios.
"""

from __future__ import annotations

import argparse
import random
import statistics
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
                marks = [(f"{tag}-{n}-{i}", i) for i in batch]
                if postgres:
                    # One statement per shape over arrays: the fastest form on PostgreSQL (the hub's too).
                    owns, ids = [m[0] for m in marks], [m[1] for m in marks]
                    conn.exec_driver_sql(
                        "UPDATE orders AS o SET integrated = true, integrated_order_id = v.own, erp_status = %s,"
                        " updated_at = %s, version = o.version + 1"
                        " FROM unnest(%s::varchar[], %s::integer[]) AS v(own, id) WHERE o.id = v.id",
                        (tag, now, owns, ids),
                    )
                    conn.exec_driver_sql(
                        "INSERT INTO order_history (order_id, account_id, at, actor, action, integrated,"
                        " integrated_order_id, erp_status)"
                        " SELECT v.id, 1, %s, 'bench', 'integrate', true, v.own, %s"
                        " FROM unnest(%s::varchar[], %s::integer[]) AS v(own, id)",
                        (now, tag, owns, ids),
                    )
                    continue
                conn.execute(
                    text(
                        "UPDATE orders SET integrated = true, integrated_order_id = :own, erp_status = :erp,"
                        " updated_at = :now, version = version + 1 WHERE id = :id"
                    ),
                    [{"own": own, "erp": tag, "now": now, "id": i} for own, i in marks],
                )
                conn.execute(
                    text(
                        "INSERT INTO order_history (order_id, account_id, at, actor, action, integrated,"
                        " integrated_order_id, erp_status)"
                        " VALUES (:id, 1, :now, 'bench', 'integrate', true, :own, :erp)"
                    ),
                    [{"own": own, "erp": tag, "now": now, "id": i} for own, i in marks],
                )
    engine.dispose()
    return len(batches) * 100 / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--batches", type=int, default=200, help="batches of 100 per side, over all rounds")
    parser.add_argument("--rounds", type=int, default=4, help="alternating HTTP/SQL rounds")
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
        per_round = max(1, args.batches // args.rounds)
        http_rates: list[float] = []
        sql_rates: list[float] = []
        for number in range(args.rounds):
            tag = f"{stamp}r{number}"
            http_rates.append(
                http_run(port, orders_data.API_KEY, _batches(args.orders, per_round, 2 * number + 2), f"h{tag}")
            )
            sql_rates.append(sql_run(target.url, _batches(args.orders, per_round, 2 * number + 3), f"s{tag}"))
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with code {process.returncode}; no figures printed")
            print(
                f"  round {number + 1}: HTTP {http_rates[-1]:8.0f} orders/s, SQL {sql_rates[-1]:8.0f} orders/s,"
                f" ratio {http_rates[-1] / sql_rates[-1]:.2f}"
            )
    finally:
        process.terminate()
        process.wait(timeout=20)
    ratios = [h / s for h, s in zip(http_rates, sql_rates, strict=True)]
    print(f"{args.backend}, {args.orders:,} orders, {args.rounds} rounds of {per_round} batches of 100:")
    print(f"  HTTP PUT /v2/orders/integrate: {statistics.median(http_rates):8.0f} orders/s (median)")
    print(f"  plain SQL ceiling:             {statistics.median(sql_rates):8.0f} orders/s (median)")
    print(f"  ratio: {statistics.median(ratios):.2f} (median of the rounds)")


if __name__ == "__main__":
    main()
