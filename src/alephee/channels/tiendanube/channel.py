"""The Tiendanube channel: what the worker delivers through, and what notifications and linking read.

Every operation first reads what it needs from the hub's database in a short ``ctx.db.reading()`` block, then
calls the store with no transaction open through ``calls.Api`` over the process's one ``TiendanubeClient``
(paced per store): a connection missing, paused or disconnected holds the row (``ConnectionHeld``), a 401
disconnects it and a 402 pauses it (held too), 429/5xx/network failures are transient and the rest permanent
with what the store refused.

Choices where the API leaves room (docs/compatibility.md, ``TN-5x``):

- A hub listing is one Tiendanube product. A normal product is its single variant; a variation master's
  variations are its variants, option names from the attributes the variations differ in. The product id is the
  listing's external id (kept by the outbox's record path). An update reads the product (``GET /products/{id}``)
  and matches its variants to the hub's by SKU, so a variant the hub does not know is never touched and an
  unchanged listing costs no write; the product as last seen is kept on the listing (``kept``), so that a batch
  of price/stock-only changes (``push_listings``) is sent without those reads, many products per
  ``stock-price`` call, and a refused variant sends its listing through the read again.
- Price and stock go through ``PATCH /products/stock-price`` (≤ 50 variants a call) with absolute values, so a
  sale the store already counted is never counted twice: the hub's own decrement makes both sides agree and no
  write is sent. A variant with infinite stock (``stock: null``) keeps it; every per-variant refusal is
  collected and the delivery fails naming each SKU (the listing's error), after the others were applied.
- A variation the hub adds later is added with ``POST /products/{id}/variants``; the whole variant list is never
  ``PUT`` (it would delete the variants left out). A variation whose SKU changed in the hub renames the store's
  variant with the same option values (``PUT …/variants/{id}``) when that pair is unambiguous.
- Notices: a batch's ``product/*`` events read their products 30 per ``GET /products?ids=`` call (the echoes of
  the hub's own writes are most of them), an order's events in a batch read it once.
- Edits after publishing: a changed name, description or brand goes out as one ``PUT /products/{id}`` with only
  those fields (never ``variants``), a variant's changed barcode or option values by ``PUT …/variants/{id}``;
  nothing is written for what the store already shows. In a batch, a product-level edit the kept copy tells goes
  without reading the product (``_edit_group``).
- A store with several stock locations gets the hub's stock at the account's chosen location (else its default)
  and is read at it; the other locations are the store's (``upkeep`` reads them; one location: no
  ``location_id``, as before).
- Status: an active listing (or one paused only for stock: zero stock stops sales) is ``published``; a seller's
  pause, a missing price or a finished listing unpublish it (Tiendanube has no closed products).
- Creating re-checks the first SKU (``GET /products/sku/{sku}``) so a retried create never makes a second
  product: an existing one is adopted and brought to the hub's state.
- Orders: ``read_notice`` fetches ``GET /orders/{id}`` for every ``order/*`` event; hub status pushes become
  ``pack`` (10, 17), ``fulfill`` with tracking (20), ``fulfill`` + ``close`` (80) and ``cancel`` (90, reason
  ``other``, restock, buyer e-mailed) — on stores using a dated API version (``2025-03``) through the fulfillment
  orders (``PACKED``, ``DISPATCHED`` with ``tracking_info``, ``DELIVERED``) instead of v1 ``pack``/``fulfill``.
  A closed order is reopened (``open``) before a shipping step; steps already done are skipped.
- Labels: Tiendanube shipping is the seller's own, the hub draws the label.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, timedelta
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from alephee.channels import connections
from alephee.channels.tiendanube import auth, fulfilment, kept, upkeep
from alephee.channels.tiendanube import mapping as tn
from alephee.channels.tiendanube.calls import Api, path_part
from alephee.channels.tiendanube.client import TiendanubeClient, TiendanubeError, as_datetime
from alephee.channels.tiendanube.facts import ListingData, external_order_id, listing_data, listing_statuses
from alephee.clock import precise_utcnow, utcnow
from alephee.config import Settings
from alephee.db import Database
from alephee.errors import DomainError
from alephee.listings.query import prefetch_listings
from alephee.listings.statuses import ACTIVE
from alephee.marketplaces.contract import (
    BaseChannel,
    ChannelContext,
    ChannelNotice,
    ConnectionHeld,
    DeliveryError,
    ListingChange,
    ListingPage,
    ListingPush,
    ListingReceipt,
    ListingState,
    ListingStatusPush,
    NoticeRead,
    NoticeResult,
    OrderPage,
    OrderStatusPush,
    PermanentDeliveryError,
    TransientDeliveryError,
    change_outcome,
    parse_window_cursor,
    read_each,
    window_cursor,
)

T = TypeVar("T")
ClientFactory = Callable[[Settings], TiendanubeClient]

CONNECTOR = auth.CONNECTOR
# ``PATCH /products/stock-price`` takes at most this many variants per call (spec §2.9).
STOCK_PRICE_BATCH = 50
ORDER_EVENTS = frozenset(
    {
        "order/created",
        "order/updated",
        "order/paid",
        "order/packed",
        "order/fulfilled",
        "order/cancelled",
        "order/edited",
        "order/pending",
        "order/voided",
        "order/unpacked",
    }
)
PRODUCT_EVENTS = frozenset({"product/created", "product/updated", "product/deleted"})
# The product events whose products a batch reads many per call (``GET /products?ids=``, at most 30 ids: spec
# §2.3); a deletion is read alone (the list would only leave it out).
BATCHED_PRODUCT_EVENTS = frozenset({"product/created", "product/updated"})
PRODUCTS_PER_READ = 30
# The order backstop re-reads this much before its cursor, and starts this far back without one.
ORDER_OVERLAP = timedelta(minutes=5)
FIRST_PULL = timedelta(days=2)
ORDER_PAGE = 50
# A status name the hub's listings have no name for: a notice carrying it leaves the hub's status as it is.
HIDDEN = "hidden"


class TiendanubeChannel(BaseChannel):
    """The Tiendanube/Nuvemshop connector (``Marketplace.connector`` ``tiendanube``).

    ``client_factory`` builds the HTTP client of one API base (a test passes one on a mock transport).
    """

    connector = CONNECTOR
    in_database = False
    labels_from_marketplace = False
    assigns_listing_ids = True
    sends_current_state = True

    def __init__(self, client_factory: ClientFactory | None = None) -> None:
        self._client_factory: ClientFactory = client_factory or TiendanubeClient
        self._shared: TiendanubeClient | None = None
        self._languages: dict[tuple[str, int], tuple[str, ...]] = {}
        self._lock = threading.Lock()

    # --- plumbing -------------------------------------------------------------------------------------------

    @staticmethod
    def _hub(ctx: ChannelContext) -> tuple[Database, Settings]:
        if ctx.db is None or ctx.settings is None:
            raise TransientDeliveryError("the Tiendanube connector needs the hub's database and settings")
        return ctx.db, ctx.settings

    @staticmethod
    def _read(ctx: ChannelContext, read: Callable[[Session], T]) -> T:
        db, _settings = TiendanubeChannel._hub(ctx)
        try:
            with db.reading() as session:
                return read(session)
        except connections.ConnectionNotFound as exc:
            raise ConnectionHeld(exc.message) from None
        except DomainError as exc:
            raise PermanentDeliveryError(exc.message) from None

    def _client(self, settings: Settings) -> TiendanubeClient:
        """One client for the process (its connection pool and the stores' pacing buckets, keyed by API base and
        store, shared by the threads): every call names its store and base."""
        with self._lock:
            if self._shared is None:
                self._shared = self._client_factory(settings)
            return self._shared

    @contextmanager
    def _store(self, ctx: ChannelContext) -> Iterator[Api]:
        _db, settings = self._hub(ctx)
        with Api.open(ctx, self._client(settings)) as api:
            yield api

    def _store_languages(self, store: Api) -> tuple[str, ...]:
        """The store's content languages (``GET /store``, read once per process and store)."""
        key = (store.store.api_url, store.store.store_id)
        with self._lock:
            known = self._languages.get(key)
        if known is not None:
            return known
        answer = store.call("read the store", lambda c, a: c.get(a, "/store"))
        languages = tn.store_languages(answer if isinstance(answer, dict) else {})
        with self._lock:
            self._languages[key] = languages
        return languages

    # --- listings -------------------------------------------------------------------------------------------

    def publish_listing(self, ctx: ChannelContext, listing: ListingPush) -> ListingReceipt:
        """Create the product (listing still ``pending-``) or bring it to the listing's current state."""
        data = self._read(ctx, lambda s: listing_data(s, ctx, listing.listing_id, listing.external_id))
        return self._deliver(ctx, data)

    def set_listing_status(self, ctx: ChannelContext, change: ListingStatusPush) -> ListingReceipt:
        """Publish or unpublish the product (and send its current price and stock with it)."""
        data = self._read(ctx, lambda s: listing_data(s, ctx, change.listing_id, change.external_id))
        return self._deliver(ctx, data)

    def _deliver(self, ctx: ChannelContext, data: ListingData) -> ListingReceipt:
        with self._store(ctx) as store:
            return self._bring(store, data)

    def _bring(self, store: Api, data: ListingData) -> ListingReceipt:
        """Create the product, or read it and bring it to the listing's state."""
        if data.pending and data.finished:
            # Finished before it was ever published: there is nothing to create.
            return ListingReceipt(external_id=data.external_id, status="closed", available_quantity=0)
        if data.pending:
            return self._create(store, data)
        product = store.find("read the product", lambda c, a: c.get(a, f"/products/{tn.to_int(data.external_id) or 0}"))
        if not isinstance(product, dict):
            raise PermanentDeliveryError(f"product {data.external_id} no longer exists on Tiendanube")
        return self._update(store, data, product)

    def push_listings(self, ctx: ChannelContext, changes: Sequence[ListingChange]) -> list[ListingReceipt | Exception]:
        """Many changes of one account (the worker's batched delivery). Every listing and the connection are read
        in one read transaction. Listings whose change is only price and stock, as compared with the product's
        kept copy (``kept``), go together in ``PATCH /products/stock-price`` calls of at most 50 variants, with no
        read of the product; a variant the store refuses sends its listing through a fresh read (its copy may
        be stale). The others (creations, publication changes, no copy) are delivered one by one as alone, their
        products read 30 per call first."""
        _db, settings = self._hub(ctx)
        with Api.open(ctx, self._client(settings)) as store:

            def read(session: Session) -> list[ListingData | Exception]:
                store.load_store(session)
                # Referenced while read: the session holds its rows weakly.
                loaded = prefetch_listings(session, [c.listing_id for c in changes if c.listing_id is not None])
                found = [
                    change_outcome(lambda c=change: listing_data(session, ctx, c.listing_id, c.external_id))
                    for change in changes
                ]
                del loaded
                return found

            found = self._read(ctx, read)
            results: list[ListingReceipt | Exception | None] = [None] * len(changes)
            grouped: dict[int, tuple[ListingData, list[tn.VariantChange]]] = {}
            edits: dict[int, dict[str, Any]] = {}
            languages: tuple[str, ...] | None = None
            for place, data in enumerate(found):
                if isinstance(data, Exception):
                    results[place] = data
                    continue
                if languages is None and isinstance(data.kept, dict):
                    languages = self._store_languages(store)
                from_copy = kept.copy_changes(data, languages or ())
                if from_copy is not None:
                    grouped[place] = (data, from_copy[0])
                    if from_copy[1]:
                        edits[place] = from_copy[1]
            self._stock_price_group(store, grouped, results)
            self._edit_group(store, grouped, edits, results)
            alone = [(p, d) for p, d in enumerate(found) if results[p] is None and isinstance(d, ListingData)]
            products = self._products_of(store, [d for _place, d in alone if not d.pending])
            for place, data in alone:
                product = None if data.pending else products.get(tn.to_int(data.external_id) or 0)
                if product is not None:
                    results[place] = change_outcome(lambda d=data, p=product: self._update(store, d, p))
                else:
                    results[place] = change_outcome(lambda data=data: self._bring(store, data))
        return [r if r is not None else PermanentDeliveryError("not delivered") for r in results]

    @staticmethod
    def _products_of(store: Api, listings: Sequence[ListingData]) -> dict[int, dict[str, Any]]:
        """The products of several listings to read, 30 per ``GET /products?ids=`` call (one listing alone is
        read as ``_bring`` reads it). A product the list leaves out, or a call that fails, is left to that
        listing's own read (which says what is wrong)."""
        ids = sorted({i for i in (tn.to_int(d.external_id) for d in listings) if i is not None})
        found: dict[int, dict[str, Any]] = {}
        if len(ids) < 2:
            return found
        for start in range(0, len(ids), PRODUCTS_PER_READ):
            chunk = ids[start : start + PRODUCTS_PER_READ]
            params = {"ids": ",".join(str(i) for i in chunk), "per_page": PRODUCTS_PER_READ}
            try:
                listed = store.call("read products", lambda c, a, params=params: c.get(a, "/products", params))
            except DeliveryError:
                continue
            for product in listed if isinstance(listed, list) else []:
                product_id = tn.to_int(product.get("id")) if isinstance(product, dict) else None
                if product_id in chunk:
                    found[product_id] = product
        return found

    def _stock_price_group(
        self,
        store: Api,
        grouped: dict[int, tuple[ListingData, list[tn.VariantChange]]],
        results: list[ListingReceipt | Exception | None],
    ) -> None:
        """Send the grouped listings' variant changes in ``stock-price`` calls of at most 50 variants and fill in
        their results; a listing with a refused variant is left without one (it is read and sent alone). A call
        that fails as a whole (429, 5xx) fails the listings it carried; a connection lost raises for all."""
        owner: dict[int, int] = {}
        every: list[tn.VariantChange] = []
        for place, (_data, variant_changes) in grouped.items():
            for change in variant_changes:
                owner[change.variant_id] = place
                every.append(change)
        refused: dict[int, str] = {}
        failed: dict[int, Exception] = {}
        # Versioned before the writes: a change the store makes after them is newer than the copy.
        version = tn.version_of(precise_utcnow())
        for start in range(0, len(every), STOCK_PRICE_BATCH):
            part = every[start : start + STOCK_PRICE_BATCH]
            body = tn.stock_price_batches(part, STOCK_PRICE_BATCH, store.location)[0]
            try:
                answer = store.call(
                    "update price and stock", lambda c, a, body=body: c.patch(a, "/products/stock-price", body)
                )
            except ConnectionHeld:
                raise
            except DeliveryError as exc:
                if exc.transient:  # retried later, with the store's wait
                    failed.update((owner[c.variant_id], exc) for c in part)
                else:  # refused as a whole: each listing of the call is read and sent alone, so only its own fails
                    refused.update((c.variant_id, exc.message) for c in part)
                continue
            for vid, reason in tn.failed_variants(answer):
                if vid is None:  # a refusal naming no variant: every listing of the call is read and sent alone
                    refused.update((c.variant_id, reason) for c in part)
                else:
                    refused[vid] = reason
        for place, (data, variant_changes) in grouped.items():
            if place in failed:
                results[place] = failed[place]
            elif any(c.variant_id in refused for c in variant_changes):
                continue  # read now and sent alone: the kept copy may be stale
            else:
                copy = data.kept or {}
                results[place] = ListingReceipt(
                    external_id=data.external_id,
                    status="active" if copy.get("published") else "paused",
                    available_quantity=sum(max(0, v.stock) for v in data.product.variants),
                    # Nothing sent: the stored copy stays as it is.
                    state=kept.applied(copy, variant_changes, (), version=version) if variant_changes else None,
                    state_listing_id=data.listing_id,
                )

    @staticmethod
    def _edit_group(
        store: Api,
        grouped: dict[int, tuple[ListingData, list[tn.VariantChange]]],
        edits: dict[int, dict[str, Any]],
        results: list[ListingReceipt | Exception | None],
    ) -> None:
        """Send the product-level edits the kept copies tell (name, description, brand: one ``PUT /products/{id}``
        holding only the changed fields, no read first) of the grouped listings whose price and stock went
        through; the copy then holds what was written. A listing left to be read and sent alone makes its edit
        there; a refused edit fails its listing."""
        version = tn.version_of(precise_utcnow())
        for place, body in edits.items():
            receipt = results[place]
            if not isinstance(receipt, ListingReceipt):
                continue
            data = grouped[place][0]
            path = f"/products/{tn.to_int(data.external_id) or 0}"
            try:
                store.call("update the product", lambda c, a, path=path, body=body: c.put(a, path, body))
            except ConnectionHeld:
                raise
            except DeliveryError as exc:
                results[place] = exc
                continue
            copy = receipt.state or data.kept or {}
            results[place] = replace(receipt, state=kept.edited(copy, body, version=version))

    def _create(self, store: Api, data: ListingData) -> ListingReceipt:
        missing = tn.missing_for_publish(data.product)
        if missing:
            raise PermanentDeliveryError("cannot publish on Tiendanube: missing " + ", ".join(missing))
        first_sku = data.product.variants[0].sku
        existing = store.find("look the SKU up", lambda c, a: c.get(a, f"/products/sku/{path_part(first_sku)}"))
        if isinstance(existing, dict) and tn.to_int(existing.get("id")) is not None:
            # Already there (a create retried after a lost answer, or the seller's own product): adopt it.
            return self._update(store, data, existing)
        languages = self._store_languages(store)
        body = tn.product_body(data.product, languages, store.location)
        body["published"] = data.published
        created = store.call("publish the product", lambda c, a: c.post(a, "/products", body))
        if not isinstance(created, dict) or tn.to_int(created.get("id")) is None:
            raise PermanentDeliveryError("Tiendanube created the product without an id")
        return replace(
            self._receipt(created, store.location),
            state=tn.kept_state(created, location_id=store.location) or {},
            state_listing_id=data.listing_id,
        )

    def _update(self, store: Api, data: ListingData, product: dict[str, Any]) -> ListingReceipt:
        read = product
        product_id = tn.to_int(product.get("id")) or 0
        wanted = data.by_sku()
        changes: list[tn.VariantChange] = []
        seen: set[str] = set()
        for variant, hub in _matched(data, product):
            seen.add(hub.sku)
            change = tn.variant_change(product_id, variant, hub.price, hub.stock, store.location)
            if change is not None:
                changes.append(change)
        problems: list[str] = []
        renamed: list[tuple[dict[str, Any], tn.VariantIn]] = []
        if data.product.options and len(seen) < len(wanted):
            renamed = _renamed(data, product, seen, self._store_languages(store))
        for variant, hub in renamed:
            seen.add(hub.sku)
            change = tn.variant_change(product_id, variant, hub.price, hub.stock, store.location)
            if change is not None:
                changes.append(change)
        problems += self._rename_variants(store, product_id, renamed)
        added = [v for sku, v in wanted.items() if sku not in seen]
        if added and data.product.options:
            problems += self._add_variants(store, product_id, data, added)
        refused: set[int] = set()
        version = tn.version_of(precise_utcnow())
        for batch in tn.stock_price_batches(changes, STOCK_PRICE_BATCH, store.location):
            answer = store.call(
                "update price and stock", lambda c, a, batch=batch: c.patch(a, "/products/stock-price", batch)
            )
            by_id = {c.variant_id: c.sku for c in changes}
            failures = tn.failed_variants(answer)
            refused.update(vid for vid, _reason in failures if vid is not None)
            problems += [f"{by_id.get(vid) or vid}: {reason}" for vid, reason in failures]
        problems += self._edit_variants(store, product_id, data, product)
        edits = self._product_edits(store, data, product)
        published = data.published and not data.finished
        if (product.get("published") is not False) != published:
            edits["published"] = published
        if edits:
            product = store.call("update the product", lambda c, a: c.put(a, f"/products/{product_id}", edits))
        if problems:
            raise PermanentDeliveryError("Tiendanube did not apply: " + "; ".join(problems))
        receipt = self._receipt(product if isinstance(product, dict) else {"id": product_id}, store.location)
        # The copy of the product as read, with what was written (versioned then); after variants were added it is
        # forgotten (their ids are only known from the next read).
        state = None if added and data.product.options else tn.kept_state(read, location_id=store.location)
        if state is not None and edits:
            # What the edit wrote is what the store shows now: without it the next change would see the edit
            # still to make and read the product again instead of going in a grouped call.
            state = {**state, **{key: edits[key] for key in tn.KEPT_PRODUCT_KEYS if key in edits}}
        wrote = bool(changes) or (read.get("published") is not False) != published
        if state is not None and wrote:
            state = kept.applied(state, changes, refused, version=version, published=published)
        return ListingReceipt(
            receipt.external_id,
            receipt.status,
            sum(max(0, v.stock) for v in wanted.values()),
            state=state if state is not None else {},
            state_listing_id=data.listing_id,
        )

    def _product_edits(self, store: Api, data: ListingData, product: dict[str, Any]) -> dict[str, Any]:
        """The product-level fields (name, description, brand) the store shows differently from the hub: the
        ``PUT /products/{id}`` body without ``variants`` (``{}`` when nothing changed: no write)."""
        return tn.product_edits(data.product, product, self._store_languages(store))

    def _edit_variants(self, store: Api, product_id: int, data: ListingData, product: dict[str, Any]) -> list[str]:
        """Bring each known variant's barcode and option values (and a SKU it lacks) to the hub's, one ``PUT
        /products/{id}/variants/{id}`` per variant that differs; what the store refused."""
        languages: tuple[str, ...] | None = None
        problems: list[str] = []
        for variant, hub in _matched(data, product):
            variant_id = tn.to_int(variant.get("id"))
            if variant_id is None:
                continue
            languages = languages or self._store_languages(store)
            body = tn.variant_edits(variant, hub, languages)
            if not body:
                continue
            path = f"/products/{product_id}/variants/{variant_id}"
            refused = store.call(
                "update a variant", lambda c, a, body=body, path=path: _refusal(lambda: c.put(a, path, body))
            )
            if refused is not None:
                problems.append(f"{hub.sku}: {refused}")
        return problems

    @staticmethod
    def _rename_variants(store: Api, product_id: int, renamed: list[tuple[dict[str, Any], tn.VariantIn]]) -> list[str]:
        """Give each variant whose SKU changed in the hub the hub's SKU (``PUT /products/{id}/variants/{id}``);
        what the store refused."""
        problems: list[str] = []
        for variant, hub in renamed:
            path = f"/products/{product_id}/variants/{tn.to_int(variant.get('id')) or 0}"
            body = {"sku": hub.sku}
            refused = store.call(
                "rename a variant", lambda c, a, body=body, path=path: _refusal(lambda: c.put(a, path, body))
            )
            if refused is not None:
                problems.append(f"{hub.sku}: {refused}")
        return problems

    def _add_variants(self, store: Api, product_id: int, data: ListingData, added: list[tn.VariantIn]) -> list[str]:
        """Add the variations the product lacks, one ``POST /products/{id}/variants`` each; what was refused."""
        languages = self._store_languages(store)
        problems: list[str] = []
        for variant in added:
            single = tn.ProductIn(name=data.product.name, variants=(variant,), options=data.product.options)
            missing = tn.missing_for_publish(single)
            if missing:
                problems.append(f"{variant.sku}: missing " + ", ".join(missing))
                continue
            body = tn.product_body(single, languages, store.location)["variants"][0]
            refused = store.call(
                "add a variant",
                lambda c, a, body=body: _refusal(lambda: c.post(a, f"/products/{product_id}/variants", body)),
            )
            if refused is not None:
                problems.append(f"{variant.sku}: {refused}")
        return problems

    @staticmethod
    def _receipt(product: dict[str, Any], location_id: str | None) -> ListingReceipt:
        state = tn.listing_state(product, location_id=location_id)
        return ListingReceipt(
            external_id=state.external_id,
            status="active" if product.get("published") is not False else "paused",
            available_quantity=state.available_quantity,
            permalink=state.permalink,
        )

    # --- linking and notifications --------------------------------------------------------------------------

    def list_listings(self, ctx: ChannelContext, cursor: str | None, limit: int = 50) -> ListingPage:
        """The store's products page by page (``GET /products``; the cursor is the next page number)."""
        page = max(1, tn.to_int(cursor) or 1)
        per_page = max(1, min(limit, 200))
        with self._store(ctx) as store:
            main = self._store_languages(store)[0]
            location = store.location
            answer = store.call(
                "list the store's products",
                lambda c, a: c.request(a, "GET", "/products", params={"page": page, "per_page": per_page}),
            )
        products = [p for p in answer.body or [] if isinstance(p, dict)] if isinstance(answer.body, list) else []
        has_more = 'rel="next"' in answer.headers.get("link", "") or len(products) >= per_page
        states = tuple(tn.listing_state(p, main, location) for p in products)
        return ListingPage(listings=states, cursor=str(page + 1) if has_more else None, has_more=has_more)

    def read_notice(self, ctx: ChannelContext, notice: ChannelNotice) -> NoticeResult:
        """Read what an event points at, fresh from the store (the event's body is never trusted)."""
        topic = notice.topic
        if topic not in ORDER_EVENTS | PRODUCT_EVENTS:
            return NoticeResult(ignored=f"event {topic} not followed")
        resource_id = tn.to_int(notice.resource.rstrip("/").rsplit("/", 1)[-1])
        if resource_id is None:
            return NoticeResult(ignored=f"event without a resource id ({notice.resource!r})")
        with self._store(ctx) as store:
            if topic in ORDER_EVENTS:
                order = store.find("read an order", lambda c, a: c.get(a, f"/orders/{resource_id}"))
                if not isinstance(order, dict):
                    return NoticeResult(ignored=f"order {resource_id} is not in the store")
                return NoticeResult(orders=(tn.channel_order(order),))
            product = store.find("read a product", lambda c, a: c.get(a, f"/products/{resource_id}"))
            if not isinstance(product, dict):
                # Deleted in the store: the hub's listing is finished.
                return NoticeResult(listings=(ListingState(external_id=str(resource_id), status="closed"),))
            main = self._store_languages(store)[0]
            location = store.location
        state = tn.listing_state(product, main, location)
        return NoticeResult(listings=self._hub_hidden(ctx, [state]))

    def _hub_hidden(self, ctx: ChannelContext, states: Sequence[ListingState]) -> tuple[ListingState, ...]:
        """The states read, a product hidden because the hub hid it (its pause, no price, finished) told as
        ``hidden`` so the hub's status and reason stay (the hub's statuses read in one transaction)."""
        hidden = [s.external_id for s in states if s.status == "paused" and "paused_by_seller" in s.sub_status]
        if not hidden:
            return tuple(states)
        hub = self._read(ctx, lambda s: listing_statuses(s, ctx, hidden))
        return tuple(
            replace(s, status=HIDDEN, sub_status=())
            if s.external_id in hidden and hub.get(s.external_id, ACTIVE) != ACTIVE
            else s
            for s in states
        )

    def read_notices(
        self, ctx: ChannelContext, notices: Sequence[ChannelNotice], *, concurrency: int = 1
    ) -> list[NoticeRead]:
        """Read a batch of one store's notices: the products that ``product/created`` and ``product/updated``
        point at many per call (``GET /products?ids=…``, 30 a call; a product named by several notices read
        once), so the echo each write of the hub causes costs a thirtieth of a call, not one; the others (orders,
        deletions) ``concurrency`` at once as ``read_notice`` reads them, an order named by several events once.
        A product the list leaves out is read alone (a deleted one closes its listing)."""
        products: dict[int, list[int]] = {}
        # The other notices by what they read: an order's events (``order/created`` and ``order/paid`` of one
        # sale) all read the same ``GET /orders/{id}``, once.
        others: dict[tuple[str, str], list[int]] = {}
        for index, notice in enumerate(notices):
            resource = notice.resource.rstrip("/").rsplit("/", 1)[-1]
            product_id = tn.to_int(resource)
            if notice.topic in BATCHED_PRODUCT_EVENTS and product_id is not None:
                products.setdefault(product_id, []).append(index)
            else:
                family = "order" if notice.topic in ORDER_EVENTS else notice.topic
                others.setdefault((family, resource), []).append(index)
        answers: list[NoticeRead | None] = [None] * len(notices)
        if products:
            for product_id, answer in self._read_products(ctx, list(products)).items():
                for index in products[product_id]:
                    answers[index] = answer
        places = list(others.values())
        read = read_each([notices[p[0]] for p in places], lambda notice: self.read_notice(ctx, notice), concurrency)
        for same, answer in zip(places, read, strict=True):
            for index in same:
                answers[index] = answer
        return [answer if answer is not None else PermanentDeliveryError("not read") for answer in answers]

    def _read_products(self, ctx: ChannelContext, ids: list[int]) -> dict[int, NoticeRead]:
        """Each product's listing state, read ``PRODUCTS_PER_READ`` per call; an id the list leaves out is read
        alone (``GET /products/{id}``: gone → closed); a failed call is the answer of each of its ids."""
        found: dict[int, dict[str, Any] | None] = {}
        failed: dict[int, NoticeRead] = {}
        try:
            with self._store(ctx) as store:
                for start in range(0, len(ids), PRODUCTS_PER_READ):
                    chunk = ids[start : start + PRODUCTS_PER_READ]
                    params = {"ids": ",".join(str(i) for i in chunk), "per_page": PRODUCTS_PER_READ}
                    try:
                        listed = store.call("read products", lambda c, a, params=params: c.get(a, "/products", params))
                    except ConnectionHeld:
                        raise
                    except DeliveryError as exc:
                        failed.update(dict.fromkeys(chunk, exc))
                        continue
                    for product in listed if isinstance(listed, list) else []:
                        product_id = tn.to_int(product.get("id")) if isinstance(product, dict) else None
                        if product_id in chunk:
                            found[product_id] = product
                    for product_id in chunk:
                        if product_id not in found:
                            try:
                                found[product_id] = store.find(
                                    "read a product", lambda c, a, pid=product_id: c.get(a, f"/products/{pid}")
                                )
                            except ConnectionHeld:
                                raise
                            except DeliveryError as exc:
                                failed[product_id] = exc
                main = self._store_languages(store)[0] if found else None
                location = store.location
        except Exception as exc:  # the connection cannot be used: every product not read yet says so
            return {product_id: failed.get(product_id, exc) for product_id in ids}
        states = [
            tn.listing_state(product, main, location)
            if isinstance(product, dict)
            # Deleted in the store: the hub's listing is finished.
            else ListingState(external_id=str(product_id), status="closed")
            for product_id, product in found.items()
        ]
        try:
            told = self._hub_hidden(ctx, states)
        except Exception as exc:  # the hub's statuses could not be read: the products are read again later
            return {product_id: failed.get(product_id, exc) for product_id in ids}
        answers: dict[int, NoticeRead] = dict(failed)
        for product_id, state in zip(found, told, strict=True):
            answers[product_id] = NoticeResult(listings=(state,))
        return answers

    # --- upkeep ---------------------------------------------------------------------------------------------

    def reconcile(self, ctx: ChannelContext) -> str:
        """The store's periodic upkeep (the backstop's, and ``alephee channel sync``): its webhooks made to be
        the hub's again (missing ones created, wrong URLs pointed at this hub, duplicates deleted) and its stock
        locations read again. What it did, in a line."""
        db, settings = self._hub(ctx)
        url = auth.webhook_url(settings)
        with self._store(ctx) as store:
            report = store.call("reconcile the webhooks", lambda c, a: auth.ensure_webhooks(c, a, url))
            found = store.call("read the locations", upkeep.read_locations)
        with db.writing() as session:
            kept = upkeep.save_locations(session, ctx.account_id, ctx.marketplace.id, found)
        where = kept.stock_location or "the only location"
        return (
            f"webhooks: {len(report.created)} created, {len(report.fixed)} fixed, {len(report.removed)} removed; "
            f"{len(kept.known)} location(s), stock to {where}"
        )

    # --- orders ---------------------------------------------------------------------------------------------

    def pull_orders(self, ctx: ChannelContext, cursor: str | None, limit: int = 100) -> OrderPage:
        """The backstop of the order events: orders updated since the cursor (five minutes of overlap). The
        cursor is the latest ``updated_at`` seen (ISO); while a window has more pages it also carries the window's
        start and the next page (``<latest> <window start> <page>``)."""
        latest, window, page = parse_window_cursor(cursor, as_datetime, 1)
        if window is None:
            since = latest - ORDER_OVERLAP if latest is not None else utcnow() - FIRST_PULL
            window = since.astimezone(UTC).replace(microsecond=0)
        per_page = max(1, min(limit, ORDER_PAGE))
        params = {"updated_at_min": window.isoformat(), "page": page, "per_page": per_page}
        with self._store(ctx) as store:
            found = store.call("search orders", lambda c, a: c.get(a, "/orders", params))
        orders = (
            tuple(tn.channel_order(o) for o in found or [] if isinstance(o, dict)) if isinstance(found, list) else ()
        )
        for order in orders:
            if latest is None or order.date_updated > latest:
                latest = order.date_updated
        has_more = len(orders) >= per_page
        next_cursor = window_cursor(cursor, latest, window, page + 1, has_more)
        return OrderPage(orders=orders, cursor=next_cursor, has_more=has_more)

    def push_order_status(self, ctx: ChannelContext, update: OrderStatusPush) -> None:
        """The hub's status of an order on the store (see the module docstring); steps already done are
        skipped, so a repeated push changes nothing."""
        status = update.status
        if status not in fulfilment.SENT_STATUSES:
            return None
        order_id = tn.to_int(self._read(ctx, lambda s: external_order_id(s, ctx, update.order)))
        if order_id is None:
            raise PermanentDeliveryError(f"order {update.order.external_order_id} is not a Tiendanube order")
        with self._store(ctx) as store:
            fulfilment.send_status(store, order_id, update)
        return None


# --- helpers ------------------------------------------------------------------------------------------------


def _matched(data: ListingData, product: dict[str, Any]) -> Iterator[tuple[dict[str, Any], tn.VariantIn]]:
    """Each variant of the store's product with the hub's variant it is, by SKU; a product without options is
    its one variant whatever SKU the store gave it (linked by own code, or its SKU changed in the hub).
    Variants the hub does not know are left out (never touched)."""
    wanted = data.by_sku()
    variants = [v for v in product.get("variants") or [] if isinstance(v, dict)]
    single = not data.product.options and len(variants) == 1 and len(wanted) == 1
    for variant in variants:
        hub = next(iter(wanted.values())) if single else wanted.get(str(variant.get("sku") or "").strip())
        if hub is not None:
            yield variant, hub


def _renamed(
    data: ListingData, product: dict[str, Any], seen: set[str], languages: Sequence[str]
) -> list[tuple[dict[str, Any], tn.VariantIn]]:
    """The store's variants whose SKU changed in the hub: a hub variant no store variant has the SKU of, paired
    with the one store variant showing the same option values whose SKU is none of the hub's (the variation was
    renamed, not added). Ambiguous pairs (several such variants, or several hub variants with those values) are
    left out: they are added as before, never guessed."""
    hub_skus = set(data.by_sku())
    loose = [
        v
        for v in product.get("variants") or []
        if isinstance(v, dict)
        and tn.to_int(v.get("id")) is not None
        and str(v.get("sku") or "").strip() not in hub_skus
    ]
    main = languages[0] if languages else tn.DEFAULT_LANGUAGE

    def values(variant: dict[str, Any]) -> tuple[str, ...]:
        return tuple((tn.pick_language(v, main) or "").strip() for v in variant.get("values") or [])

    unmatched = [hub for sku, hub in data.by_sku().items() if sku not in seen]
    pairs = []
    for hub in unmatched:
        key = tuple(v.strip() for v in hub.values)
        same_store = [v for v in loose if values(v) == key]
        same_hub = [h for h in unmatched if tuple(v.strip() for v in h.values) == key]
        if key and len(same_store) == 1 and len(same_hub) == 1:
            pairs.append((same_store[0], hub))
    return pairs


def _refusal(send: Callable[[], Any]) -> str | None:
    """Send one write and answer the store's refusal of it (a validation error), None when accepted; errors that
    are not about the write itself (401, 402, 429, 5xx) pass through."""
    try:
        send()
    except TiendanubeError as exc:
        if exc.transient or exc.unauthorized or exc.payment_required:
            raise
        return exc.refusal()
    return None
