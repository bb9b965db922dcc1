"""What a marketplace now says about an order the hub already has, and how the order follows it.

The marketplace puller (``marketplaces/pull.py``) translates each feed entry of a known order into a
``MarketplaceNews`` (channel-independent: hub status codes, shipment words of ``orders.shipping_rules``,
payments and claims in the wire shape the stored detail keeps) and hands it to ``apply_marketplace_news``.
The rules live here, with the rest of the order life cycle:

* **status**: only moves the transition table of ``orders.statuses`` allows; the marketplace drives the
  status only of orders that ``statuses.updates_automatically`` says it drives, but cancellations and fraud
  (cancelled-type targets) always apply.
* **shipment**: never goes backwards (``SHIPMENT_RANK``); for seller-driven orders only up to "label
  printed" and cancellation, since past that point the seller moves the shipment.
* **payments / claims**: merged into the stored detail (a new set of payment ids also into
  ``orders.payment_ids``); a payment that stops being pending emits ``order.payment_approved``.
* **cart**: a new pack (split) or pack size moves the order and refreshes the completeness of the old and
  the new cart.
* **stock**: a cancelled order whose creation took stock gives it back once (CF-21.6.3 note 7).

Each change is written to the order history with actor ``marketplace``; status, payment and claim news
move ``status_date`` (the late-cancellation query reads it). Nothing is queued back to the marketplace.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from alephee import clock
from alephee.orders import events as webhook_events
from alephee.orders import payment_ids, rendering
from alephee.orders import shipping_rules as ship
from alephee.orders import statuses as st
from alephee.orders.detail_parts import ITEM_COMPONENT
from alephee.orders.ingest import refresh_pack
from alephee.orders.models import ORIGIN_API, Order, history_row, insert_history
from alephee.orders.schemas import ActiveClaim
from alephee.products import stock as products
from alephee.products.models import Product

ACTOR = "marketplace"

# How far a shipment has gone; the hub never moves a shipment backwards (e.g. printed → ready_to_print
# because the hub printed the label and the marketplace does not know yet).
SHIPMENT_RANK: dict[tuple[str, str | None], int] = {
    (ship.PENDING, None): 0,
    (ship.HANDLING, None): 1,
    (ship.READY_TO_SHIP, ship.SUB_READY_TO_PRINT): 2,
    (ship.READY_TO_SHIP, ship.SUB_PRINTED): 3,
    (ship.READY_TO_SHIP, ship.SUB_DROPPED_OFF): 4,
    (ship.READY_TO_SHIP, ship.SUB_PICKED_UP): 4,
    (ship.SHIPPED, None): 5,
    (ship.NOT_DELIVERED, None): 6,
    (ship.DELIVERED, None): 7,
    (ship.CANCELLED, None): 8,
}
# The furthest a marketplace moves the shipment of an order whose status the seller drives.
_READY_RANK = SHIPMENT_RANK[(ship.READY_TO_SHIP, ship.SUB_PRINTED)]


def shipment_rank(status: str | None, substatus: str | None) -> int:
    """How far a shipment in ``(status, substatus)`` has gone (-1: no shipment status at all)."""
    if status is None:
        return -1
    # An unknown substatus ranks as its status; an unknown status as "ready to ship".
    return SHIPMENT_RANK.get((status, substatus), SHIPMENT_RANK.get((status, None), 2))


@dataclass(frozen=True, slots=True)
class MarketplaceNews:
    """What the marketplace now says about one of its orders, in the hub's terms.

    ``payments`` are ``Payments[]`` elements as the stored detail keeps them (JSON values); an empty tuple
    means the marketplace said nothing about payments. ``claims`` are ``ActiveClaims[]`` elements (wire keys,
    normalised when stored). ``pack_id`` None means the marketplace said nothing about the cart.
    """

    status: int
    shipment_status: str | None = None
    shipment_substatus: str | None = None
    payment_pending: bool = False
    payments: tuple[dict[str, Any], ...] = ()
    claims: tuple[dict[str, Any], ...] = ()
    pack_id: str | None = None
    pack_size: int | None = None
    external_shipping_id: int | None = None


def apply_marketplace_news(
    session: Session, account_id: int, order: Order, news: MarketplaceNews, *, family: str
) -> bool:
    """Make a known marketplace order (locked by the caller) follow ``news``; returns whether anything changed.

    ``family`` is the rules family of the order's marketplace (``statuses.updates_automatically``). Writes
    the history rows, emits the webhook events, gives the stock of a cancelled order back once and refreshes
    the carts the order left and joined. Flushes only when something changed; never commits. Applying the
    same news twice changes nothing the second time.
    """
    now = clock.utcnow()
    history: list[dict[str, Any]] = []
    novelty = False  # news that moves status_date (status, payments, claims)
    changed = False
    automatic = st.updates_automatically(
        family=family,
        logistic_type=order.logistic_type,
        shipping_method=order.shipping_method,
        api_created=order.origin == ORIGIN_API,
    )
    target = news.status
    if target != order.status and (automatic or st.is_cancelled(target)) and st.may_transition(order.status, target):
        previous = order.status
        history.append(history_row(order, ACTOR, "status", now, from_status=previous, to_status=target))
        order.status = target
        order.status_type = st.status_type_of(target)
        order.status_date = now
        if st.closes_order(target):
            order.date_closed = order.date_closed or now
        novelty = changed = True
        webhook_events.order_status_changed(session, order, previous)
    if _follow_shipment(order, news, automatic, now):
        changed = True
    if _merge_payments(session, order, news):
        history.append(history_row(order, ACTOR, "payment", now, from_status=order.status, to_status=order.status))
        novelty = changed = True
    if _merge_claims(order, news):
        history.append(history_row(order, ACTOR, "claim", now, from_status=order.status, to_status=order.status))
        novelty = changed = True
    if _move_pack(session, account_id, order, news):
        changed = True
    if st.is_cancelled(order.status) and order.stock_moved and not order.stock_reverted:
        _return_stock(session, account_id, order)
        order.stock_reverted = True
        changed = True
    if not changed:
        return False
    if novelty:
        order.status_date = now
    order.updated_at = now
    session.flush()
    if history:
        insert_history(session, history)
    return True


def _follow_shipment(order: Order, news: MarketplaceNews, automatic: bool, now: datetime) -> bool:
    """Move the shipment forward to the marketplace's state; never backwards."""
    shipment = (news.shipment_status, news.shipment_substatus)
    # The seller moves the shipments of manual orders once they are ready; before that (payment approved,
    # label available) and when they are cancelled, the marketplace is the one that knows.
    follows = automatic or news.shipment_status == ship.CANCELLED or shipment_rank(*shipment) <= _READY_RANK
    if (
        not follows
        or news.shipment_status is None
        or shipment == (order.shipment_status, order.shipment_substatus)
        or shipment_rank(*shipment) <= shipment_rank(order.shipment_status, order.shipment_substatus)
    ):
        return False
    order.shipment_status, order.shipment_substatus = shipment
    order.shipment_updated_at = now
    return True


def _merge_payments(session: Session, order: Order, news: MarketplaceNews) -> bool:
    """Take the marketplace's payment approval and payment list (replaced when ids or statuses differ)."""
    pending = news.payment_pending
    detail = rendering.detail_of(order.detail)
    stored = [(p.get("ExternalPaymentId"), (p.get("Status") or {}).get("Value")) for p in detail["Payments"]]
    fresh = [(p.get("ExternalPaymentId"), (p.get("Status") or {}).get("Value")) for p in news.payments]
    if pending == order.payment_pending and (not news.payments or stored == fresh):
        return False
    webhook_events.order_payment_update(session, order, pending)  # before the flag moves: it compares
    order.payment_pending = pending
    if news.payments and stored != fresh:
        before = payment_ids.payment_ids(detail["Payments"])
        detail["Payments"] = [dict(p) for p in news.payments]
        order.detail = orjson.dumps(detail).decode()
        # A payment that only changed status keeps its id: the index is written only when the ids changed.
        if payment_ids.payment_ids(detail["Payments"]) != before:
            payment_ids.replace(session, order.id, order.account_id, order.marketplace_id, detail["Payments"])
    return True


def _merge_claims(order: Order, news: MarketplaceNews) -> bool:
    """Add the claims the stored detail does not know yet (claims are never removed here)."""
    if not news.claims:
        return False
    detail = rendering.detail_of(order.detail)
    known = {c.get("ExternalClaimId") for c in detail.get("ActiveClaims") or []}
    # Compared as stored (an id the marketplace did not give is stored as 0), so a repeat adds nothing.
    claims = [ActiveClaim.model_validate(c).model_dump(mode="json") for c in news.claims]
    fresh = [c for c in claims if c["ExternalClaimId"] not in known]
    if not fresh:
        return False
    detail["ActiveClaims"] = [*(detail.get("ActiveClaims") or []), *fresh]
    order.detail = orjson.dumps(detail).decode()
    return True


def _move_pack(session: Session, account_id: int, order: Order, news: MarketplaceNews) -> bool:
    """The marketplace split the cart (new pack and shipment) or says how many orders it holds."""
    if news.pack_id is None or (news.pack_id, news.pack_size) == (order.pack_id, order.pack_size):
        return False
    previous = order.pack_id
    order.pack_id, order.pack_size = news.pack_id, news.pack_size
    order.source_pack_id = order.source_pack_id or news.pack_id
    if news.external_shipping_id is not None:
        order.external_shipping_id = news.external_shipping_id
    # refresh_pack counts the carts' rows in SQL: the order's new pack must be written first.
    session.flush()
    for pack in sorted({p for p in (previous, news.pack_id) if p is not None}):
        refresh_pack(session, account_id, pack)
    return True


def _return_stock(session: Session, account_id: int, order: Order) -> None:
    """Give back what the order took (CF-21.6.3 note 7: a cancellation reverts the stock movement)."""
    detail = rendering.detail_of(order.detail)
    deltas: dict[int, int] = {}
    for item in detail["Items"]:
        product_id = (item.get("Product") or {}).get("Id")
        # Kits are given back as kits (their components follow); products no longer in the catalogue are skipped.
        if item["Type"]["Key"] == ITEM_COMPONENT or not isinstance(product_id, int):
            continue
        deltas[product_id] = deltas.get(product_id, 0) + int(item["Quantity"])
    existing = set(
        session.scalars(select(Product.id).where(Product.id.in_(sorted(deltas)), Product.account_id == account_id))
    )
    products.move_stocks(session, account_id, {k: v for k, v in deltas.items() if k in existing})
