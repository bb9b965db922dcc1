"""In-process memory probe: the soak's request mix through the ASGI app, with ``tracemalloc``.

    .venv/bin/python bench/memprobe.py [--requests 3000] [--step 500]

A fresh SQLite database with the demo tenant; after a warm-up of 300 requests, prints every ``--step``
requests the Python heap allocated since the warm-up (``tracemalloc``, after a GC) and the process RSS, then
the 12 source lines whose allocations grew most. A flat heap line means nothing accumulates per request;
RSS drift without heap growth is the allocator, not the hub (docs/performance.md, Soak).
"""

from __future__ import annotations

import argparse
import gc
import random
import tempfile
import time
import tracemalloc
from pathlib import Path

from fastapi.testclient import TestClient

from alephee import demo
from alephee.accounts import service as accounts
from alephee.app import create_app
from alephee.bootstrap import prepare_database
from alephee.config import Settings
from alephee.http.context import AppContext


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--step", type=int, default=500)
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="alephee-memprobe-")
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=f"sqlite:///{work}/hub.db", documents_dir=f"{work}/docs", log_level="WARNING"
    )
    prepare_database(settings)
    ctx = AppContext.build(settings)
    with ctx.db.writing() as session:
        tenant = demo.ensure_demo(session, settings)
        _key, secret = accounts.create_key(session, [tenant.account_id], rate_limit=10**7)
        session.commit()
    client = TestClient(create_app(context=ctx))
    q = {"API_KEY": secret, "accountId": tenant.account_id}
    catalog = client.get("/v2/products", params={**q, "limit": 1000}).json()["Results"]
    skus = [p["Identification"]["SKU"] for p in catalog if p["Identification"]["ProductType"]["Id"] in (1, 5)]
    rng = random.Random(1)

    def one(n: int) -> None:
        pick = rng.random()
        if pick < 0.35:
            params = {**q, "limit": 50, "Integrated": rng.choice(["true", "false"])}
            ids = [o["Id"] for o in client.get("/v2/orders", params=params).json()["Results"]][:20]
            if ids:
                body = [{"OrderId": i, "OwnOrderId": f"E{n}", "Integrated": True, "ErpStatus": "x"} for i in ids]
                client.put("/v2/orders/integrate", params=q, json=body)
        elif pick < 0.65:
            body = [{"SKU": sku, "Stock": {"Quantity": rng.randrange(500)}} for sku in rng.sample(skus, 20)]
            client.post("/v2/products", params=q, json=body)
        else:
            client.get("/v2/productlistings/search", params={**q, "limit": 50, "offset": rng.choice([0, 50])})

    for n in range(300):
        one(n)
    gc.collect()
    tracemalloc.start(5)
    base = tracemalloc.take_snapshot()
    began = time.perf_counter()
    for n in range(300, args.requests + 1):
        one(n)
        if n % args.step == 0:
            gc.collect()
            current, _peak = tracemalloc.get_traced_memory()
            elapsed = time.perf_counter() - began
            print(f"{n:>6} requests: heap +{current / 1e6:.2f} MB, RSS {rss_mb():.1f} MiB, {elapsed:.0f} s")
    for stat in tracemalloc.take_snapshot().compare_to(base, "lineno")[:12]:
        print(stat)


if __name__ == "__main__":
    main()
