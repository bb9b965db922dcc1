"""Orders entering the hub (marketplaces, the sandbox, the demo, POST /v2/orders): ``NewOrder``, storing it
with global item ids, and the completeness of its cart.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import set_committed_value

from alephee import clock
from alephee.orders import events as webhook_events
from alephee.orders import payment_ids
from alephee.orders import shipping_rules as ship
from alephee.orders import statuses as st
from alephee.orders.access import marketplace_family
from alephee.orders.models import ORIGIN_MARKETPLACE, Order
from alephee.orders.rendering import detail_template
from alephee.orders.schemas import OrderDetail

# Item ids are derived from the order id so a kit's components can point at it before anything is stored.
ITEM_ID_FACTOR = 1000


@dataclass
class NewOrder:
    """An order as it arrives. ``detail.Items[].Id`` are local numbers 1..n (``ParentItemId`` refers to them);
    the hub turns them into global item ids."""

    account_id: int
    marketplace_id: int
    external_order_id: str
    detail: OrderDetail
    status: int
    sale_date: datetime
    origin: str = ORIGIN_MARKETPLACE
    pack_id: str | None = None
    pack_size: int | None = None
    payment_pending: bool = False
    logistic_type: int | None = None
    external_shipping_id: int | None = None
    shipment_status: str | None = None
    shipment_substatus: str | None = None
    integrated: bool = False
    integrated_order_id: str | None = None
    erp_status: str | None = None
    created_at: datetime | None = None
    status_date: datetime | None = None
    stock_moved: bool = False


def _global_item_ids(detail: dict[str, Any], order_id: int) -> None:
    base = order_id * ITEM_ID_FACTOR
    for item in detail["Items"]:
        item["Id"] = base + int(item["Id"])
        if item.get("ParentItemId"):
            item["ParentItemId"] = base + int(item["ParentItemId"])


def _whole_seconds(value: datetime) -> datetime:
    return value.replace(microsecond=0)


def ingest_order(session: Session, new: NewOrder, *, packs: set[str] | None = None) -> Order:
    """Store an arriving order (no commit). Recomputes the completeness of its cart, or, when ``packs`` is given
    (several orders stored in one go), adds the cart to it for the caller's ``refresh_packs`` once at the end.

    Its dates are stored in whole seconds, as the API renders them (a value read from a response and sent back
    as a filter then compares exactly), and the sale date is never after the arrival: a marketplace's clock
    ahead of the hub's (the sandbox's simulated clock) must not put a ``DateCreated``, and so a client's sync
    bookmark taken from it, in the hub's future."""
    return ingest_orders(session, [new], packs=packs)[0]


def ingest_orders(session: Session, news: Sequence[NewOrder], *, packs: set[str] | None = None) -> list[Order]:
    """``ingest_order`` for several orders at once (no commit), in the order given: their rows inserted with one
    statement, then their details (whose item ids derive from the rows' ids) written with one statement run
    over them, instead of two flushes per order, and their payment ids (``orders.payment_ids``) with one more."""
    if not news:
        return []
    now = clock.utcnow()
    rows = [_order_row(session, new, now) for new in news]
    session.add_all(rows)
    session.flush()
    details: list[dict[str, Any]] = []
    payment_rows: list[dict[str, Any]] = []
    for new, order in zip(news, rows, strict=True):
        detail = new.detail.model_dump(mode="json")
        _global_item_ids(detail, order.id)
        payment_rows.extend(payment_ids.rows_of(order.id, new.account_id, new.marketplace_id, detail["Payments"]))
        details.append({"order": order.id, "text": detail_template(detail)})
    # Written under the table, not through the session: the rows were inserted in this transaction, so the
    # detail is part of their creation (their version stays 1), and the session keeps it as already stored.
    table = Order.__table__
    session.connection().execute(
        update(table).where(table.c.id == bindparam("order")).values(detail=bindparam("text")), details
    )
    for new, order, written in zip(news, rows, details, strict=True):
        set_committed_value(order, "detail", written["text"])
        if new.pack_id and packs is not None:
            packs.add(new.pack_id)
        elif new.pack_id:
            refresh_pack(session, new.account_id, new.pack_id)
        webhook_events.order_created(session, order)
    payment_ids.insert_rows(session, payment_rows)
    return rows


def _order_row(session: Session, new: NewOrder, now: datetime) -> Order:
    """The new row of an arriving order, its detail still empty (see ``ingest_order`` for its dates)."""
    created_at = _whole_seconds(new.created_at or now)
    status_date = _whole_seconds(new.status_date or now)
    sale_date = min(_whole_seconds(new.sale_date), created_at)
    family = marketplace_family(session, new.marketplace_id)
    return Order(
        account_id=new.account_id,
        marketplace_id=new.marketplace_id,
        external_order_id=new.external_order_id,
        origin=new.origin,
        pack_id=new.pack_id,
        source_pack_id=new.pack_id,
        pack_size=new.pack_size if new.pack_id else None,
        pack_complete=None,
        status=new.status,
        status_type=st.status_type_of(new.status),
        status_date=status_date,
        integrated=new.integrated,
        integrated_order_id=new.integrated_order_id,
        erp_status=new.erp_status,
        payment_pending=new.payment_pending,
        sale_date=sale_date,
        created_at=created_at,
        updated_at=status_date if new.status_date else created_at,
        date_closed=status_date if st.closes_order(new.status) else None,
        logistic_type=new.logistic_type,
        shipping_method=ship.default_method(new.logistic_type, marketplace_family=family),
        external_shipping_id=new.external_shipping_id,
        shipment_status=new.shipment_status,
        shipment_substatus=new.shipment_substatus,
        shipment_updated_at=status_date,
        document_count=0,
        stock_moved=new.stock_moved,
        stock_reverted=False,
        version=1,
        detail="{}",
    )


def refresh_pack(session: Session, account_id: int, pack_id: str) -> None:
    """Recompute ``IsCompletePackOrder`` of every order of a cart (all expected orders present)."""
    present = session.scalar(
        select(func.count())
        .select_from(Order)
        .where(Order.account_id == account_id, Order.pack_id == pack_id, Order.status != st.DELETED)
    )
    complete = func.coalesce(Order.pack_size, 1) <= (present or 0)
    # Only rows whose flag changes are written, so the others keep their version (and their cached rendering).
    session.execute(
        update(Order)
        .where(Order.account_id == account_id, Order.pack_id == pack_id)
        .where(Order.pack_complete.is_distinct_from(complete))
        .values(pack_complete=complete)
        .execution_options(synchronize_session=False)
    )


def refresh_packs(session: Session, account_id: int, pack_ids: Collection[str]) -> None:
    """``refresh_pack`` for many carts in one statement: each order's flag from its own cart's count of present
    orders (a correlated count), written only where it changes."""
    if not pack_ids:
        return
    cart = aliased(Order)
    present = (
        select(func.count())
        .select_from(cart)
        .where(cart.account_id == Order.account_id, cart.pack_id == Order.pack_id, cart.status != st.DELETED)
        .scalar_subquery()
    )
    complete = func.coalesce(Order.pack_size, 1) <= present
    session.execute(
        update(Order)
        .where(Order.account_id == account_id, Order.pack_id.in_(sorted(set(pack_ids))))
        .where(Order.pack_complete.is_distinct_from(complete))
        .values(pack_complete=complete)
        .execution_options(synchronize_session=False)
    )
