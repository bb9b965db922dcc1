"""Events: what happened to an account's orders, listings, products and documents, told to its integrators.

``emit`` is the only writer. It adds the event to the account's feed (``webhook_events``, read with
``GET /v2/notifications``) and one outbox row per active subscription that wants the type (topic
``webhook.<type>``), all in the caller's transaction and without committing: a change that is rolled back
leaves no event and sends nothing. Call it *after* the change it describes (the aggregate's row updated or
locked), like ``marketplaces.outbox.enqueue``.

The domains build their events' ``Data`` next to their rules (``orders.events``, ``listings.events``,
``products.stock_alerts``) and record them through ``emit``.

Outbox rows of one subscription and one subject (an order, a listing, a product) share an aggregate
(``wh<subscription>:<subject type>``, subject id), so the worker delivers them in the order they were
emitted; different subscriptions, and the marketplace pushes of the same order, never wait for each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, literal_column, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from alephee import clock
from alephee.http.wire import format_utc
from alephee.marketplaces.outbox import enqueue
from alephee.webhooks.models import OPEN, WebhookEvent, WebhookSubscription

ORDER_CREATED = "order.created"
ORDER_STATUS_CHANGED = "order.status_changed"
ORDER_CANCELLED = "order.cancelled"
ORDER_PAYMENT_APPROVED = "order.payment_approved"
LISTING_STATUS_CHANGED = "listing.status_changed"
PRODUCT_STOCK_ALERT = "product.stock_alert"
DOCUMENT_FORWARDED = "document.forwarded"
DOCUMENT_REFUSED = "document.refused"
CHANNEL_CONNECTED = "channel.connected"
CHANNEL_DISCONNECTED = "channel.disconnected"
CHANNEL_DATA_REQUEST = "channel.data_request"
QUESTION_RECEIVED = "question.received"
CLAIM_OPENED_EVENT = "claim.opened"
CLAIM_CLOSED_EVENT = "claim.closed"

EVENT_TYPES: tuple[str, ...] = (
    ORDER_CREATED,
    ORDER_STATUS_CHANGED,
    ORDER_CANCELLED,
    ORDER_PAYMENT_APPROVED,
    LISTING_STATUS_CHANGED,
    PRODUCT_STOCK_ALERT,
    DOCUMENT_FORWARDED,
    DOCUMENT_REFUSED,
    CHANNEL_CONNECTED,
    CHANNEL_DISCONNECTED,
    CHANNEL_DATA_REQUEST,
    QUESTION_RECEIVED,
    CLAIM_OPENED_EVENT,
    CLAIM_CLOSED_EVENT,
)
# A subscription to "*" receives every type, including types added later.
ALL_TYPES = "*"
# Sent only by ``alephee webhook test`` (never stored, never subscribed to).
TEST_TYPE = "webhook.test"

TOPIC_PREFIX = "webhook."
# The worker's feed purge travels as an outbox row of this topic (see ``sender``); no event type has it.
PURGE_TOPIC = "webhook.purge"

# Which id names the subject of an event (first match wins), and the subject type it stands for.
SUBJECT_IDS: dict[str, str] = {"OrderId": "order", "ListingId": "listing", "ProductId": "product"}

_CACHE_KEY = "alephee.webhooks.subscriptions"


def topic_of(event_type: str) -> str:
    """The outbox topic of a delivery of ``event_type``."""
    return TOPIC_PREFIX + event_type


def _plain(value: Any) -> Any:
    """A JSON-ready copy: timestamps in the wire format, decimals as numbers."""
    if isinstance(value, datetime):
        return format_utc(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return value


def _cache(session: Session) -> dict[int, list[tuple[int, frozenset[str]]]]:
    """The subscriptions read in the current transaction of ``session``, per account."""
    transaction = session.get_transaction()
    cached = session.info.get(_CACHE_KEY)
    if transaction is None or cached is None or cached[0] is not transaction:
        cached = (transaction, {})
        if transaction is not None:
            session.info[_CACHE_KEY] = cached
    found: dict[int, list[tuple[int, frozenset[str]]]] = cached[1]
    return found


def _subscriptions(session: Session, account_id: int) -> list[tuple[int, frozenset[str]]]:
    """Active subscriptions of the account as (id, types), read once per transaction of ``session``."""
    cache = _cache(session)
    found = cache.get(account_id)
    if found is None:
        rows = session.execute(
            select(WebhookSubscription.id, WebhookSubscription.event_types)
            .where(WebhookSubscription.account_id == account_id, WebhookSubscription.active.is_(True))
            .order_by(WebhookSubscription.id)
        ).all()
        found = [(row[0], frozenset(row[1] or ())) for row in rows]
        cache[account_id] = found
    return found


def subscriptions_json(account_id: int) -> Any:
    """The account's active subscriptions, as ``_subscriptions`` reads them, in one PostgreSQL JSON value
    (``[[id, types], ...]`` in id order): a writer reading other things before it locks rows reads them in the
    same statement and hands them to ``remember_subscriptions`` (one round trip less)."""
    pair = func.json_build_array(WebhookSubscription.id, WebhookSubscription.event_types)
    return (
        select(func.coalesce(func.json_agg(aggregate_order_by(pair, WebhookSubscription.id)), literal_column("'[]'")))
        .where(WebhookSubscription.account_id == account_id, WebhookSubscription.active.is_(True))
        .scalar_subquery()
    )


def remember_subscriptions(session: Session, account_id: int, found: list[Any]) -> None:
    """Keep, for the rest of the transaction, the subscriptions ``subscriptions_json`` read."""
    _cache(session)[account_id] = [(int(row[0]), frozenset(row[1] or ())) for row in found]


def prefetch_subscriptions(session: Session, account_id: int) -> None:
    """Read the account's subscriptions now for the rest of the transaction (a writer about to lock rows reads
    them before, so that ``emit`` needs no read while the locks are held)."""
    _subscriptions(session, account_id)


def forget_subscriptions(session: Session) -> None:
    """Drop the per-transaction cache (after subscriptions change inside the same transaction)."""
    session.info.pop(_CACHE_KEY, None)


def emit(
    session: Session,
    account_id: int,
    event_type: str,
    ids: Mapping[str, int | None],
    payload: Mapping[str, Any] | None = None,
) -> WebhookEvent:
    """Record one event in the caller's transaction (no commit): the feed row, and one outbox row per active
    subscription of the account that wants ``event_type``. ``ids`` name the subjects (``OrderId``,
    ``ListingId``, ``ProductId``, ...) and open ``Data``; ``payload`` completes it."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    subject_type, subject_id = next(
        ((SUBJECT_IDS[name], int(value)) for name, value in ids.items() if name in SUBJECT_IDS and value is not None),
        (None, None),
    )
    event = WebhookEvent(
        account_id=account_id,
        type=event_type,
        occurred_at=clock.utcnow(),
        subject_type=subject_type,
        subject_id=subject_id,
        data=_plain({**ids, **(payload or {})}),
        pending_deliveries=0,
        state=OPEN,
    )
    session.add(event)
    targets = [sid for sid, types in _subscriptions(session, account_id) if event_type in types or ALL_TYPES in types]
    if not targets:
        return event  # feed only: inserted with the caller's next flush
    event.pending_deliveries = len(targets)
    session.flush()  # the deliveries name the event by id
    for subscription_id in targets:
        enqueue(
            session,
            account_id=account_id,
            topic=topic_of(event_type),
            aggregate_type=f"wh{subscription_id}:{subject_type or 'event'}",
            aggregate_id=subject_id if subject_id is not None else event.id,
            payload={"event_id": event.id, "webhook_id": subscription_id, "type": event_type},
        )
    return event
