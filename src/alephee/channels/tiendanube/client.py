"""A small HTTP client of the Tiendanube/Nuvemshop API: the token exchange, and every store call as plain JSON
under ``{api_url}/{version}/{store_id}`` with the two headers the platform requires (``Authentication: bearer
<token>``, lower-case ``bearer``, and ``User-Agent``).

Interface (what the channel builds on):

* ``TiendanubeClient(settings, http=None)`` — one per process and API base (its connection pool is shared by
  threads); ``request(store, method, path, params=, json=)`` → ``Answer`` (``body``, ``headers``, ``status``),
  ``get``/``post``/``put``/``patch``/``delete`` → the JSON body, ``pages(store, path, params)`` → each page's
  list, following ``Link: rel="next"``.
* ``StoreAuth`` — whose call it is: store id, token (never in a ``repr``), API version and base.
* ``TiendanubeError`` — every refusal: ``status`` (0 = no answer), ``transient`` (429, 5xx, network, the local
  pacing giving up), ``retry_after`` (seconds), ``refusal()`` (the platform's message, per-field messages
  included: both 422 shapes, the 400/404 ``code/message/description`` shape, ``{"error": ...}`` and the
  fulfillment-order shapes).
* ``as_id``, ``as_money``, ``as_datetime`` — the spec's lenient parsing of ids (64-bit integers, or ULID strings),
  money strings and the several date formats.

Pacing (spec §1.8): each store (per API base) has a leaky bucket — ``tiendanube_bucket_size`` requests, leaking
``tiendanube_leak_per_second`` — in the process, shared by every thread, or in Redis when ``redis_url`` is set,
shared by every process (``SharedPacer``); a call takes room first and waits
for it when the bucket is full, so 429s are rare. The answers' ``x-rate-limit-limit``/``-remaining``/``-reset``
headers resync it (a higher plan's bigger bucket is learned from the first answer). A call that would wait
longer than ``tiendanube_max_wait_seconds`` is not sent: it fails as transient (``local_rate_limited``), with
the wait as ``retry_after``. Tokens never reach a log line nor an error message.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

import httpx
from throttled import RateLimiterType, Throttled, per_duration
from throttled.store import BaseStore

from alephee.config import Settings
from alephee.http.ratelimit import STORE_ERRORS, redis_store

TOKEN_PATH = "/apps/authorize/token"
# The largest page the list endpoints serve (spec §1.7).
MAX_PAGE = 200
# Statuses that are success (POST answers 201).
SUCCESS = frozenset({200, 201, 202, 204})
LOCAL_RATE_LIMITED = "local_rate_limited"
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
MAX_ID = 2**63 - 1
# The part of each store's bucket the pacing leaves free (see ``LeakyBucket.room``).
HEADROOM = 0.125


class TiendanubeError(Exception):
    """A refused or failed call: HTTP ``status`` (0 when no answer came), a short ``code``, the platform's
    ``description``, its per-field messages (``fields``) and how long to wait before trying again."""

    def __init__(
        self,
        status: int,
        code: str,
        description: str = "",
        fields: dict[str, list[str]] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"Tiendanube answered {status} {code}: {description}".rstrip(": "))
        self.status = status
        self.code = code
        self.description = description
        self.fields = fields or {}
        self.retry_after = retry_after

    @property
    def transient(self) -> bool:
        """Whether trying again later may succeed (rate limit, server error, no answer, local pacing)."""
        return self.status in (0, 429) or self.status >= 500 or self.code == LOCAL_RATE_LIMITED

    @property
    def unauthorized(self) -> bool:
        """401: the token is no longer valid (the app was uninstalled, or re-authorized elsewhere)."""
        return self.status == 401

    @property
    def payment_required(self) -> bool:
        """402: the store's subscription or the app's charge is unpaid; calls come back once it is paid."""
        return self.status == 402

    def refusal(self) -> str:
        """What the platform refused, for the user: ``field: message`` for each field, else the description."""
        reasons = [f"{name}: {message}" for name, messages in self.fields.items() for message in messages]
        if not reasons:
            reasons = [self.description or self.code]
        return "; ".join(reasons)


def _messages(value: Any) -> list[str] | None:
    if isinstance(value, list) and value and all(isinstance(v, str | int | float) for v in value):
        return [str(v) for v in value]
    if isinstance(value, str) and value:
        return [value]
    return None


def error_from(response: httpx.Response, retry_after: float | None = None) -> TiendanubeError:
    """Read any of the platform's error bodies (or one that is not JSON at all)."""
    status = response.status_code
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return TiendanubeError(status, f"http_{status}", response.reason_phrase, retry_after=retry_after)
    fields: dict[str, list[str]] = {}
    nested = body.get("messages")
    for name, value in nested.items() if isinstance(nested, dict) else ():
        found = _messages(value)
        if found:
            fields[str(name)] = found
    for name, value in body.items():
        if name in ("code", "message", "description", "error", "messages"):
            continue
        found = _messages(value)
        if found and isinstance(value, list):
            fields[str(name)] = found
    description = body.get("description") or body.get("error") or body.get("message") or ""
    return TiendanubeError(status, f"http_{status}", str(description), fields, retry_after=retry_after)


# --- parsing the platform's values ---------------------------------------------------------------------------


def as_id(value: Any) -> int | str | None:
    """An id as the platform sends it: numeric ids (numbers or digit strings, up to 64 bits) as ``int``, ULIDs
    (locations, fulfillment orders) as ``str``; None for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value if 0 <= value <= MAX_ID else None
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            number = int(text)
            return number if number <= MAX_ID else None
        return text if text.isalnum() and 0 < len(text) <= 64 else None
    return None


def as_money(value: Any) -> Decimal | None:
    """A money amount (a decimal string, or a number on some answers) as ``Decimal``; None when absent."""
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def as_datetime(value: Any) -> datetime | None:
    """A date in any of the formats the platform uses (``-03:00``, ``+0000``, ``.742Z``, ``2022-11-15
    19:36:59.000000``, or the ``{"date": ..., "timezone": "UTC"}`` object) as an aware UTC datetime."""
    if isinstance(value, dict):
        value = value.get("date")
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace(" ", "T", 1)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    match = re.search(r"([+-])(\d{2})(\d{2})$", text)
    if match and not re.search(r"[+-]\d{2}:\d{2}$", text):
        text = text[: match.start()] + f"{match.group(1)}{match.group(2)}:{match.group(3)}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed).astimezone(UTC)


# --- pacing --------------------------------------------------------------------------------------------------


class LeakyBucket:
    """One store's bucket as this process sees it: ``level`` requests in it, leaking ``rate`` per second."""

    def __init__(self, size: float, rate: float, now: float = 0.0) -> None:
        self.size = size
        self.rate = rate
        self.level = 0.0
        self.at = now

    def _leak(self, now: float) -> None:
        self.level = max(0.0, self.level - max(0.0, now - self.at) * self.rate)
        self.at = max(self.at, now)

    @property
    def room(self) -> float:
        """What this process fills the bucket to: the size less ``HEADROOM`` of it, so requests of other
        processes and the jitter of arrival times do not spill into 429s (the spec's "sleep when fewer than 5
        remain", on a bucket of 40)."""
        return self.size * (1 - HEADROOM)

    def take(self, now: float) -> float:
        """Take room for one request; how long to wait before sending it (0 = now)."""
        self._leak(now)
        self.level += 1
        return max(0.0, (self.level - self.room) / self.rate)

    def give_back(self, now: float) -> None:
        """Return the room of a request that was not sent."""
        self._leak(now)
        self.level = max(0.0, self.level - 1)

    def resync(self, now: float, limit: int | None, remaining: int | None, reset_ms: float | None) -> None:
        """Learn the platform's view from an answer's headers (never less full than this process thinks)."""
        self._leak(now)
        if limit is not None and limit > 0 and limit != self.size:
            # A bigger plan's bucket leaks faster in the same proportion (spec §1.8: "10× these limits").
            self.rate = self.rate * limit / self.size
            self.size = float(limit)
        if remaining is not None and limit is not None:
            self.level = max(self.level, float(limit - remaining))
        elif reset_ms is not None:
            self.level = max(self.level, reset_ms / 1000 * self.rate)

    def full(self, now: float) -> None:
        """A 429 said the bucket is full."""
        self._leak(now)
        self.level = max(self.level, self.size)


class Pacer:
    """The buckets of every store this process calls, shared by its threads."""

    def __init__(self, size: int, rate: float, max_wait: float) -> None:
        self.size = size
        self.rate = rate
        self.max_wait = max_wait
        self._buckets: dict[tuple[str, int], LeakyBucket] = {}
        self._lock = threading.Lock()

    def _bucket(self, key: tuple[str, int]) -> LeakyBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = LeakyBucket(self.size, self.rate, time.monotonic())
        return bucket

    def acquire(self, key: tuple[str, int]) -> None:
        """Wait for room in the store's bucket; ``TiendanubeError`` (transient) when that would take longer than
        ``max_wait`` (nothing is taken then)."""
        with self._lock:
            bucket = self._bucket(key)
            now = time.monotonic()
            wait = bucket.take(now)
            if wait > self.max_wait:
                bucket.give_back(now)
                raise TiendanubeError(
                    429, LOCAL_RATE_LIMITED, "the store's request budget is used up for now", retry_after=wait
                )
        if wait > 0:
            time.sleep(wait)

    def observe(self, key: tuple[str, int], headers: httpx.Headers, status: int) -> float | None:
        """Resync from an answer's headers; on a 429, the seconds until the bucket is empty (its retry-after)."""
        limit = _int_header(headers, "x-rate-limit-limit")
        remaining = _int_header(headers, "x-rate-limit-remaining")
        reset = _int_header(headers, "x-rate-limit-reset")
        with self._lock:
            bucket = self._bucket(key)
            now = time.monotonic()
            bucket.resync(now, limit, remaining, reset)
            if status != 429:
                return None
            bucket.full(now)
            return reset / 1000 if reset is not None else 1 / bucket.rate


class SharedPacer(Pacer):
    """The stores' buckets shared by every process through Redis (``ALEPHEE_REDIS_URL``): one GCRA key per store
    and API base, kept by throttled-py's atomic Lua script — the limiter the hub's own API uses — with the same
    room (``HEADROOM`` left free), leak and wait limit as ``Pacer``. A call waits (at most ``max_wait``) for
    room in the shared bucket; the answers' ``x-rate-limit-*`` headers fill the shared bucket up to what the
    platform counts and a 429 fills it. While Redis does not answer, the process paces alone (``Pacer``), and it
    always keeps its own view in step so that fallback starts from the headers already seen."""

    def __init__(
        self, size: int, rate: float, max_wait: float, store: BaseStore, namespace: str, recheck: float = 5.0
    ) -> None:
        super().__init__(size, rate, max_wait)
        self._store = store
        self._prefix = f"{namespace}:tn"
        self._throttles: dict[tuple[float, float], Throttled] = {}
        # After a failure Redis is left alone for ``recheck`` seconds (no call waits on a dead server each time).
        self._recheck = recheck
        self._down_until = 0.0
        self.fallbacks = 0

    def _redis_down(self) -> bool:
        return time.monotonic() < self._down_until

    def _failed(self) -> None:
        self.fallbacks += 1
        self._down_until = time.monotonic() + self._recheck

    def _throttle(self, key: tuple[str, int]) -> tuple[Throttled, str]:
        with self._lock:
            bucket = self._bucket(key)
            size, rate = bucket.size, bucket.rate
            throttle = self._throttles.get((size, rate))
            if throttle is None:
                # GCRA over a whole-second period: ``rate`` per second as so many per minute.
                quota = per_duration(timedelta(minutes=1), max(1, round(rate * 60)), burst=max(1, int(bucket.room)))
                throttle = self._throttles[(size, rate)] = Throttled(
                    using=RateLimiterType.GCRA.value, quota=quota, store=self._store, key_prefix=self._prefix
                )
        return throttle, f"{key[0]}|{key[1]}|{size:g}"

    def acquire(self, key: tuple[str, int]) -> None:
        """Wait for room in the store's shared bucket (``TiendanubeError``, transient, past ``max_wait``)."""
        if self._redis_down():
            super().acquire(key)
            return
        try:
            throttle, name = self._throttle(key)
            result = throttle.limit(name, timeout=self.max_wait)
        except STORE_ERRORS:
            self._failed()
            super().acquire(key)
            return
        if result.limited:
            raise TiendanubeError(
                429,
                LOCAL_RATE_LIMITED,
                "the store's request budget is used up for now",
                retry_after=result.state.retry_after,
            )
        with self._lock:
            # This process's own count too (no wait: Redis decided), for ``observe`` and for a fallback.
            self._bucket(key).take(time.monotonic())

    def observe(self, key: tuple[str, int], headers: httpx.Headers, status: int) -> float | None:
        """As ``Pacer.observe``, and the shared bucket filled up to what the platform counts (all of it on a
        429): never emptier than the store says it is."""
        with self._lock:
            bucket = self._bucket(key)
            bucket._leak(time.monotonic())
            known = bucket.level
        retry_after = super().observe(key, headers, status)
        limit = _int_header(headers, "x-rate-limit-limit")
        remaining = _int_header(headers, "x-rate-limit-remaining")
        counted = limit - remaining if limit is not None and remaining is not None else None
        if self._redis_down() or (status != 429 and (counted is None or counted <= known + 1)):
            # The store counts no more than this process alone did: the shared bucket (which holds at least
            # this process's calls) needs no filling, and the call costs no second round trip.
            return retry_after
        try:
            throttle, name = self._throttle(key)
            ours = throttle.peek(name).remaining
            if status == 429 or limit is None or remaining is None:
                missing = ours
            else:
                # The platform's free room less the headroom this hub never fills.
                missing = ours - (remaining - int(limit * HEADROOM))
            if missing > 0:
                throttle.limit(name, cost=missing)
        except STORE_ERRORS:
            self._failed()
        return retry_after


def pacer_for(settings: Settings) -> Pacer:
    """The pacing of a client: shared through Redis when ``redis_url`` is set, else this process's own."""
    size, rate, wait = (
        settings.tiendanube_bucket_size,
        settings.tiendanube_leak_per_second,
        settings.tiendanube_max_wait_seconds,
    )
    store = redis_store(settings)
    if store is None:
        return Pacer(size, rate, wait)
    return SharedPacer(size, rate, wait, store, settings.rate_limit_namespace, settings.redis_recheck_seconds)


def has_next(answer: Answer) -> bool:
    """Whether a list answer has a next page (``Link: rel="next"``)."""
    return _LINK_NEXT.search(answer.headers.get("link", "")) is not None


def _int_header(headers: httpx.Headers, name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(float(value.strip()))
    except ValueError:
        return None


# --- the client ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """A token exchange answer (``user_id`` is the store id). The token is left out of ``repr``."""

    access_token: str = field(repr=False)
    store_id: int
    scope: str = ""


@dataclass(frozen=True, slots=True)
class StoreAuth:
    """Whose call it is: the store, its token (never in a ``repr``), its API version and the API base."""

    store_id: int
    token: str = field(repr=False)
    # Both come from the connection or the settings (``tiendanube_api_version``, ``tiendanube_api_url``).
    version: str
    api_url: str

    @property
    def base(self) -> str:
        """``{api_url}/{version}/{store_id}``."""
        return f"{self.api_url.rstrip('/')}/{quote(self.version)}/{self.store_id}"


@dataclass(frozen=True, slots=True)
class Answer:
    """A successful answer: status, headers and the JSON body (None when empty)."""

    status: int
    headers: httpx.Headers
    body: Any


def user_agent(settings: Settings) -> str:
    """The User-Agent every call carries: the configured one, else ``Alephee hub (<public URL>)`` (the platform
    asks for the app's name and a contact URL or e-mail; a call without one is refused)."""
    return settings.tiendanube_user_agent or f"Alephee hub ({settings.public_url.rstrip('/')})"


class TiendanubeClient:
    """Calls to Tiendanube; ``http`` lets a caller (a test) choose the transport, ``pacer`` share buckets
    (default: one per client, i.e. per process since the channel keeps one client per API base)."""

    def __init__(self, settings: Settings, http: httpx.Client | None = None, pacer: Pacer | None = None) -> None:
        self._own = http is None
        self._http = http or httpx.Client(timeout=settings.tiendanube_timeout_seconds)
        self._agent = user_agent(settings)
        self._auth_url = settings.tiendanube_auth_url.rstrip("/")
        self.pacer = pacer or pacer_for(settings)

    def close(self) -> None:
        """Close the connection pool (only when this client created it)."""
        if self._own:
            self._http.close()

    def __enter__(self) -> TiendanubeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- install

    def token(self, app_id: str, client_secret: str, code: str, *, auth_url: str | None = None) -> TokenGrant:
        """``POST {auth_url}/apps/authorize/token`` (JSON body): the store's token and id. Any refusal is a
        ``TiendanubeError`` (the install must start again)."""
        body = {"client_id": app_id, "client_secret": client_secret, "grant_type": "authorization_code", "code": code}
        url = (auth_url or self._auth_url).rstrip("/") + TOKEN_PATH
        try:
            response = self._http.post(
                url, json=body, headers={"User-Agent": self._agent, "accept": "application/json"}
            )
        except httpx.HTTPError as exc:
            raise TiendanubeError(0, "network_error", type(exc).__name__) from None
        if response.status_code not in SUCCESS:
            raise error_from(response)
        try:
            answer = response.json()
            store_id = as_id(answer["user_id"])
            if not isinstance(store_id, int) or not answer.get("access_token"):
                raise ValueError("no store")
            return TokenGrant(str(answer["access_token"]), store_id, str(answer.get("scope") or ""))
        except (KeyError, TypeError, ValueError):
            raise TiendanubeError(200, "invalid_token_response", "the token answer lacks a field") from None

    # --- store calls

    def request(
        self,
        store: StoreAuth,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        url: str | None = None,
    ) -> Answer:
        """One call to ``store.base + path`` (or the absolute ``url`` of a ``Link`` header), paced; the answer,
        or ``TiendanubeError``."""
        key = (store.api_url, store.store_id)
        self.pacer.acquire(key)
        headers = {
            "Authentication": f"bearer {store.token}",
            "User-Agent": self._agent,
            "accept": "application/json",
        }
        content: bytes | None = None
        if json is not None:
            headers["Content-Type"] = "application/json; charset=utf-8"
        elif method in ("POST", "PUT", "PATCH"):
            content = b""  # body-less writes say Content-Length: 0 (spec §1.5)
        try:
            response = self._http.request(
                method, url or store.base + path, params=params, json=json, content=content, headers=headers
            )
        except httpx.HTTPError as exc:
            raise TiendanubeError(0, "network_error", type(exc).__name__) from None
        retry_after = self.pacer.observe(key, response.headers, response.status_code)
        if response.status_code not in SUCCESS:
            raise error_from(response, retry_after)
        body: Any = None
        if response.content:
            try:
                body = response.json()
            except ValueError:
                raise TiendanubeError(response.status_code, "invalid_json", "the answer is not JSON") from None
        return Answer(response.status_code, response.headers, body)

    def get(self, store: StoreAuth, path: str, params: dict[str, Any] | None = None) -> Any:
        """``GET``: the JSON body."""
        return self.request(store, "GET", path, params=params).body

    def post(self, store: StoreAuth, path: str, json: Any = None) -> Any:
        """``POST``: the JSON body."""
        return self.request(store, "POST", path, json=json).body

    def put(self, store: StoreAuth, path: str, json: Any = None) -> Any:
        """``PUT``: the JSON body."""
        return self.request(store, "PUT", path, json=json).body

    def patch(self, store: StoreAuth, path: str, json: Any = None) -> Any:
        """``PATCH``: the JSON body."""
        return self.request(store, "PATCH", path, json=json).body

    def delete(self, store: StoreAuth, path: str) -> Any:
        """``DELETE``: the JSON body."""
        return self.request(store, "DELETE", path).body

    def pages(
        self, store: StoreAuth, path: str, params: dict[str, Any] | None = None, *, per_page: int = MAX_PAGE
    ) -> Iterator[list[dict[str, Any]]]:
        """Every page of a list endpoint, following ``Link: rel="next"`` (else the next ``page`` while pages come
        full); the paginated-envelope lists (``{"results": [...]}``) are unwrapped."""
        query = dict(params or {}) | {"per_page": max(1, min(per_page, MAX_PAGE))}
        query.setdefault("page", 1)
        answer = self.request(store, "GET", path, params=query)
        seen = 0
        while True:
            body = answer.body
            if isinstance(body, dict):
                body = body.get("results")
            items = [e for e in body if isinstance(e, dict)] if isinstance(body, list) else []
            seen += len(items)
            yield items
            links = answer.headers.get("link", "").strip()
            total = _int_header(answer.headers, "x-total-count")
            link = _LINK_NEXT.search(links)
            if link is not None:
                answer = self.request(store, "GET", "", url=link.group(1))
            elif not links and items and len(items) >= query["per_page"] and (total is None or seen < total):
                # No Link header at all: the next page while pages come full (and the total is not reached).
                query["page"] = int(query["page"]) + 1
                answer = self.request(store, "GET", path, params=query)
            else:
                return

    def store(self, store: StoreAuth) -> dict[str, Any]:
        """``GET /store``: the store's name, languages, currency and country."""
        body = self.get(store, "/store")
        if not isinstance(body, dict):
            raise TiendanubeError(200, "invalid_response", "the answer is not a JSON object")
        return body
