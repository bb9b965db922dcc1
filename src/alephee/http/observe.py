"""Observability of requests: Prometheus metrics, the access log (no query strings: they carry the key),
and the audit log of authenticated writes."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote_plus, urlencode

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from sqlalchemy.orm import Session

from alephee.db import Database
from alephee.http.ratelimit import RateLimiter
from alephee.memory import allocator_bytes

access_log = logging.getLogger("alephee.access")
log = logging.getLogger("alephee.audit")

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

REGISTRY = CollectorRegistry(auto_describe=True)
# process_resident_memory_bytes, process_cpu_seconds_total, open file descriptors (Linux /proc).
ProcessCollector(registry=REGISTRY)
REQUESTS = Counter(
    "alephee_http_requests_total",
    "HTTP requests by endpoint, method and status",
    ["endpoint", "method", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "alephee_http_request_duration_seconds",
    "HTTP request latency by endpoint",
    ["endpoint", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "alephee_rate_limit_rejections_total", "Requests refused with 429 by endpoint", ["endpoint"], registry=REGISTRY
)
CHANNEL_NOTIFICATIONS = Counter(
    "alephee_channel_notifications_total",
    "Marketplace notifications by connector and outcome: received (stored in the inbox) or the reason it was "
    "ignored (foreign_application, unknown_seller, malformed)",
    ["connector", "outcome"],
    registry=REGISTRY,
)
OUTBOX_DEPTH = Gauge("alephee_outbox_messages", "Outbox rows by status", ["status"], registry=REGISTRY)
TABLE_ROWS = Gauge(
    "alephee_table_rows",
    "Row versions of the queue tables by state (live, dead) as PostgreSQL's statistics count them "
    "(pg_stat_user_tables; absent on SQLite): dead ones pile up while autovacuum does not run",
    ["table", "state"],
    registry=REGISTRY,
)
CHANNEL_CONNECTIONS = Gauge(
    "alephee_channel_connections", "Accounts' marketplace connections by connector and status (connected, "
    "disconnected)", ["connector", "status"], registry=REGISTRY,
)  # fmt: skip
ORDER_CACHE = Gauge(
    "alephee_order_cache", "Rendered-orders cache of this process (hits, misses, entries, bytes)", ["measure"],
    registry=REGISTRY,
)  # fmt: skip
RATE_LIMIT_STORE = Gauge(
    "alephee_rate_limit_store",
    "Rate-limit store of this process: fallback (1 while Redis is unavailable and budgets are per process), "
    "fallbacks (times it fell back), redis_errors (failed Redis calls)",
    ["measure"],
    registry=REGISTRY,
)
READ_CACHE = Gauge(
    "alephee_read_cache", "Results reused while what they were read from is unchanged (hits, misses, entries)",
    ["cache", "measure"], registry=REGISTRY,
)  # fmt: skip
MEMORY = Gauge(
    "alephee_memory",
    "What this process's allocators hold: malloc_held, malloc_in_use, malloc_mmapped (glibc's heaps, bytes) and "
    "python_blocks (live small Python objects, a count). RSS tends towards what is held; growth of held is growth.",
    ["measure"],
    registry=REGISTRY,
)


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """What the middleware knows once a response has been sent."""

    request_id: str
    method: str
    path: str
    endpoint: str
    status: int
    duration: float
    key_id: int | None
    account_id: int | None
    items: int
    # A security event the audit log must keep whatever the method (``accounts.auth.ACCOUNT_NOT_LINKED_EVENT``).
    event: str | None = None


def observe(record: RequestRecord, *, access: bool = True) -> None:
    """Count and time the request, and write the access-log line (unless ``access`` is off)."""
    REQUESTS.labels(record.endpoint, record.method, str(record.status)).inc()
    LATENCY.labels(record.endpoint, record.method).observe(record.duration)
    if record.status == 429:
        RATE_LIMITED.labels(record.endpoint).inc()
    if not access or not access_log.isEnabledFor(logging.INFO):
        return
    duration_ms = round(record.duration * 1000, 1)
    access_log.info(
        "%s %s %s %.1fms key=%s account=%s request_id=%s",
        record.method,
        _printable(record.path),
        record.status,
        duration_ms,
        record.key_id if record.key_id is not None else "-",
        record.account_id if record.account_id is not None else "-",
        record.request_id,
        extra={
            "fields": {
                "method": record.method,
                "path": record.path,
                "status": record.status,
                "duration_ms": duration_ms,
                "key_id": record.key_id,
                "account_id": record.account_id,
                "request_id": record.request_id,
            }
        },
    )


def _printable(path: str) -> str:
    # The path is percent-decoded: a %0A must not start a forged log line, a blank must not split the fields.
    if path.isprintable() and " " not in path:
        return path
    return "".join(c if c.isprintable() and c != " " else f"\\x{ord(c):02x}" for c in path)


def needs_audit(record: RequestRecord) -> bool:
    """Authenticated writes are audited (whatever their outcome), and security events of any method."""
    return record.key_id is not None and (record.method in WRITE_METHODS or record.event is not None)


# Query parameters whose values the audit keeps: identifiers. Other values are withheld (the name stays) unless
# they are a plain boolean: free text (messageText), e-mails or document numbers never reach the log.
_KEY_PARAM = "api_key"
_IDENTIFIER_NAMES = frozenset({"sku", "owncode"})
_PLAIN_VALUES = frozenset({"true", "false", "0", "1"})
AUDIT_QUERY_MAX = 500


def audit_query(raw: bytes) -> str:
    """The query string as the audit log keeps it: without ``API_KEY`` (in any case), identifiers
    (``...Id``, ``...Ids``, ``SKU``, ``ownCode``) and booleans with their value, other names alone."""
    parts = []
    for name, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        folded = name.lower()
        if folded == _KEY_PARAM:
            continue
        keep = folded.endswith(("id", "ids")) or folded in _IDENTIFIER_NAMES or value.lower() in _PLAIN_VALUES
        parts.append(urlencode([(name, value)]) if keep else quote_plus(name))
    return "&".join(parts)[:AUDIT_QUERY_MAX]


METRICS_TOKEN_REQUIRED = "GET /metrics requires the metrics bearer token (Authorization: Bearer <token>)"


def metrics_allowed(authorization: str | None, token: str | None) -> bool:
    """Whether a scrape may read /metrics: always when no token is configured, else only with
    ``Authorization: Bearer <token>`` (compared in constant time)."""
    if not token:
        return True
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def render_metrics(
    db: Database, limiter: RateLimiter | None = None, collect: Callable[[Session], None] | None = None
) -> tuple[bytes, str]:
    """The Prometheus exposition, with the limiter's store and the process caches read now; ``collect`` (given
    by the composition root, ``app.py``) sets the domains' gauges (outbox depth, rendered orders) on a read
    session."""
    if limiter is not None:
        for measure, value in (("fallback", int(limiter.redis_down)), ("fallbacks", limiter.fallbacks),
                               ("redis_errors", limiter.redis_errors)):  # fmt: skip
            RATE_LIMIT_STORE.labels(measure).set(value)
    for name, state_cache in db.state_caches().items():
        for measure, value in (("hits", state_cache.hits), ("misses", state_cache.misses),
                               ("entries", len(state_cache))):  # fmt: skip
            READ_CACHE.labels(name, measure).set(value)
    for measure, value in allocator_bytes().items():
        MEMORY.labels(measure).set(value)
    if collect is not None:
        try:
            with db.reading() as session:
                collect(session)
        except Exception:
            log.exception("could not read the domains' gauges")
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
