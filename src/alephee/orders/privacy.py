"""Privacy requests on the hub's orders (a marketplace's data-protection webhooks, e.g. Tiendanube's LGPD ones):
the buyer's personal data of some orders erased (redacted) while the sale itself — items, amounts, statuses,
documents — stays, and the orders a customer's data request concerns found.

Redacted: ``Buyer`` (name, phone, e-mail, documents, nickname, address, billing info; ``Code`` kept so the order
still groups with the buyer's other orders), ``Shipping.Receiver`` and ``Shipping.ReceiverAddress``, and the
marketplace's raw ``ExternalJson``. The stored detail keeps its placeholders (``rendering``), so it is written
back as it was read, minus the personal data; the order's ``version`` moves (its rendered copy is dropped).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from alephee.clock import utcnow
from alephee.orders.models import Order
from alephee.orders.rendering import detail_of

REDACTED_KEYS = ("Name", "Phone", "Email", "DocType", "DocNumber", "Nickname", "Address", "BillingInfo", "Owncode")
# How many orders one request scans when it must find a customer's orders by e-mail (pages of this size).
SCAN_PAGE = 500


def _redacted(detail: dict[str, Any]) -> bool:
    buyer = detail.get("Buyer")
    return (
        isinstance(buyer, dict) and all(buyer.get(k) is None for k in REDACTED_KEYS) and not detail.get("ExternalJson")
    )


def redact_detail(detail: dict[str, Any]) -> dict[str, Any]:
    """``detail`` without the buyer's personal data (see the module docstring)."""
    buyer = detail.get("Buyer")
    if isinstance(buyer, dict):
        for key in REDACTED_KEYS:
            buyer[key] = None
    shipping = detail.get("Shipping")
    if isinstance(shipping, dict):
        shipping["ReceiverAddress"] = None
        if isinstance(shipping.get("Receiver"), dict):
            shipping["Receiver"] = {key: None for key in shipping["Receiver"]}
    if "ExternalJson" in detail:
        detail["ExternalJson"] = {}
    return detail


def _scope(account_id: int, marketplace_id: int) -> Any:
    return (Order.account_id == account_id) & (Order.marketplace_id == marketplace_id)


def orders_of(
    session: Session,
    account_id: int,
    marketplace_id: int,
    external_order_ids: Iterable[str] = (),
    *,
    email: str | None = None,
) -> list[Order]:
    """The account's orders of the marketplace named by ``external_order_ids``, plus those whose buyer has
    ``email`` (case-insensitive) when given."""
    found: dict[int, Order] = {}
    ids = sorted({str(i) for i in external_order_ids if str(i)})
    for start in range(0, len(ids), SCAN_PAGE):
        chunk = ids[start : start + SCAN_PAGE]
        query = select(Order).where(_scope(account_id, marketplace_id), Order.external_order_id.in_(chunk))
        found.update({o.id: o for o in session.scalars(query)})
    wanted = (email or "").strip().lower()
    if wanted:
        last = 0
        while True:
            query = (
                select(Order)
                .where(_scope(account_id, marketplace_id), Order.id > last)
                .order_by(Order.id)
                .limit(SCAN_PAGE)
            )
            page = list(session.scalars(query))
            if not page:
                break
            for order in page:
                buyer = detail_of(order.detail).get("Buyer") or {}
                if str(buyer.get("Email") or "").strip().lower() == wanted:
                    found[order.id] = order
            last = page[-1].id
    return [found[k] for k in sorted(found)]


def redact_orders(session: Session, orders: Iterable[Order]) -> int:
    """Erase the buyer's personal data of ``orders``; how many changed (an order already redacted is left)."""
    changed = 0
    now = utcnow()
    for order in orders:
        detail = detail_of(order.detail)
        if _redacted(detail):
            continue
        order.detail = orjson.dumps(redact_detail(detail)).decode()
        order.updated_at = now
        changed += 1
    session.flush()
    return changed


def redact_marketplace(session: Session, account_id: int, marketplace_id: int) -> int:
    """Erase the buyers' personal data of every order of the account on the marketplace (page by page)."""
    changed = 0
    last = 0
    while True:
        query = (
            select(Order).where(_scope(account_id, marketplace_id), Order.id > last).order_by(Order.id).limit(SCAN_PAGE)
        )
        page = list(session.scalars(query))
        if not page:
            return changed
        changed += redact_orders(session, page)
        last = page[-1].id
