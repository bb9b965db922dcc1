"""The rate limiter while its Redis is gone or hangs: requests let through a budget, time per check, log
volume and Redis attempts.

    .venv/bin/python bench/ratelimit_outage.py [--requests 107] [--rpm 30] [--seconds 12]

"gone": ``ALEPHEE_REDIS_URL`` on a loopback port nobody listens on; ``--requests`` checks of one key against
``--rpm``. "hang": a loopback socket that accepts and never answers; one check every 10 ms for ``--seconds``.
Prints how many checks were allowed, the time per check (mean, p50, max), the bytes logged and how many
connections the hanging server saw. Only loopback is touched.
"""

from __future__ import annotations

import argparse
import io
import logging
import socket
import threading
import time

from alephee.config import Settings
from alephee.http.ratelimit import RateLimiter


def _settings(url: str) -> Settings:
    return Settings(_env_file=None, database_url="sqlite://", redis_url=url)  # type: ignore[call-arg]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _summary(latencies: list[float]) -> str:
    ordered = sorted(latencies)
    mean = sum(ordered) / len(ordered)
    return f"mean {mean * 1000:.2f} ms, p50 {ordered[len(ordered) // 2] * 1000:.2f} ms, max {ordered[-1] * 1000:.0f} ms"


def main() -> None:
    """Run both scenarios and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=107)
    parser.add_argument("--rpm", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=12.0)
    args = parser.parse_args()

    logged = io.StringIO()
    handler = logging.StreamHandler(logged)
    logging.getLogger("alephee").addHandler(handler)
    logging.getLogger("alephee").setLevel(logging.INFO)

    limiter = RateLimiter(_settings(f"redis://127.0.0.1:{_free_port()}/0"))
    latencies = []
    allowed = 0
    for _ in range(args.requests):
        began = time.perf_counter()
        allowed += limiter.hit(1, "orders.list", args.rpm).allowed
        latencies.append(time.perf_counter() - began)
    print(f"gone: {allowed} of {args.requests} allowed against {args.rpm}/min; {_summary(latencies)}; "
          f"{len(logged.getvalue())} bytes logged")  # fmt: skip

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    logged.seek(0)
    logged.truncate()
    limiter = RateLimiter(_settings(f"redis://127.0.0.1:{server.getsockname()[1]}/0"))
    latencies = []
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        began = time.perf_counter()
        limiter.hit(1, "orders.list", args.rpm)
        latencies.append(time.perf_counter() - began)
        time.sleep(0.01)
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()
    print(f"hang: {len(latencies)} checks in {args.seconds:.0f} s; {_summary(latencies)}; "
          f"{len(held)} connections to the hanging server; {len(logged.getvalue())} bytes logged")  # fmt: skip


if __name__ == "__main__":
    main()
