"""GCRA rate limiting per API key and endpoint (CF-00.3.1), in memory or shared through Redis.

The algorithm and both stores come from ``throttled-py``; this module only decides the bucket key, the
per-minute rate and how a decision becomes the four ``x-ratelimit-*`` headers.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry
from throttled import MemoryStore, RateLimiterType, RedisStore, Throttled, per_min
from throttled.exceptions import StoreUnavailableError
from throttled.rate_limiter import RateLimitResult
from throttled.store import BaseStore

from alephee.config import Settings
from alephee.errors import TooManyRequests

log = logging.getLogger(__name__)

# What a store that cannot be reached raises (throttled-py wraps redis-py's errors, which wrap socket errors).
STORE_ERRORS = (StoreUnavailableError, RedisError, OSError)


class RateLimitExceeded(TooManyRequests):
    """The key used up its per-minute budget for this endpoint (429)."""

    message = "Too many requests"


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


def redis_store(settings: Settings) -> RedisStore | None:
    """A throttled-py store on ``redis_url`` (None without one) with a pool of its own, timing out after
    ``redis_timeout_seconds`` and never retrying inside the client: the caller's fallback to memory is the
    answer to a failure."""
    if not settings.redis_url:
        return None
    timeout = settings.redis_timeout_seconds
    return RedisStore(
        server=settings.redis_url,
        options={
            "SOCKET_TIMEOUT": timeout,
            "SOCKET_CONNECT_TIMEOUT": timeout,
            "CONNECTION_POOL_KWARGS": {"retry": Retry(NoBackoff(), 0)},
            # A pool of this store's own (throttled-py shares one per URL, with the first options).
            "REUSE_CONNECTION": False,
        },
    )


class RateLimiter:
    """One per process; with Redis every process shares the same buckets.

    When Redis does not answer (refused, timed out after ``redis_timeout_seconds``), the limiter goes on in
    this process's memory, so limits still hold per process, logs the change once, and tries Redis again at
    most every ``redis_recheck_seconds`` (one request, or a /health check, does the try; the others do not
    wait for it). ``monotonic`` is the clock of that interval (tests move it by hand).
    """

    def __init__(self, settings: Settings, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.enabled = settings.rate_limiting
        self.shared = settings.redis_url is not None
        self._local: BaseStore = MemoryStore(options={"MAX_SIZE": 200_000})
        self._redis = redis_store(settings)
        self._namespace = settings.rate_limit_namespace
        self._recheck = settings.redis_recheck_seconds
        self._monotonic = monotonic
        self._throttles: dict[tuple[bool, int], Throttled] = {}
        self._lock = threading.Lock()
        self._probe = threading.Lock()
        # Redis configured but not answering: counting in memory until a probe succeeds.
        self.redis_down = False
        self._next_check = 0.0
        self.redis_errors = 0
        self.fallbacks = 0

    def store_state(self) -> str:
        """``off``, ``memory`` (no Redis configured), ``redis``, or ``memory-fallback`` (Redis unavailable)."""
        if not self.enabled:
            return "off"
        if self._redis is None:
            return "memory"
        return "memory-fallback" if self.redis_down else "redis"

    def _throttle(self, shared: bool, rpm: int) -> Throttled:
        throttle = self._throttles.get((shared, rpm))
        if throttle is None:
            with self._lock:
                throttle = self._throttles.setdefault(
                    (shared, rpm),
                    Throttled(
                        using=RateLimiterType.GCRA.value,
                        quota=per_min(rpm),
                        store=self._redis if shared and self._redis is not None else self._local,
                        key_prefix=self._namespace,
                    ),
                )
        return throttle

    def hit(self, key_id: int, endpoint: str, rpm: int) -> RateDecision:
        """Count one request of ``key_id`` on ``endpoint`` against ``rpm`` requests per minute."""
        return self._decide(f"k{key_id}:{endpoint}", rpm)

    def hit_source(self, address: str, endpoint: str, rpm: int) -> RateDecision:
        """Count one unauthenticated request from ``address`` (the client's IP) on ``endpoint``."""
        return self._decide(f"ip{address}:{endpoint}", rpm)

    def hit_subject(self, subject: str, endpoint: str, rpm: int) -> RateDecision:
        """Count one attempt about ``subject`` (e.g. the e-mail of a sign-in, whoever sends it) on ``endpoint``."""
        return self._decide(f"s{subject}:{endpoint}", rpm)

    def _decide(self, key: str, rpm: int) -> RateDecision:
        if not self.enabled:
            return RateDecision.untouched(rpm)
        result = self._shared_limit(key, rpm) if self._redis is not None else None
        if result is None:
            result = self._throttle(False, rpm).limit(key)
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

    def _shared_limit(self, key: str, rpm: int) -> RateLimitResult | None:
        """The decision of Redis, or None when this request must be counted in memory."""
        probing = self.redis_down
        if probing and not self._claim_probe():
            return None
        try:
            result = self._throttle(True, rpm).limit(key)
        except STORE_ERRORS as exc:
            self._failed(exc)
            return None
        finally:
            if probing:
                self._probe.release()
        if probing:
            self._answered()
        return result

    def refresh(self) -> str:
        """Ask Redis whether it answers, at most every ``redis_recheck_seconds`` (for /health, which may be
        the only caller while no request comes); return ``store_state()``."""
        if self.enabled and self._redis is not None and self._claim_probe():
            try:
                self._redis.exists(f"{self._namespace}:probe")
            except STORE_ERRORS as exc:
                self._failed(exc)
            else:
                self._answered()
            finally:
                self._probe.release()
        return self.store_state()

    def _claim_probe(self) -> bool:
        now = self._monotonic()
        if now < self._next_check or not self._probe.acquire(blocking=False):
            return False
        self._next_check = now + self._recheck
        return True

    def _failed(self, exc: Exception) -> None:
        with self._lock:
            self.redis_errors += 1
            self._next_check = self._monotonic() + self._recheck
            if self.redis_down:
                return
            self.redis_down = True
            self.fallbacks += 1
        # Once per change of state, without a traceback: the cause is the class and message.
        cause = exc.__cause__ or exc
        log.warning(
            "rate limiter: Redis unavailable (%s: %s); limiting in this process's memory, each process on its "
            "own budget, and trying Redis again every %.0f s",
            type(cause).__name__,
            cause,
            self._recheck,
        )

    def _answered(self) -> None:
        with self._lock:
            if not self.redis_down:
                return
            self.redis_down = False
        log.warning("rate limiter: Redis answers again; budgets are shared through Redis again")
