"""Settings, read from the environment (prefix ``ALEPHEE_``) and an optional ``.env`` file.

The per-endpoint limits live in one table here (``DEFAULT_LIMITS``); every number can be overridden with
``ALEPHEE_LIMITS`` (JSON, merged over the defaults), e.g.
``ALEPHEE_LIMITS='{"orders.list": {"rpm": 60, "cap": 50}}'``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


@dataclass(frozen=True, slots=True)
class EndpointLimit:
    """Requests per minute (GCRA, per API key) and objects per request for one endpoint.

    ``cap`` is the most objects a write may carry (over it: 413, nothing applied) or a list GET may return
    (over it: 206 with a capped page). ``night_rpm`` applies during the night slot when set.
    """

    rpm: int
    cap: int | None = None
    night_rpm: int | None = None


# CF-00.3.4 and CF-10.0.4 (the more specific file wins for the accounts section). Names are the
# route names used by every router (``name=`` on the route decorator).
DEFAULT_LIMITS: dict[str, EndpointLimit] = {
    # Accounts (CF-10.0.4: 60/min for the GETs, 10/min for logintoken and the PUT).
    "accounts.list": EndpointLimit(60, 100),
    "accounts.marketplaces": EndpointLimit(60, 100),
    "accounts.pricelists": EndpointLimit(60, 100),
    "accounts.stores": EndpointLimit(60, 100),
    "accounts.logintoken": EndpointLimit(10),
    "accounts.fiscaltaxrules.get": EndpointLimit(60, 100),
    "accounts.fiscaltaxrules.put": EndpointLimit(10, 100),
    # Orders.
    "orders.list": EndpointLimit(30, 100),
    "orders.pack": EndpointLimit(30, 100),
    "orders.shippinglabel": EndpointLimit(30, 1),
    "orders.documents.get": EndpointLimit(30, 1),
    "orders.documents.post": EndpointLimit(30, 1),
    "orders.create": EndpointLimit(30, 1),
    "orders.messages": EndpointLimit(30, 1),
    "orders.split": EndpointLimit(30, 1),
    "orders.integrate": EndpointLimit(30, 100),
    "orders.status": EndpointLimit(30, 100),
    "orders.delete": EndpointLimit(30, 1),
    # Orders shipping (CF-30.0.4: one order per write; a multi-order body is a 413).
    "shipping.packaging.get": EndpointLimit(30, 1),
    "shipping.packaging.post": EndpointLimit(30, 1),
    "shipping.scheduling.get": EndpointLimit(30, 100),
    "shipping.transportation.get": EndpointLimit(30, 1),
    "shipping.transportation.post": EndpointLimit(30, 1),
    # Products.
    "products.list": EndpointLimit(30, 1000),
    "products.update": EndpointLimit(30, 500, night_rpm=120),
    "products.fiscal.get": EndpointLimit(30, 1000),
    "products.fiscal.update": EndpointLimit(30, 500),
    "products.prices.delete": EndpointLimit(10, 500),
    # Product listings.
    "listings.search": EndpointLimit(30, 100),
    "listings.update": EndpointLimit(30, 100),
    "listings.status": EndpointLimit(30, 100),
    "listings.discounts": EndpointLimit(30, 100),
    # Push notifications (our addition).
    "webhooks.list": EndpointLimit(30, 100),
    "webhooks.create": EndpointLimit(30, 1),
    "webhooks.delete": EndpointLimit(30, 1),
    "notifications.list": EndpointLimit(30, 100),
    "notifications.ack": EndpointLimit(30, 100),
}

# Used for a route that has no row above (and for responses that never reached a route, e.g. 404).
FALLBACK_LIMIT = EndpointLimit(30, 100)


class Settings(BaseSettings):
    """Everything an operator can configure. See README "Configuration"."""

    model_config = SettingsConfigDict(env_prefix="ALEPHEE_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./alephee.db"
    # Optional read replica; reads (GET lists) go there when set.
    database_read_url: str | None = None
    db_pool_size: int = 20
    db_max_overflow: int = 20
    sqlite_busy_timeout_ms: int = 30_000
    # Unset = in-process (memory) rate limiting; set = shared by every process using this Redis.
    redis_url: str | None = None
    rate_limiting: bool = True
    # Prefix of the limiter's keys in Redis (lets several hubs, or test runs, share one Redis).
    rate_limit_namespace: str = "alephee-rl"
    # Redis connect/read timeout (seconds) and how often a process that lost Redis tries it again; meanwhile it
    # limits in memory, each process on its own budget (docs/operations.md, Rate limiting without Redis).
    redis_timeout_seconds: float = Field(default=0.25, gt=0)
    redis_recheck_seconds: float = Field(default=5.0, ge=0)
    limits: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # Time zone for naive date filters and the day/night slot (CF-00.4.1 rule 7: GMT-3).
    default_timezone: str = "America/Argentina/Buenos_Aires"
    day_slot_start_hour: int = 8
    day_slot_end_hour: int = 20
    # Where the B2B portal is served; an account may override it with its own FQDN.
    b2b_portal_base_url: str = "http://127.0.0.1:8000/b2b"
    documents_dir: str = "./var/documents"
    # Orders (DOC-6, ORD-9, ORD-1): largest attachable document; whether includePendingPayments works for
    # accounts with no explicit privilege; whether Integrated=false applies even to status/id/ERP queries.
    documents_max_bytes: int = 10 * 1024 * 1024
    # Total bytes of documents and message attachments one account may store (0 = no quota), see
    # orders/document_quota.py.
    documents_quota_bytes: int = 10 * 1024 * 1024 * 1024
    orders_pending_payments_default: bool = True
    orders_integrated_default_always: bool = False
    # Rendered orders kept in memory per process (MiB; 0 = off), see orders/rendering.py.
    order_cache_mb: float = 64
    # Compressed pages of GET /v2/orders kept in memory per process (MiB; 0 = off), see orders/rendering.py.
    order_page_cache_mb: float = 16
    # Results kept per process while the database is unchanged (key lookups, order page keys; 0 = off),
    # see ``StateCache`` in db.py.
    read_cache_entries: int = 4096
    # Shipping (SHP-13, SHP-14, SHP-28, SHP-29): largest package Quantity and measure (client unit);
    # SchedulingInfo deadlines used when the marketplace gave none: hours to dispatch after the payment
    # approval (Handling.Limit) and days the buyer has to rate the sale (Schedule.Expiration); 0 = none.
    shipping_max_package_quantity: int = 1_000_000
    shipping_max_measure: Decimal = Decimal("1000000000")
    shipping_handling_hours: int = 48
    shipping_feedback_days: int = 30
    # Optional JSON file replacing the packaged marketplace catalogue (to use other channel ids).
    marketplaces_file: str | None = None
    max_body_bytes: int = 10 * 1024 * 1024
    # Response compression (br or gzip, as the client accepts) of text bodies of at least this many bytes,
    # see http/compression.py.
    compression: bool = True
    compression_min_bytes: int = 1024
    # Connections of `alephee serve` (http/server.py, docs/operations.md, Connections): most bytes of a request
    # line plus headers (431 past it), seconds to receive them, seconds a body may stall, seconds an idle
    # keep-alive connection is kept.
    http_max_header_bytes: int = Field(default=64 * 1024, ge=1024)
    http_header_timeout_seconds: float = Field(default=10.0, gt=0)
    http_body_timeout_seconds: float = Field(default=30.0, gt=0)
    http_keep_alive_seconds: float = Field(default=5.0, gt=0)
    # When set, GET /metrics requires ``Authorization: Bearer <token>``.
    metrics_token: SecretStr | None = None
    log_level: str = "INFO"
    # Log lines as text or one JSON object per line; the access log (one line per request on stdout) on or off.
    # See alephee/logs.py and docs/operations.md, Logs.
    log_format: Literal["text", "json"] = "text"
    access_log: bool = True
    # The garbage collector of a server (docs/performance.md, Soak): move what start-up allocated out of its
    # generations (``gc.freeze()``: a full collection then scans what requests allocated, not the ~275,000 objects
    # of the application), and collect the youngest generation every ``gc_threshold0`` net allocations instead of
    # Python's 700 (most of a request's objects are freed by reference counting before they would be scanned).
    # Off (false / 0) only to compare.
    gc_freeze: bool = True
    gc_threshold0: int = Field(default=10_000, ge=0)
    # At most this many glibc malloc arenas for a server's or worker's threads (alephee/memory.py); 0 leaves
    # glibc's (eight per core), and so does a MALLOC_ARENA_MAX in the environment.
    malloc_arenas: int = Field(default=2, ge=0)
    # Show the login-token module 2 as required for DELETE /v2/products/prices.
    login_token_default_ttl: int = 30
    login_token_min_ttl: int = 5
    login_token_max_ttl: int = 60
    # Products/listings decisions (PRC-3, LST-39, LST-1): VAT % when a product has none,
    # Mercado Libre discount limits (CF-50.2.5), listing status codes overriding listings/statuses.py.
    default_tax_rate: Decimal = Decimal("21")
    # POST /v2/products batches of one account waiting for each other's row locks are applied together by the
    # first of them, up to this many elements in one group (products/batch_groups.py, STK-15); 0 turns it off.
    products_batch_group_items: int = Field(default=2_000, ge=0)
    # On PostgreSQL a group's leader first takes its account's advisory lock and only then the batches waiting in
    # its process, so one group per account runs at a time across server processes (STK-20). Off by default: in
    # the soak it was not faster than the processes' groups meeting on the rows (the reads and validation before
    # the rows' lock then run under the account's lock too).
    products_batch_group_lock: bool = False
    # At most this many POST /v2/products batches of one account wait in a server process's queue (besides the
    # group being applied); the next one is refused with 429 and nothing applied (STK-21). 0: no limit.
    products_batch_queue_limit: int = Field(default=0, ge=0)
    ml_discount_min_percent: Decimal = Decimal("5")
    ml_discount_max_percent: Decimal = Decimal("80")
    ml_discount_max_days: int = 7
    listing_status_codes: dict[str, int] = Field(default_factory=dict)
    # Outbox delivery (alephee worker, docs/operations.md, Outbox and worker): attempts before a row is marked failed,
    # exponential backoff base/cap in seconds (equal jitter seeded by outbox_jitter_seed), lease of a claimed
    # row, rows per round and the idle sleep between empty rounds; how long a row waits when its channel's
    # connection is paused or disconnected (held, its attempt not counted) before it is looked at again.
    outbox_max_attempts: int = 8
    outbox_held_retry_seconds: float = Field(default=60.0, gt=0)
    # Rows of one claimed batch a worker delivers at once (a batch never holds two rows of one aggregate).
    outbox_delivery_concurrency: int = Field(default=8, ge=1, le=64)
    # How often the worker searches a remote marketplace's orders as the backstop of its notifications (Mercado
    # Libre: GET /orders/search with an hour of overlap); in-database channels are pulled every round.
    channel_backstop_seconds: float = Field(default=300.0, ge=0)
    # How often the backstop reconciles a connected channel's registrations with what the hub needs (Tiendanube:
    # its webhooks re-created or pointed at ``public_url``, its stock locations read again); 0 = never.
    channel_reconcile_seconds: float = Field(default=6 * 3600.0, ge=0)
    # How often the backstop searches a connected channel's unanswered questions and open claims (Mercado Libre:
    # GET /questions/search and /post-purchase/v1/claims/search); notifications bring them first; 0 = never.
    channel_post_sale_seconds: float = Field(default=15 * 60.0, ge=0)
    # Notifications read from a marketplace at once by one worker (each is a few calls to it).
    channel_read_concurrency: int = Field(default=8, ge=1, le=64)
    # Notifications of one connection whose reads are applied in one write transaction (their orders through one
    # ingestion); bounded so a burst does not hold the database's write lock long (SQLite has one).
    inbox_apply_batch: int = Field(default=25, ge=1, le=500)
    # The worker's loop reads the inbox's next batch from the marketplaces while it applies the current one.
    inbox_read_ahead: bool = True
    outbox_backoff_base_seconds: float = 2.0
    outbox_backoff_max_seconds: float = 3600.0
    outbox_lease_seconds: float = 120.0
    outbox_jitter_seed: int = 0
    worker_batch_size: int = 50
    # ``run_forever`` records a round's delivered groups while the next round claims and sends (SYNC-29).
    worker_record_behind: bool = True
    worker_interval_seconds: float = 1.0
    # Seed of the sandbox marketplace's simulation (stored in sandbox_state when it is first used).
    sandbox_seed: int = 1
    # B2B portal (docs/portal.md): browser session lifetime, products per catalog page, most lines in a cart
    # (49: with the list-discount adjustment an order stays within the 50 Adjustments of CF-20.1.2).
    portal_session_ttl_seconds: int = 8 * 3600
    portal_page_size: int = 24
    portal_max_cart_lines: int = 49
    # Operator console (docs/console.md): browser session lifetime, sign-in attempts per minute from one address
    # and for one e-mail, rows per page, and the language when neither the switch nor Accept-Language decides.
    console_session_ttl_seconds: int = 8 * 3600
    console_login_per_minute_ip: int = Field(default=20, ge=1)
    console_login_per_minute_email: int = Field(default=5, ge=1)
    console_page_size: int = Field(default=50, ge=1, le=500)
    console_default_language: str = "es"
    # Push notifications (docs/webhooks.md; WH-6, WH-7, WH-8, WH-22): deliver to private/loopback addresses
    # (off: SSRF protection), per-request timeout, longest URL, subscriptions per account (0 = no cap), days
    # the feed keeps an event and seconds between purges run by the worker. Retries: outbox_* above.
    webhook_allow_private_targets: bool = False
    webhook_timeout_seconds: float = 10.0
    webhook_max_url_length: int = 2000
    webhook_max_per_account: int = 50
    notifications_retention_days: int = 30
    notifications_purge_interval_seconds: float = 3600.0
    # Master key(s) encrypting webhook signing secrets at rest (docs/webhooks.md, Secrets at rest): Fernet keys,
    # comma-separated; the first encrypts, any decrypts (rotation). Unset: a key generated once into
    # secret_key_file (mode 0600), with a warning; production sets the variable.
    secret_key: SecretStr | None = None
    secret_key_file: str = "./var/secret.key"
    # Where browsers and marketplaces reach this hub (behind a proxy: its public https URL); OAuth redirect URLs
    # are built from it (docs/channels.md).
    public_url: str = "http://127.0.0.1:8000"
    # Mercado Libre connector (docs/channels.md): API base, authorization host (unset: the site's own, e.g.
    # https://auth.mercadolibre.com.ar for MLA), the application's credentials, whether the authorization request
    # carries a PKCE challenge (only when PKCE is enabled on the application), seconds an authorization link stays
    # valid, seconds per call, whether this process serves the local stand-in at /_standin/mercadolibre, and the
    # SQLite file holding the stand-in's state (every process serving it on the same file shares it).
    mercadolibre_api_url: str = "https://api.mercadolibre.com"
    mercadolibre_auth_url: str | None = None
    mercadolibre_client_id: str | None = None
    mercadolibre_client_secret: SecretStr | None = None
    mercadolibre_pkce: bool = False
    mercadolibre_timeout_seconds: float = Field(default=10.0, gt=0)
    mercadolibre_standin: bool = False
    mercadolibre_standin_path: str = "./mercadolibre-standin.sqlite3"
    # Seconds between two steps of the stand-in's market (a buyer purchases, writes, the carrier ships and
    # delivers) while the stand-in is served; 0 = no market (tests drive the stand-in themselves).
    mercadolibre_standin_market_seconds: float = Field(default=10.0, ge=0)
    # Whether ``alephee demo`` connects the demo account to Mercado Libre Argentina on the local stand-in.
    demo_mercadolibre: bool = True
    # Tiendanube/Nuvemshop connector (docs/channels.md): the application's id (= client_id) and secret (also the
    # key of the webhooks' HMAC), the authorization host, the API base and its default version segment (a
    # connection may keep its own), the User-Agent every call carries (unset: "Alephee hub (<public_url>)", a
    # contact URL as the platform asks), seconds per call, the client-side pacing of each store's leaky bucket
    # (size and leak per second, resynced from the answers' x-rate-limit-* headers), the longest a call waits for
    # room before it is given back as transient, whether this process serves the local stand-in at
    # /_standin/tiendanube and its SQLite file, seconds between its market's steps (0 = none), and whether
    # ``alephee demo`` connects the demo account to marketplace 40 on the stand-in.
    tiendanube_app_id: str | None = None
    tiendanube_client_secret: SecretStr | None = None
    tiendanube_auth_url: str = "https://www.tiendanube.com"
    tiendanube_api_url: str = "https://api.tiendanube.com"
    tiendanube_api_version: str = Field(default="v1", pattern=r"^(v1|\d{4}-\d{2}|unstable)$")
    tiendanube_user_agent: str | None = None
    tiendanube_timeout_seconds: float = Field(default=10.0, gt=0)
    tiendanube_bucket_size: int = Field(default=40, gt=0)
    tiendanube_leak_per_second: float = Field(default=2.0, gt=0)
    tiendanube_max_wait_seconds: float = Field(default=30.0, ge=0)
    tiendanube_standin: bool = False
    tiendanube_standin_path: str = "./tiendanube-standin.sqlite3"
    tiendanube_standin_market_seconds: float = Field(default=10.0, ge=0)
    demo_tiendanube: bool = True
    channel_oauth_state_ttl_seconds: int = Field(default=600, gt=0)
    # Notifications a marketplace may post per minute from one source address (429 beyond; the marketplace
    # retries), see channels/mercadolibre/routes.py.
    channel_notifications_per_minute: int = Field(default=6000, gt=0)

    @cached_property
    def tz(self) -> ZoneInfo:
        """The configured default time zone."""
        return ZoneInfo(self.default_timezone)

    @cached_property
    def _limits(self) -> dict[str, EndpointLimit]:
        merged = dict(DEFAULT_LIMITS)
        for name, override in self.limits.items():
            base = merged.get(name, FALLBACK_LIMIT)
            merged[name] = EndpointLimit(
                rpm=int(override.get("rpm", base.rpm)),
                cap=override.get("cap", base.cap),
                night_rpm=override.get("night_rpm", base.night_rpm),
            )
        return merged

    def endpoint_limit(self, name: str | None) -> EndpointLimit:
        """The limits of one endpoint (route name), defaults merged with overrides."""
        return self._limits.get(name or "", FALLBACK_LIMIT)

    def rpm_for(self, name: str | None, at: datetime) -> int:
        """Requests per minute for an endpoint at a given instant (night slot aware)."""
        limit = self.endpoint_limit(name)
        if limit.night_rpm is None:
            return limit.rpm
        hour = at.astimezone(self.tz).hour
        is_day = self.day_slot_start_hour <= hour < self.day_slot_end_hour
        return limit.rpm if is_day else limit.night_rpm

    @property
    def is_sqlite(self) -> bool:
        """Whether the primary store is SQLite."""
        return self.database_url.startswith("sqlite")
