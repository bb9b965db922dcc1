"""Benchmark of GET /v2/orders: pages of 100 full orders for the two integration cycles.

    .venv/bin/python bench/orders_read.py --backend sqlite --orders 1000000 [--small 10000] [--seconds 10]

For each database (the generated one, and a small one for the p99 comparison) it starts a real server
(uvicorn, one process) and measures, at concurrency 1 and 8:

* normal cycle: ``Integrated=false`` pages walked the way clients walk them (offset += 100);
* late-cancellation cycle: ``statusType=99&statusDateFrom=<7 days ago>`` pages;
* the ceiling: the same server answering ``/bench/ceiling`` with the same bytes from memory (no database,
  no auth), through the same middleware;
* the same three compressed (``--encoding br`` or ``gzip``; ``none`` skips them): the cycles sent with
  ``Accept-Encoding: <encoding>``, against their own ceiling, ``/bench/ceiling/<encoding>``, which answers the
  first page's compressed bytes from memory.

It prints requests/s, p50/p99 latency, the ratio to the ceiling (a compressed scenario to the compressed
ceiling) and the server's CPU time per request (from /proc: what a request costs, whatever else the machine
runs), then how often a poll ran its queries (the read caches' misses, from /metrics). The load generator is
a minimal keep-alive HTTP/1.1 client on asyncio, so it costs the shared 2 cores as little as possible.

With no writes, every poll after the first finds the database unchanged and the server reuses the key lookup
and the page's keys (``db.StateCache``); ``--writes N`` has another process commit N order updates per
second meanwhile, as a live shop does, so most polls run their queries.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent


def bench_app() -> Any:
    """The hub plus the in-memory ceiling route (uvicorn factory, configured through the environment)."""
    from fastapi import Response

    from alephee.app import create_app
    from alephee.config import Settings

    settings = Settings(database_url=os.environ["BENCH_DATABASE_URL"], _env_file=None, log_level="WARNING")  # type: ignore[call-arg]
    app = create_app(settings)
    ceiling_file = Path(os.environ["BENCH_CEILING_FILE"])
    cache: dict[str, bytes] = {}

    @app.get("/bench/ceiling", include_in_schema=False)
    def ceiling() -> Response:
        body = cache.get("body")
        if body is None:
            body = cache["body"] = ceiling_file.read_bytes()
        return Response(content=body, media_type="application/json; charset=utf-8")

    @app.get("/bench/ceiling/{encoding}", include_in_schema=False)
    def compressed_ceiling(encoding: str) -> Response:
        body = cache.get(encoding)
        if body is None:
            body = cache[encoding] = ceiling_file.with_name(f"{ceiling_file.name}.{encoding}").read_bytes()
        headers = {"Content-Encoding": encoding}
        return Response(content=body, media_type="application/json; charset=utf-8", headers=headers)

    return app


def serve(url: str, port: int, ceiling_file: str, workers: int) -> None:
    """Run ``bench_app`` with ``workers`` processes (child process)."""
    import uvicorn

    os.environ.update(BENCH_DATABASE_URL=url, BENCH_CEILING_FILE=ceiling_file)
    if os.environ.get("BENCH_SERVER_CPUS"):
        os.sched_setaffinity(0, {int(c) for c in os.environ["BENCH_SERVER_CPUS"].split(",")})
    uvicorn.run(
        "orders_read:bench_app",
        factory=True,
        app_dir=str(ROOT),
        host="127.0.0.1",
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


async def _request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, target: str, encoding: str | None = None
) -> tuple[int, bytes]:
    accept = f"Accept-Encoding: {encoding}\r\n" if encoding else ""
    writer.write(f"GET {target} HTTP/1.1\r\nHost: bench\r\n{accept}\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
        elif name.lower() == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if not chunked:
        return status, await reader.readexactly(length)
    body = b""
    while True:
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        chunk = await reader.readexactly(size + 2)
        if size == 0:
            return status, body
        body += chunk[:-2]


async def load(
    port: int, targets: list[str], concurrency: int, seconds: float, encoding: str | None = None
) -> list[float]:
    """Send the targets round-robin from ``concurrency`` connections for ``seconds`` (asking for ``encoding``);
    latencies in ms."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**9))

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**24)
        try:
            while time.perf_counter() < deadline:
                target = targets[next(counter) % len(targets)]
                started = time.perf_counter()
                status, _ = await _request(reader, writer, target, encoding)
                latencies.append((time.perf_counter() - started) * 1000)
                if status not in (200, 206):
                    raise RuntimeError(f"{target} answered {status}")
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def write_steadily(url: str, per_second: float, orders: int) -> None:
    """Commit ``per_second`` small order updates per second until killed (child process).

    Each one changes the ERP mark of a random order of the history (never one either cycle reads), as an
    ERP or a marketplace would: it does not change what the polls return, but it is a commit, so every
    result the server reuses while the database is unchanged has to be read again.
    """
    import random

    from sqlalchemy import create_engine, text

    sys.path.insert(0, str(ROOT))
    import orders_data

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    history = orders_data.history_ids(orders)
    if not history:
        raise SystemExit(f"a database of {orders} orders has no order outside the polled ones to write to")
    rng = random.Random(7)
    statement = text("UPDATE orders SET erp_status = :mark, version = version + 1 WHERE id = :id")
    interval = 1 / per_second
    deadline = time.perf_counter()
    with engine.connect() as connection:
        while True:
            connection.execute(statement, {"mark": f"bench-{rng.randrange(1000)}", "id": rng.choice(history)})
            deadline += interval
            time.sleep(max(0.0, deadline - time.perf_counter()))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(url: str, ceiling_file: Path, workers: int = 1) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, __file__, "serve", url, str(port), str(ceiling_file), str(workers)],
        env={**os.environ, "ALEPHEE_LOG_LEVEL": "WARNING"},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process, port
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("server did not start")


def _check_alive(processes: dict[str, subprocess.Popen[bytes] | None]) -> None:
    """Stop the benchmark when one of its processes has died: figures measured without the server or the
    writer they assume would be silently wrong."""
    for name, process in processes.items():
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the {name} process exited with code {process.returncode}; no figures printed")


def cpu_seconds(pid: int) -> float:
    """CPU time used so far by process ``pid`` and its children (the server's workers), from /proc."""
    total = 0.0
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        pids += [int(child) for child in task.read_text().split()]
    for one in pids:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


async def metrics(port: int) -> str:
    """The server's /metrics text."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**24)
    try:
        _, body = await _request(reader, writer, "/metrics")
    finally:
        writer.close()
    return body.decode()


def read_cache_summary(text: str) -> str:
    """How often a poll ran its queries (the read caches' misses per lookup), from /metrics: a figure that does
    not depend on the machine's load."""
    counts: dict[tuple[str, str], float] = {}
    for line in text.splitlines():
        if line.startswith("alephee_read_cache{"):
            labels, _, value = line.partition("} ")
            fields = dict(part.split("=", 1) for part in labels.removeprefix("alephee_read_cache{").split(","))
            counts[(fields["cache"].strip('"'), fields["measure"].strip('"'))] = float(value)
    parts = []
    for cache in ("order_pages", "api_keys"):
        hits, misses = counts.get((cache, "hits"), 0), counts.get((cache, "misses"), 0)
        if hits + misses:
            parts.append(f"{cache} misses {misses:.0f} of {hits + misses:.0f} ({misses / (hits + misses):.1%})")
    return "read caches: " + ("; ".join(parts) or "not reported")


def _summary(latencies: list[float], seconds: float) -> tuple[float, float, float]:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return len(latencies) / seconds, statistics.median(ordered), p99


def run_database(
    backend: str,
    orders: int,
    seconds: float,
    concurrencies: list[int],
    workers: int = 1,
    writes: float = 0,
    encoding: str | None = "br",
) -> dict[str, dict[int, tuple]]:  # type: ignore[type-arg]
    """Measure both cycles and the ceiling against one generated database (``writes`` commits per second
    by another process meanwhile), plain and, unless ``encoding`` is None, compressed with it."""
    sys.path.insert(0, str(ROOT))
    import orders_data

    target = orders_data.Target(backend, orders)
    orders_data.generate(target)
    ceiling_file = ROOT / "out" / f"ceiling-{backend}-{orders}.json"
    ceiling_file.parent.mkdir(parents=True, exist_ok=True)
    process, port = _start(target.url, ceiling_file, workers)
    try:
        auth = {"API_KEY": orders_data.API_KEY, "accountId": 1}
        since = orders_data.LATE_SINCE.strftime("%Y-%m-%dT%H:%M:%SZ")

        async def fetch(params: dict[str, object], encoding: str | None = None) -> bytes:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**24)
            status, body = await _request(reader, writer, "/v2/orders?" + urlencode(params), encoding)
            writer.close()
            assert status == 200, body[:200]
            return body

        import orjson

        first = asyncio.run(fetch({**auth, "Integrated": "false"}))
        ceiling_file.write_bytes(first)
        compressed_size = 0
        if encoding:
            # The compressed ceiling answers the very bytes the hub sends for the first page.
            compressed = asyncio.run(fetch({**auth, "Integrated": "false"}, encoding))
            ceiling_file.with_name(f"{ceiling_file.name}.{encoding}").write_bytes(compressed)
            compressed_size = len(compressed)
        total_normal = orjson.loads(first)["Total"]
        total_late = orjson.loads(asyncio.run(fetch({**auth, "statusType": 99, "statusDateFrom": since})))["Total"]
        normal = [
            "/v2/orders?" + urlencode({**auth, "Integrated": "false", **({"offset": o} if o else {})})
            for o in range(0, total_normal, 100)
        ]
        late = [
            "/v2/orders?"
            + urlencode({**auth, "statusType": 99, "statusDateFrom": since, **({"offset": o} if o else {})})
            for o in range(0, total_late, 100)
        ]
        writer = None
        if writes > 0:
            writer = subprocess.Popen([sys.executable, __file__, "write", target.url, str(writes), str(orders)])
        print(
            f"\n{backend}, {orders:,} orders, {workers} server process(es), {writes:g} commits/s meanwhile: "
            f"normal cycle {total_normal:,} orders ({len(normal)} pages), "
            f"late cancellations {total_late:,} ({len(late)} pages), page of 100 = {len(first) / 1024:.0f} KiB"
            + (f", {compressed_size / 1024:.0f} KiB as {encoding}" if encoding else "")
        )
        # (name, targets, Accept-Encoding, the ceiling it is compared with)
        scenarios: list[tuple[str, list[str], str | None, str]] = [
            ("ceiling", ["/bench/ceiling"], None, "ceiling"),
            ("normal", normal, None, "ceiling"),
            ("late", late, None, "ceiling"),
        ]
        if encoding:
            top = f"ceiling-{encoding}"
            scenarios += [
                (top, [f"/bench/ceiling/{encoding}"], encoding, top),
                (f"normal-{encoding}", normal, encoding, top),
                (f"late-{encoding}", late, encoding, top),
            ]
        results: dict[str, dict[int, tuple]] = {name: {} for name, *_ in scenarios}  # type: ignore[type-arg]
        # The scenarios take turns in one-second slices, so a slower minute of a shared machine weighs on the
        # ceiling and on the real pages alike (the ratio is what matters).
        slices = max(1, round(seconds))
        for concurrency in concurrencies:
            latencies: dict[str, list[float]] = {name: [] for name, *_ in scenarios}
            cpu: dict[str, float] = dict.fromkeys(latencies, 0.0)
            for _name, targets, accept, _top in scenarios:
                asyncio.run(load(port, targets, concurrency, min(2.0, seconds / 4), accept))  # warm-up
            for _ in range(slices):
                for name, targets, accept, _top in scenarios:
                    used = cpu_seconds(process.pid)
                    latencies[name] += asyncio.run(load(port, targets, concurrency, seconds / slices, accept))
                    cpu[name] += cpu_seconds(process.pid) - used
                _check_alive({"server": process, "writer": writer})
            for name, *_ in scenarios:
                results[name][concurrency] = (
                    *_summary(latencies[name], seconds),
                    cpu[name] * 1000 / max(1, len(latencies[name])),
                )
        _check_alive({"server": process, "writer": writer})
        print("  " + read_cache_summary(asyncio.run(metrics(port))))
        if writer is not None:
            writer.terminate()
            writer.wait(timeout=20)
        for concurrency in concurrencies:
            for name, _targets, _accept, top in scenarios:
                ceiling_rps = results[top][concurrency][0]
                rps, p50, p99, cpu_ms = results[name][concurrency]
                ratio = rps / ceiling_rps if ceiling_rps else 0
                print(
                    f"  c={concurrency} {name:11s} {rps:8.1f} req/s  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms"
                    f"  ratio {ratio:4.2f}  server CPU {cpu_ms:5.2f} ms/req"
                )
        return results
    finally:
        process.terminate()
        process.wait(timeout=20)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "write":
        write_steadily(sys.argv[2], float(sys.argv[3]), int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=10_000, help="size of the comparison database (0 = skip)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring time per scenario")
    parser.add_argument("--concurrency", default="1,8")
    parser.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="pin the server to the first half of the CPUs and the load generator to the rest",
    )
    parser.add_argument("--workers", type=int, default=1, help="server processes (the ceiling runs on the same server)")
    parser.add_argument(
        "--writes", type=float, default=0, help="commits per second by another process while measuring (0 = none)"
    )
    parser.add_argument(
        "--encoding",
        choices=("br", "gzip", "none"),
        default="br",
        help="also measure the cycles compressed with this Accept-Encoding, against their own ceiling",
    )
    args = parser.parse_args()
    if args.pin:
        # Load generator and server on separate cores (as when clients are other machines): thread hand-offs
        # inside the server then stay on one core instead of waking the other (measured: they dominate).
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) >= 2:
            os.environ["BENCH_SERVER_CPUS"] = ",".join(str(c) for c in cpus[: len(cpus) // 2])
            os.sched_setaffinity(0, set(cpus[len(cpus) // 2 :]))
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    encoding = None if args.encoding == "none" else args.encoding
    big = run_database(args.backend, args.orders, args.seconds, concurrencies, args.workers, args.writes, encoding)
    if args.small:
        small = run_database(args.backend, args.small, args.seconds, concurrencies, args.workers, args.writes, encoding)
        print(f"\np99 at {args.orders:,} vs {args.small:,} orders ({args.backend}):")
        for name in ("normal", "late"):
            for c in concurrencies:
                big_p99, small_p99 = big[name][c][2], small[name][c][2]
                print(f"  {name:6s} c={c}: {big_p99:7.2f} ms vs {small_p99:7.2f} ms  x{big_p99 / small_p99:4.2f}")


if __name__ == "__main__":
    main()
