"""Tiendanube's rate limits, shared by every process on the stand-in's file: a leaky bucket per store (40
requests draining at 2 per second by default, ten times that on the ``Next``/``Evolution`` plans) reported on
every answer in ``x-rate-limit-limit``/``-remaining``/``-reset`` (milliseconds until empty), and the weighted
bucket of the variant-update endpoints (each variant in the payload costs one unit)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from alephee.channels.standin_store import Store

BIG_PLANS = ("next", "evolution")


@dataclass(frozen=True, slots=True)
class Bucket:
    """A leaky bucket: ``size`` units, draining ``leak`` units per second."""

    size: float
    leak: float

    def scaled(self, plan: str) -> Bucket:
        """The bucket of a store on ``plan`` (ten times bigger and faster on the big plans)."""
        factor = 10 if plan.lower() in BIG_PLANS else 1
        return Bucket(self.size * factor, self.leak * factor)


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether the call fits, and the headers that say how full the bucket is."""

    allowed: bool
    headers: dict[str, str]


def pour(store: Store, kind: str, key: int, bucket: Bucket, cost: float = 1.0) -> Verdict:
    """Add ``cost`` units to the bucket ``(kind, key)`` when they fit (a refused call adds nothing)."""
    with store.begin() as tx:
        state = tx.get(kind, key) or {"level": 0.0, "at": time.time()}
        moment = time.time()
        level = max(0.0, float(state["level"]) - (moment - float(state["at"])) * bucket.leak)
        allowed = level + cost <= bucket.size
        if allowed:
            level += cost
        tx.put(kind, key, {"level": level, "at": moment}, owner=key)
    return Verdict(allowed, headers(bucket, level))


def headers(bucket: Bucket, level: float) -> dict[str, str]:
    """``x-rate-limit-*`` for a bucket at ``level``."""
    return {
        "x-rate-limit-limit": str(int(bucket.size)),
        "x-rate-limit-remaining": str(max(0, math.floor(bucket.size - level))),
        "x-rate-limit-reset": str(math.ceil(level / bucket.leak * 1000) if bucket.leak > 0 else 0),
    }
