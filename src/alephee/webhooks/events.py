"""Events: what happened to an account's orders, listings, products and documents, told to its integrators.

``emit`` is the only writer. It adds the event to the account's feed (``webhook_events``, read with
``GET /v2/notifications``) and one outbox row per active subscription that wants the type (topic
``webhook.<type>``), all in the caller's transaction and without committing: a change that is rolled back
leaves no event and sends nothing. Call it *after* the change it describes (the aggregate's row updated or
locked), like ``marketplaces.outbox.enqueue``.

The helpers below (``order_created``, ``order_status_changed``, ...) are the one-line calls the domains make
at their central points; each builds the event's ``Data`` from the domain object.

Outbox rows of one subscription and one subject (an order, a listing, a product) share an aggregate
(``wh<subscription>:<subject type>``, subject id), so the worker delivers them in the order they were
emitted; different subscriptions, and the marketplace pushes of the same order, never wait for each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import NoInspectionAvailable
from sqlalchemy.orm import Session

from alephee import clock
from alephee.http.wire import format_utc
from alephee.marketplaces.outbox import enqueue
from alephee.webhooks.models import OPEN, WebhookEvent, WebhookStockAlert, WebhookSubscription

ORDER_CREATED = "order.created"
ORDER_STATUS_CHANGED = "order.status_changed"
ORDER_CANCELLED = "order.cancelled"
ORDER_PAYMENT_APPROVED = "order.payment_approved"
LISTING_STATUS_CHANGED = "listing.status_changed"
PRODUCT_STOCK_ALERT = "product.stock_alert"
DOCUMENT_FORWARDED = "document.forwarded"
DOCUMENT_REFUSED = "document.refused"

EVENT_TYPES: tuple[str, ...] = (
    ORDER_CREATED,
    ORDER_STATUS_CHANGED,
    ORDER_CANCELLED,
    ORDER_PAYMENT_APPROVED,
    LISTING_STATUS_CHANGED,
    PRODUCT_STOCK_ALERT,
    DOCUMENT_FORWARDED,
    DOCUMENT_REFUSED,
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


def _subscriptions(session: Session, account_id: int) -> list[tuple[int, frozenset[str]]]:
    """Active subscriptions of the account as (id, types), read once per transaction of ``session``."""
    transaction = session.get_transaction()
    cached = session.info.get(_CACHE_KEY)
    if transaction is None or cached is None or cached[0] is not transaction:
        cached = (transaction, {})
        if transaction is not None:
            session.info[_CACHE_KEY] = cached
    found: list[tuple[int, frozenset[str]]] | None = cached[1].get(account_id)
    if found is None:
        rows = session.execute(
            select(WebhookSubscription.id, WebhookSubscription.event_types)
            .where(WebhookSubscription.account_id == account_id, WebhookSubscription.active.is_(True))
            .order_by(WebhookSubscription.id)
        ).all()
        found = [(row[0], frozenset(row[1] or ())) for row in rows]
        cached[1][account_id] = found
    return found


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


# --- the calls the domains make -----------------------------------------------------------------------------


def _order_data(order: Any) -> dict[str, Any]:
    return {
        "MarketplaceId": order.marketplace_id,
        "ExternalOrderId": order.external_order_id,
        "PackId": order.pack_id,
        "Status": order.status,
        "PaymentPending": bool(order.payment_pending),
        "Integrated": bool(order.integrated),
        "IntegratedOrderId": order.integrated_order_id,
    }


def order_created(session: Session, order: Any) -> None:
    """``order.created`` for a stored order (``orders.models.Order``, flushed so it has an id)."""
    emit(session, order.account_id, ORDER_CREATED, {"OrderId": order.id}, _order_data(order))


def order_status_changed(session: Session, order: Any, previous_status: int | None) -> None:
    """``order.status_changed`` (and ``order.cancelled`` when the new status is of the cancelled type, whether
    or not the order was already integrated) after ``order.status`` moved from ``previous_status``."""
    from alephee.orders.statuses import is_cancelled

    if previous_status == order.status:
        return
    data = {**_order_data(order), "PreviousStatus": previous_status}
    emit(session, order.account_id, ORDER_STATUS_CHANGED, {"OrderId": order.id}, data)
    if is_cancelled(order.status) and (previous_status is None or not is_cancelled(previous_status)):
        emit(session, order.account_id, ORDER_CANCELLED, {"OrderId": order.id}, data)


def order_payment_approved(session: Session, order: Any) -> None:
    """``order.payment_approved`` once an order's payment stops being pending."""
    emit(session, order.account_id, ORDER_PAYMENT_APPROVED, {"OrderId": order.id}, _order_data(order))


def order_payment_update(session: Session, order: Any, pending: bool) -> None:
    """Call right before ``order.payment_pending`` takes ``pending``: ``order.payment_approved`` when a pending
    payment becomes approved, nothing otherwise."""
    if order.payment_pending and not pending:
        data = {**_order_data(order), "PaymentPending": False}
        emit(session, order.account_id, ORDER_PAYMENT_APPROVED, {"OrderId": order.id}, data)


def listing_status_changed(session: Session, listing: Any, previous_status: str | None = None) -> None:
    """``listing.status_changed`` after ``listing.status`` changed (status names of ``listings/statuses.py``).
    ``previous_status`` defaults to the status the row had when it was loaded or last flushed."""
    if previous_status is None:
        previous_status = _stored_value(listing, "status")
    if previous_status == listing.status:
        return
    emit(
        session,
        listing.account_id,
        LISTING_STATUS_CHANGED,
        {"ListingId": listing.id, "ProductId": listing.product_id},
        {
            "MarketplaceId": listing.marketplace_id,
            "ExternalId": listing.external_id,
            "Sku": listing.sku,
            "Status": listing.status,
            "StatusReason": listing.status_reason,
            "PreviousStatus": previous_status,
        },
    )


def _stored_value(row: Any, attribute: str) -> Any:
    """The value ``attribute`` had in the database before this session's unflushed changes (None if unknown)."""
    try:
        history = sa_inspect(row).attrs[attribute].history
    except (NoInspectionAvailable, KeyError):
        return None
    stored = history.deleted or history.unchanged
    return stored[0] if stored else None


def document_outcome(
    session: Session,
    account_id: int,
    order_id: int,
    *,
    forwarded: bool,
    document_type: int | None = None,
    document_number: str | None = None,
    reason: str | None = None,
) -> None:
    """``document.forwarded`` / ``document.refused``: what the marketplace did with an order's document."""
    emit(
        session,
        account_id,
        DOCUMENT_FORWARDED if forwarded else DOCUMENT_REFUSED,
        {"OrderId": order_id},
        {"DocumentType": document_type, "DocumentNumber": document_number, "Reason": reason},
    )


# --- stock alerts (a listener of products/hooks.py) -----------------------------------------------------------

RED, YELLOW = "red", "yellow"


def alert_level(quantity: int, red: int, yellow: int) -> str | None:
    """``red`` at or below RedQty, else ``yellow`` at or below YellowQty; a threshold of 0 is not set."""
    if red > 0 and quantity <= red:
        return RED
    if yellow > 0 and quantity <= yellow:
        return YELLOW
    return None


def on_catalog_change(session: Session, change: Any) -> None:
    """``product.stock_alert`` for each product whose stock reached a new alert level in this transaction
    (``products.hooks.CatalogChange``). A level is announced once; the product must go back above its
    thresholds (or reach the other level) to raise another alert."""
    ids = sorted(change.stock_product_ids)
    if not ids:
        return
    from alephee.products.models import Product
    from alephee.products.stock import stock_snapshots

    announced = {
        row[0]: row[1]
        for row in session.execute(
            select(WebhookStockAlert.product_id, WebhookStockAlert.level).where(WebhookStockAlert.product_id.in_(ids))
        )
    }
    watched = session.execute(
        select(Product.id, Product.sku, Product.alert_red, Product.alert_yellow).where(
            Product.id.in_(ids), (Product.alert_red > 0) | (Product.alert_yellow > 0)
        )
    ).all()
    snapshots = stock_snapshots(session, [row[0] for row in watched]) if watched else {}
    levels: dict[int, str | None] = {}
    for product_id, sku, red, yellow in watched:
        snapshot = snapshots.get(product_id)
        if snapshot is None:
            continue
        level = alert_level(snapshot.quantity, red or 0, yellow or 0)
        levels[product_id] = level
        if level is None or announced.get(product_id) == level:
            continue
        if _record_level(session, change.account_id, product_id, level, snapshot.quantity):
            emit(
                session,
                change.account_id,
                PRODUCT_STOCK_ALERT,
                {"ProductId": product_id},
                {"Sku": sku, "Quantity": snapshot.quantity, "Level": level, "RedQty": red, "YellowQty": yellow},
            )
    cleared = [pid for pid in announced if levels.get(pid) is None]
    if cleared:
        session.execute(delete(WebhookStockAlert).where(WebhookStockAlert.product_id.in_(cleared)))


def _record_level(session: Session, account_id: int, product_id: int, level: str, quantity: int) -> bool:
    """Store the announced level; False when a concurrent transaction already announced it (upsert that only
    changes a different level, so two writers never announce the same level twice)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    statement = insert(WebhookStockAlert).values(
        product_id=product_id, account_id=account_id, level=level, quantity=quantity, updated_at=clock.utcnow()
    )
    statement = statement.on_conflict_do_update(
        index_elements=[WebhookStockAlert.product_id],
        set_={"level": level, "quantity": quantity, "updated_at": clock.utcnow(), "account_id": account_id},
        where=WebhookStockAlert.level != level,
    ).returning(WebhookStockAlert.product_id)
    return session.execute(statement).first() is not None
