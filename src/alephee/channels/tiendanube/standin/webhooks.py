"""Webhooks: the app's registrations on a store (``/webhooks`` CRUD with Tiendanube's event names and URL rules)
and their delivery — every event of a store is POSTed to each URL registered for it from a background thread
(never inside the request that caused it), its raw body signed ``x-linkedstore-hmac-sha256`` (hex HMAC-SHA256
keyed with the app's client secret), retried on a timeout or anything but 2xx on Tiendanube's schedule (one retry
at once, then about 5, 10 and 15 minutes, then each wait × 1.4, 18 attempts in all). The privacy webhooks go to
the app's configured URLs the same way. Nothing is sent for a store while the app is suspended on it."""

from __future__ import annotations

import hashlib
import heapq
import hmac
import ipaddress
import json
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from alephee.channels.standin_store import Store, Tx
from alephee.channels.tiendanube.standin import stores
from alephee.channels.tiendanube.standin.common import as_int, common_filters, invalid, not_found, now, stamp

EVENTS_URL = "https://tiendanube.github.io/api-documentation/resources/webhook#parameters"
INVALID_EVENT = f"Invalid event specified. Events allowed are available on Parameters section: {EVENTS_URL}"
INVALID_URL = "invalid url specified"
WEBHOOK_ID_BASE = 8900
# Event -> the scope family (read_X / write_X) needed to register it; None: any app.
EVENTS: dict[str, str | None] = {
    **dict.fromkeys(("app/uninstalled", "app/suspended", "app/resumed"), None),
    **dict.fromkeys(("category/created", "category/updated", "category/deleted"), "products"),
    **dict.fromkeys(("customer/created", "customer/updated", "customer/deleted"), "customers"),
    **dict.fromkeys(
        (
            "order/created",
            "order/updated",
            "order/paid",
            "order/packed",
            "order/fulfilled",
            "order/cancelled",
            "order/custom_fields_updated",
            "order/edited",
            "order/pending",
            "order/voided",
            "order/unpacked",
            "order_custom_field/created",
            "order_custom_field/updated",
            "order_custom_field/deleted",
        ),
        "orders",
    ),
    **dict.fromkeys(("product/created", "product/updated", "product/deleted"), "products"),
    **dict.fromkeys(
        (
            "product_variant/custom_fields_updated",
            "product_variant_custom_field/created",
            "product_variant_custom_field/updated",
            "product_variant_custom_field/deleted",
        ),
        "products",
    ),
    "domain/updated": None,
    "subscription/updated": None,
    "fulfillment/updated": "fulfillment_orders",
    **dict.fromkeys(
        (
            "fulfillment_order/status_updated",
            "fulfillment_order/tracking_event_created",
            "fulfillment_order/tracking_event_updated",
            "fulfillment_order/tracking_event_deleted",
        ),
        "fulfillment_orders",
    ),
    **dict.fromkeys(("location/created", "location/updated", "location/deleted"), "locations"),
}
PRIVACY_EVENTS = ("store/redact", "customers/redact", "customers/data_request")
DEFAULT_TIMEOUT = 3.0


def default_retry_delays() -> tuple[float, ...]:
    """Seconds before each retry: at once, 5, 10, 15 minutes, then each × 1.4 — 18 attempts in all."""
    delays = [0.0, 300.0, 600.0, 900.0]
    while len(delays) < 17:
        delays.append(round(delays[-1] * 1.4, 1))
    return tuple(delays)


def signature(body: bytes, secret: str) -> str:
    """The ``x-linkedstore-hmac-sha256`` value: lowercase hex HMAC-SHA256 of the raw body."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _url_ok(url: str, local_urls: bool) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    if not host or any(name in host for name in ("tiendanube", "nuvemshop")):
        return False
    if local_urls:
        return parts.scheme in ("https", "http")
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost" or host.endswith(".localhost")
    return parts.scheme == "https" and not loopback


class Webhooks:
    """Registrations and deliveries of one app (its client secret signs every body)."""

    def __init__(
        self,
        store: Store,
        client_secret: str,
        scopes: tuple[str, ...],
        *,
        enabled: bool = True,
        local_urls: bool = True,
        privacy_urls: dict[str, str] | None = None,
        retry_delays: tuple[float, ...] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.store = store
        self.client_secret = client_secret
        self.families = {scope.split("_", 1)[1] for scope in scopes if "_" in scope}
        self.enabled = enabled
        self.local_urls = local_urls
        self.privacy_urls = dict(privacy_urls or {})
        self.retry_delays = default_retry_delays() if retry_delays is None else retry_delays
        self.timeout = timeout
        self._due: list[tuple[float, str]] = []
        self._busy = 0
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    # Registrations (the /webhooks resource).

    def _validate(self, body: dict[str, Any], partial: bool) -> dict[str, str]:
        problems: dict[str, list[str]] = {}
        event, url = body.get("event"), body.get("url")
        if not (partial and event is None):
            family = EVENTS.get(event) if isinstance(event, str) else "?"
            if (
                not isinstance(event, str)
                or event not in EVENTS
                or (family is not None and family not in self.families)
            ):
                problems["event"] = [INVALID_EVENT]
        if not (partial and url is None) and not (isinstance(url, str) and _url_ok(url, self.local_urls)):
            problems["url"] = [INVALID_URL]
        if problems:
            raise invalid(**problems)
        return {key: value for key, value in (("event", event), ("url", url)) if isinstance(value, str)}

    def create(self, tx: Tx, store_id: int, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /webhooks``: a new registration (the same event and URL twice is refused)."""
        fields = self._validate(body, partial=False)
        for other in tx.find("tn_webhook", store_id):
            if other["event"] == fields["event"] and other["url"] == fields["url"]:
                raise invalid(url=["has already been taken for this event"])
        moment = stamp(now())
        webhook = {
            "id": tx.next_id("tn_webhook", WEBHOOK_ID_BASE),
            **fields,
            "created_at": moment,
            "updated_at": moment,
        }
        tx.put("tn_webhook", webhook["id"], webhook, owner=store_id)
        return webhook

    def get(self, tx: Tx, store_id: int, webhook_id: int) -> dict[str, Any]:
        """One registration of the store; 404 otherwise."""
        webhook = tx.get("tn_webhook", webhook_id, store_id)
        if webhook is None:
            raise not_found("Webhook")
        return webhook

    def update(self, tx: Tx, store_id: int, webhook_id: int, body: dict[str, Any]) -> dict[str, Any]:
        """``PUT /webhooks/{id}``: a new event and/or URL."""
        webhook = self.get(tx, store_id, webhook_id)
        webhook |= self._validate(body, partial=True) | {"updated_at": stamp(now())}
        tx.put("tn_webhook", webhook_id, webhook, owner=store_id)
        return webhook

    def delete(self, tx: Tx, store_id: int, webhook_id: int) -> None:
        """``DELETE /webhooks/{id}``."""
        self.get(tx, store_id, webhook_id)
        tx.delete("tn_webhook", webhook_id)

    def search(self, tx: Tx, store_id: int, query: dict[str, str]) -> list[dict[str, Any]]:
        """``GET /webhooks``: the store's registrations by id, filtered by ``url``, ``event``, ``since_id``, dates."""
        keep = common_filters(query)
        rows = [
            webhook
            for webhook in tx.find("tn_webhook", store_id)
            if keep(webhook)
            and query.get("url", webhook["url"]) == webhook["url"]
            and query.get("event", webhook["event"]) == webhook["event"]
        ]
        return sorted(rows, key=lambda webhook: webhook["id"])

    def drop_store(self, tx: Tx, store_id: int) -> None:
        """Forget every registration of the store (the app was uninstalled)."""
        for key, _webhook in tx.keyed("tn_webhook", store_id):
            tx.delete("tn_webhook", key)

    # Deliveries.

    def emit(self, tx: Tx, store_id: int, event: str, **fields: Any) -> None:
        """Deliver ``{"store_id", "event", **fields}`` to each URL the store registered for ``event`` once ``tx``
        is committed; nothing while the app is suspended on the store (the app events themselves excepted)."""
        if not self.enabled:
            return
        shop = stores.get(tx, store_id)
        if shop is None or (shop["_app"] != stores.INSTALLED and not event.startswith("app/")):
            return
        body = {"store_id": store_id, "event": event} | fields
        for webhook in tx.find("tn_webhook", store_id):
            if webhook["event"] == event:
                self._record(tx, store_id, event, webhook["url"], body)

    def emit_privacy(self, tx: Tx, store_id: int, event: str, body: dict[str, Any]) -> bool:
        """Deliver a privacy webhook (``store/redact``, ...) to the app's URL for it; False when none is set."""
        url = self.privacy_urls.get(event)
        if not self.enabled or url is None:
            return False
        self._record(tx, store_id, event, url, {"store_id": store_id} | body)
        return True

    def _record(self, tx: Tx, store_id: int, event: str, url: str, body: dict[str, Any]) -> None:
        delivery_id = str(tx.next_id("tn_delivery", 0))
        raw = json.dumps(body, separators=(",", ":"))
        delivery = {"id": int(delivery_id), "event": event, "url": url, "body": raw, "attempts": [], "delivered": False}
        tx.put("tn_delivery", delivery_id, delivery, owner=store_id)
        tx.after_commit.append(lambda: self._schedule(delivery_id, 0.0))

    def deliveries(self, store_id: int | None = None) -> list[dict[str, Any]]:
        """Every delivery (of the store when given) with its attempts, oldest first."""
        with self.store.begin() as tx:
            return sorted(tx.find("tn_delivery", store_id), key=lambda delivery: delivery["id"])

    def _schedule(self, delivery_id: str, delay: float) -> None:
        with self._wake:
            if self._closed:
                return
            heapq.heappush(self._due, (time.monotonic() + delay, delivery_id))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="tiendanube-standin-webhooks", daemon=True)
                self._thread.start()
            self._wake.notify_all()

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout) as client:
            while True:
                with self._wake:
                    while not self._closed and (not self._due or self._due[0][0] > time.monotonic()):
                        self._wake.wait(timeout=(self._due[0][0] - time.monotonic()) if self._due else None)
                    if self._closed:
                        return
                    _, delivery_id = heapq.heappop(self._due)
                    self._busy += 1
                try:
                    self._deliver(client, delivery_id)
                finally:
                    with self._wake:
                        self._busy -= 1
                        self._wake.notify_all()

    def _deliver(self, client: httpx.Client, delivery_id: str) -> None:
        with self.store.begin() as tx:
            delivery = tx.get("tn_delivery", delivery_id)
        if delivery is None:
            return
        raw = delivery["body"].encode()
        headers = {
            "content-type": "application/json",
            "user-agent": "Tiendanube-Webhooks-StandIn",
            "x-linkedstore-hmac-sha256": signature(raw, self.client_secret),
        }
        try:
            answer = client.post(delivery["url"], content=raw, headers=headers)
            code = answer.status_code
        except httpx.HTTPError:
            code = 0  # a timeout or a refused connection
        with self.store.begin() as tx:
            delivery["attempts"].append({"at": stamp(now()), "status": code})
            delivery["delivered"] = 200 <= code < 300
            tx.put("tn_delivery", delivery_id, delivery, owner=as_int(json.loads(delivery["body"]).get("store_id")))
        attempt = len(delivery["attempts"])
        if not delivery["delivered"] and attempt <= len(self.retry_delays):
            self._schedule(delivery_id, self.retry_delays[attempt - 1])

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until nothing is waiting to be (re)delivered or ``timeout`` passes; True when idle."""
        deadline = time.monotonic() + timeout
        with self._wake:
            while self._due or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._wake.wait(timeout=left)
        return True

    def close(self) -> None:
        """Stop the delivery thread (pending retries are dropped)."""
        with self._wake:
            self._closed = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)
