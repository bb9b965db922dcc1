"""glibc's malloc arenas capped in a server's or worker's process (alephee/memory.py)."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

import alephee.app
import alephee.memory
from alephee.http.context import AppContext
from alephee.memory import cap_malloc_arenas

GLIBC = sys.platform.startswith("linux") and hasattr(ctypes.CDLL(None), "gnu_get_libc_version")

# Six threads hold a malloc'd block each at once; the C library then lists its arenas (malloc_info's <heap>s).
_ARENAS_SEEN = """
import ctypes, sys, tempfile, threading
from alephee.memory import cap_malloc_arenas

capped = cap_malloc_arenas(int(sys.argv[1]))
held, barrier = [], threading.Barrier(7)

def hold() -> None:
    held.append(bytearray(100_000))  # above pymalloc's 512 bytes, under malloc's mmap threshold: an arena's
    barrier.wait()
    barrier.wait()

threads = [threading.Thread(target=hold) for _ in range(6)]
for thread in threads:
    thread.start()
barrier.wait()
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = (ctypes.c_char_p, ctypes.c_char_p)
libc.malloc_info.argtypes = (ctypes.c_int, ctypes.c_void_p)
libc.fclose.argtypes = (ctypes.c_void_p,)
with tempfile.NamedTemporaryFile(suffix=".xml") as out:
    stream = libc.fopen(out.name.encode(), b"w")
    libc.malloc_info(0, stream)
    libc.fclose(stream)
    heaps = open(out.name).read().count("<heap nr=")
barrier.wait()
for thread in threads:
    thread.join()
print(capped, heaps)
"""


def _arenas_seen(limit: int) -> tuple[bool, int]:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    out = subprocess.run(
        [sys.executable, "-c", _ARENAS_SEEN, str(limit)], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    return out[0] == "True", int(out[1])


@pytest.mark.skipif(not GLIBC, reason="glibc's arenas")
def test_the_cap_holds_the_threads_to_that_many_arenas() -> None:
    capped, heaps = _arenas_seen(2)
    assert capped and heaps == 2
    # glibc's own limit (eight per core) gives each of the six threads an arena of its own
    uncapped, heaps = _arenas_seen(0)
    assert not uncapped and heaps == 7


def test_nothing_is_changed_without_a_limit_or_with_the_operators_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert cap_malloc_arenas(0) is False
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert cap_malloc_arenas(2) is False


def test_a_server_and_a_worker_cap_their_arenas(
    ctx: AppContext, cli: Callable[..., Any], make_client: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    limits: list[int] = []
    monkeypatch.setattr(alephee.app, "cap_malloc_arenas", limits.append)
    monkeypatch.setattr(alephee.memory, "cap_malloc_arenas", limits.append)
    make_client(malloc_arenas=3)
    assert limits == [3]
    monkeypatch.setenv("ALEPHEE_MALLOC_ARENAS", "5")
    cli("worker", "--once")
    assert limits == [3, 5]


@pytest.mark.skipif(not GLIBC, reason="glibc's mallinfo2")
def test_what_the_heaps_hold_follows_what_the_process_allocates() -> None:
    before = alephee.memory.allocator_bytes()
    assert before["malloc_held"] >= before["malloc_in_use"] > 0
    assert before["python_blocks"] > 0
    held = [bytearray(50_000) for _ in range(200)]  # 10 MB over pymalloc's limit, under the mmap threshold: malloc's
    during = alephee.memory.allocator_bytes()
    assert during["malloc_in_use"] >= before["malloc_in_use"] + 9_000_000
    assert during["malloc_held"] >= during["malloc_in_use"]
    del held
    assert alephee.memory.allocator_bytes()["malloc_in_use"] <= during["malloc_in_use"] - 9_000_000


def test_metrics_show_the_allocators_and_the_resident_memory(client: Any) -> None:
    body = client.get("/metrics").text
    samples = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in body.splitlines()
        if line.startswith(("alephee_memory{", "process_resident_memory_bytes "))
    }
    assert samples['alephee_memory{measure="python_blocks"}'] > 0
    assert samples["process_resident_memory_bytes"] > 0
    if GLIBC:
        assert samples['alephee_memory{measure="malloc_held"}'] >= samples['alephee_memory{measure="malloc_in_use"}']
        assert samples['alephee_memory{measure="malloc_in_use"}'] > 0
