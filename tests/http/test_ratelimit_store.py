"""The rate limiter when its Redis is gone, hangs or comes back: it keeps limiting in the process, logs once
per change of state, retries Redis at most every ``redis_recheck_seconds``, and says so on /health and
/metrics."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest
import redis
from fastapi.testclient import TestClient

from alephee.http.ratelimit import RateLimiter
from tests.fixtures.database import REDIS_URL, make_settings
from tests.fixtures.redis_faults import Forwarder, HangingServer, closed_port_url
from tests.fixtures.tenants import Tenant

LOGGER = "alephee.http.ratelimit"


class FakeClock:
    """A monotonic clock the test moves by hand (the recheck interval is measured on it)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _limiter(url: str, clock: FakeClock, namespace: str | None = None, **overrides: object) -> RateLimiter:
    settings = make_settings(
        "sqlite://",
        redis_url=url,
        redis_timeout_seconds=0.2,
        redis_recheck_seconds=5.0,
        **({"rate_limit_namespace": namespace} if namespace else {}),
        **overrides,
    )
    return RateLimiter(settings, monotonic=clock)


def _records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER]


def _allowed(limiter: RateLimiter, count: int, rpm: int, key_id: int = 1) -> int:
    return sum(limiter.hit(key_id, "orders.list", rpm).allowed for _ in range(count))


@pytest.fixture
def namespace() -> Iterator[str]:
    name = f"test-rl-{uuid.uuid4().hex[:12]}"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{name}*"):
        client.delete(key)
    client.close()


def test_redis_gone_still_limits_in_the_process_and_logs_once(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    limiter = _limiter(closed_port_url(), clock)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        allowed = _allowed(limiter, 40, rpm=30)
        assert limiter.hit(2, "orders.list", 30).allowed  # another key has its own budget
    assert allowed == 30
    assert limiter.store_state() == "memory-fallback"
    records = _records(caplog)
    assert len(records) == 1 and records[0].levelno == logging.WARNING, [r.getMessage() for r in records]
    assert records[0].exc_info is None and "Redis" in records[0].getMessage()
    assert limiter.redis_errors == 1 and limiter.fallbacks == 1


def test_redis_hanging_costs_one_timeout_per_recheck_interval(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    with HangingServer() as hanging, caplog.at_level(logging.INFO, logger=LOGGER):
        limiter = _limiter(hanging.url, clock)
        assert _allowed(limiter, 8, rpm=5) == 5
        # One connection (one timeout) for the first request; the others never waited on Redis.
        assert hanging.accepted == 1
        clock.now += 4.9
        limiter.hit(1, "orders.list", 5)
        assert hanging.accepted == 1
        clock.now += 0.2
        limiter.hit(1, "orders.list", 5)
        limiter.hit(1, "orders.list", 5)
        assert hanging.accepted == 2  # one retry after the interval, by one request
    assert limiter.store_state() == "memory-fallback"
    assert len(_records(caplog)) == 1
    assert limiter.redis_errors == 2 and limiter.fallbacks == 1


def test_back_on_redis_when_it_answers_again(caplog: pytest.LogCaptureFixture, namespace: str) -> None:
    target = urlsplit(REDIS_URL)
    clock = FakeClock()
    with Forwarder((target.hostname or "127.0.0.1", target.port or 6379)) as relay:
        limiter = _limiter(relay.url, clock, namespace)
        with caplog.at_level(logging.INFO, logger=LOGGER):
            assert _allowed(limiter, 7, rpm=6) == 6  # Redis gone: the process's own budget
            relay.start()
            clock.now += 1
            assert not limiter.hit(1, "orders.list", 6).allowed  # not rechecked yet: still in memory
            assert limiter.store_state() == "memory-fallback"
            clock.now += 5
            # Back on Redis, whose bucket for this key is still full.
            assert _allowed(limiter, 7, rpm=6) == 6
        assert limiter.store_state() == "redis"
        messages = [r.getMessage() for r in _records(caplog)]
        assert len(messages) == 2 and "unavailable" in messages[0] and "answers again" in messages[1], messages
        # The budget is Redis's again: another process sharing it finds it spent.
        other = _limiter(REDIS_URL, FakeClock(), namespace)
        assert not other.hit(1, "orders.list", 6).allowed
        assert any(redis.Redis.from_url(REDIS_URL).scan_iter(f"{namespace}*"))


def test_health_and_metrics_show_the_fallback(
    make_client: Callable[..., TestClient], tenant: Tenant, namespace: str
) -> None:
    down = make_client(redis_url=closed_port_url(), redis_timeout_seconds=0.2)
    health = down.get("/health")
    # Checked by /health itself, before any request needed the limiter.
    assert health.status_code == 200
    assert health.json()["Status"] == "degraded" and health.json()["RateLimitStore"] == "memory-fallback"
    response = down.get("/v2/accounts", params=tenant.key())
    assert response.status_code == 200 and response.headers["x-ratelimit-remaining"] == "99999"
    metrics = down.get("/metrics").text
    assert 'alephee_rate_limit_store{measure="fallback"} 1.0' in metrics
    assert 'alephee_rate_limit_store{measure="fallbacks"} 1.0' in metrics

    up = make_client(redis_url=REDIS_URL, rate_limit_namespace=namespace)
    healthy = up.get("/health").json()
    assert (healthy["Status"], healthy["RateLimitStore"]) == ("ok", "redis")
    assert 'alephee_rate_limit_store{measure="fallback"} 0.0' in up.get("/metrics").text
    local = make_client()
    assert local.get("/health").json()["RateLimitStore"] == "memory"
