"""Memory probe for long soaks, loaded by Python at start-up from ``PYTHONPATH`` (``bench/soak.py --probe``).

In an ``alephee serve`` or ``alephee worker`` process, and only when ``ALEPHEE_BENCH_PROBE_DIR`` is set, a
daemon thread appends a JSON line every ``ALEPHEE_BENCH_PROBE_EVERY`` seconds (default 30) to
``<dir>/<role>-<pid>.jsonl``:

* ``rss_kb``, ``anon_kb``: resident and anonymous resident memory (``/proc/self/status``);
* ``heap``, ``heap_used``, ``heap_free``, ``mmapped``: glibc's ``mallinfo2`` as ``/metrics`` reads it
  (``alephee.memory.allocator_bytes``: what the malloc heaps hold from the system, what is handed out, what is free
  inside them, big blocks mapped on their own); ``heaps``: how many malloc arenas exist (``malloc_info``);
* ``blocks``: pymalloc's live blocks (``sys.getallocatedblocks``); ``threads``.

Every ``ALEPHEE_BENCH_PROBE_DEEP_EVERY`` samples (default 20) it also records, after a collection:

* ``types``: live objects tracked by the garbage collector, by type (the 200 commonest) and ``objects`` in all;
* ``pymalloc``: arenas and bytes in used and free blocks (``sys._debugmallocstats``);
* ``caches``: what the libraries' bounded caches hold: SQLAlchemy's compiled statements per engine, and psycopg's
  per-connection statement counts and prepared statements (entries and the bytes of their query text).

The deep sample briefly redirects file descriptor 2 to read ``sys._debugmallocstats``: a log line written to
stderr at that instant is lost. It is a benchmark tool: the hub never loads it.

Python runs only the first ``sitecustomize`` on the path, so this one first runs the next one it hides (the test
suite's network guard, a distribution's own).
"""

from __future__ import annotations

import os
import sys

ROLES = {"serve": "serve", "worker": "worker"}


def _chain() -> None:
    """Run the ``sitecustomize`` that comes after this one on ``sys.path``, if any."""
    import importlib.machinery
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    rest = [entry for entry in sys.path if os.path.abspath(entry or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    hidden = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hidden)


def _start() -> None:
    import ctypes
    import gc
    import json
    import re
    import tempfile
    import threading
    import time
    import weakref
    from collections import Counter
    from typing import Any

    out_dir = os.environ["ALEPHEE_BENCH_PROBE_DIR"]
    every = float(os.environ.get("ALEPHEE_BENCH_PROBE_EVERY", "30"))
    deep_every = int(os.environ.get("ALEPHEE_BENCH_PROBE_DEEP_EVERY", "20"))
    role = ROLES[sys.argv[1]] + ("-with-worker" if "--with-worker" in sys.argv else "")
    path = os.path.join(out_dir, f"{role}-{os.getpid()}.jsonl")

    from alephee.memory import allocator_bytes  # the same readings as /metrics' alephee_memory

    libc = ctypes.CDLL(None)
    glibc = hasattr(libc, "malloc_info")
    if glibc:
        libc.open_memstream.restype = ctypes.c_void_p
        libc.open_memstream.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_size_t)]
        libc.fclose.argtypes = [ctypes.c_void_p]
        libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
        libc.free.argtypes = [ctypes.c_void_p]

    # The application freezes its start-up objects (gc.freeze), which hides them from gc.get_objects: the
    # engines and the connections' statement caches are remembered as they are made instead.
    watched: weakref.WeakSet[Any] = weakref.WeakSet()

    def watch(cls: type) -> None:
        original = cls.__init__

        def init(self: Any, *args: Any, **kwargs: Any) -> None:
            original(self, *args, **kwargs)
            watched.add(self)

        cls.__init__ = init  # type: ignore[misc]

    try:
        from sqlalchemy.engine.base import Engine

        watch(Engine)
    except ImportError:
        pass
    try:
        from psycopg._preparing import PrepareManager

        watch(PrepareManager)
    except ImportError:
        pass

    def malloc_heaps() -> int:
        buffer, size = ctypes.c_char_p(), ctypes.c_size_t()
        stream = libc.open_memstream(ctypes.byref(buffer), ctypes.byref(size))
        libc.malloc_info(0, stream)
        libc.fclose(stream)
        text = ctypes.string_at(buffer, size.value).decode()
        libc.free(ctypes.cast(buffer, ctypes.c_void_p))
        return len(re.findall(r"<heap nr=", text))

    def proc_status() -> dict[str, int]:
        wanted = {"VmRSS": "rss_kb", "RssAnon": "anon_kb"}
        found: dict[str, int] = {}
        with open("/proc/self/status") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key in wanted:
                    found[wanted[key]] = int(value.split()[0])
        return found

    def pymalloc() -> dict[str, int]:
        with tempfile.TemporaryFile() as capture:
            sys.stderr.flush()
            saved = os.dup(2)
            try:
                os.dup2(capture.fileno(), 2)
                sys._debugmallocstats()
            finally:
                os.dup2(saved, 2)
                os.close(saved)
            capture.seek(0)
            text = capture.read().decode(errors="replace")
        fields = {
            "arenas": r"# arenas allocated current\s*=\s*([\d,]+)",
            "used_bytes": r"# bytes in allocated blocks\s*=\s*([\d,]+)",
            "free_bytes": r"# bytes in available blocks\s*=\s*([\d,]+)",
        }
        values = {}
        for name, pattern in fields.items():
            match = re.search(pattern, text)
            if match:
                values[name] = int(match.group(1).replace(",", ""))
        return values

    def caches() -> dict[str, Any]:
        prepared = [m for m in watched if type(m).__name__ == "PrepareManager"]
        entries = [(*getattr(m, "_counts", {}), *getattr(m, "_names", {})) for m in prepared]
        return {
            "sqlalchemy_compiled": [
                len(e._compiled_cache)
                for e in watched
                if type(e).__name__ == "Engine" and e._compiled_cache is not None
            ],
            "psycopg_connections": len(prepared),
            "psycopg_counted": sum(len(getattr(m, "_counts", {})) for m in prepared),
            "psycopg_prepared": sum(len(getattr(m, "_names", {})) for m in prepared),
            "psycopg_query_bytes": sum(len(key[0]) for keys in entries for key in keys if isinstance(key[0], bytes)),
        }

    def sample(number: int, began: float) -> dict[str, Any]:
        record: dict[str, Any] = {"t": round(time.monotonic() - began), **proc_status()}
        held = allocator_bytes()
        if "malloc_held" in held:
            record.update(
                heap=held["malloc_held"],
                heap_used=held["malloc_in_use"],
                heap_free=held["malloc_held"] - held["malloc_in_use"],
                mmapped=held["malloc_mmapped"],
            )
        if glibc:
            record["heaps"] = malloc_heaps()
        record["blocks"] = held["python_blocks"]
        record["threads"] = threading.active_count()
        if number % deep_every == 0:
            gc.collect()
            objects = gc.get_objects()
            # Counted by type object, named afterwards: a name string per object would itself churn the heap.
            types = Counter(map(type, objects))
            record["objects"] = len(objects)
            record["types"] = {f"{t.__module__}.{t.__qualname__}": n for t, n in types.most_common(200)}
            record["caches"] = caches()
            del objects
            record["pymalloc"] = pymalloc()
        return record

    def run() -> None:
        began = time.monotonic()
        number = 0
        with open(path, "a") as handle:
            while True:
                time.sleep(every)
                number += 1
                handle.write(json.dumps(sample(number, began)) + "\n")
                handle.flush()

    threading.Thread(target=run, daemon=True, name="alephee-bench-probe").start()


_chain()
if len(sys.argv) > 1 and sys.argv[1] in ROLES and os.environ.get("ALEPHEE_BENCH_PROBE_DIR"):
    _start()
