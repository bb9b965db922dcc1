"""The Mercado Libre channel: what the worker delivers through, and what notifications and the order backstop read.

Every operation first reads what it needs from the hub's database in a short ``ctx.db.reading()`` block (or a
short write of its own, for the category prediction cache), then calls Mercado Libre with no transaction open.
The access token comes from ``auth.access_token`` (refreshed first when near expiry); a 401 forces one refresh
and one retry. A connection that is missing, disconnected or whose application is not configured raises
``ConnectionHeld``: the outbox row waits instead of failing. Mercado Libre's errors become delivery errors:
429, 5xx, network failures and 409 optimistic locking are transient (with the ``Retry-After`` it asked for),
other refusals permanent, saying what Mercado Libre refused (``cause[].code: message``).

Choices where the API leaves room (docs/compatibility.md lists them):

- Batches (the worker's ``push_listings``): the listings of a group and the connection in one read transaction,
  then one ``PUT /items/{id}`` per item, several at once; each item's failure is its own.
- Listing types: the hub's ``listing_type`` codes (``listings.schemas.LISTING_TYPES``) map to their Mercado
  Libre names; none or ``0`` publishes ``gold_special``.
- Updates PUT only what differs from the hub's current listing, so ten queued changes send the latest state
  once and an unchanged listing costs no write. They compare with the item as the hub last saw it (kept on the
  listing from the last push's answer, a notification's read or the linking: ``Listing.marketplace_state``, the
  newer one winning) and read the item first (``GET /items/{id}``) only when nothing is kept, the item has
  variations, or a push compared with the kept state is refused (it may be stale). A hub pause for
  stock sends ``available_quantity: 0`` (Mercado Libre pauses and reactivates the item itself); a seller's
  pause, a marketplace hold and a missing price send ``status: paused``; finishing sends ``closed``.
- Variations: an item's variations are the hub's child listings (``parent_id`` = the item's listing,
  ``child_kind`` ``variation``) whose ``external_id`` is the variation id; an update sends every variation of
  the item (Mercado Libre deletes the ones left out), each with its child's quantity and price (or its current
  values when the hub has no child for it). A variation master's listing is created as one item with its
  variations (``variations.py``); their ids are kept on new child listings, matched by SKU. Variations at
  different prices are published in the User Products model instead, one item per variation
  (``user_products.py``), each pushed by its own child listing.
- Orders come from ``GET /orders/{id}`` with the shipment and pack size; the backstop starts two days back
  (Mercado Libre keeps missed notifications that long) when it has no cursor yet.
- Labels: TXT is ``zpl2``, PDF is ``pdf``, ZIP is both files in one zip.
- Documents: invoices (types 0 and 2) go to ``/packs/{pack or order}/fiscal_documents`` outside Brazil; in Brazil
  an NF-e's XML is imported into the order's shipment (``/shipments/{id}/invoice_data/?siteId=MLB``, the raw
  ``<nfeProc>``), a PDF stays in the hub; receipts stay in the hub.
- Order status and tracking writes are no-ops: Mercado Envios moves ME2 shipments itself, and the docs show no
  seller write for ME1/custom tracking.
"""

from __future__ import annotations

import io
import re
import threading
import zipfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, timedelta
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from alephee.channels import connections, inbox
from alephee.channels.mercadolibre import auth, documents, sold
from alephee.channels.mercadolibre import mapping as ml
from alephee.channels.mercadolibre import post_sale as ml_post_sale
from alephee.channels.mercadolibre import user_products as up
from alephee.channels.mercadolibre import variations as mlvar
from alephee.channels.mercadolibre.calls import (
    Api,
    Seller,
    delivery_error,
    desired_status,
    listing_type_name,
    normalised_title,
    price_refused,
    price_warnings,
    seller_from,
    wire_money,
)
from alephee.channels.mercadolibre.client import MAX_BULK_ITEMS, MercadoLibreClient, MercadoLibreError, error_of
from alephee.channels.mercadolibre.documents import BRAZIL
from alephee.channels.mercadolibre.facts import (
    PREDICTED_PREFIX,
    ListingData,
    listing_data,
    listing_variants,
    order_facts,
    seller_of,
)
from alephee.channels.mercadolibre.updates import item_changes
from alephee.channels.models import ChannelCategoryMapping
from alephee.clock import utcnow
from alephee.config import Settings
from alephee.db import Database
from alephee.errors import DomainError
from alephee.listings.models import Listing
from alephee.listings.publish import record_marketplace_id
from alephee.listings.query import prefetch_listings
from alephee.listings.statuses import (
    FINISHED,
)
from alephee.listings.variations import record_variation_ids
from alephee.marketplaces.contract import (
    BaseChannel,
    BuyerMessage,
    ChannelContext,
    ChannelNotice,
    ChannelOrder,
    ConnectionHeld,
    DocumentReceipt,
    DocumentUpload,
    LabelRequest,
    ListingChange,
    ListingPage,
    ListingPush,
    ListingReceipt,
    ListingStatusPush,
    NoticeRead,
    NoticeResult,
    OrderPage,
    OrderStatusPush,
    PermanentDeliveryError,
    ShippingLabel,
    TransientDeliveryError,
    change_outcome,
    parse_window_cursor,
    read_each,
    window_cursor,
)
from alephee.orders.documents import INVOICE, NFE

T = TypeVar("T")
ClientFactory = Callable[[Settings], MercadoLibreClient]

CONNECTOR = auth.CONNECTOR
MAX_MESSAGE_LENGTH = 350
# The order backstop re-reads this much before its cursor (the search filter drops minutes) and starts this far
# back without a cursor.
ORDER_OVERLAP = timedelta(hours=1)
FIRST_PULL = timedelta(days=2)
SOURCE_PREDICTED = "predicted"
LABEL_TYPES = {"TXT": ("zpl2", "text/plain", "txt"), "PDF": ("pdf", "application/pdf", "pdf")}
FOLLOWED_ORDER_TOPICS = frozenset({"orders_v2", "orders"})
# The topics read back from ``GET /missed_feeds``, its page size and how many pages per topic at most.
MISSED_TOPICS = ("orders_v2", "items", "shipments", "messages", "questions", "post_purchase")
MISSED_PAGE = 50
MISSED_PAGES = 20


class _StaleState(Exception):
    """A push compared with the kept state of the item was refused: compare with the item read now."""


class MercadoLibreChannel(BaseChannel):
    """The Mercado Libre connector (``Marketplace.connector`` ``mercadolibre``).

    ``client_factory`` builds the HTTP client for one operation (a test passes one on a mock transport).
    """

    connector = CONNECTOR
    in_database = False
    labels_from_marketplace = True
    assigns_listing_ids = True
    sends_current_state = True
    # A sale lowers the sold item's kept copy in the order's transaction (MLC-66).
    lower_sold_copies = staticmethod(sold.lower_sold_copies)

    def __init__(self, client_factory: ClientFactory | None = None) -> None:
        self._client_factory: ClientFactory = client_factory or MercadoLibreClient
        self._clients: dict[str, MercadoLibreClient] = {}
        self._lock = threading.Lock()

    # --- plumbing -------------------------------------------------------------------------------------------

    @staticmethod
    def _hub(ctx: ChannelContext) -> tuple[Database, Settings]:
        if ctx.db is None or ctx.settings is None:
            raise TransientDeliveryError("the Mercado Libre connector needs the hub's database and settings")
        return ctx.db, ctx.settings

    @contextmanager
    def _api(self, ctx: ChannelContext) -> Iterator[Api]:
        """The operation's calls (see ``_open``)."""
        api, _nothing = self._open(ctx, lambda _session: None)
        yield api

    def _open(self, ctx: ChannelContext, read: Callable[[Session], T]) -> tuple[Api, T]:
        """The operation's calls and what it ``read``s from the hub, in one read transaction that also reads
        the connection once: its API base, its seller and, while fresh, its access token."""
        db, settings = self._hub(ctx)
        token, seller = None, None
        try:
            with db.reading() as session:
                found = read(session)
                row = connections.find_connection(session, ctx.account_id, ctx.marketplace.id)
                settings = auth.for_connection(settings, row.api_base if row is not None else None)
                if row is not None:
                    token = auth.usable_token(settings, row)
                    seller = seller_from(row, ctx) if row.seller_id is not None else None
        except connections.ConnectionNotFound as exc:
            raise ConnectionHeld(exc.message) from None
        except DomainError as exc:
            raise PermanentDeliveryError(exc.message) from None
        return Api(db, settings, ctx, self._client(settings), token=token, seller=seller), found

    def _client(self, settings: Settings) -> MercadoLibreClient:
        """One client (and its connection pool) per API base, shared by the threads of this process: a TLS
        handshake per call would cost more than many calls."""
        key = settings.mercadolibre_api_url
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = self._client_factory(settings)
            return client

    @staticmethod
    def _read(ctx: ChannelContext, read: Callable[[Session], T]) -> T:
        db, _settings = MercadoLibreChannel._hub(ctx)
        try:
            with db.reading() as session:
                return read(session)
        except connections.ConnectionNotFound as exc:
            raise ConnectionHeld(exc.message) from None
        except DomainError as exc:
            raise PermanentDeliveryError(exc.message) from None

    # --- listings -------------------------------------------------------------------------------------------

    def publish_listing(self, ctx: ChannelContext, listing: ListingPush) -> ListingReceipt:
        """Create the item (listing still ``pending-``) or bring it to the listing's current state."""
        api, data = self._open(ctx, lambda s: listing_data(s, ctx, listing.listing_id, listing.external_id))
        return self._bring(ctx, api, listing, data)

    def set_listing_status(self, ctx: ChannelContext, change: ListingStatusPush) -> ListingReceipt:
        """Pause, reactivate or close the item (the hub's listing says why; see ``desired_status``)."""
        api, data = self._open(ctx, lambda s: listing_data(s, ctx, change.listing_id, change.external_id))
        return self._bring(ctx, api, change, data)

    def push_listings(self, ctx: ChannelContext, changes: Sequence[ListingChange]) -> list[ListingReceipt | Exception]:
        """Many changes of one account (the worker's batched delivery): every listing and the connection read in
        one read transaction, then one push per item, ``outbox_delivery_concurrency`` at a time. A listing that
        cannot be read, or an item Mercado Libre refuses, fails its own change only."""

        def read(session: Session) -> list[ListingData | Exception]:
            ids = [c.listing_id for c in changes if c.listing_id is not None]
            loaded = prefetch_listings(session, ids)  # referenced while read: the session holds them weakly
            variants = listing_variants(session, ids)
            found = [
                change_outcome(lambda c=change: listing_data(session, ctx, c.listing_id, c.external_id, variants))
                for change in changes
            ]
            del loaded
            return found

        api, found = self._open(ctx, read)

        def push(change: ListingChange, data: ListingData | Exception) -> ListingReceipt | Exception:
            if isinstance(data, Exception):
                return data
            return change_outcome(lambda: self._bring(ctx, api, change, data))

        width = max(1, min(api.settings.outbox_delivery_concurrency, len(changes)))
        if width == 1:
            return [push(change, data) for change, data in zip(changes, found, strict=True)]
        with ThreadPoolExecutor(width, thread_name_prefix="alephee-ml-push") as pool:
            return list(pool.map(push, changes, found))

    def _bring(self, ctx: ChannelContext, api: Api, change: ListingChange, data: ListingData) -> ListingReceipt:
        """Deliver one listing change with its listing as read: create a pending item on a push (a status change
        waits for the creation, which publishes the status of that moment), else update the item."""
        if data.pending and isinstance(change, ListingStatusPush):
            return ListingReceipt(external_id=data.external_id, status=change.status, available_quantity=None)
        if data.pending and data.status == FINISHED:
            # Finished before it was ever published: there is nothing to create.
            return ListingReceipt(external_id=data.external_id, status="closed", available_quantity=0)
        if data.pending:
            return self._create(ctx, api, data, api.seller)
        if data.user_products:
            # Each item of a User Products family is pushed by its variation's child listing.
            return ListingReceipt(external_id=data.external_id, status=desired_status(data.status, None) or "")
        return self._update(api, data)

    def _category(self, ctx: ChannelContext, api: Api, data: ListingData, seller: Seller) -> str | None:
        """The seller's mapping of the product's category, else the cached prediction, else a new prediction
        (cached in its own short transaction)."""
        if data.mapped_category:
            return data.mapped_category
        if data.predicted_category:
            return data.predicted_category
        if not data.title.strip() or not seller.site_id:
            return None
        predictions = api.call(
            "predict a category",
            lambda c, t: c.predict_category(t, seller.site_id, data.title),
        )
        best = next((p for p in predictions if p.get("category_id")), None)
        if best is None:
            return None
        key = PREDICTED_PREFIX + normalised_title(data.title)
        with api.db.writing() as session:
            row = session.get(ChannelCategoryMapping, (ctx.account_id, ctx.marketplace.id, key))
            if row is None:
                row = ChannelCategoryMapping(account_id=ctx.account_id, marketplace_id=ctx.marketplace.id, category=key)
                session.add(row)
            row.external_category_id = str(best["category_id"])
            row.external_category_name = str(best.get("category_name") or "")[:200] or None
            row.source = SOURCE_PREDICTED
            row.updated_at = utcnow()
        return str(best["category_id"])

    def _create(self, ctx: ChannelContext, api: Api, data: ListingData, seller: Seller) -> ListingReceipt:
        """``POST /items`` from the listing and its product (with its variations when it is a variation master),
        then the description, and a pause when the seller paused it first; the variations' ids are kept on the
        listing's child listings."""
        price = data.price
        pictures = data.pictures
        missing: list[str] = []
        per_variation = False
        if data.variations:
            pictures = mlvar.item_pictures(data.pictures, data.variations)
            missing.extend(mlvar.missing_data(data.variations))
            per_variation = not missing and up.per_variation(data)
            if not missing and not per_variation:
                try:
                    price = mlvar.one_price(data.variations)
                except mlvar.DifferentPrices as exc:
                    raise PermanentDeliveryError(f"cannot publish on Mercado Libre: {exc}") from None
        if price is None and not data.variations:
            missing.append("price")
        if not pictures:
            missing.append("pictures")
        if not data.title.strip():
            missing.append("title")
        currency = ml.SITE_CURRENCIES.get(seller.site_id)
        if currency is None:
            missing.append(f"currency (site {seller.site_id or 'unknown'})")
        category = self._category(ctx, api, data, seller)
        if category is None:
            missing.append(
                f"category (none mapped for '{data.category}' and none predicted from the title)"
                if data.category
                else "category (none predicted from the title)"
            )
        if missing or (price is None and not per_variation):
            raise PermanentDeliveryError("cannot publish on Mercado Libre: missing " + ", ".join(missing))
        if per_variation and category is not None and currency is not None:
            return up.create_family(api, data, category, currency)
        attributes = [{"id": "SELLER_SKU", "value_name": data.seller_sku}]
        if data.brand:
            attributes.insert(0, {"id": "BRAND", "value_name": data.brand})
        if data.gtin:
            attributes.append({"id": "GTIN", "value_name": data.gtin})
        body: dict[str, Any] = {
            "title": data.title,
            "category_id": category,
            "price": wire_money(price),
            "currency_id": currency,
            "available_quantity": data.publish_quantity,
            "buying_mode": "buy_it_now",
            "condition": (data.condition or "new").lower(),
            "listing_type_id": listing_type_name(data.listing_type),
            "pictures": [{"source": url} for url in pictures],
            "attributes": attributes,
        }
        if data.variations:
            # The item's stock is its variations' sum: Mercado Libre takes it from them.
            del body["available_quantity"]
            body["variations"] = mlvar.variations_body(data.variations, price, pictures)
        item = api.call("publish the listing", lambda c, t: c.create_item(t, body))
        item_id = str(item.get("id") or "")
        if not item_id:
            raise PermanentDeliveryError("Mercado Libre created the item without an id")
        if data.variations:
            self._keep_variation_ids(api, data, item)
        if data.description:
            text = data.description
            api.call("add the listing's description", lambda c, t: c.create_description(t, item_id, text))
        status = str(item.get("status") or "active")
        last = item
        if desired_status(data.status, data.status_reason) == "paused" and status != "paused":
            # Paused by the seller before it was published: Mercado Libre creates items active.
            last = api.call("pause the listing", lambda c, t: c.update_item(t, item_id, {"status": "paused"}))
            status = str(last.get("status") or "paused")
        return ListingReceipt(
            external_id=item_id,
            status=status,
            available_quantity=ml.to_int(item.get("available_quantity")),
            state=ml.kept_state(last) or {},
            state_listing_id=data.listing_id,
        )

    @staticmethod
    def _keep_variation_ids(api: Api, data: ListingData, item: dict[str, Any]) -> None:
        """The new item's variation ids on the listing's child listings, matched by SKU, and the item's id on the
        listing, in a short write of their own: later pushes update each variation by its id, and a push of a
        variation never finds its item still to be created (which would create it twice)."""
        by_sku = mlvar.variation_ids(item)
        ids = {v.product_id: by_sku[v.sku] for v in data.variations if v.sku in by_sku}
        with api.db.writing() as session:
            parent = session.get(Listing, data.listing_id)
            if parent is not None:
                record_marketplace_id(session, parent.account_id, parent.id, str(item["id"]), None)
                record_variation_ids(session, parent, data.variations, ids)

    def _update(self, api: Api, data: ListingData) -> ListingReceipt:
        """Bring the item to the listing's state: compared with the item as last seen when the hub kept it,
        else (or when a push against the kept state is refused: it may be stale) with the item read now."""
        kept = data.kept
        if kept and kept.get("id") == data.external_id and not kept.get("variations"):
            try:
                return self._push(api, data, kept, fresh=False)
            except _StaleState:
                pass
        item_id = data.external_id
        item = api.call("read the listing", lambda c, t: c.get_item(t, item_id))
        return self._push(api, data, item, fresh=True)

    def _push(self, api: Api, data: ListingData, item: dict[str, Any], *, fresh: bool) -> ListingReceipt:
        """PUT what differs between ``item`` (read now when ``fresh``, else as kept) and the listing."""
        item_id = data.external_id
        seen = (ml.kept_state(item) or {}) if fresh else None  # a fresh read is kept; a kept state already is
        if item.get("status") == "closed":
            if data.status == FINISHED:
                return ListingReceipt(
                    item_id, "closed", ml.to_int(item.get("available_quantity")), None, seen, data.listing_id
                )
            raise PermanentDeliveryError(f"item {item_id} is closed on Mercado Libre (final: relist it as a new one)")
        changes = item_changes(item, data)
        if not changes:
            return ListingReceipt(
                item_id,
                str(item.get("status") or ""),
                ml.to_int(item.get("available_quantity")),
                None,
                seen,
                data.listing_id,
            )
        try:
            answer = api.raw(lambda c, t: c.update_item(t, item_id, changes))
        except MercadoLibreError as exc:
            if not exc.transient and "price" in changes and price_refused(exc):
                raise PermanentDeliveryError(f"price not updated: {exc.refusal()}") from None
            if not exc.transient and not fresh:
                raise _StaleState() from None
            raise delivery_error(exc, "update the listing") from None
        warnings = price_warnings(answer)
        if warnings and "price" in changes:
            raise PermanentDeliveryError("price not updated: " + "; ".join(warnings))
        return ListingReceipt(
            external_id=item_id,
            status=str(answer.get("status") or item.get("status") or ""),
            available_quantity=ml.to_int(answer.get("available_quantity")),
            # What the PUT answered is the item now; an answer that cannot be kept forgets the kept state.
            state=ml.kept_state(answer) or {},
            state_listing_id=data.listing_id,
        )

    # --- orders ---------------------------------------------------------------------------------------------

    def _full_order(
        self, api: Api, order_id: str, packs: dict[str, int], shipment: dict[str, Any] | None = None
    ) -> ChannelOrder:
        """An order with its shipment and its pack's size (``packs`` caches sizes across one call or one batch of
        notices; an order not tagged ``pack_order`` is its pack's only one, MLC-67)."""
        order = api.call("read an order", lambda c, t: c.get_order(t, order_id))
        shipping_id = ml.id_text((order.get("shipping") or {}).get("id"))
        if shipment is None and shipping_id:
            shipment = api.call("read a shipment", lambda c, t: c.get_shipment(t, shipping_id))
        pack_id = ml.id_text(order.get("pack_id"))
        size = None
        if pack_id:
            if not ml.in_cart(order):
                return ml.channel_order(order, shipment, packs.get(pack_id, 1))
            if pack_id not in packs:
                pack = api.call("read a pack", lambda c, t: c.get_pack(t, pack_id))
                packs[pack_id] = len([o for o in pack.get("orders") or [] if isinstance(o, dict)]) or 1
            size = packs[pack_id]
        return ml.channel_order(order, shipment, size)

    def pull_orders(self, ctx: ChannelContext, cursor: str | None, limit: int = 100) -> OrderPage:
        """The backstop of the ``orders_v2`` notifications: orders changed since the cursor (one hour of overlap,
        hour-truncated, as the search filter drops minutes), oldest first.

        The cursor is the latest ``date_last_updated`` seen (ISO); while a window has more pages it also carries
        the window's start and the next offset (``<latest> <window start> <offset>``).
        """
        latest, window, offset = parse_window_cursor(cursor, ml.parse_date, 0)
        if window is None:
            since = latest - ORDER_OVERLAP if latest is not None else utcnow() - FIRST_PULL
            window = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        page_size = max(1, min(limit, 50))
        window_text = window.strftime("%Y-%m-%dT%H:00:00.000+00:00")
        with self._api(ctx) as api:
            seller = api.seller
            found = api.call(
                "search orders",
                lambda c, t: c.search_orders(t, seller.seller_id, window_text, offset=offset, limit=page_size),
            )
            results = [r for r in found.get("results") or [] if isinstance(r, dict)]
            packs: dict[str, int] = {}
            orders = tuple(self._full_order(api, ml.id_text(r.get("id")) or "", packs) for r in results)
        for order in orders:
            if latest is None or order.date_updated > latest:
                latest = order.date_updated
        paging = found.get("paging") or {}
        total = ml.to_int(paging.get("total")) or 0
        has_more = bool(results) and offset + len(results) < total
        next_cursor = window_cursor(cursor, latest, window, offset + len(results), has_more)
        return OrderPage(orders=orders, cursor=next_cursor, has_more=has_more)

    def push_order_status(self, ctx: ChannelContext, update: OrderStatusPush) -> None:
        """Nothing to send: Mercado Envios moves ME2 shipments itself, and no seller write of ME1/custom
        tracking is documented."""
        return None

    # --- notifications and the seller's listings --------------------------------------------------------------

    def read_notice(self, ctx: ChannelContext, notice: ChannelNotice) -> NoticeResult:
        """Read what a notification points at, fresh from Mercado Libre."""
        with self._api(ctx) as api:
            return self._read_notice(api, notice)

    def read_notices(
        self, ctx: ChannelContext, notices: Sequence[ChannelNotice], *, concurrency: int = 1
    ) -> list[NoticeRead]:
        """Read a batch of one connection's notifications with one read of the connection: ``items`` through
        the multiget (``GET /items/bulk``, 20 per call), the others ``concurrency`` at once (an order is its
        order, shipment and pack: a few calls each)."""
        answers: list[NoticeRead | None] = [None] * len(notices)
        try:
            api, _nothing = self._open(ctx, lambda _session: None)
        except Exception as exc:  # the connection cannot be read: every notice says so
            return [exc] * len(notices)
        items: dict[str, list[int]] = {}
        others: list[int] = []
        for index, notice in enumerate(notices):
            item_id = _resource_id(notice) if notice.topic == "items" else ""
            if item_id:
                items.setdefault(item_id, []).append(index)
            else:
                others.append(index)
        ids = list(items)
        for start in range(0, len(ids), MAX_BULK_ITEMS):
            chunk = ids[start : start + MAX_BULK_ITEMS]
            try:
                found = self._items_bulk(api, chunk)
            except Exception as exc:  # the whole call failed: each of its notices says so
                found = dict.fromkeys(chunk, exc)
            for item_id in chunk:
                for index in items[item_id]:
                    answers[index] = found[item_id]
        # A pack's size is read once per batch: the orders of one cart come notified together.
        packs: dict[str, int] = {}
        read = read_each(
            [notices[i] for i in others], lambda notice: self._read_notice(api, notice, packs), concurrency
        )
        for index, answer in zip(others, read, strict=True):
            answers[index] = answer
        return [answer if answer is not None else PermanentDeliveryError("not read") for answer in answers]

    @staticmethod
    def _items_bulk(api: Api, ids: list[str]) -> dict[str, NoticeRead]:
        """Items read 20 at a time: each id's listing state, or the error Mercado Libre answered for it (a partial
        failure is normal); an id the answer leaves out is transient (read again later)."""
        found: dict[str, NoticeRead] = {}
        for element in api.call("read items", lambda c, t: c.items_bulk(t, ids)):
            body = element.get("body")
            item_id = ml.id_text(element.get("id")) or (ml.id_text(body.get("id")) if isinstance(body, dict) else None)
            if item_id is None or item_id not in ids:
                continue
            code = ml.to_int(element.get("status_code", element.get("code")))
            if code == 200 and isinstance(body, dict):
                found[item_id] = NoticeResult(listings=(ml.listing_state(body),))
            else:
                found[item_id] = delivery_error(error_of(code or 0, body), f"read item {item_id}")
        for item_id in ids:
            if item_id not in found:
                found[item_id] = TransientDeliveryError(f"Mercado Libre did not answer item {item_id} in a multiget")
        return found

    def _read_notice(self, api: Api, notice: ChannelNotice, packs: dict[str, int] | None = None) -> NoticeResult:
        topic = notice.topic
        resource_id = _resource_id(notice)
        if topic in ml_post_sale.TOPICS:
            return ml_post_sale.read_notice(api, notice)
        if topic in up.TOPICS:
            return up.ignored(topic)
        if topic not in FOLLOWED_ORDER_TOPICS | {"items", "shipments", "messages"}:
            return NoticeResult(ignored=f"topic {topic} not followed")
        if not resource_id:
            return NoticeResult(ignored=f"notification without a resource ({notice.resource!r})")
        if topic in FOLLOWED_ORDER_TOPICS:
            return NoticeResult(orders=(self._full_order(api, resource_id, {} if packs is None else packs),))
        if topic == "items":
            item = api.call("read an item", lambda c, t: c.get_item(t, resource_id))
            return NoticeResult(listings=(ml.listing_state(item),))
        if topic == "shipments":
            shipment = api.call("read a shipment", lambda c, t: c.get_shipment(t, resource_id))
            links = api.call("read a shipment's orders", lambda c, t: c.shipment_orders(t, resource_id))
            ids = list(dict.fromkeys(ml.id_text(link.get("order_id")) for link in links))
            known = {} if packs is None else packs
            orders = tuple(self._full_order(api, oid, known, shipment) for oid in ids if oid)
            return NoticeResult(orders=orders)
        return self._conversation(api, api.seller, notice.resource, resource_id)

    def missed_notices(self, ctx: ChannelContext) -> list[ChannelNotice]:
        """The notifications Mercado Libre kept for this application because they could not be delivered
        (``GET /missed_feeds``, two days), of the followed topics and this connection's seller; items are read
        one site at a time, as the API requires."""
        found: list[ChannelNotice] = []
        with self._api(ctx) as api:
            seller = api.seller
            app_id = api.settings.mercadolibre_client_id or ""
            for topic in MISSED_TOPICS:
                site = seller.site_id if topic == "items" else None
                for page in range(MISSED_PAGES):
                    batch = api.call(
                        "read the missed notifications",
                        lambda c, t, topic=topic, site=site, page=page: c.missed_feeds(
                            t, app_id, topic=topic, site_id=site, offset=page * MISSED_PAGE, limit=MISSED_PAGE
                        ),
                    )
                    for body in batch:
                        parsed = inbox.parse(body)
                        if parsed is not None and parsed.notice.seller_id == str(seller.seller_id):
                            found.append(parsed.notice)
                    if len(batch) < MISSED_PAGE:
                        break
        return found

    def _conversation(self, api: Api, seller: Seller, resource: str, resource_id: str) -> NoticeResult:
        """The messages of the pack a ``messages`` notification is about (the resource is the message id, or a
        ``/messages/packs/{pack}/...`` path)."""
        match = re.search(r"/packs/(\d+)", resource)
        pack_id = match.group(1) if match else None
        if pack_id is None:
            message = api.call("read a message", lambda c, t: c.get_message(t, resource_id))
            for element in message.get("message_resources") or []:
                if isinstance(element, dict) and element.get("name") in ("packs", "orders"):
                    pack_id = ml.id_text(element.get("id"))
                    break
        if pack_id is None:
            return NoticeResult(ignored=f"message {resource_id} names no pack")
        pack = pack_id
        conversation = api.call(
            "read a conversation", lambda c, t: c.get_messages(t, pack, seller.seller_id, limit=100)
        )
        messages = tuple(
            ml.channel_message(m, seller.seller_id, pack)
            for m in conversation.get("messages") or []
            if isinstance(m, dict)
        )
        return NoticeResult(messages=messages)

    def list_listings(self, ctx: ChannelContext, cursor: str | None, limit: int = 50) -> ListingPage:
        """The seller's items page by page (``search_type=scan``; the cursor is the ``scroll_id``, valid for
        five minutes), each read through ``/items/bulk`` 20 at a time."""
        with self._api(ctx) as api:
            seller = api.seller
            page = api.call(
                "list the seller's items",
                lambda c, t: c.search_items(t, seller.seller_id, scroll_id=cursor, limit=limit),
            )
            ids = [str(i) for i in page.get("results") or [] if i]
            states = []
            for start in range(0, len(ids), 20):
                chunk = ids[start : start + 20]
                for element in api.call("read items", lambda c, t, chunk=chunk: c.items_bulk(t, chunk)):
                    code = ml.to_int(element.get("status_code", element.get("code")))
                    body = element.get("body")
                    if code == 200 and isinstance(body, dict):
                        states.append(ml.listing_state(body))
        scroll = page.get("scroll_id")
        has_more = bool(ids) and bool(scroll)
        return ListingPage(listings=tuple(states), cursor=str(scroll) if has_more else None, has_more=has_more)

    # --- shipments, documents, messages ---------------------------------------------------------------------

    def fetch_label(self, ctx: ChannelContext, request: LabelRequest) -> ShippingLabel:
        """The shipment's label: TXT as ZPL, PDF as PDF, ZIP as both files in one zip."""
        fmt = (request.format or "PDF").upper()
        if fmt not in (*LABEL_TYPES, "ZIP"):
            raise PermanentDeliveryError(f"label format {request.format!r} is not TXT, PDF or ZIP")
        shipment_id = request.external_shipping_id
        if not shipment_id:
            facts = self._read(ctx, lambda s: order_facts(s, ctx, request.order))
            shipment_id = facts.external_shipping_id
        if not shipment_id:
            raise PermanentDeliveryError("the order has no Mercado Libre shipment yet")
        sid = shipment_id
        with self._api(ctx) as api:
            files: dict[str, tuple[bytes, str]] = {}
            for name in ("TXT", "PDF") if fmt == "ZIP" else (fmt,):
                kind = LABEL_TYPES[name][0]
                try:
                    files[name] = api.raw(lambda c, t, kind=kind: c.shipment_labels(t, [sid], kind))
                except MercadoLibreError as exc:
                    if "not_printable_status" in f"{exc.error} {exc.description} {exc.refusal()}":
                        raise PermanentDeliveryError(
                            f"the label of shipment {sid} cannot be printed in its current status: {exc.refusal()}"
                        ) from None
                    raise delivery_error(exc, "print the label") from None
        if fmt != "ZIP":
            content, _media = files[fmt]
            _kind, media, extension = LABEL_TYPES[fmt]
            return ShippingLabel(format=fmt, content=content, media_type=media, file_name=f"label-{sid}.{extension}")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, (content, _media) in files.items():
                archive.writestr(f"label-{sid}.{LABEL_TYPES[name][2]}", content)
        return ShippingLabel(
            format="ZIP", content=buffer.getvalue(), media_type="application/zip", file_name=f"label-{sid}.zip"
        )

    def upload_document(self, ctx: ChannelContext, document: DocumentUpload) -> DocumentReceipt:
        """Invoices go to the pack's fiscal documents outside Brazil; in Brazil an NF-e's XML is imported into
        the order's shipment (``documents.import_nfe``) and a PDF stays in the hub; receipts stay in the hub."""
        if document.document_type not in (INVOICE, NFE):
            return DocumentReceipt(forwarded=False)
        seller = self._read(ctx, lambda s: seller_of(s, ctx))
        extension = (document.extension or "pdf").lower().lstrip(".")
        if seller.site_id == BRAZIL and extension != "xml":
            return DocumentReceipt(forwarded=False)  # Brazil takes the NF-e's XML, never a PDF
        facts = self._read(ctx, lambda s: order_facts(s, ctx, document.order))
        content = documents.stored_content(self._hub(ctx)[1], document)
        if seller.site_id == BRAZIL:
            with self._api(ctx) as api:
                return documents.import_nfe(api, facts, content)
        media = document.content_type or ("application/xml" if extension == "xml" else "application/pdf")
        name = f"{document.document_number or 'invoice'}.{extension}"
        target = facts.pack_id or facts.external_order_id
        with self._api(ctx) as api:
            answer = api.call(
                "take the invoice",
                lambda c, t: c.upload_fiscal_document(t, target, name, content, media),
            )
        ids = [str(i) for i in answer.get("ids") or []]
        return DocumentReceipt(forwarded=True, external_document_id=",".join(ids) or None)

    def send_buyer_message(self, ctx: ChannelContext, message: BuyerMessage) -> None:
        """A post-sale message from the seller to the buyer of the order's pack (at most 350 characters)."""
        text = (message.text or "").strip()
        if not text:
            raise PermanentDeliveryError("the message has no text")
        if len(text) > MAX_MESSAGE_LENGTH:
            raise PermanentDeliveryError(
                f"Mercado Libre takes messages of at most {MAX_MESSAGE_LENGTH} characters ({len(text)} sent)"
            )
        seller = self._read(ctx, lambda s: seller_of(s, ctx))
        facts = self._read(ctx, lambda s: order_facts(s, ctx, message.order))
        pack = facts.pack_id or facts.external_order_id
        with self._api(ctx) as api:
            buyer_id = facts.buyer_id
            if buyer_id is None:
                order_id = facts.external_order_id
                order = api.call("read the order", lambda c, t: c.get_order(t, order_id))
                buyer_id = ml.to_int((order.get("buyer") or {}).get("id"))
            if buyer_id is None:
                raise PermanentDeliveryError(f"order {facts.external_order_id} names no buyer")
            to = buyer_id
            try:
                api.raw(lambda c, t: c.send_message(t, pack, seller.seller_id, to, text))
            except MercadoLibreError as exc:
                if exc.status == 403:
                    raise PermanentDeliveryError(
                        f"the conversation with the buyer is blocked on Mercado Libre: {exc.refusal()}"
                    ) from None
                raise delivery_error(exc, "send the message") from None

    # --- questions and claims -------------------------------------------------------------------------------

    def answer_question(self, ctx: ChannelContext, question_id: int, text: str) -> None:
        """The seller's answer to the hub's question ``question_id`` (``POST /answers``, at most 2,000
        characters), kept on the question as Mercado Libre then shows it."""
        with self._api(ctx) as api:
            ml_post_sale.answer(api, question_id, text)

    def pull_post_sale(self, ctx: ChannelContext) -> dict[str, int]:
        """The backstop of the ``questions`` and ``post_purchase`` notifications (``ml_post_sale.pull``)."""
        with self._api(ctx) as api:
            return ml_post_sale.pull(api)


def _resource_id(notice: ChannelNotice) -> str:
    """The id at the end of a notification's resource (``/orders/123`` → ``123``; "" when none)."""
    return notice.resource.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
