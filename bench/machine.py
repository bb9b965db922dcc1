"""How fast this machine is right now, printed with every benchmark's results.

The same code on the same 2-vCPU machine has run twice as fast one day as the day before (its host's other
tenants), so figures of different runs compare only when the machine was as fast: each benchmark prints the CPU
time a fixed piece of pure Python takes here, next to the load average.
"""

from __future__ import annotations

import time


def cpu_probe_seconds() -> float:
    """CPU seconds ``sum(range(10**7))`` takes in this process, the best of three (a quiet desktop: ≈ 0.1 s)."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        sum(range(10**7))
        best = min(best, time.process_time() - started)
    return round(best, 3)
