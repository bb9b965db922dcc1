"""What a Tiendanube webhook does in the hub, once its signature is verified (plain functions over a session;
they only flush). The route answers 200 at once after one write transaction:

* a resource event (``order/*``, ``product/*``, ...): a pointer into the shared inbox (``channels.inbox``) —
  topic = the event, resource = the id, seller = the store — deduplicated on event + id (a repeat re-opens the
  row); the worker reads the resource fresh through the channel (``read_notice``), the body is never trusted;
* ``app/uninstalled``: the store's connection is disconnected (token forgotten, ``channel.disconnected``);
* ``app/suspended``: the connection is paused (token kept; outbox and inbox rows held, not failed);
* ``app/resumed``: the connection is connected again and a full resync is scheduled: the order feed's cursor
  is set back to when the connection was paused (minus ``RESYNC_OVERLAP``), so the worker's next pull reads
  every order that changed meanwhile; the rows held meanwhile flow again;
* the privacy webhooks (spec §4.6; the partner portal's three URLs may all point at the webhooks route, told
  apart by their ``event`` or, without one, by their shape): ``store/redact`` erases the buyers' personal data
  on every order of the store and forgets the connection's store; ``customers/redact`` erases it on the
  customer's orders (``orders_to_redact``, else found by e-mail); ``customers/data_request`` tells the account's
  integrators which of its orders hold the customer's data (event ``channel.data_request``) — the merchant
  answers the customer from there.

A webhook naming a store no account is connected to is ignored (counted as ``unknown_seller``).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alephee.channels import connections, inbox
from alephee.channels.models import CONNECTED, DISCONNECTED, PAUSED, ChannelConnection
from alephee.channels.tiendanube.auth import CONNECTOR
from alephee.channels.tiendanube.client import as_datetime, as_id
from alephee.http.observe import CHANNEL_NOTIFICATIONS
from alephee.http.wire import format_utc
from alephee.marketplaces.contract import ChannelNotice
from alephee.marketplaces.models import PullCursor
from alephee.orders import privacy
from alephee.webhooks.events import CHANNEL_DATA_REQUEST, emit

UNINSTALLED = "app/uninstalled"
SUSPENDED = "app/suspended"
RESUMED = "app/resumed"
STORE_REDACT = "store/redact"
CUSTOMERS_REDACT = "customers/redact"
DATA_REQUEST = "customers/data_request"
PRIVACY_EVENTS = frozenset({STORE_REDACT, CUSTOMERS_REDACT, DATA_REQUEST})
# Outcomes beyond the inbox's (``received``, ``unknown_seller``, ``malformed``).
APPLIED = "applied"
# The order feed re-reads this much before the moment a resumed connection was paused.
RESYNC_OVERLAP = timedelta(hours=1)
REASON_UNINSTALLED = "The app was uninstalled from the Tiendanube store; install it again to reconnect"
REASON_SUSPENDED = "The Tiendanube store or the app's charge is unpaid (app/suspended); syncing resumes once paid"
MAX_EVENT = 60
MAX_LIST = 10_000


def signature_ok(raw_body: bytes, header_value: str | None, secrets: tuple[str, ...]) -> bool:
    """Whether ``header_value`` is the lower-case hex HMAC-SHA256 of the raw body under one of ``secrets``
    (compared in constant time; every secret is tried so the time does not say which one matched)."""
    given = (header_value or "").strip().lower().encode()
    matched = False
    for secret in secrets:
        expected = hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest().encode()
        matched |= bool(given) and hmac.compare_digest(expected, given)
    return matched


@dataclass(frozen=True, slots=True)
class Webhook:
    """A verified webhook body: its event (inferred for the privacy ones that carry none), store and the rest."""

    event: str
    store_id: int
    body: dict[str, Any] = field(repr=False)


def parse(body: dict[str, Any]) -> Webhook | None:
    """The event and store of a body (``store_id`` as a number or a string), or None when unusable."""
    store_id = as_id(body.get("store_id"))
    if not isinstance(store_id, int):
        return None
    event = body.get("event")
    if event is None:
        if "orders_to_redact" in body:
            event = CUSTOMERS_REDACT
        elif "data_request" in body:
            event = DATA_REQUEST
        elif set(body) == {"store_id"}:
            event = STORE_REDACT
    if not isinstance(event, str) or not 0 < len(event) <= MAX_EVENT:
        return None
    return Webhook(event.strip(), store_id, body)


def _connections(session: Session, store_id: int, statuses: tuple[str, ...]) -> list[ChannelConnection]:
    """The connections to the store (an install per account and marketplace; usually one), locked."""
    query = (
        select(ChannelConnection)
        .where(
            ChannelConnection.connector == CONNECTOR,
            ChannelConnection.seller_id == store_id,
            ChannelConnection.status.in_(statuses),
        )
        .order_by(ChannelConnection.id)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return list(session.scalars(query))


def apply(session: Session, webhook: Webhook, *, now: datetime) -> str:
    """Do what ``webhook`` asks (module docstring); returns the outcome (``received``, ``applied``,
    ``unknown_seller`` or ``malformed``), also counted in ``/metrics``."""
    handler = _HANDLERS.get(webhook.event, _resource)
    outcome = handler(session, webhook, now)
    CHANNEL_NOTIFICATIONS.labels(CONNECTOR, outcome).inc()
    return outcome


def _resource(session: Session, webhook: Webhook, now: datetime) -> str:
    resource = as_id(webhook.body.get("id"))
    if resource is None:
        # Fulfillment-order events point at their order instead of an ``id``: the order is what is read.
        resource = as_id(webhook.body.get("order_id"))
        if resource is None:
            return inbox.MALFORMED
    notice = ChannelNotice(topic=webhook.event, resource=str(resource), seller_id=str(webhook.store_id))
    return inbox.store(session, CONNECTOR, notice, now=now)


def _uninstalled(session: Session, webhook: Webhook, now: datetime) -> str:
    rows = _connections(session, webhook.store_id, (CONNECTED, PAUSED))
    for row in rows:
        connections.disconnect(session, row.account_id, row.marketplace_id, now=now, reason=REASON_UNINSTALLED)
    return APPLIED if rows else inbox.UNKNOWN_SELLER


def _suspended(session: Session, webhook: Webhook, now: datetime) -> str:
    rows = _connections(session, webhook.store_id, (CONNECTED, PAUSED))
    for row in rows:
        connections.pause(session, row.account_id, row.marketplace_id, now=now, reason=REASON_SUSPENDED)
    return APPLIED if rows else inbox.UNKNOWN_SELLER


def _resumed(session: Session, webhook: Webhook, now: datetime) -> str:
    rows = _connections(session, webhook.store_id, (CONNECTED, PAUSED))
    for row in rows:
        paused_at = row.updated_at if row.status == PAUSED else now
        if connections.resume(session, row.account_id, row.marketplace_id, now=now) or row.status == CONNECTED:
            schedule_resync(session, row.account_id, row.marketplace_id, since=paused_at - RESYNC_OVERLAP)
    return APPLIED if rows else inbox.UNKNOWN_SELLER


def schedule_resync(session: Session, account_id: int, marketplace_id: int, *, since: datetime) -> None:
    """Set the order feed's cursor back to ``since`` (an ISO-8601 instant, how a starting time is given to a
    channel), so the worker's next pull reads every order changed after it; a later cursor is moved back, an
    earlier one (or none: the channel's own first pull) is left."""
    cursor = session.get(PullCursor, (account_id, marketplace_id))
    if cursor is None:
        return
    # The channel's cursor starts with the latest instant it read (``TiendanubeChannel.pull_orders``).
    parts = (cursor.cursor or "").split()
    current = as_datetime(parts[0]) if parts else None
    if current is not None and current <= since:
        return
    cursor.cursor = format_utc(since)
    session.flush()


def _store_redact(session: Session, webhook: Webhook, now: datetime) -> str:
    rows = _connections(session, webhook.store_id, (CONNECTED, PAUSED, DISCONNECTED))
    for row in rows:
        privacy.redact_marketplace(session, row.account_id, row.marketplace_id)
        if row.status != DISCONNECTED:
            connections.disconnect(session, row.account_id, row.marketplace_id, now=now, reason=REASON_UNINSTALLED)
        # The store's own data on the connection: its id and name.
        row.seller_id = None
        row.nickname = None
        session.flush()
    return APPLIED if rows else inbox.UNKNOWN_SELLER


def _customer(body: dict[str, Any]) -> dict[str, Any]:
    customer = body.get("customer")
    return customer if isinstance(customer, dict) else {}


def _email(body: dict[str, Any]) -> str | None:
    email = _customer(body).get("email")
    return email if isinstance(email, str) else None


def _order_ids(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    ids = [as_id(v) for v in value[:MAX_LIST]]
    return [str(i) for i in ids if i is not None]


def _customers_redact(session: Session, webhook: Webhook, now: datetime) -> str:
    rows = _connections(session, webhook.store_id, (CONNECTED, PAUSED, DISCONNECTED))
    email = _email(webhook.body)
    ids = _order_ids(webhook.body.get("orders_to_redact"))
    for row in rows:
        found = privacy.orders_of(session, row.account_id, row.marketplace_id, ids, email=email)
        privacy.redact_orders(session, found)
    return APPLIED if rows else inbox.UNKNOWN_SELLER


def _data_request(session: Session, webhook: Webhook, now: datetime) -> str:
    rows = _connections(session, webhook.store_id, (CONNECTED, PAUSED, DISCONNECTED))
    email = _email(webhook.body)
    ids = _order_ids(webhook.body.get("orders_requested"))
    request = webhook.body.get("data_request") if isinstance(webhook.body.get("data_request"), dict) else {}
    customer = _customer(webhook.body)
    for row in rows:
        found = privacy.orders_of(session, row.account_id, row.marketplace_id, ids, email=email)
        emit(
            session,
            row.account_id,
            CHANNEL_DATA_REQUEST,
            {"MarketplaceId": row.marketplace_id},
            {
                "Connector": CONNECTOR,
                "SellerId": webhook.store_id,
                "DataRequestId": as_id(request.get("id")),
                "CustomerId": as_id(customer.get("id")),
                "CustomerEmail": email,
                "OrderIds": [o.id for o in found],
                "ExternalOrderIds": [o.external_order_id for o in found],
            },
        )
    return APPLIED if rows else inbox.UNKNOWN_SELLER


_HANDLERS = {
    UNINSTALLED: _uninstalled,
    SUSPENDED: _suspended,
    RESUMED: _resumed,
    STORE_REDACT: _store_redact,
    CUSTOMERS_REDACT: _customers_redact,
    DATA_REQUEST: _data_request,
}
