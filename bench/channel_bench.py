"""What the channel benchmarks (``bench/mercadolibre.py``, ``bench/tiendanube.py``) share: the hub's processes
(``alephee serve --with-worker`` and extra workers) started, watched and stopped, the link step, their CPU time,
percentiles, free loopback ports and a scratch PostgreSQL database. Nothing here leaves the machine.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from pgscratch import drop_database, recreate_database

# One key for the seed (tokens encrypted) and the processes (tokens decrypted): a Fernet key made for the run.
KEY = base64.urlsafe_b64encode(os.urandom(32)).decode()
EXE = str(Path(sys.executable).with_name("alephee"))


def hub_environment(url: str, workdir: Path, hub: str, channel: dict[str, str]) -> dict[str, str]:
    """The hub's environment for a channel bench: the caller's variables without its ``ALEPHEE_`` ones, the
    database, the public URL, quiet logs, a fast worker, no limit on notifications, and the ``channel``'s own."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("ALEPHEE_")},
        "ALEPHEE_DATABASE_URL": url,
        "ALEPHEE_SECRET_KEY": KEY,
        "ALEPHEE_PUBLIC_URL": hub,
        "ALEPHEE_LOG_LEVEL": "warning",
        "ALEPHEE_DOCUMENTS_DIR": str(workdir / "documents"),
        "ALEPHEE_WORKER_INTERVAL_SECONDS": "0.05",
        "ALEPHEE_CHANNEL_NOTIFICATIONS_PER_MINUTE": "1000000",
        **channel,
    }


def hub_settings(pairs: list[str] | None) -> dict[str, str]:
    """``--hub-setting NAME=VALUE`` options as the hub's environment (``ALEPHEE_NAME``): the benches start the hub
    without the caller's ``ALEPHEE_`` variables, so a setting to try (a batch size, a concurrency) is named here."""
    settings: dict[str, str] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise SystemExit(f"--hub-setting takes NAME=VALUE, not {pair!r}")
        settings["ALEPHEE_" + name.strip().upper().removeprefix("ALEPHEE_")] = value
    return settings


def percentile(values: list[float], share: float) -> float:
    """The ``share`` percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))] if ordered else float("nan")


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_answering(url: str, process: subprocess.Popen[bytes], log: Path) -> subprocess.Popen[bytes]:
    """Wait until ``url`` answers (any status) on behalf of ``process``; stop it and fail with its log if not."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.2)
    stop([process])
    raise RuntimeError(log.read_text()[-3000:])


def start(env: dict[str, str], workdir: Path, port: int, workers: int) -> list[subprocess.Popen[bytes]]:
    """The server (with its worker) and ``workers`` more worker processes; waits for /health."""
    log = (workdir / "server.log").open("ab")
    processes = [
        subprocess.Popen(
            [EXE, "serve", "--host", "127.0.0.1", "--port", str(port), "--with-worker"],
            env=env,
            stdout=log,
            stderr=log,
            cwd=workdir,
        )
    ]
    processes += [
        subprocess.Popen([EXE, "worker"], env=env, stdout=log, stderr=log, cwd=workdir) for _ in range(workers)
    ]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return processes
        except httpx.HTTPError:
            time.sleep(0.2)
    stop(processes)
    raise RuntimeError((workdir / "server.log").read_text()[-3000:])


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """Terminate the processes (killed after 15 s)."""
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


def alive(processes: list[subprocess.Popen[bytes]]) -> None:
    """Fail loudly when a process of the run died: its numbers would be meaningless."""
    for process in processes:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}")


def cpu_seconds(processes: list[subprocess.Popen[bytes]]) -> list[float]:
    """CPU time (user + system) each process has used so far, from ``/proc`` (0 where it cannot be read):
    unlike latency, it does not depend on what else the machine is doing."""
    tick = os.sysconf("SC_CLK_TCK")
    found = []
    for process in processes:
        try:
            fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            found.append((int(fields[11]) + int(fields[12])) / tick)
        except (OSError, IndexError, ValueError):
            found.append(0.0)
    return found


def wait_for(check: Callable[[], bool], timeout: float, processes: list[subprocess.Popen[bytes]]) -> bool:
    """Poll ``check`` until it holds (True) or ``timeout`` seconds pass (False), the processes alive."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive(processes)
        if check():
            return True
        time.sleep(0.2)
    return False


def link(env: dict[str, str], workdir: Path, account_id: int, marketplace_id: int) -> tuple[Any, float]:
    """``alephee channel sync`` of the account's marketplace: its ``Listings`` report and the wall time."""
    began = time.monotonic()
    done = subprocess.run(
        [EXE, "channel", "sync", "--account", str(account_id), "--marketplace", str(marketplace_id)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        cwd=workdir,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stdout + done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])["Listings"], round(time.monotonic() - began, 1)


def scratch_postgres(server: str, prefix: str) -> tuple[str, Callable[[], None]]:
    """A fresh database named ``{prefix}_{pid}`` on ``server`` (URL of its maintenance database) and how to
    drop it."""
    name = f"{prefix}_{os.getpid()}"
    base = server.rsplit("/", 1)[0]
    return recreate_database(base, name), lambda: drop_database(base, name)
