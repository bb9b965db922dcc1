"""Delivering events to webhook receivers: the outbox worker's sender for ``webhook.*`` rows, signing, and
the connection pinned to the addresses the network guard (``addresses``) let through.

A delivery is ``POST <Url>`` with the JSON body ``{"Id", "Type", "AccountId", "OccurredAt", "Data"}`` and:

* ``X-Alephee-Event``: the event type; ``X-Alephee-Event-Id``: the event id (the same for every subscription
  and every attempt: receivers deduplicate on it);
* ``X-Alephee-Delivery``: the delivery id (one per subscription and event, the same on every retry);
* ``X-Alephee-Attempt``: 1 for the first try, 2 for the first retry, ...;
* ``X-Alephee-Timestamp``: Unix seconds when this attempt was signed;
* ``X-Alephee-Signature``: ``v1=`` + hex HMAC-SHA256, keyed with the subscription secret, of
  ``"<timestamp>.<raw body>"``.

The secret is stored encrypted (``webhooks.crypto``) and decrypted right before signing. A secret that cannot
be decrypted (wrong or missing key) is a transient failure with a clear ``last_error``: nothing is sent, and
never unsigned. A legacy secret still stored in clear is encrypted after its first successful delivery.

Any 2xx answer is a delivery; anything else (3xx included: redirects are not followed), a timeout or a
connection error is retried by the worker with exponential backoff, up to ``outbox_max_attempts``. After
the last attempt the event simply stays open in the account's feed (``GET /v2/notifications``).

The worker gets this sender from ``route`` (``alephee serve --with-worker``, built by ``registry.build_worker``)
or ``install`` (``alephee worker``).
``send`` runs in the worker's delivery transaction (``in_database`` is true) but makes the HTTP call
*before* touching the session, so no connection, lock or SQLite write transaction is held while the receiver
answers; after a 2xx it counts the delivery on the event in the same transaction that marks the outbox row
delivered, so the count moves exactly once per delivered row.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import socket
import ssl
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from alephee import __version__, clock
from alephee.config import Settings
from alephee.db import Database
from alephee.http.wire import format_utc
from alephee.marketplaces.contract import PermanentDeliveryError, TransientDeliveryError
from alephee.marketplaces.delivery import OutboxItem, Route, register_sender, unregister_sender
from alephee.marketplaces.models import OutboxMessage, live_rows
from alephee.marketplaces.outbox import enqueue
from alephee.webhooks import crypto, events, service
from alephee.webhooks.addresses import TargetRefused, parse_target, resolve
from alephee.webhooks.models import DELIVERED, OPEN, WebhookEvent, WebhookSubscription

log = logging.getLogger("alephee.webhooks")

HEADER_EVENT = "X-Alephee-Event"
HEADER_EVENT_ID = "X-Alephee-Event-Id"
HEADER_DELIVERY = "X-Alephee-Delivery"
HEADER_ATTEMPT = "X-Alephee-Attempt"
HEADER_TIMESTAMP = "X-Alephee-Timestamp"
HEADER_SIGNATURE = "X-Alephee-Signature"
SIGNATURE_VERSION = "v1"
USER_AGENT = f"Alephee-Webhooks/{__version__}"
# Bytes of the receiver's answer kept for the error message (the rest is read and dropped).
MAX_ANSWER_BYTES = 64 * 1024
# Events deleted per purge step; a full step schedules the next one at once.
PURGE_BATCH = 10_000

ERR_GONE = "webhook {id} no longer exists or is inactive"
ERR_EVENT_GONE = "event {id} no longer exists (purged)"
ERR_NOT_PREPARED = "delivery was not prepared"
ERR_ANSWER = "receiver answered HTTP {status}"
ERR_SECRET = "webhook {id} cannot be signed: {reason}"


# --- signing ------------------------------------------------------------------------------------------------


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>``: the value of ``X-Alephee-Signature``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def event_body(event_id: int, event_type: str, account_id: int, occurred_at: Any, data: dict[str, Any]) -> bytes:
    """The JSON body of a delivery (compact, UTF-8; the signature covers these exact bytes)."""
    body = {
        "Id": event_id,
        "Type": event_type,
        "AccountId": account_id,
        "OccurredAt": format_utc(occurred_at),
        "Data": data,
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def delivery_headers(
    secret: str, body: bytes, *, event_type: str, event_id: int, delivery_id: str, attempt: int
) -> dict[str, str]:
    """Every header of one attempt, signed now."""
    timestamp = str(int(clock.utcnow().timestamp()))
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        HEADER_EVENT: event_type,
        HEADER_EVENT_ID: str(event_id),
        HEADER_DELIVERY: delivery_id,
        HEADER_ATTEMPT: str(attempt),
        HEADER_TIMESTAMP: timestamp,
        HEADER_SIGNATURE: signature(secret, timestamp, body),
    }


# --- where a webhook may go (SSRF guard) -------------------------------------------------------------------


class _PinnedHTTP(http.client.HTTPConnection):
    """An HTTP connection to a given address (the host name still goes in ``Host``)."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """An HTTPS connection to a given address, verifying the certificate for the host name."""

    def __init__(self, host: str, port: int, address: str, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._tls = context

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


_tls_context: ssl.SSLContext | None = None


def _context() -> ssl.SSLContext:
    global _tls_context
    if _tls_context is None:
        _tls_context = ssl.create_default_context()
    return _tls_context


@dataclass(frozen=True, slots=True)
class Answer:
    """What the receiver said."""

    status: int
    excerpt: str

    @property
    def ok(self) -> bool:
        """2xx: delivered."""
        return 200 <= self.status < 300


def post(url: str, body: bytes, headers: dict[str, str], settings: Settings) -> Answer:
    """POST ``body`` to ``url`` through the SSRF guard. ``TargetRefused`` when the URL may not be reached;
    ``OSError``/``http.client.HTTPException`` when the receiver cannot be reached or talks nonsense."""
    target = parse_target(url, settings.webhook_max_url_length)
    addresses = resolve(target, allow_private=settings.webhook_allow_private_targets)
    timeout = settings.webhook_timeout_seconds
    last: OSError | None = None
    for address in addresses:
        connection: http.client.HTTPConnection = (
            _PinnedHTTPS(target.host, target.port, address, timeout, _context())
            if target.scheme == "https"
            else _PinnedHTTP(target.host, target.port, address, timeout)
        )
        try:
            connection.connect()
        except OSError as exc:
            connection.close()
            last = exc
            continue
        try:
            connection.request("POST", target.path, body=body, headers=headers)
            response = connection.getresponse()
            excerpt = response.read(MAX_ANSWER_BYTES)
            return Answer(status=response.status, excerpt=excerpt[:200].decode("utf-8", "replace"))
        finally:
            connection.close()
    assert last is not None
    raise last


# --- the worker's sender -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Prepared:
    url: str
    webhook_id: int
    # As stored (ciphertext, or a legacy secret in clear): decrypted only right before signing.
    stored_secret: str
    event_id: int
    event_type: str
    body: bytes


class WebhookSender:
    """Delivers ``webhook.*`` outbox rows (``marketplaces.delivery.Sender``): event deliveries and the feed purge.

    ``in_database`` looks up the subscription and the event (read session) and keeps what ``send`` needs;
    ``send`` posts first and touches the delivery transaction only afterwards (module docstring).
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings
        self._prepared: dict[int, _Prepared | str] = {}
        self._lock = threading.Lock()

    @property
    def settings(self) -> Settings:
        """The worker's settings (read from the environment when none were given)."""
        if self._settings is None:
            self._settings = Settings()
        return self._settings

    def in_database(self, session: Session, item: OutboxItem) -> bool:
        if item.topic == events.PURGE_TOPIC:
            return True
        prepared: _Prepared | str
        event_id = _int(item.payload.get("event_id"))
        webhook_id = _int(item.payload.get("webhook_id"))
        subscription = session.get(WebhookSubscription, webhook_id) if webhook_id is not None else None
        event = session.get(WebhookEvent, event_id) if event_id is not None else None
        if subscription is None or not subscription.active or subscription.account_id != item.account_id:
            prepared = ERR_GONE.format(id=webhook_id)
        elif event is None:
            prepared = ERR_EVENT_GONE.format(id=event_id)
        else:
            prepared = _Prepared(
                url=subscription.url,
                webhook_id=subscription.id,
                stored_secret=subscription.secret,
                event_id=event.id,
                event_type=event.type,
                body=event_body(event.id, event.type, event.account_id, event.occurred_at, dict(event.data or {})),
            )
        with self._lock:
            self._prepared[item.id] = prepared
        return True

    def send(self, session: Session | None, item: OutboxItem) -> None:
        assert session is not None, "in_database is always true for webhook rows"
        if item.topic == events.PURGE_TOPIC:
            self._purge(session, item)
            return
        with self._lock:
            prepared = self._prepared.pop(item.id, None)
        if prepared is None:
            raise TransientDeliveryError(ERR_NOT_PREPARED)
        if isinstance(prepared, str):
            raise PermanentDeliveryError(prepared)
        secret = _signing_secret(self.settings, prepared.webhook_id, prepared.stored_secret)
        # The HTTP call comes first: until the session is used, it holds no connection and no lock.
        headers = delivery_headers(
            secret,
            prepared.body,
            event_type=prepared.event_type,
            event_id=prepared.event_id,
            delivery_id=str(item.id),
            attempt=item.attempts,
        )
        try:
            answer = post(prepared.url, prepared.body, headers, self.settings)
        except TargetRefused as exc:
            raise PermanentDeliveryError(exc.message) from None
        except (OSError, http.client.HTTPException) as exc:
            raise TransientDeliveryError(f"{type(exc).__name__}: {exc}") from None
        if not answer.ok:
            detail = f": {answer.excerpt}" if answer.excerpt.strip() else ""
            raise TransientDeliveryError(ERR_ANSWER.format(status=answer.status) + detail)
        record_delivery(session, prepared.event_id)
        if not crypto.is_encrypted(prepared.stored_secret):
            encrypt_legacy_secret(session, self.settings, prepared.webhook_id, prepared.stored_secret, secret)

    def _purge(self, session: Session, item: OutboxItem) -> None:
        deleted = service.purge_batch(session, self.settings, limit=PURGE_BATCH)
        if deleted:
            log.info(
                "feed purge: %s events older than %s days deleted", deleted, self.settings.notifications_retention_days
            )
        others = session.scalar(
            select(OutboxMessage.id).where(
                OutboxMessage.topic == events.PURGE_TOPIC,
                live_rows(OutboxMessage.status),
                OutboxMessage.id != item.id,
            )
        )
        if others is None:
            delay = 0.0 if deleted >= PURGE_BATCH else self.settings.notifications_purge_interval_seconds
            schedule_purge(session, delay)


def _signing_secret(settings: Settings, webhook_id: int, stored: str) -> str:
    """The secret to sign with; a transient failure (retried, then failed, with a clear ``last_error``) when it
    cannot be decrypted: a worker with the wrong key must not send unsigned or wrongly signed deliveries, and
    another worker, or this one once its key is fixed, may still deliver the row."""
    try:
        return crypto.decrypt_secret(settings, stored)
    except crypto.WebhookSecretError as exc:
        message = ERR_SECRET.format(id=webhook_id, reason=exc)
        log.error("%s", message)
        raise TransientDeliveryError(message) from None


def encrypt_legacy_secret(session: Session, settings: Settings, webhook_id: int, stored: str, secret: str) -> None:
    """Replace a secret stored in clear by its ciphertext, in the caller's transaction (no commit), unless the
    row changed meanwhile (compare-and-set on the stored value)."""
    session.execute(
        update(WebhookSubscription)
        .where(WebhookSubscription.id == webhook_id, WebhookSubscription.secret == stored)
        .values(secret=crypto.encrypt_secret(settings, secret))
        .execution_options(synchronize_session=False)
    )


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value)
    return None


def record_delivery(session: Session, event_id: int) -> None:
    """Count one delivered subscription on the event; the last one marks it delivered (an acknowledged event
    keeps its state)."""
    last = WebhookEvent.pending_deliveries == 1
    session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.id == event_id, WebhookEvent.pending_deliveries > 0)
        .values(
            pending_deliveries=WebhookEvent.pending_deliveries - 1,
            delivered_at=case((last, clock.utcnow()), else_=WebhookEvent.delivered_at),
            state=case((last & (WebhookEvent.state == OPEN), DELIVERED), else_=WebhookEvent.state),
        )
        .execution_options(synchronize_session=False)
    )


def schedule_purge(session: Session, delay_seconds: float) -> None:
    """Queue the next feed purge for the worker (an outbox row due in ``delay_seconds``)."""
    row = enqueue(
        session,
        account_id=0,
        topic=events.PURGE_TOPIC,
        aggregate_type="wh:purge",
        aggregate_id=0,
        payload={},
    )
    row.available_at = clock.utcnow() + timedelta(seconds=delay_seconds)


def ensure_purge_scheduled(session: Session) -> bool:
    """Queue a purge now unless one is already queued; returns whether one was added."""
    queued = session.scalar(
        select(OutboxMessage.id)
        .where(OutboxMessage.topic == events.PURGE_TOPIC, live_rows(OutboxMessage.status))
        .limit(1)
    )
    if queued is not None:
        return False
    schedule_purge(session, 0)
    return True


def prepare(settings: Settings, db: Database | None = None) -> WebhookSender:
    """The webhook sender for ``settings``, ready to hand to a worker; with ``db``, also make sure the feed purge
    is queued. Loads the key that decrypts webhook secrets first (generating the key file if needed), so a
    malformed ``ALEPHEE_SECRET_KEY`` or an unusable key file stops the worker at start
    (``crypto.SecretKeyError``) instead of every delivery."""
    crypto.keyring(settings)
    sender = WebhookSender(settings)
    if db is not None:
        try:
            with db.writing() as session:
                ensure_purge_scheduled(session)
        except Exception:  # the purge is housekeeping: never keep a worker from starting
            log.exception("could not queue the notification feed purge")
    return sender


def route(settings: Settings, db: Database | None = None) -> Route:
    """The worker's route of ``webhook.*`` rows to the sender ``prepare`` builds."""
    return Route(events.TOPIC_PREFIX, prepare(settings, db))


def install(settings: Settings, db: Database | None = None) -> Route | None:
    """Register the webhook sender (``prepare``) with every worker of this process that follows the sender
    table (``alephee worker``); returns the route it replaced."""
    return register_sender(events.TOPIC_PREFIX, prepare(settings, db))


def uninstall(previous: Route | None) -> None:
    """Undo ``install`` (restore the sender it replaced)."""
    unregister_sender(events.TOPIC_PREFIX, previous)


# --- alephee webhook test ------------------------------------------------------------------------------------


_test_ids_lock = threading.Lock()
_last_test_micros = 0


def next_test_event_id() -> int:
    """A fresh ``Id`` for a ``webhook.test`` event: minus the microseconds since 1970 when it is sent.

    Negative, so never the Id of a real event (positive, from the feed's sequence), yet different for every
    test (strictly decreasing within a process, time-based across processes), so a receiver that skips Ids it
    has already handled takes each test; |Id| < 2**53 (a safe JSON integer) until the year 2255.
    """
    global _last_test_micros
    with _test_ids_lock:
        _last_test_micros = max(time.time_ns() // 1000, _last_test_micros + 1)
        return -_last_test_micros


def send_test(subscription: WebhookSubscription, settings: Settings) -> dict[str, Any]:
    """POST a signed ``webhook.test`` event to the subscription now (no outbox, no feed) and report the answer.
    When the secret cannot be decrypted nothing is sent and ``Error`` says why."""
    try:
        secret = crypto.decrypt_secret(settings, subscription.secret)
    except crypto.WebhookSecretError as exc:
        return {
            "WebhookId": subscription.id,
            "Url": subscription.url,
            "Status": None,
            "Delivered": False,
            "Error": ERR_SECRET.format(id=subscription.id, reason=exc),
            "DurationMs": 0,
        }
    event_id = next_test_event_id()
    body = event_body(
        event_id,
        events.TEST_TYPE,
        subscription.account_id,
        clock.utcnow(),
        {"WebhookId": subscription.id, "Message": "Test event from the Alephee hub"},
    )
    headers = delivery_headers(
        secret,
        body,
        event_type=events.TEST_TYPE,
        event_id=event_id,
        delivery_id=f"test-{uuid.uuid4().hex[:12]}",
        attempt=1,
    )
    started = time.monotonic()
    status: int | None = None
    error: str | None = None
    try:
        answer = post(subscription.url, body, headers, settings)
        status = answer.status
        if not answer.ok:
            error = ERR_ANSWER.format(status=answer.status)
    except TargetRefused as exc:
        error = exc.message
    except (OSError, http.client.HTTPException) as exc:
        error = f"{type(exc).__name__}: {exc}"
    return {
        "WebhookId": subscription.id,
        "Url": subscription.url,
        "Status": status,
        "Delivered": error is None,
        "Error": error,
        "DurationMs": int((time.monotonic() - started) * 1000),
    }
