"""The C allocator of a long-running process (``alephee serve``, ``alephee worker``): glibc's malloc arenas capped.

glibc gives each thread that allocates while the others hold theirs a new arena, up to eight per core, and an arena
keeps the pages it once used. A server's threads (the route threads, the worker's delivery pools, the recorder)
come and go, so its RSS kept growing long after warm-up: in a 20-minute soak the server with the worker held 38 MiB
more with the default arenas than with two (docs/performance.md, Soak). Python's own small objects do not use these
arenas (pymalloc has its own), so two cost no measurable throughput there.

Also what the allocators hold, for ``/metrics``: RSS only shows which of those pages are resident now, so it can
climb for hours towards what the heaps already hold without anything growing."""

from __future__ import annotations

import ctypes
import functools
import os
import sys
from typing import Any

# mallopt's parameter number for the arena cap (glibc's <malloc.h>: M_ARENA_MAX).
M_ARENA_MAX = -8


def cap_malloc_arenas(limit: int) -> bool:
    """Let at most ``limit`` glibc malloc arenas serve this process's threads from now on; True when it took effect.

    Call it as a process starts, before its threads do: arenas made before stay. Nothing happens (False) with a
    ``limit`` of 0, where ``MALLOC_ARENA_MAX`` is already in the environment (the operator's glibc setting wins; glibc
    read it as the process started), or on a C library without glibc's ``mallopt`` (macOS, Windows, musl)."""
    if limit <= 0 or "MALLOC_ARENA_MAX" in os.environ:
        return False
    mallopt = _glibc("mallopt", (ctypes.c_int, ctypes.c_int), ctypes.c_int)
    return mallopt is not None and bool(mallopt(M_ARENA_MAX, limit))


@functools.cache
def _glibc(name: str, argtypes: tuple[Any, ...], restype: Any) -> Any:
    """A function of the C library the interpreter is linked with, typed; None off Linux or where it lacks it."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None)[name]
    except (OSError, AttributeError):
        return None
    function.argtypes = argtypes
    function.restype = restype
    return function


class _MallInfo2(ctypes.Structure):
    # glibc's struct mallinfo2 (<malloc.h>, glibc 2.33+), field for field.
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                     "keepcost")
    ]  # fmt: skip


def allocator_bytes() -> dict[str, int]:
    """What this process's allocators hold now, by measure: ``malloc_held`` (bytes glibc's heaps took from the
    system, resident or not), ``malloc_in_use`` (handed out of them), ``malloc_mmapped`` (big blocks mapped on their
    own), where glibc has ``mallinfo2``; and always ``python_blocks`` (pymalloc's live small-object blocks, a count)."""
    out = {"python_blocks": sys.getallocatedblocks()}
    mallinfo2 = _glibc("mallinfo2", (), _MallInfo2)
    if mallinfo2 is not None:
        info = mallinfo2()
        out.update(malloc_held=info.arena, malloc_in_use=info.uordblks, malloc_mmapped=info.hblkhd)
    return out
