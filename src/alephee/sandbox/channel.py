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

**Current state.** When the hub has the listing a push names (``listing_id``, of this account on this
marketplace), the sandbox reads it at delivery time, as the real connectors do (``sends_current_state``): its
price, quantity, status and texts as they are now, and the discount it has now or next (none removes the
sandbox's), instead of the payload's values (``changed`` is kept). One delivery then carries every change
queued before it, and the worker counts the listing's later queued pushes of the same topic as delivered.
A push for a listing the hub does not have is applied as it came and covers nothing.
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

from dataclasses import asdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alephee.listings.discounts import current_payload
from alephee.listings.models import Listing
from alephee.listings.propagation import change_row
from alephee.marketplaces.contract import (
    BaseChannel,
    BuyerMessage,
    ChannelContext,
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
from alephee.marketplaces.models import SandboxEvent, SandboxListing, SandboxOrder
from alephee.marketplaces.topics import listing_push, listing_status_push
from alephee.sandbox.buyers import progress
from alephee.sandbox.labels import render_label
from alephee.sandbox.state import (
    ERR_DELIVERED,
    ERR_LISTING_CLOSED,
    ERR_NOT_IN_DB,
    ERR_NOT_IN_PACK,
    ERR_UNKNOWN_LISTING,
    ERR_UNKNOWN_ORDER,
    LABEL_FORMATS,
    MARKETPLACE_LOGISTICS,
    MAX_MESSAGE_LENGTH,
    MESSAGE_OPTIONS,
    SELLER_CANCELLED,
    SELLER_DELIVERED,
    SELLER_SHIPPED,
    SPLIT_REASONS,
    effective_status,
    external_listing_id,
    jsonable,
    next_change_seq,
    pack_id_for,
    sandbox_now,
    shipping_id_for,
    to_channel_order,
    touch_order,
)

# --- the channel ------------------------------------------------------------------------------------------


class SandboxChannel(BaseChannel):
    """The built-in marketplace (Mercado Libre behaviour), stored in the hub's database."""

    connector = "sandbox"
    in_database = True
    sends_current_state = True

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
                payload=jsonable(asdict(payload)) if hasattr(payload, "__dataclass_fields__") else jsonable(payload),
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

    @staticmethod
    def _hub_listing(session: Session, ctx: ChannelContext, listing_id: int | None) -> Listing | None:
        """The hub's listing a push names, when it is this account's on this marketplace."""
        if listing_id is None:
            return None
        hub = session.get(Listing, listing_id)
        if hub is None or hub.account_id != ctx.account_id or hub.marketplace_id != ctx.marketplace.id:
            return None
        return hub

    def _current_push(self, session: Session, ctx: ChannelContext, listing: ListingPush) -> ListingPush | None:
        """The hub's listing as it is now, as a push (``listings.discounts.current_payload``): read at delivery
        time as the real connectors do, so one delivery carries every change queued before it. None for a listing
        the hub does not have (the push is applied as it came)."""
        hub = self._hub_listing(session, ctx, listing.listing_id)
        if hub is None:
            return None
        return listing_push(current_payload(session, hub, listing.extra.get("changed") or []))

    def publish_listing(self, ctx: ChannelContext, listing: ListingPush) -> ListingReceipt:
        session = self._session(ctx)
        current = self._current_push(session, ctx, listing)
        if current is not None:
            listing = current
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
        return _receipt(row, external_id, current=current is not None)

    def set_listing_status(self, ctx: ChannelContext, change: ListingStatusPush) -> ListingReceipt:
        session = self._session(ctx)
        # The hub's status of the listing as it is now, as for publish_listing.
        hub = self._hub_listing(session, ctx, change.listing_id)
        if hub is not None:
            change = listing_status_push(change_row(hub, [], status_only=True).payload)
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
        return _receipt(row, row.external_id, current=hub is not None)

    # --- orders

    def pull_orders(self, ctx: ChannelContext, cursor: str | None, limit: int = 100) -> OrderPage:
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
        order.detail = {**(order.detail or {}), "package_info": jsonable(packaging.package_info)}
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
        # CF-21.8.4: receipts stay in the hub; fiscal invoices (NF-e) only exist for Brazil.
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


def _receipt(row: SandboxListing | None, external_id: str, *, current: bool = False) -> ListingReceipt:
    """The answer to a listing push; ``current``: it applied the hub's listing as it is now (the queued pushes
    of the listing are covered by it)."""
    if row is None:
        return ListingReceipt(external_id=external_id, status="active", covers_queued=current)
    return ListingReceipt(
        external_id=row.external_id,
        status=row.status,
        available_quantity=row.available_quantity,
        covers_queued=current,
    )
