"""The sandbox marketplace: a built-in channel, stored in the hub's database, that behaves like Mercado Libre.

It receives what the hub pushes through the outbox (listings with price, quantity and status; order status and
tracking; invoices; buyer messages; label requests; cart splits), keeps its own state in the ``sandbox_*``
tables, and serves the orders its simulated buyers create (``pull_orders``). It runs on a persistent simulated
clock: ``sandbox_now`` = hub clock + the offset stored in ``sandbox_state`` (``alephee sandbox advance``).
Everything it generates (external ids, pack and shipment ids, labels) is derived from ids, sequence numbers
and the seed, never from wall-clock randomness, so a run is reproducible for a given seed.

Connector name ``sandbox`` (catalogue ids 100-102). Deliveries happen inside the worker's transaction
(``in_database``): the sandbox's writes and the outbox row's "delivered" mark commit together, and every
applied outbox row is recorded once in ``sandbox_events`` (unique ``message_id``), so a row is never applied
twice even if two workers raced for it.

Outbox topics and payloads
==========================

``enqueue(session, account_id=..., marketplace_id=<sandbox id>, topic=..., aggregate_type=...,
aggregate_id=..., payload={...})``. Payloads are JSON objects; keys are matched case-insensitively and
``_``/``-`` are ignored (``external_id`` = ``ExternalId``). Money goes as a string (``"1234.5000"``: the JSON
column cannot hold ``Decimal``) or a number; dates as ISO-8601 strings. Unknown keys are kept, not rejected.
The row's ``aggregate_id`` stands in for the hub id when the payload omits it.

``listing.update`` (aggregate_type ``listing``, aggregate_id = hub listing id): publish or update.
    ``listing_id`` int (hub id), ``external_id`` str (e.g. ``MLA1000000042``; when absent the sandbox uses
    ``external_listing_id(site_id, listing_id)``, which the listings domain may call to show the same id),
    ``sku``, ``brand``, ``title``, ``product_id``, ``price`` (decimal, >= 0; null while the product has no
    price: the listing then comes paused), ``currency``, ``quantity`` (int >= 0: the AvailableQuantity to
    publish), ``status`` (hub code 1 Active, 2 Paused, 3 Finished, 4 UnderReview, 5 Inactive, or a name such as
    ``"active"``/``"Paused"``/``"finished"``), ``status_reason`` (why the hub paused it: ``user``, ``stock``,
    ``no_price``; shown as the sub-status of a paused listing), ``listing_type``;
    ``discount_percent`` (0 < p < 100) with ``discount_start``/``discount_finish`` (ISO-8601 UTC) sets the
    discount, ``discount_percent`` 0 or ``changed`` naming ``"Discount"`` without a percent removes it; other
    keys (e.g. ``changed``) are recorded in the event and otherwise ignored. Absent keys are left unchanged;
    send the listing's *full current state* each time: a push older (lower outbox id) than the last applied
    one is recorded as ``stale`` and ignored, so a re-queued failure can never roll a listing back.
``listing.status`` (aggregate ``listing``): ``listing_id`` and/or ``external_id``, ``status`` (code or name),
    ``status_reason``.
    A closed (finished) listing cannot be reopened: that push fails permanently.
``order.status`` (aggregate ``order``, aggregate_id = hub order id): ``order_id``, ``external_order_id``,
    ``status`` (10 To be shipped, 17 Arrived, 20 Shipped, 80 Delivered, 90 Cancelled), ``tracking_number``,
    ``carrier``, ``tracking_url``, ``tracking_status``, ``note`` — or tracking as an object
    ``tracking: {"Number", "Status", "Method"|"Carrier", "Url"}``. Seller-driven logistics move the shipment
    (20 → shipped, 80 → delivered); 90 cancels the order; marketplace-driven logistics only record it. Stale
    pushes ignored.
``order.document`` (aggregate ``order``): ``order_id``, ``external_order_id``, ``document_type`` (0 invoice,
    1 receipt, 2 electronic fiscal invoice), ``document_number``, ``file_name``, ``extension``,
    ``content_type``, ``size``, ``sha256``, ``storage_key`` (where the hub keeps the file), ``fiscal_key``,
    ``document_date``. Receipts are never forwarded (recorded as ``not_forwarded``), nor are fiscal invoices
    outside Brazil (site MLB).
``order.message`` (aggregate ``order``): ``order_id``, ``external_order_id``, ``message_option`` (1..5, the
    ``messageOptions`` code), ``text`` (<= 350 characters), ``attachment_name``, ``attachment_storage_key``.
``order.split`` (aggregate ``order``): ``order_id``, ``external_order_id``, ``split_reason_id`` (1..4),
    optionally ``new_pack_id`` and ``new_external_shipping_id`` (the ids the hub gave the order: the sandbox
    keeps them). The order gets a new pack and shipment at once (pulled back as a changed order).
``order.packaging`` (aggregate ``order``, aggregate_id = the shipment's first order): ``order_id``,
    ``order_ids``, ``external_order_id``, ``external_shipping_id``, ``package_info`` (object, kept as sent).
``order.label`` (aggregate ``order``, optional): ``order_id``, ``external_order_id``, ``format`` (TXT, PDF,
    ZIP), ``external_shipping_id``: asks for the label ahead of the download (marks it printed).

Orders are found by ``external_order_id`` or, failing that, by the hub ``order_id`` the sandbox learnt from an
earlier push: **always send ``external_order_id``** for marketplace orders (every real connector needs it
too). An ``order.status`` for an order the sandbox never sold (e.g. created with ``POST /v2/orders``)
creates a shadow order so the state is kept; the other order topics fail permanently for unknown orders.
"""

from __future__ import annotations

import io
import math
import zipfile
from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from alephee import clock
from alephee.errors import InvalidInput
from alephee.marketplaces.channels import (
    BaseChannel,
    BuyerMessage,
    ChannelContext,
    ChannelOrder,
    ChannelOrderItem,
    ChannelPayment,
    DocumentReceipt,
    DocumentUpload,
    LabelRequest,
    ListingPush,
    ListingReceipt,
    ListingStatusPush,
    OrderPage,
    OrderRef,
    OrderStatusPush,
    PackagingPush,
    PermanentDeliveryError,
    ShippingLabel,
    SplitRequest,
    SplitResult,
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
        from alephee.config import Settings

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
            "items": [_jsonable(i) for i in items],
            "payments": [_jsonable(p) for p in payments or []],
            "buyer": _jsonable(buyer or {}),
            "shipping_address": _jsonable(shipping_address or {}),
        },
        date_created=now,
        date_updated=now,
        change_seq=seq,
    )
    session.add(order)
    session.flush()
    return order


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
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


# --- the channel ------------------------------------------------------------------------------------------


class SandboxChannel(BaseChannel):
    """The built-in marketplace (Mercado Libre behaviour), stored in the hub's database."""

    connector = "sandbox"
    in_database = True

    # --- plumbing

    @staticmethod
    def _session(ctx: ChannelContext) -> Session:
        if ctx.session is None:
            raise PermanentDeliveryError(ERR_NOT_IN_DB)
        return ctx.session

    @staticmethod
    def _seen(session: Session, ctx: ChannelContext) -> bool:
        """Whether this outbox row was already applied (a duplicate delivery is acknowledged, not re-applied)."""
        if ctx.message_id is None:
            return False
        found = session.scalar(select(SandboxEvent.id).where(SandboxEvent.message_id == ctx.message_id))
        return found is not None

    @staticmethod
    def _log(
        session: Session, ctx: ChannelContext, kind: str, ref: str | None, payload: Any, result: str = "applied"
    ) -> None:
        session.add(
            SandboxEvent(
                message_id=ctx.message_id,
                marketplace_id=ctx.marketplace.id,
                account_id=ctx.account_id,
                kind=kind,
                ref=ref,
                result=result,
                payload=_jsonable(asdict(payload)) if hasattr(payload, "__dataclass_fields__") else _jsonable(payload),
                received_at=sandbox_now(session),
            )
        )
        session.flush()

    @staticmethod
    def _stale(row_last: int | None, ctx: ChannelContext) -> bool:
        return row_last is not None and ctx.message_id is not None and ctx.message_id < row_last

    def _find_listing(
        self, session: Session, ctx: ChannelContext, listing_id: int | None, external_id: str | None
    ) -> SandboxListing | None:
        query = select(SandboxListing).where(SandboxListing.marketplace_id == ctx.marketplace.id)
        if external_id is not None:
            row = session.scalar(query.where(SandboxListing.external_id == external_id))
            if row is not None or listing_id is None:
                return row
        return session.scalar(query.where(SandboxListing.listing_id == listing_id).order_by(SandboxListing.id).limit(1))

    def _find_order(self, session: Session, ctx: ChannelContext, ref: OrderRef) -> SandboxOrder | None:
        query = select(SandboxOrder).where(SandboxOrder.marketplace_id == ctx.marketplace.id)
        if ref.external_order_id is not None:
            row = session.scalar(query.where(SandboxOrder.external_order_id == ref.external_order_id))
            if row is not None:
                if ref.order_id is not None and row.hub_order_id is None:
                    row.hub_order_id = ref.order_id
                return row
        if ref.order_id is None:
            return None
        return session.scalar(query.where(SandboxOrder.hub_order_id == ref.order_id).order_by(SandboxOrder.id).limit(1))

    @staticmethod
    def _order_key(ref: OrderRef) -> str:
        return ref.external_order_id or f"hub:{ref.order_id}"

    # --- listings

    def publish_listing(self, ctx: ChannelContext, listing: ListingPush) -> ListingReceipt:
        session = self._session(ctx)
        external_id = listing.external_id
        if external_id is None:
            assert listing.listing_id is not None  # the payload parser requires one of the two
            external_id = external_listing_id(ctx.marketplace.site_id, listing.listing_id)
        row = self._find_listing(session, ctx, listing.listing_id, external_id)
        if self._seen(session, ctx):
            return _receipt(row, external_id)
        now = sandbox_now(session)
        if row is None:
            row = SandboxListing(
                marketplace_id=ctx.marketplace.id,
                account_id=ctx.account_id,
                external_id=external_id,
                available_quantity=0,
                sold_quantity=0,
                seller_status="active",
                status="active",
                created_at=now,
                updated_at=now,
            )
            session.add(row)
        elif self._stale(row.last_message_id, ctx):
            self._log(session, ctx, "listing.update", row.external_id, listing, "stale")
            return _receipt(row, external_id)
        elif row.seller_status == "closed":
            if listing.status not in (None, "closed"):
                raise PermanentDeliveryError(ERR_LISTING_CLOSED.format(row.external_id))
            # Mercado Libre refuses changes to a finished item; the hub may still send stock updates for it.
            self._log(session, ctx, "listing.update", row.external_id, listing, "ignored")
            return _receipt(row, external_id)
        for name in ("listing_id", "product_id", "sku", "brand", "title", "price", "currency", "listing_type"):
            value = getattr(listing, name)
            if value is not None:
                setattr(row, name, value)
        if listing.discount is not None:
            row.discount_percent = listing.discount.percent
            row.discount_start, row.discount_finish = listing.discount.start, listing.discount.finish
        elif listing.discount_cleared:
            row.discount_percent = row.discount_start = row.discount_finish = None
        if listing.quantity is not None:
            row.available_quantity = listing.quantity
        # The seller's pause reason lives in sub_status while paused; a push without a status keeps it.
        reason = row.sub_status if row.seller_status == "paused" else None
        if listing.status is not None:
            row.seller_status, reason = listing.status, listing.status_reason
        row.status, row.sub_status = effective_status(row.seller_status, row.available_quantity, reason)
        row.last_message_id = ctx.message_id if ctx.message_id is not None else row.last_message_id
        row.updated_at = now
        session.flush()
        self._log(session, ctx, "listing.update", row.external_id, listing)
        return _receipt(row, external_id)

    def set_listing_status(self, ctx: ChannelContext, change: ListingStatusPush) -> ListingReceipt:
        session = self._session(ctx)
        row = self._find_listing(session, ctx, change.listing_id, change.external_id)
        if row is None:
            raise PermanentDeliveryError(ERR_UNKNOWN_LISTING.format(change.external_id or change.listing_id))
        if self._seen(session, ctx):
            return _receipt(row, row.external_id)
        if self._stale(row.last_message_id, ctx):
            self._log(session, ctx, "listing.status", row.external_id, change, "stale")
            return _receipt(row, row.external_id)
        if row.seller_status == "closed" and change.status != "closed":
            raise PermanentDeliveryError(ERR_LISTING_CLOSED.format(row.external_id))
        row.seller_status = change.status
        row.status, row.sub_status = effective_status(row.seller_status, row.available_quantity, change.reason)
        row.last_message_id = ctx.message_id if ctx.message_id is not None else row.last_message_id
        row.updated_at = sandbox_now(session)
        session.flush()
        self._log(session, ctx, "listing.status", row.external_id, change)
        return _receipt(row, row.external_id)

    # --- orders

    def pull_orders(self, ctx: ChannelContext, cursor: str | None, limit: int = 100) -> OrderPage:
        from alephee.marketplaces.buyers import progress

        session = self._session(ctx)
        try:
            after = int(cursor) if cursor else 0
        except ValueError:
            raise PermanentDeliveryError(f"invalid sandbox feed cursor {cursor!r}") from None
        # The marketplace lives on while nobody advances its clock: what is due by now happens first.
        progress(session, account_id=ctx.account_id, marketplace_id=ctx.marketplace.id)
        rows = session.scalars(
            select(SandboxOrder)
            .where(
                SandboxOrder.account_id == ctx.account_id,
                SandboxOrder.marketplace_id == ctx.marketplace.id,
                SandboxOrder.change_seq > after,
            )
            .order_by(SandboxOrder.change_seq)
            .limit(limit + 1)
        ).all()
        page = rows[:limit]
        next_cursor = str(page[-1].change_seq) if page else cursor
        return OrderPage(
            orders=tuple(to_channel_order(r) for r in page), cursor=next_cursor, has_more=len(rows) > limit
        )

    def push_order_status(self, ctx: ChannelContext, update: OrderStatusPush) -> None:
        session = self._session(ctx)
        if self._seen(session, ctx):
            return
        order = self._find_order(session, ctx, update.order)
        if order is None:
            order = self._shadow_order(session, ctx, update.order)
        elif self._stale(order.last_message_id, ctx):
            self._log(session, ctx, "order.status", order.external_order_id, update, "stale")
            return
        if update.status is not None:
            order.seller_status = update.status
        if update.tracking_number is not None:
            order.tracking_number = update.tracking_number
        if update.carrier is not None:
            order.carrier = update.carrier
        if update.tracking_status is not None or update.tracking_url is not None:
            tracking = {"status": update.tracking_status, "url": update.tracking_url}
            order.detail = {**(order.detail or {}), "tracking": {k: v for k, v in tracking.items() if v is not None}}
        seller_logistics = order.logistic_type not in MARKETPLACE_LOGISTICS
        if update.status == SELLER_CANCELLED and order.status != "cancelled":
            order.status = "cancelled"
            if order.shipping_status not in ("shipped", "delivered"):
                order.shipping_status, order.shipping_substatus = "cancelled", None
        elif update.status == SELLER_SHIPPED and seller_logistics and order.shipping_status in (None, "ready_to_ship"):
            order.shipping_status, order.shipping_substatus = "shipped", None
        elif update.status == SELLER_DELIVERED and seller_logistics and order.shipping_status != "cancelled":
            order.shipping_status, order.shipping_substatus = "delivered", None
        order.last_message_id = ctx.message_id if ctx.message_id is not None else order.last_message_id
        touch_order(session, order)
        self._log(session, ctx, "order.status", order.external_order_id, update)

    def push_packaging(self, ctx: ChannelContext, packaging: PackagingPush) -> None:
        session = self._session(ctx)
        order = self._find_order(session, ctx, packaging.order)
        if order is None:
            raise PermanentDeliveryError(ERR_UNKNOWN_ORDER.format(self._order_key(packaging.order)))
        if self._seen(session, ctx):
            return
        if self._stale(order.last_message_id, ctx):
            self._log(session, ctx, "order.packaging", order.external_order_id, packaging, "stale")
            return
        # The JSON column is replaced (not mutated in place) so the change is detected.
        order.detail = {**(order.detail or {}), "package_info": _jsonable(packaging.package_info)}
        order.last_message_id = ctx.message_id if ctx.message_id is not None else order.last_message_id
        self._log(session, ctx, "order.packaging", order.external_order_id, packaging)

    def _shadow_order(self, session: Session, ctx: ChannelContext, ref: OrderRef) -> SandboxOrder:
        """An order the sandbox never sold (created in the hub): kept so later pushes have a place to land."""
        now = sandbox_now(session)
        order = SandboxOrder(
            account_id=ctx.account_id,
            marketplace_id=ctx.marketplace.id,
            external_order_id=ref.external_order_id or f"H{ref.order_id}",
            hub_order_id=ref.order_id,
            pack_id=ref.pack_id,
            status="paid",
            logistic_type=None,
            detail={"items": [], "payments": [], "buyer": {}, "shipping_address": {}, "origin": "hub"},
            date_created=now,
            date_updated=now,
            change_seq=0,
        )
        session.add(order)
        session.flush()
        return order

    def upload_document(self, ctx: ChannelContext, document: DocumentUpload) -> DocumentReceipt:
        session = self._session(ctx)
        order = self._find_order(session, ctx, document.order)
        if order is None:
            raise PermanentDeliveryError(ERR_UNKNOWN_ORDER.format(self._order_key(document.order)))
        if self._seen(session, ctx):
            return DocumentReceipt(forwarded=True)
        # Spec 21 §8.4: receipts stay in the hub; fiscal invoices (NF-e) only exist for Brazil.
        forwarded = document.document_type == 0 or (document.document_type == 2 and ctx.marketplace.site_id == "MLB")
        self._log(
            session,
            ctx,
            "order.document",
            order.external_order_id,
            document,
            "applied" if forwarded else "not_forwarded",
        )
        return DocumentReceipt(forwarded=forwarded, external_document_id=f"doc-{ctx.message_id}" if forwarded else None)

    def send_buyer_message(self, ctx: ChannelContext, message: BuyerMessage) -> None:
        session = self._session(ctx)
        if message.message_option not in MESSAGE_OPTIONS:
            raise PermanentDeliveryError(f"invalid message option {message.message_option}")
        if message.text is not None and len(message.text) > MAX_MESSAGE_LENGTH:
            raise PermanentDeliveryError(f"message longer than {MAX_MESSAGE_LENGTH} characters")
        order = self._find_order(session, ctx, message.order)
        if order is None:
            raise PermanentDeliveryError(ERR_UNKNOWN_ORDER.format(self._order_key(message.order)))
        if self._seen(session, ctx):
            return
        self._log(session, ctx, "order.message", order.external_order_id, message)

    def fetch_label(self, ctx: ChannelContext, request: LabelRequest) -> ShippingLabel:
        session = self._session(ctx)
        fmt = request.format.upper()
        if fmt not in LABEL_FORMATS:
            raise PermanentDeliveryError(f"invalid label format {request.format}")
        order = self._find_order(session, ctx, request.order)
        if order is None:
            raise PermanentDeliveryError(ERR_UNKNOWN_ORDER.format(self._order_key(request.order)))
        if not self._seen(session, ctx):
            if order.shipping_status == "ready_to_ship" and order.shipping_substatus == "ready_to_print":
                order.shipping_substatus = "printed"
                touch_order(session, order)
            self._log(session, ctx, "order.label", order.external_order_id, request)
        return render_label(order, ctx.marketplace.name, fmt)

    def split_shipment(self, ctx: ChannelContext, request: SplitRequest) -> SplitResult:
        session = self._session(ctx)
        if request.split_reason_id not in SPLIT_REASONS:
            raise PermanentDeliveryError(f"invalid split reason {request.split_reason_id}")
        order = self._find_order(session, ctx, request.order)
        if order is None:
            raise PermanentDeliveryError(ERR_UNKNOWN_ORDER.format(self._order_key(request.order)))
        if self._seen(session, ctx):
            return SplitResult(pack_id=order.pack_id, external_shipping_id=order.external_shipping_id)
        others = []
        if order.pack_id is not None:
            others = list(
                session.scalars(
                    select(SandboxOrder).where(
                        SandboxOrder.marketplace_id == order.marketplace_id,
                        SandboxOrder.pack_id == order.pack_id,
                        SandboxOrder.id != order.id,
                    )
                )
            )
        if not others:
            raise PermanentDeliveryError(ERR_NOT_IN_PACK.format(order.external_order_id))
        if order.shipping_status == "delivered":
            raise PermanentDeliveryError(ERR_DELIVERED.format(order.external_order_id))
        seq = next_change_seq(session)
        for other in others:
            other.pack_size = len(others)
            touch_order(session, other)
        order.pack_id = request.new_pack_id or pack_id_for(seq)
        order.pack_size = 1
        order.external_shipping_id = request.new_external_shipping_id or shipping_id_for(seq)
        order.shipping_status, order.shipping_substatus = "ready_to_ship", "ready_to_print"
        touch_order(session, order)
        self._log(session, ctx, "order.split", order.external_order_id, request)
        return SplitResult(pack_id=order.pack_id, external_shipping_id=order.external_shipping_id)


def _receipt(row: SandboxListing | None, external_id: str) -> ListingReceipt:
    if row is None:
        return ListingReceipt(external_id=external_id, status="active")
    return ListingReceipt(external_id=row.external_id, status=row.status, available_quantity=row.available_quantity)


# --- labels -----------------------------------------------------------------------------------------------


def _zpl(order: SandboxOrder, marketplace_name: str) -> str:
    shipment = order.external_shipping_id or order.external_order_id
    address = (order.detail or {}).get("shipping_address", {})
    lines = [
        "^XA",
        "^CI28",
        f"^CF0,36^FO40,30^FD{marketplace_name}^FS",
        f"^CF0,28^FO40,80^FDOrder {order.external_order_id}^FS",
        f"^FO40,120^FDPack {order.pack_id or '-'}^FS",
        f"^FO40,160^FDShipment {shipment}^FS",
        f"^FO40,200^FD{address.get('receiver_name', '')}^FS",
        f"^FO40,240^FD{address.get('street', '')} {address.get('city', '')} {address.get('zip_code', '')}^FS",
        f"^BY3^FO40,300^BCN,140,Y,N,N^FD{shipment}^FS",
        "^XZ",
    ]
    return "\n".join(lines) + "\n"


def _pdf(order: SandboxOrder, marketplace_name: str) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(unit="mm", format=(100, 150))  # a 4x6" thermal label
    # A fixed creation date keeps the file byte-for-byte reproducible.
    pdf.set_creation_date(order.date_created)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 8, marketplace_name[:40], new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    shipment = order.external_shipping_id or order.external_order_id
    address = (order.detail or {}).get("shipping_address", {})
    for text in (
        f"Order {order.external_order_id}",
        f"Pack {order.pack_id or '-'}",
        f"Shipment {shipment}",
        str(address.get("receiver_name", "")),
        f"{address.get('street', '')} {address.get('city', '')} {address.get('zip_code', '')}".strip(),
    ):
        pdf.cell(0, 6, text.encode("latin-1", "replace").decode("latin-1"), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def render_label(order: SandboxOrder, marketplace_name: str, fmt: str) -> ShippingLabel:
    """The label of an order's shipment: ZPL (TXT), PDF, or both zipped (ZIP)."""
    name = f"label-{order.external_shipping_id or order.external_order_id}"
    if fmt == "TXT":
        content = _zpl(order, marketplace_name).encode("utf-8")
        return ShippingLabel(format=fmt, content=content, media_type=LABEL_FORMATS[fmt], file_name=f"{name}.txt")
    if fmt == "PDF":
        return ShippingLabel(
            format=fmt, content=_pdf(order, marketplace_name), media_type=LABEL_FORMATS[fmt], file_name=f"{name}.pdf"
        )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in (
            (f"{name}.txt", _zpl(order, marketplace_name).encode()),
            (f"{name}.pdf", _pdf(order, marketplace_name)),
        ):
            info = zipfile.ZipInfo(member, date_time=(1980, 1, 1, 0, 0, 0))
            archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
    return ShippingLabel(format=fmt, content=buffer.getvalue(), media_type=LABEL_FORMATS[fmt], file_name=f"{name}.zip")


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
