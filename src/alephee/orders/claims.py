"""A marketplace claim on an order, in the order's terms: an open claim is listed in the order's
``ActiveClaims`` (the Alephee order document's field for open claims), a closed one leaves it, and a claim closed
with the buyer's money refunded records the refund as the status table says a refund goes: a delivered or
cancelled order moves to 91 Awaiting refund then 92 Refunded; an order still on its way is cancelled first (90,
its stock given back by the marketplace-news rules) and then refunded.

Every move goes through the rules of ``orders.marketplace_news`` and ``orders.statuses`` (history rows with actor
``marketplace``, ``order.status_changed``/``order.cancelled`` events); applying the same claim twice changes
nothing the second time. Flush only; the caller owns the transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.orm import Session

from alephee import clock
from alephee.orders import events as webhook_events
from alephee.orders import rendering
from alephee.orders import statuses as st
from alephee.orders.marketplace_news import ACTOR, MarketplaceNews, apply_marketplace_news
from alephee.orders.models import Order, history_row, insert_history

# The statuses from which a refund is recorded directly (91 then 92), without cancelling first.
REFUNDABLE = frozenset({st.DELIVERED, st.CANCELLED, st.CANCELLED_AFTER_DELIVERY})


def _news(order: Order, status: int | None = None, claims: tuple[dict[str, Any], ...] = ()) -> MarketplaceNews:
    """News that says only ``status`` and ``claims`` (the order's own status and payment flag otherwise)."""
    return MarketplaceNews(
        status=order.status if status is None else status,
        payment_pending=bool(order.payment_pending),
        claims=claims,
    )


def claim_opened(
    session: Session, account_id: int, order: Order, claim_id: int, date_created: datetime, *, family: str
) -> bool:
    """List an open claim in the order's ``ActiveClaims`` (once); whether the order changed."""
    claim = {"ExternalClaimId": claim_id, "DateCreated": date_created}
    return apply_marketplace_news(session, account_id, order, _news(order, claims=(claim,)), family=family)


def claim_closed(
    session: Session, account_id: int, order: Order, claim_id: int, *, refunded: bool, family: str
) -> bool:
    """Take a closed claim out of the order's ``ActiveClaims`` and, when it closed with the money refunded,
    record the refund (see the module's docstring); whether the order changed."""
    now = clock.utcnow()
    changed = False
    detail = rendering.detail_of(order.detail)
    claims = detail.get("ActiveClaims") or []
    kept = [c for c in claims if c.get("ExternalClaimId") != claim_id]
    if len(kept) != len(claims):
        detail["ActiveClaims"] = kept
        order.detail = orjson.dumps(detail).decode()
        order.status_date = order.updated_at = now
        session.flush()
        insert_history(
            session, [history_row(order, ACTOR, "claim", now, from_status=order.status, to_status=order.status)]
        )
        changed = True
    if refunded:
        changed = record_refund(session, account_id, order, family=family) or changed
    return changed


def record_refund(session: Session, account_id: int, order: Order, *, family: str) -> bool:
    """Move the order to 92 Refunded along the status table (cancelled first when it was still on its way);
    nothing for an order already refunded, deleted or fraudulent. Whether it moved."""
    if order.status in (st.REFUNDED, st.DELETED, st.FRAUDULENT):
        return False
    changed = False
    if order.status not in REFUNDABLE and order.status != st.AWAITING_REFUND:
        if not st.may_transition(order.status, st.CANCELLED):
            return False
        changed = apply_marketplace_news(session, account_id, order, _news(order, st.CANCELLED), family=family)
        if order.status != st.CANCELLED:
            return changed
    for target in (st.AWAITING_REFUND, st.REFUNDED):
        if order.status != target and st.may_transition(order.status, target):
            _move(session, order, target)
            changed = True
    return changed


def _move(session: Session, order: Order, target: int) -> None:
    """One status move the marketplace made (history row, status date, closing date, events)."""
    now = clock.utcnow()
    previous = order.status
    order.status = target
    order.status_type = st.status_type_of(target)
    order.status_date = order.updated_at = now
    if st.closes_order(target):
        order.date_closed = order.date_closed or now
    session.flush()
    insert_history(session, [history_row(order, ACTOR, "status", now, from_status=previous, to_status=target)])
    webhook_events.order_status_changed(session, order, previous)
