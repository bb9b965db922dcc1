"""The C allocator of a long-running process (``alephee serve``, ``alephee worker``): glibc's malloc arenas capped.

glibc gives each thread that allocates while the others hold theirs a new arena, up to eight per core, and an arena
keeps the pages it once used. A server's threads (the route threads, the worker's delivery pools, the recorder)
come and go, so its RSS kept growing long after warm-up: in a 20-minute soak the server with the worker held 38 MiB
more with the default arenas than with two (docs/performance.md, Soak). Python's own small objects do not use these
arenas (pymalloc has its own), so two cost no measurable throughput there."""

from __future__ import annotations

import ctypes
import os
import sys

# mallopt's parameter number for the arena cap (glibc's <malloc.h>: M_ARENA_MAX).
M_ARENA_MAX = -8


def cap_malloc_arenas(limit: int) -> bool:
    """Let at most ``limit`` glibc malloc arenas serve this process's threads from now on; True when it took effect.

    Call it as a process starts, before its threads do: arenas made before stay. Nothing happens (False) with a
    ``limit`` of 0, where ``MALLOC_ARENA_MAX`` is already in the environment (the operator's glibc setting wins; glibc
    read it as the process started), or on a C library without glibc's ``mallopt`` (macOS, Windows, musl)."""
    if limit <= 0 or "MALLOC_ARENA_MAX" in os.environ or not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter is linked with
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, limit))
