"""The sandbox marketplace's own state: its simulated clock and seed, the ids it makes up, the orders its
buyers create (and how the channel serves them), and the operator's views (``alephee sandbox ...``).

Everything generated is derived from ids, sequence numbers and the seed, never from wall-clock randomness,
so a run is reproducible for a given seed. The channel itself is ``sandbox.channel``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from alephee import clock
from alephee.config import Settings
from alephee.errors import InvalidInput
from alephee.marketplaces.contract import (
    ChannelOrder,
    ChannelOrderItem,
    ChannelPayment,
)
from alephee.marketplaces.models import SandboxEvent, SandboxListing, SandboxOrder, SandboxState

STATE_ID = 1
# Numeric part of generated ids: large enough to look like Mercado Libre's, disjoint per kind.
LISTING_ID_BASE = 1_000_000_000
PACK_ID_BASE = 2_000_000_000_000_000
SHIPPING_ID_BASE = 40_000_000_000
DEFAULT_SITE = "SBX"
MAX_MESSAGE_LENGTH = 350
MESSAGE_OPTIONS = frozenset({1, 2, 3, 4, 5})
SPLIT_REASONS = frozenset({1, 2, 3, 4})
LABEL_FORMATS = {"TXT": "text/plain", "PDF": "application/pdf", "ZIP": "application/zip"}
# Logistics in which the marketplace, not the seller, moves the shipment (Mercado Envíos 2, Colecta, Full).
MARKETPLACE_LOGISTICS = frozenset({"drop_off", "xd_drop_off", "cross_docking", "fulfillment"})
# Seller status codes of PUT /v2/orders.
SELLER_SHIPPED, SELLER_DELIVERED, SELLER_CANCELLED = 20, 80, 90

ERR_NOT_IN_DB = "the sandbox channel needs the worker's database session"
ERR_LISTING_CLOSED = "listing {} is closed on the marketplace and cannot be reopened"
ERR_UNKNOWN_LISTING = "listing {} is not published on the sandbox marketplace"
ERR_UNKNOWN_ORDER = "order {} does not exist on the sandbox marketplace"
ERR_NOT_IN_PACK = "order {} is not part of a cart with other orders"
ERR_DELIVERED = "order {} was already delivered"


# --- clock, seed and sequence -----------------------------------------------------------------------------


def ensure_state(session: Session, seed: int | None = None) -> SandboxState:
    """The sandbox's single state row, created on first use (concurrent creators do not conflict)."""
    state = session.get(SandboxState, STATE_ID)
    if state is not None:
        return state
    if seed is None:
        seed = Settings().sandbox_seed
    values = {"id": STATE_ID, "offset_seconds": 0, "seed": seed, "change_seq": 0, "updated_at": clock.utcnow()}
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(SandboxState).values(**values).on_conflict_do_nothing(index_elements=["id"]))
    state = session.get(SandboxState, STATE_ID)
    assert state is not None
    return state


def sandbox_now(session: Session) -> datetime:
    """The simulated time: the hub clock moved by the stored offset."""
    state = ensure_state(session)
    return clock.precise_utcnow() + timedelta(seconds=state.offset_seconds)


class BadAdvance(InvalidInput, ValueError):
    """The clock only moves forward, by a finite amount of at most ``MAX_ADVANCE_HOURS`` per call."""


MAX_ADVANCE_HOURS = 24 * 365
ERR_ADVANCE = f"the sandbox clock only moves forward, by at most {MAX_ADVANCE_HOURS} hours at a time"


def advance(session: Session, hours: float) -> datetime:
    """Move the simulated clock forward by ``hours`` (an atomic increment); returns the new simulated now."""
    if not math.isfinite(hours) or not 0 <= hours <= MAX_ADVANCE_HOURS:
        raise BadAdvance(ERR_ADVANCE)
    ensure_state(session)
    session.execute(
        update(SandboxState)
        .where(SandboxState.id == STATE_ID)
        .values(offset_seconds=SandboxState.offset_seconds + round(hours * 3600), updated_at=clock.utcnow())
        .execution_options(synchronize_session=False)
    )
    session.expire_all()
    return sandbox_now(session)


def next_change_seq(session: Session) -> int:
    """The next value of the order change counter (serialised by the state row's lock until commit)."""
    ensure_state(session)
    value = session.execute(
        update(SandboxState)
        .where(SandboxState.id == STATE_ID)
        .values(change_seq=SandboxState.change_seq + 1)
        .returning(SandboxState.change_seq)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    return int(value)


def external_listing_id(site_id: str | None, listing_id: int) -> str:
    """The marketplace id the sandbox gives a hub listing (e.g. ``MLA1000000042``)."""
    return f"{site_id or DEFAULT_SITE}{LISTING_ID_BASE + listing_id}"


def pack_id_for(seq: int) -> str:
    """A cart (pack) id derived from a change sequence number."""
    return str(PACK_ID_BASE + seq)


def shipping_id_for(seq: int) -> str:
    """A shipment id derived from a change sequence number."""
    return str(SHIPPING_ID_BASE + seq)


def buyer_price(listing: SandboxListing, at: datetime) -> Decimal | None:
    """What a buyer pays at ``at``: the price, less the discount when ``at`` is inside its window."""
    if listing.price is None or listing.discount_percent is None:
        return listing.price
    if (listing.discount_start is not None and at < listing.discount_start) or (
        listing.discount_finish is not None and at >= listing.discount_finish
    ):
        return listing.price
    discounted = listing.price * (100 - listing.discount_percent) / 100
    return discounted.quantize(Decimal("0.01"))


def effective_status(
    seller_status: str, available_quantity: int, seller_reason: str | None = None
) -> tuple[str, str | None]:
    """What buyers see: an active listing without stock is paused ``out_of_stock`` (Mercado Libre's rule); a
    listing the seller paused shows the seller's reason (e.g. ``no_price``) as its sub-status."""
    if seller_status == "active" and available_quantity <= 0:
        return "paused", "out_of_stock"
    if seller_status == "paused":
        return "paused", seller_reason
    return seller_status, None


# --- orders (used by the simulated buyers and by tests) ----------------------------------------------------


def touch_order(session: Session, order: SandboxOrder) -> None:
    """Mark an order changed now, so the next pull returns it."""
    order.date_updated = sandbox_now(session)
    order.change_seq = next_change_seq(session)


def create_order(
    session: Session,
    *,
    account_id: int,
    marketplace_id: int,
    external_order_id: str,
    items: list[dict[str, Any]],
    payments: list[dict[str, Any]] | None = None,
    buyer: dict[str, Any] | None = None,
    shipping_address: dict[str, Any] | None = None,
    status: str = "paid",
    payment_status: str | None = "approved",
    pack_id: str | None = None,
    pack_size: int | None = None,
    logistic_type: str | None = "drop_off",
    currency: str | None = None,
    fraud: bool = False,
) -> SandboxOrder:
    """Record a sale on the sandbox (items: ``external_listing_id``, ``quantity``, ``unit_price`` and
    optionally ``sku``/``title``/``listing_id``); the shipment starts ready_to_ship/ready_to_print."""
    now = sandbox_now(session)
    seq = next_change_seq(session)
    total = sum((Decimal(str(i["unit_price"])) * int(i["quantity"]) for i in items), Decimal(0))
    order = SandboxOrder(
        account_id=account_id,
        marketplace_id=marketplace_id,
        external_order_id=external_order_id,
        pack_id=pack_id,
        pack_size=pack_size,
        external_shipping_id=shipping_id_for(seq),
        status=status,
        payment_status=payment_status,
        shipping_status="ready_to_ship",
        shipping_substatus="ready_to_print",
        logistic_type=logistic_type,
        fraud=fraud,
        total=total,
        currency=currency,
        detail={
            "items": [jsonable(i) for i in items],
            "payments": [jsonable(p) for p in payments or []],
            "buyer": jsonable(buyer or {}),
            "shipping_address": jsonable(shipping_address or {}),
        },
        date_created=now,
        date_updated=now,
        change_seq=seq,
    )
    session.add(order)
    session.flush()
    return order


def jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value


def _parse_dt(value: Any) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def to_channel_order(order: SandboxOrder) -> ChannelOrder:
    """A sandbox order in the channel interface's shape."""
    detail = order.detail or {}
    items = tuple(
        ChannelOrderItem(
            external_listing_id=str(i.get("external_listing_id", "")),
            quantity=int(i.get("quantity", 0)),
            unit_price=Decimal(str(i.get("unit_price", "0"))),
            sku=i.get("sku"),
            title=i.get("title"),
            listing_id=i.get("listing_id"),
            full_unit_price=Decimal(str(i["full_unit_price"])) if i.get("full_unit_price") is not None else None,
        )
        for i in detail.get("items", [])
    )
    payments = tuple(
        ChannelPayment(
            external_payment_id=str(p.get("id", "")),
            status=str(p.get("status", "")),
            amount=Decimal(str(p.get("amount", "0"))),
            currency=p.get("currency"),
            method=p.get("method"),
            installments=p.get("installments"),
            date_created=_parse_dt(p.get("date_created")),
            date_approved=_parse_dt(p.get("date_approved")),
        )
        for p in detail.get("payments", [])
    )
    return ChannelOrder(
        external_order_id=order.external_order_id,
        status=order.status,
        date_created=order.date_created,
        date_updated=order.date_updated,
        items=items,
        payments=payments,
        total=order.total,
        currency=order.currency,
        pack_id=order.pack_id,
        pack_size=order.pack_size,
        external_shipping_id=order.external_shipping_id,
        shipping_status=order.shipping_status,
        shipping_substatus=order.shipping_substatus,
        logistic_type=order.logistic_type,
        buyer=dict(detail.get("buyer", {})),
        shipping_address=dict(detail.get("shipping_address", {})),
        fraud=order.fraud,
        claim=order.claim_status is not None,
        order_id=order.hub_order_id,
        raw={
            "change_seq": order.change_seq,
            "payment_status": order.payment_status,
            "seller_status": order.seller_status,
            "claim": detail.get("claim"),
        },
    )


# --- operator views ---------------------------------------------------------------------------------------


def summary(session: Session) -> dict[str, Any]:
    """The simulated clock and how much the sandbox holds (``alephee sandbox status``)."""
    state = ensure_state(session)
    counts = {
        name: session.scalar(select(func.count()).select_from(model)) or 0
        for name, model in (("Listings", SandboxListing), ("Orders", SandboxOrder), ("Events", SandboxEvent))
    }
    return {
        "SandboxNow": sandbox_now(session).replace(microsecond=0).isoformat(),
        "OffsetHours": round(state.offset_seconds / 3600, 4),
        "Seed": state.seed,
        **counts,
    }


def list_listings(
    session: Session, *, account_id: int | None = None, marketplace_id: int | None = None, limit: int = 100
) -> list[SandboxListing]:
    """Sandbox listings, newest first (``alephee sandbox listings``)."""
    query = select(SandboxListing)
    if account_id is not None:
        query = query.where(SandboxListing.account_id == account_id)
    if marketplace_id is not None:
        query = query.where(SandboxListing.marketplace_id == marketplace_id)
    return list(session.scalars(query.order_by(SandboxListing.id.desc()).limit(max(1, limit))))


def listing_json(row: SandboxListing) -> dict[str, Any]:
    """A sandbox listing as the CLI prints it."""
    return {
        "ExternalId": row.external_id,
        "MarketplaceId": row.marketplace_id,
        "AccountId": row.account_id,
        "ListingId": row.listing_id,
        "SKU": row.sku,
        "Title": row.title,
        "Price": str(row.price) if row.price is not None else None,
        "Currency": row.currency,
        "AvailableQuantity": row.available_quantity,
        "SoldQuantity": row.sold_quantity,
        "Status": row.status,
        "SubStatus": row.sub_status,
        "SellerStatus": row.seller_status,
        "UpdatedAt": row.updated_at.replace(microsecond=0).isoformat(),
    }
