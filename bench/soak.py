"""Soak test: a bounded mixed workload against TWO server processes sharing PostgreSQL and Redis on loopback.

    .venv/bin/python bench/soak.py [--duration 60] [--concurrency 8] [--rate-limit 3000] [--json out.json]

Set-up (a fresh PostgreSQL database ``alephee_soak`` unless ``--keep``): migrations, the demo tenant (catalog,
listings, orders; without its Mercado Libre and Tiendanube connections, whose stand-ins the soak does not
serve), an ERP key. Server A runs ``alephee serve --with-worker`` (the outbox worker delivers
listings to the sandbox marketplace and pulls the orders it sells), server B ``alephee serve``; both use the
same database and the same Redis rate-limit budget. The clients spread their requests over both servers:

* ERP polling: ``GET /v2/orders`` (not yet integrated, 50 per page), then ``PUT /v2/orders/integrate`` of
  what it got;
* stock updates: ``POST /v2/products`` with 50 random SKUs' ``Stock.Quantity``;
* listing searches: ``GET /v2/productlistings/search`` with a random filter and page;
* the sandbox selling: ``alephee sandbox sell`` every ``--sell-every`` seconds (new orders for the ERP).

Every loop is bounded (deadline and request cap); the script stops by itself and prints throughput, status
counts per operation (anything but 2xx and 429 is an error: exit status 1), p50/p99 latency, and the RSS of
both server processes sampled every second (first, last, max, and the slope by least squares over the run
and over its second half).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from channel_bench import cpu_seconds
from machine import cpu_probe_seconds
from probe_report import slope_per_min, summarise

ROOT = Path(__file__).resolve().parent.parent
EXE = str(Path(sys.executable).with_name("alephee"))
ALLOWED = {200, 201, 204, 206, 429}


# --- processes ------------------------------------------------------------------------------------------------


def run_cli(env: dict[str, str], *args: str, timeout: float = 300) -> Any:
    """Run an ``alephee`` command; returns its JSON output (the last line)."""
    done = subprocess.run([EXE, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"alephee {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return json.loads(lines[-1]) if lines else None


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    base_url: str

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(name: str, env: dict[str, str], log_dir: Path, *extra: str) -> Server:
    port = free_port()
    log = (log_dir / f"soak-{name}.log").open("wb")
    process = subprocess.Popen(
        [EXE, "serve", "--host", "127.0.0.1", "--port", str(port), *extra],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    server = Server(name, process, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server {name} exited early; see {log.name}")
        try:
            if httpx.get(server.base_url + "/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"server {name} did not start")


def rss_mb(pid: int) -> float | None:
    """Resident set size of a process (Linux /proc), in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class Sampler(threading.Thread):
    """RSS of each server every ``interval`` seconds until ``stop`` is set (bounded by ``deadline``)."""

    def __init__(self, servers: list[Server], interval: float, deadline: float) -> None:
        super().__init__(daemon=True)
        self.servers, self.interval, self.deadline = servers, interval, deadline
        self.samples: dict[str, list[tuple[float, float]]] = {s.name: [] for s in servers}
        self.stop = threading.Event()
        self.began = time.monotonic()

    def run(self) -> None:
        while not self.stop.is_set() and time.monotonic() < self.deadline:
            now = time.monotonic() - self.began
            for server in self.servers:
                value = rss_mb(server.process.pid)
                if value is not None:
                    self.samples[server.name].append((now, value))
            self.stop.wait(self.interval)


def load_average() -> float:
    return os.getloadavg()[0]


def backend_cpu(database_url: str) -> dict[int, float]:
    """CPU seconds (user + system, from ``/proc``) of each PostgreSQL backend connected to the soak database now,
    by pid: what the database spends on the hub's statements (its shared background processes are left out)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url, isolation_level="AUTOCOMMIT", pool_size=1)
    try:
        with engine.connect() as conn:
            pids = conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
            ).scalars()
            tick = os.sysconf("SC_CLK_TCK")
            out = {}
            for pid in pids:
                try:
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                out[int(pid)] = (int(fields[11]) + int(fields[12])) / tick
            return out
    finally:
        engine.dispose()


def outbox_backlog(database_url: str) -> dict[str, int]:
    """Outbox rows by status: what the worker has not delivered yet when the load stops."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT status, count(*) FROM outbox GROUP BY status ORDER BY status")).all()
        return {str(status): int(count) for status, count in rows}
    finally:
        engine.dispose()


def client_cpu() -> float:
    """CPU seconds of this process (the clients, the samplers): the load generator's own share of the machine."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class WaitSampler(threading.Thread):
    """What the database's busy sessions are doing, every ``interval`` seconds (``pg_stat_activity``): on the CPU
    (no wait event), waiting for a lock (``Lock``: another transaction holds the row), for I/O, for the client
    (``Client``: the hub is between two statements of an open transaction). Reading the view costs nothing to
    the sessions sampled, unlike ``lock_timeout`` or ``log_lock_waits``."""

    QUERY = (
        "SELECT coalesce(wait_event_type, 'CPU'), coalesce(wait_event, ''), left(query, 70) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle' "
        "AND backend_type = 'client backend'"
    )

    def __init__(self, database_url: str, interval: float, deadline: float) -> None:
        super().__init__(daemon=True)
        self.url, self.interval, self.deadline = database_url, interval, deadline
        self.samples = 0
        self.busy: Counter[str] = Counter()
        self.locked: Counter[str] = Counter()
        # The last statement of the sessions waiting for the hub inside a transaction (which transaction it is).
        self.idle: Counter[str] = Counter()
        self.stop = threading.Event()

    def run(self) -> None:
        from sqlalchemy import create_engine, text

        engine = create_engine(self.url, isolation_level="AUTOCOMMIT", pool_size=1)
        try:
            with engine.connect() as conn:
                while not self.stop.is_set() and time.monotonic() < self.deadline:
                    self.samples += 1
                    for kind, event, query in conn.execute(text(self.QUERY)):
                        self.busy[f"{kind}:{event}" if event else kind] += 1
                        if kind == "Lock":
                            self.locked[" ".join(query.split())] += 1
                        elif event == "ClientRead":
                            self.idle[" ".join(query.split())] += 1
                    self.stop.wait(self.interval)
        finally:
            engine.dispose()

    def report(self) -> dict[str, Any]:
        """Sessions in each state on average (busy sessions per sample), and the statements that waited on locks."""
        n = max(1, self.samples)
        return {
            "samples": self.samples,
            "interval_s": self.interval,
            "mean_sessions_by_state": {k: round(v / n, 3) for k, v in self.busy.most_common()},
            "lock_waits_by_statement": {k: round(v / n, 3) for k, v in self.locked.most_common(5)},
            "client_read_by_last_statement": {k: round(v / n, 3) for k, v in self.idle.most_common(12)},
        }


WAIT_METRICS = (
    "alephee_db_pool_wait_seconds",
    "alephee_gc_pause_seconds",
    "alephee_gc_cpu_seconds",
    "alephee_event_loop_lag_seconds",
    # The stock batches' groups (products/batch_groups.py): queue wait per batch, lock/apply/commit per group.
    "alephee_stock_batch_queue_seconds",
    "alephee_stock_batch_group_seconds",
    "alephee_stock_batch_group_batches",
)


def scrape(base_url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The samples of the wait histograms on a server's /metrics: {(sample name, labels): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    text_ = httpx.get(base_url + "/metrics", timeout=30).text
    out = {}
    for family in text_string_to_metric_families(text_):
        if family.name in WAIT_METRICS:
            for sample in family.samples:
                out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def wait_breakdown(
    before: dict[tuple[str, tuple[tuple[str, str], ...]], float],
    after: dict[tuple[str, tuple[tuple[str, str], ...]], float],
) -> dict[str, Any]:
    """Per wait histogram and label set over the run: how many, the total seconds, the slowest bucket reached,
    and how many took longer than 100 ms."""
    delta = {key: value - before.get(key, 0.0) for key, value in after.items()}
    out: dict[str, Any] = {
        name[: -len("_total")]: round(value, 3) for (name, _), value in delta.items() if name.endswith("_total")
    }
    for (name, labels), value in delta.items():
        if not name.endswith("_count"):
            continue
        base, rest = name[: -len("_count")], [kv for kv in labels]
        label = ",".join(f"{k}={v}" for k, v in rest) or "-"
        buckets = sorted(
            (float(dict(lb)["le"]), v)
            for (n, lb), v in delta.items()
            if n == base + "_bucket" and [kv for kv in lb if kv[0] != "le"] == rest
        )
        under_100ms = next((v for le, v in buckets if le >= 0.1), value)
        worst = next((le for le, v in buckets if v >= value), float("inf"))
        out[f"{base}{{{label}}}"] = {
            "count": int(value),
            "total_s": round(delta.get((base + "_sum", labels), 0.0), 3),
            "over_100ms": int(value - under_100ms),
            "max_le_s": worst,
        }
    return out


def slowest(stats: Stats, share: float = 0.01) -> dict[str, Any]:
    """The slowest ``share`` of the requests: by operation and server, and how many stock batches
    (``POST /v2/products``) were in flight when each started (they lock overlapping product rows)."""
    done = [r for r in stats.requests if not r[0].startswith("alephee")]
    if not done:
        return {}
    ordered = sorted(done, key=lambda r: r[3], reverse=True)
    worst = ordered[: max(1, int(len(ordered) * share))]
    batches = [(start, start + seconds) for op, _, start, seconds in done if op == "POST /v2/products"]
    starts = sorted(start for start, _ in batches)
    ends = sorted(end for _, end in batches)

    def overlapping(at: float) -> int:
        # Batches begun before ``at`` less those already over: a batch over at ``at`` had begun (an hour's
        # requests times its batches, counted pair by pair, took longer than the load).
        return bisect.bisect_left(starts, at) - bisect.bisect_right(ends, at)

    return {
        "requests": len(worst),
        "threshold_ms": round(worst[-1][3] * 1000, 1),
        "by_operation": dict(Counter(r[0] for r in worst).most_common()),
        "by_server": dict(Counter(r[1] for r in worst).most_common()),
        "stock_batches_in_flight_at_start": {
            "slowest": round(statistics.fmean(overlapping(r[2]) for r in worst), 2),
            "all": round(statistics.fmean(overlapping(r[2]) for r in done), 2),
        },
    }


# --- the workload -------------------------------------------------------------------------------------------


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter[int | str]] = field(default_factory=lambda: defaultdict(Counter))
    errors: list[str] = field(default_factory=list)
    # Latencies of the answers that did the work (2xx): a quick 429 lowers the percentiles of all answers.
    served: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    # (op, server, started at (monotonic), seconds) of every request, for the breakdown of the slowest.
    requests: list[tuple[str, str, float, float]] = field(default_factory=list)

    def record(self, op: str, status: int | str, seconds: float, detail: str = "", server: str = "") -> None:
        self.latencies[op].append(seconds)
        self.requests.append((op, server, time.monotonic() - seconds, seconds))
        self.statuses[op][status] += 1
        if isinstance(status, int) and 200 <= status < 300:
            self.served[op].append(seconds)
        if status not in ALLOWED and len(self.errors) < 20:
            self.errors.append(f"{op} {status} {detail[:200]}")


@dataclass
class Workload:
    servers: list[str]
    account_id: int
    api_key: str
    skus: list[str]
    deadline: float
    max_requests: int
    stats: Stats = field(default_factory=Stats)
    sent: int = 0
    integrated: int = 0

    def params(self, **extra: Any) -> dict[str, Any]:
        return {"API_KEY": self.api_key, "accountId": self.account_id, **extra}

    async def call(
        self, client: httpx.AsyncClient, rng: random.Random, op: str, method: str, path: str, **kwargs: Any
    ) -> httpx.Response | None:
        self.sent += 1
        base = rng.choice(self.servers)
        began = time.perf_counter()
        try:
            response = await client.request(method, base + path, **kwargs)
        except httpx.HTTPError as exc:
            self.stats.record(op, type(exc).__name__, time.perf_counter() - began, server=base)
            return None
        self.stats.record(op, response.status_code, time.perf_counter() - began, response.text, base)
        return response

    async def erp(self, client: httpx.AsyncClient, rng: random.Random, n: int) -> None:
        page = await self.call(client, rng, "GET /v2/orders", "GET", "/v2/orders", params=self.params(limit=50))
        if page is None or page.status_code not in (200, 206):
            return
        ids = [order["Id"] for order in page.json()["Results"]]
        if not ids:
            return
        body = [{"OrderId": i, "OwnOrderId": f"ERP-{n}-{i}", "Integrated": True, "ErpStatus": "soak"} for i in ids]
        done = await self.call(
            client, rng, "PUT /v2/orders/integrate", "PUT", "/v2/orders/integrate", params=self.params(), json=body
        )
        if done is not None and done.status_code == 200:
            self.integrated += sum(1 for r in done.json()["Results"] if r["Status"] == "200")

    async def stock(self, client: httpx.AsyncClient, rng: random.Random) -> None:
        body = [{"SKU": sku, "Stock": {"Quantity": rng.randrange(0, 500)}} for sku in rng.sample(self.skus, 50)]
        await self.call(client, rng, "POST /v2/products", "POST", "/v2/products", params=self.params(), json=body)

    async def search(self, client: httpx.AsyncClient, rng: random.Random) -> None:
        extra: dict[str, Any] = {"limit": 50, "offset": rng.choice((0, 0, 50, 100))}
        choice = rng.random()
        if choice < 0.3:
            extra["status"] = 1
        elif choice < 0.5:
            extra["marketplaceId"] = 100
        elif choice < 0.7:
            extra["sku"] = rng.choice(self.skus)
        await self.call(
            client,
            rng,
            "GET /v2/productlistings/search",
            "GET",
            "/v2/productlistings/search",
            params=self.params(**extra),
        )

    async def client_loop(self, seed: int) -> None:
        rng = random.Random(seed)
        # Idle connections are dropped before the servers' keep-alive limit (ALEPHEE_HTTP_KEEP_ALIVE_SECONDS, 5 s):
        # with httpx's default of the same 5 s, a request sent on a connection the server was closing at that
        # moment failed with ReadError (the client's race, not the server's answer).
        limits = httpx.Limits(keepalive_expiry=2)
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:
            n = 0
            while time.monotonic() < self.deadline and self.sent < self.max_requests:
                n += 1
                pick = rng.random()
                if pick < 0.35:
                    await self.erp(client, rng, seed * 1_000_000 + n)
                elif pick < 0.65:
                    await self.stock(client, rng)
                else:
                    await self.search(client, rng)


class Seller(threading.Thread):
    """``alephee sandbox sell --orders N`` every ``--sell-every`` seconds until the deadline."""

    def __init__(self, env: dict[str, str], account_id: int, args: argparse.Namespace, deadline: float, stats: Stats):
        super().__init__(daemon=True)
        self.env, self.account_id, self.deadline, self.stats = env, account_id, deadline, stats
        self.every, self.orders = args.sell_every, args.sell_orders
        self.sold = 0

    def run(self) -> None:
        seed = 1
        while time.monotonic() + self.every < self.deadline:
            time.sleep(self.every)
            began = time.perf_counter()
            try:
                report = run_cli(
                    self.env,
                    "sandbox",
                    "sell",
                    "--account",
                    str(self.account_id),
                    "--orders",
                    str(self.orders),
                    "--seed",
                    str(seed),
                )
                self.sold += int((report or {}).get("Orders", 0))
                self.stats.record("alephee sandbox sell", 200, time.perf_counter() - began)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                self.stats.record("alephee sandbox sell", "cli-error", time.perf_counter() - began, str(exc))
            seed += 1


# --- set-up and report ----------------------------------------------------------------------------------------


def prepare(args: argparse.Namespace, env: dict[str, str]) -> tuple[int, str]:
    from pgscratch import recreate_database

    server_url, _, name = args.database_url.rpartition("/")
    if not args.keep:
        recreate_database(server_url, name)
    run_cli(env, "db", "upgrade")
    demo = run_cli(env, "demo")
    key = run_cli(env, "key", "create", "--account", str(demo["AccountId"]), "--rate-limit", str(args.rate_limit))
    return int(demo["AccountId"]), str(key["ApiKey"])


def wait_for_sandbox(env: dict[str, str], timeout: float) -> int:
    """Wait until the worker has delivered listings to the sandbox; returns how many it holds."""
    deadline = time.monotonic() + timeout
    listings = 0
    while time.monotonic() < deadline:
        status = run_cli(env, "sandbox", "status") or {}
        listings = int(status.get("Listings", 0))
        if listings:
            return listings
        time.sleep(2)
    return listings


def _every(samples: list[tuple[float, float]], seconds: float) -> list[float]:
    """The first sample of each ``seconds``-long bucket."""
    buckets: dict[int, float] = {}
    for t, v in samples:
        buckets.setdefault(int(t // seconds), v)
    return [buckets[k] for k in sorted(buckets)]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(
    stats: Stats, sampler: Sampler, seconds: float, sold: int, integrated: int, args: argparse.Namespace
) -> dict[str, Any]:
    total = sum(len(v) for op, v in stats.latencies.items() if not op.startswith("alephee"))
    everything = [x for op, v in stats.latencies.items() if not op.startswith("alephee") for x in v]
    served = [x for op, v in stats.served.items() if not op.startswith("alephee") for x in v]
    ops = {
        op: {
            "requests": len(lat),
            "statuses": {str(k): v for k, v in sorted(stats.statuses[op].items(), key=lambda kv: str(kv[0]))},
            "p50_ms": round(percentile(lat, 0.50) * 1000, 1),
            "p95_ms": round(percentile(lat, 0.95) * 1000, 1),
            "p99_ms": round(percentile(lat, 0.99) * 1000, 1),
            "max_ms": round(max(lat, default=0.0) * 1000, 1),
            "p99_ms_2xx": round(percentile(stats.served[op], 0.99) * 1000, 1),
        }
        for op, lat in sorted(stats.latencies.items())
    }
    statuses: Counter[str] = Counter()
    for op, counter in stats.statuses.items():
        if not op.startswith("alephee"):
            statuses.update({str(k): v for k, v in counter.items()})
    memory = {}
    for name, samples in sampler.samples.items():
        values = [v for _, v in samples]
        half = [s for s in samples if s[0] >= seconds / 2]
        memory[name] = {
            "samples": len(values),
            "first_mb": round(values[0], 1) if values else None,
            "last_mb": round(values[-1], 1) if values else None,
            "max_mb": round(max(values), 1) if values else None,
            "slope_mb_per_min": round(slope_per_min(samples), 2),
            "slope_second_half_mb_per_min": round(slope_per_min(half), 2),
            "every_10s_mb": [round(v, 1) for v in _every(samples, 10)],
        }
    bad = {k: v for k, v in statuses.items() if not (k.isdigit() and int(k) in ALLOWED)}
    return {
        "duration_s": round(seconds, 1),
        "concurrency": args.concurrency,
        "rate_limit_rpm_per_endpoint": args.rate_limit,
        "requests": total,
        "throughput_rps": round(total / seconds, 1) if seconds else 0,
        "statuses": dict(sorted(statuses.items())),
        "errors": bad,
        "error_samples": stats.errors,
        "p50_ms": round(percentile(everything, 0.50) * 1000, 1),
        "p95_ms": round(percentile(everything, 0.95) * 1000, 1),
        "p99_ms": round(percentile(everything, 0.99) * 1000, 1),
        "max_ms": round(max(everything, default=0.0) * 1000, 1),
        "p99_ms_2xx": round(percentile(served, 0.99) * 1000, 1),
        "operations": ops,
        "slowest_1pct": slowest(stats),
        "sandbox_orders_sold": sold,
        "orders_integrated_by_the_erp": integrated,
        "memory": memory,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=60, help="Seconds of load (default 60).")
    parser.add_argument("--concurrency", type=int, default=8, help="Concurrent clients (default 8).")
    parser.add_argument("--rate-limit", type=int, default=3000, help="The ERP key's requests/minute per endpoint.")
    parser.add_argument("--sell-every", type=float, default=5, help="Seconds between sandbox sells (default 5).")
    parser.add_argument("--sell-orders", type=int, default=10, help="Orders per sandbox sell (default 10).")
    parser.add_argument("--max-requests", type=int, default=1_000_000, help="Stop after this many requests.")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("ALEPHEE_SOAK_DATABASE", "postgresql+psycopg://postgres@127.0.0.1:5432/alephee_soak"),
    )
    parser.add_argument("--redis-url", default=os.environ.get("ALEPHEE_SOAK_REDIS", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--keep", action="store_true", help="Reuse the soak database instead of recreating it.")
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="A setting of both servers, e.g. ALEPHEE_GC_FREEZE=false (repeatable; for before/after runs).",
    )
    parser.add_argument(
        "--worker-process",
        action="store_true",
        help="Run the outbox worker as a third process (alephee worker) instead of a thread of server A.",
    )
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=0,
        help="With --worker-process: the worker's niceness (e.g. 10: the CPU goes to the API processes first).",
    )
    parser.add_argument(
        "--probe",
        action="store_true",
        help="Record each server's memory from inside (bench/probe/sitecustomize.py) and summarise it in the report.",
    )
    parser.add_argument("--json", type=Path, help="Also write the report here.")
    parser.add_argument("--log-dir", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    args.log_dir.mkdir(parents=True, exist_ok=True)

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ALEPHEE_")},
        "ALEPHEE_DATABASE_URL": args.database_url,
        "ALEPHEE_REDIS_URL": args.redis_url,
        "ALEPHEE_RATE_LIMIT_NAMESPACE": f"soak-{os.getpid()}",
        "ALEPHEE_DOCUMENTS_DIR": str(args.log_dir / "soak-documents"),
        "ALEPHEE_LOG_LEVEL": "WARNING",
        # The soak loads the API and the sandbox marketplace; the connectors over HTTP to their stand-ins are
        # measured by bench/mercadolibre.py. Without this, the demo's Mercado Libre and Tiendanube listings
        # would be pushed to stand-ins no server of the soak serves, and fail.
        "ALEPHEE_DEMO_MERCADOLIBRE": "false",
        "ALEPHEE_DEMO_TIENDANUBE": "false",
    }
    env.update(pair.split("=", 1) for pair in args.server_env)
    probe_dir = args.log_dir / f"probe-{os.getpid()}"
    if args.probe:
        probe_dir.mkdir()
        path = [str(ROOT / "bench" / "probe"), *filter(None, [env.get("PYTHONPATH")])]
        env.update(PYTHONPATH=os.pathsep.join(path), ALEPHEE_BENCH_PROBE_DIR=str(probe_dir))
    print("preparing the database (migrations, demo tenant)...", file=sys.stderr)
    account_id, api_key = prepare(args, env)
    servers: list[Server] = []
    worker: Server | None = None
    try:
        if args.worker_process:
            servers.append(start_server("A (serve)", env, args.log_dir))
            log = (args.log_dir / "soak-worker.log").open("wb")
            command = [EXE, "worker"]
            if args.worker_nice:
                command = ["nice", "-n", str(args.worker_nice), *command]
            process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
            worker = Server("worker", process, "")
        else:
            servers.append(start_server("A (serve --with-worker)", env, args.log_dir, "--with-worker"))
        servers.append(start_server("B (serve)", env, args.log_dir))
        print(f"sandbox listings delivered: {wait_for_sandbox(env, 120)}", file=sys.stderr)
        with httpx.Client(timeout=60) as client:
            catalog = client.get(
                servers[1].base_url + "/v2/products",
                params={"API_KEY": api_key, "accountId": account_id, "limit": 1000},
            ).json()
        # Normal products and variation children: those carry their own stock.
        skus = [
            p["Identification"]["SKU"] for p in catalog["Results"] if p["Identification"]["ProductType"]["Id"] in (1, 5)
        ]

        waits_before = {s.name: scrape(s.base_url) for s in servers}
        each_before = cpu_seconds([s.process for s in servers])
        cpu_before = sum(each_before)
        worker_before = cpu_seconds([worker.process])[0] if worker else 0.0
        backends_before, clients_before = backend_cpu(args.database_url), client_cpu()
        load_before = load_average()
        began = time.monotonic()
        deadline = began + args.duration
        stats = Stats()
        sampler = Sampler(servers, 1.0, deadline + 5)
        waits = WaitSampler(args.database_url, 0.1, deadline + 5)
        seller = Seller(env, account_id, args, deadline, stats)
        workload = Workload(
            [s.base_url for s in servers], account_id, api_key, skus, deadline, args.max_requests, stats
        )
        sampler.start()
        waits.start()
        seller.start()
        print(f"load: {args.duration:.0f} s, {args.concurrency} clients, 2 servers...", file=sys.stderr)

        async def run_all() -> None:
            await asyncio.gather(*(workload.client_loop(seed) for seed in range(1, args.concurrency + 1)))

        asyncio.run(run_all())
        seconds = time.monotonic() - began
        seller.join(timeout=60)
        sampler.stop.set()
        sampler.join(timeout=5)
        waits.stop.set()
        waits.join(timeout=5)
        out = report(stats, sampler, seconds, seller.sold, workload.integrated, args)
        out["load_average"] = {"start": round(load_before, 2), "end": round(load_average(), 2)}
        out["machine_cpu_probe_s"] = cpu_probe_seconds()
        out["server_cpu_ms_per_request"] = round(
            1000 * (sum(cpu_seconds([s.process for s in servers])) - cpu_before) / max(1, out["requests"]),
            2,
        )
        out["server_cpu_ms_each"] = {
            s.name: round(1000 * (after - before) / max(1, out["requests"]), 2)
            for s, before, after in zip(servers, each_before, cpu_seconds([s.process for s in servers]), strict=True)
        }
        if worker:
            out["worker_process_cpu_ms_per_request"] = round(
                1000 * (cpu_seconds([worker.process])[0] - worker_before) / max(1, out["requests"]), 2
            )
        # Where the machine's CPU went, per request: servers, the database's backends (those connected at the
        # end, counted from the start or from their birth), the clients. The sum bounds the closed loop's
        # throughput on this machine (cores / CPU per request).
        backends_after = backend_cpu(args.database_url)
        out["cpu_ms_per_request"] = {
            "servers": out["server_cpu_ms_per_request"],
            "database": round(
                1000
                * sum(v - backends_before.get(pid, 0.0) for pid, v in backends_after.items())
                / max(1, out["requests"]),
                2,
            ),
            "clients": round(1000 * (client_cpu() - clients_before) / max(1, out["requests"]), 2),
            "cores": os.cpu_count(),
        }
        out["outbox_at_the_end"] = outbox_backlog(args.database_url)
        out["waits"] = {s.name: wait_breakdown(waits_before[s.name], scrape(s.base_url)) for s in servers}
        out["database_sessions"] = waits.report()
        if args.probe:
            out["probe"] = {"directory": str(probe_dir), "processes": summarise(probe_dir)}
    finally:
        for server in servers + ([worker] if worker else []):
            server.stop()
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 1 if out["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
