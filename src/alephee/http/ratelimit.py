"""GCRA rate limiting per API key and endpoint (spec 00 §3.1), in memory or shared through Redis.

The algorithm and both stores come from ``throttled-py``; this module only decides the bucket key, the
per-minute rate and how a decision becomes the four ``x-ratelimit-*`` headers.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass

from throttled import MemoryStore, RateLimiterType, RedisStore, Throttled, per_min
from throttled.store import BaseStore

from alephee.config import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RateDecision:
    """The outcome of one check, ready to become headers."""

    allowed: bool
    limit: int
    remaining: int
    reset: int
    retry_after: int

    def headers(self) -> list[tuple[bytes, bytes]]:
        """The four documented headers (retryafter is -1 whenever the request was allowed)."""
        return [
            (b"x-ratelimit-limit", str(self.limit).encode()),
            (b"x-ratelimit-remaining", str(self.remaining).encode()),
            (b"x-ratelimit-reset", str(self.reset).encode()),
            (b"x-ratelimit-retryafter", str(self.retry_after if not self.allowed else -1).encode()),
        ]

    @classmethod
    def untouched(cls, limit: int) -> RateDecision:
        """Headers for a response that consumed no quota (401, unknown route, ...)."""
        return cls(allowed=True, limit=limit, remaining=limit, reset=0, retry_after=-1)


class RateLimiter:
    """One per process; with Redis every process shares the same buckets."""

    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limiting
        self.shared = settings.redis_url is not None
        self._store: BaseStore
        if settings.redis_url:
            self._store = RedisStore(
                server=settings.redis_url,
                options={"SOCKET_TIMEOUT": 1.0, "SOCKET_CONNECT_TIMEOUT": 1.0},
            )
        else:
            self._store = MemoryStore(options={"MAX_SIZE": 200_000})
        self._namespace = settings.rate_limit_namespace
        self._throttles: dict[int, Throttled] = {}
        self._lock = threading.Lock()

    def _throttle(self, rpm: int) -> Throttled:
        throttle = self._throttles.get(rpm)
        if throttle is None:
            with self._lock:
                throttle = self._throttles.setdefault(
                    rpm,
                    Throttled(
                        using=RateLimiterType.GCRA.value,
                        quota=per_min(rpm),
                        store=self._store,
                        key_prefix=self._namespace,
                    ),
                )
        return throttle

    def hit(self, key_id: int, endpoint: str, rpm: int) -> RateDecision:
        """Count one request of ``key_id`` on ``endpoint`` against ``rpm`` requests per minute."""
        if not self.enabled:
            return RateDecision.untouched(rpm)
        try:
            result = self._throttle(rpm).limit(f"k{key_id}:{endpoint}")
        except Exception:  # the limiter's store is down: serve rather than fail every request
            log.exception("rate limiter store unavailable; request allowed without counting")
            return RateDecision.untouched(rpm)
        state = result.state
        if result.limited:
            return RateDecision(
                allowed=False,
                limit=rpm,
                remaining=0,
                reset=max(1, math.ceil(state.reset_after)),
                retry_after=max(1, math.ceil(state.retry_after)),
            )
        return RateDecision(
            allowed=True,
            limit=rpm,
            remaining=max(0, int(state.remaining)),
            reset=math.ceil(state.reset_after),
            retry_after=-1,
        )
