"""Applying the entries of one order feed to the hub's orders, inside the caller's transaction.

* **a new order** is stored through the orders domain (``orders.ingest.ingest_order``; its cart's
  ``IsCompletePackOrder`` is recomputed there). Unless it arrives already cancelled, the stock of what was
  sold is decremented atomically through ``products.stock.move_stocks`` (kits move their components, a
  variation master listing sells the variation whose SKU the line names, else the one with the most stock),
  which makes the listings follow (quantity pushed to the marketplaces, paused at MinPublicationQuantity)
  through the products→listings hook.
  The order remembers it moved stock (``stock_moved``), so it is done once per order.
* **a known order** gets the marketplace's news: the entry is translated into an
  ``orders.marketplace_news.MarketplaceNews`` (hub status, shipment, payments, claims, cart) and the orders
  domain applies it (``apply_marketplace_news``: status only along the transition table, shipment never
  backwards, stock given back once on cancellation, history rows with actor ``marketplace``, webhook
  events). Marketplace-side news moves ``status_date``, so the late-cancellation query
  (``statusType=99&statusDateFrom``) finds an integrated order cancelled later. Nothing is queued back to the
  marketplace.

Applying an entry is idempotent: an entry pulled twice finds the order already in that state and changes
nothing.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, or_, select, update
from sqlalchemy.orm import Session

from alephee import clock
from alephee.accounts.models import Account
from alephee.listings.models import Listing
from alephee.listings.publish import add_sold_quantity
from alephee.marketplaces.contract import ChannelOrder, MarketplaceRef
from alephee.marketplaces.models import Marketplace
from alephee.marketplaces.registry import has_channel, shared_channel
from alephee.orders import ingest as orders
from alephee.orders import shipping_rules as ship
from alephee.orders import statuses as st
from alephee.orders.marketplace_news import ACTOR, apply_marketplace_news
from alephee.orders.models import ORIGIN_MARKETPLACE, Order, history_row, insert_history
from alephee.products import hooks
from alephee.products import stock as products
from alephee.products.models import Brand, KitComponent, Product
from alephee.products.schemas import KIT, VARIATION_MASTER
from alephee.sync.translate import SaleLine, hub_status, news_of, order_detail, payment_pending, shipping_id

ERR_NOT_MARKETPLACE_ORDER = "the hub's order {id} with this number was created by {origin}, not by the marketplace"


def resolve_lines(
    session: Session,
    account_id: int,
    marketplace_id: int,
    order: ChannelOrder,
    preloaded: "Preloaded | None" = None,
) -> list[SaleLine]:
    """The order's items resolved against the catalog: each line's listing (by its external id), product (a
    master's variation, a kit's components) and brand; ``preloaded`` holds a batch's listings and products read
    beforehand (anything it lacks is read here)."""
    if preloaded is not None:
        listings = preloaded.listings
    else:
        listings = _listings(session, account_id, marketplace_id, {i.external_listing_id for i in order.items})
    lines: list[SaleLine] = []
    for item in order.items:
        if item.quantity <= 0:
            raise ValueError(f"item {item.external_listing_id} has quantity {item.quantity}")
        line = SaleLine(
            external_listing_id=item.external_listing_id,
            quantity=item.quantity,
            unit_price=item.unit_price,
            full_unit_price=item.full_unit_price,
            title=item.title,
            sku=item.sku,
            listing=listings.get(item.external_listing_id),
        )
        if line.listing is not None:
            _attach_product(
                session,
                account_id,
                line,
                line.listing.product_id,
                item.sku,
                item.external_variation_id,
                preloaded,
            )
        lines.append(line)
    return lines


def _listings(session: Session, account_id: int, marketplace_id: int, externals: set[str]) -> dict[str, Listing]:
    if not externals:
        return {}
    return {
        x.external_id: x
        for x in session.scalars(
            select(Listing).where(
                Listing.account_id == account_id,
                Listing.marketplace_id == marketplace_id,
                Listing.external_id.in_(sorted(externals)),
            )
        )
    }


def _products(session: Session, account_id: int, product_ids: set[int]) -> dict[int, tuple[Product, str]]:
    if not product_ids:
        return {}
    rows = session.execute(
        select(Product, Brand.name)
        .join(Brand, Brand.id == Product.brand_id)
        .where(Product.id.in_(sorted(product_ids)), Product.account_id == account_id)
    ).all()
    return {product.id: (product, brand) for product, brand in rows}


@dataclass(slots=True)
class Preloaded:
    """What a batch of entries needs from the database, read with one query each before applying them: the
    existing hub orders (by external id), the listings their items name (by external id) and those listings'
    products with their brand (by id)."""

    orders: dict[str, Order]
    listings: dict[str, Listing]
    products: dict[int, tuple[Product, str]]

    @classmethod
    def read(
        cls, session: Session, account_id: int, marketplace_id: int, entries: Sequence[ChannelOrder]
    ) -> "Preloaded":
        """Read the batch's rows; on PostgreSQL the orders are locked first, in id order, then the products they
        may move (``prelock``), as before applying them one by one."""
        query = (
            select(Order)
            .where(
                Order.account_id == account_id,
                Order.marketplace_id == marketplace_id,
                Order.external_order_id.in_(sorted({e.external_order_id for e in entries})),
            )
            .order_by(Order.id)
            .execution_options(populate_existing=True)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(of=Order)
        orders = {order.external_order_id: order for order in session.scalars(query)}
        prelock(session, account_id, marketplace_id, entries, orders=False)
        listings = _listings(
            session, account_id, marketplace_id, {i.external_listing_id for e in entries for i in e.items}
        )
        products = _products(session, account_id, {x.product_id for x in listings.values()})
        return cls(orders=orders, listings=listings, products=products)


def _attach_product(
    session: Session,
    account_id: int,
    line: SaleLine,
    product_id: int,
    sku: str | None = None,
    variation_id: str | None = None,
    preloaded: Preloaded | None = None,
) -> None:
    if preloaded is not None:
        row = preloaded.products.get(product_id)
    else:
        row = _products(session, account_id, {product_id}).get(product_id)
    if row is None:
        return
    product, brand = row
    if product.product_type == VARIATION_MASTER:
        # The variation whose SKU (or own code) the line names; else the one whose child listing has the
        # marketplace's variation id; else the one with the most stock.
        children = (
            select(Product, Brand.name)
            .join(Brand, Brand.id == Product.brand_id)
            .where(Product.parent_id == product.id, Product.account_id == account_id)
        )
        child = None
        if sku:
            child = session.execute(
                children.where(or_(Product.sku == sku, Product.own_code == sku))
                .order_by(case((Product.sku == sku, 0), else_=1), Product.id)
                .limit(1)
            ).first()
        if child is None and variation_id and line.listing is not None:
            listed = select(Listing.product_id).where(
                Listing.parent_id == line.listing.id, Listing.external_id == variation_id
            )
            child = session.execute(children.where(Product.id.in_(listed)).limit(1)).first()
        if child is None:
            child = session.execute(children.order_by(Product.quantity.desc(), Product.id).limit(1)).first()
        if child is None:
            line.product, line.brand = product, brand
            return
        product, brand = child
    line.product, line.brand, line.stock_product_id = product, brand, product.id
    if product.product_type == KIT:
        rows = session.execute(
            select(Product, Brand.name, KitComponent.quantity)
            .join(KitComponent, KitComponent.component_id == Product.id)
            .join(Brand, Brand.id == Product.brand_id)
            .where(KitComponent.kit_id == product.id)
            .order_by(Product.id)
        ).all()
        line.components = [(p, b, units) for p, b, units in rows]


class OrderSync:
    """Applies feed entries of one (account, marketplace) inside the caller's transaction."""

    def __init__(self, session: Session, account_id: int, marketplace: MarketplaceRef) -> None:
        self.session = session
        self.account_id = account_id
        self.ref = marketplace
        self._account: Account | None = None
        self._marketplace: Marketplace | None = None
        # The history rows of created orders, kept for one table-level insert when applying many (else None:
        # each is inserted with its order).
        self.history: list[dict[str, Any]] | None = None
        # When applying many (``apply_orders``): the batch's rows read beforehand, the carts of the created orders
        # and the units sold per listing, each written once at the end (else None: each order reads and writes
        # its own).
        self.preloaded: Preloaded | None = None
        self.packs: set[str] | None = None
        self.sold: dict[int, int] | None = None
        # When applying many: the new orders waiting to be stored together (``store_created``), by external id,
        # and their stock moves kept in memory and written together (``products.StockLedger``).
        self.created: dict[str, tuple[orders.NewOrder, datetime]] | None = None
        self.ledger: products.StockLedger | None = None
        # When applying many: what the new orders sold on each listing (listing id → the orders' ``date_created``
        # and units), for the channel's copies of the sold items (``lower_sold_copies``).
        self.sales: dict[int, list[tuple[datetime, int]]] | None = None

    @property
    def account(self) -> Account:
        if self._account is None:
            self._account = self.session.get(Account, self.account_id)
            if self._account is None:
                raise ValueError(f"account {self.account_id} does not exist")
        return self._account

    @property
    def marketplace(self) -> Marketplace:
        if self._marketplace is None:
            self._marketplace = self.session.get(Marketplace, self.ref.id)
            if self._marketplace is None:
                raise ValueError(f"marketplace {self.ref.id} does not exist")
        return self._marketplace

    def apply(self, entry: ChannelOrder) -> str:
        """Create or update the hub order of ``entry``: ``created``, ``updated`` or ``unchanged``."""
        if self.created and entry.external_order_id in self.created:
            self.store_created()  # a second entry of an order still waiting: it is an update of the stored row
        if self.preloaded is not None:
            order = self.preloaded.orders.get(entry.external_order_id)
        else:
            query = select(Order).where(
                Order.account_id == self.account_id,
                Order.external_order_id == entry.external_order_id,
                Order.marketplace_id == self.ref.id,
            )
            if self.session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update()
            order = self.session.scalar(query.execution_options(populate_existing=True))
        if order is None:
            self.create(entry)
            return "created"
        if order.origin != ORIGIN_MARKETPLACE:
            # An order the hub created (POST /v2/orders, B2B portal) under the same number: not this sale.
            raise ValueError(ERR_NOT_MARKETPLACE_ORDER.format(origin=order.origin, id=order.id))
        if self.ledger is not None:
            self.ledger.write()  # news may give stock back in the database: it starts from the moves so far
        return "updated" if self.update(order, entry) else "unchanged"

    # --- a new order

    def create(self, entry: ChannelOrder) -> Order | None:
        """Store ``entry`` as a new hub order with its stock moved; when applying many, the row waits for
        ``store_created`` (None is returned) so that the batch's new rows are written together."""
        now = clock.utcnow()
        status = hub_status(entry)
        if self.ledger is not None and self.ledger.pending and self._names_a_master(entry):
            self.ledger.write()  # a master's variation may be chosen by its stock, read from the database
        lines = resolve_lines(self.session, self.account_id, self.ref.id, entry, self.preloaded)
        moves: dict[int, products.StockMove] = {}
        moved = not st.is_cancelled(status)
        if moved:
            deltas: dict[int, int] = {}
            for line in lines:
                if line.stock_product_id is not None:
                    deltas[line.stock_product_id] = deltas.get(line.stock_product_id, 0) - line.quantity
            # Atomic decrements (ascending ids); the listings follow through the products hook.
            if self.ledger is not None:
                moves = self.ledger.move(deltas)
            else:
                moves = products.move_stocks(self.session, self.account_id, deltas)
            for line in lines:
                if line.listing is None:
                    continue
                if self.sold is None:
                    add_sold_quantity(self.session, line.listing.id, line.quantity)
                else:
                    self.sold[line.listing.id] = self.sold.get(line.listing.id, 0) + line.quantity
                if self.sales is not None:
                    self.sales.setdefault(line.listing.id, []).append((entry.date_created, line.quantity))
        detail = order_detail(self.account, self.marketplace, entry, lines, status, moves, now)
        logistic = ship.logistic_type_code(entry.logistic_type)
        new = orders.NewOrder(
            account_id=self.account_id,
            marketplace_id=self.ref.id,
            external_order_id=entry.external_order_id,
            detail=detail,
            status=status,
            sale_date=entry.date_created,
            origin=ORIGIN_MARKETPLACE,
            pack_id=entry.pack_id,
            pack_size=entry.pack_size,
            payment_pending=payment_pending(entry),
            logistic_type=logistic,
            external_shipping_id=shipping_id(entry.external_shipping_id),
            shipment_status=entry.shipping_status,
            shipment_substatus=entry.shipping_substatus,
            stock_moved=moved and bool(moves),
        )
        if self.created is not None:
            self.created[entry.external_order_id] = (new, now)
            return None
        order = orders.ingest_order(self.session, new, packs=self.packs)
        self._created_history([(order, now)])
        return order

    def _names_a_master(self, entry: ChannelOrder) -> bool:
        """Whether a line of ``entry`` names a listing of a variation master (or one not read beforehand)."""
        if self.preloaded is None:
            return True
        for item in entry.items:
            listing = self.preloaded.listings.get(item.external_listing_id)
            product = self.preloaded.products.get(listing.product_id) if listing is not None else None
            if listing is not None and (product is None or product[0].product_type == VARIATION_MASTER):
                return True
        return False

    def store_created(self) -> None:
        """Store the new orders waiting since ``create`` (one insert and one detail write for all of them)."""
        if not self.created:
            return
        waiting = list(self.created.values())
        self.created.clear()
        stored = orders.ingest_orders(self.session, [new for new, _now in waiting], packs=self.packs)
        if self.preloaded is not None:
            self.preloaded.orders.update((order.external_order_id, order) for order in stored)
        self._created_history([(order, now) for order, (_new, now) in zip(stored, waiting, strict=True)])

    def _created_history(self, created: list[tuple[Order, datetime]]) -> None:
        rows = [
            history_row(order, ACTOR, "create", now, to_status=order.status, integrated=order.integrated)
            for order, now in created
        ]
        if self.history is None:
            insert_history(self.session, rows)
        else:
            self.history.extend(rows)

    # --- news about a known order

    def update(self, order: Order, entry: ChannelOrder) -> bool:
        """Apply the marketplace's news of ``entry`` to a known order; whether anything changed."""
        return apply_marketplace_news(
            self.session, self.account_id, order, news_of(entry), family=self.marketplace.family
        )


def apply_orders(
    session: Session, account_id: int, marketplace: MarketplaceRef, entries: Sequence[ChannelOrder]
) -> int:
    """Apply many feed entries of one (account, marketplace) in the caller's transaction, as one ingestion: the
    rows they touch locked first (``prelock``), each entry through ``OrderSync``, the created orders' history in
    one insert and the catalog's listeners told once at the end (each listing refreshed once with its final
    stock). Returns how many orders changed."""
    if not entries:
        return 0
    sync = OrderSync(session, account_id, marketplace)
    sync.history, sync.packs, sync.sold, sync.created, sync.sales = [], set(), {}, {}, {}
    sync.preloaded = Preloaded.read(session, account_id, marketplace.id, entries)
    sync.ledger = products.StockLedger(session, account_id)
    sync.ledger.read({listing.product_id for listing in sync.preloaded.listings.values()})
    changed = 0
    with hooks.gathered(session):
        for entry in entries:
            changed += sync.apply(entry) != "unchanged"
        sync.store_created()
        sync.ledger.write()
        _add_sold_quantities(session, sync.sold)
    orders.refresh_packs(session, account_id, sync.packs)
    insert_history(session, sync.history)
    lower_channel_copies(session, marketplace, sync.sales)
    return changed


def lower_channel_copies(
    session: Session, marketplace: MarketplaceRef, sales: dict[int, list[tuple[datetime, int]]]
) -> int:
    """Tell the marketplace's channel what the new orders sold (listing id → the orders' ``date_created`` and
    units), in the orders' transaction, when its channel lowers its copies of the sold items itself
    (``lower_sold_copies``, SYNC-31: a marketplace that lowers its own stock on a sale then gets no push of a
    quantity it already shows); how many copies it lowered (0 for a channel without the rule)."""
    if not sales or not has_channel(marketplace.connector):
        return 0
    lower = getattr(shared_channel(marketplace.connector), "lower_sold_copies", None)
    return int(lower(session, sales)) if lower is not None else 0


def _add_sold_quantities(session: Session, sold: dict[int, int]) -> None:
    """``add_sold_quantity`` for many listings in one statement run over them (in id order, as the listings'
    other writers take them)."""
    if not sold:
        return
    listings = Listing.__table__
    session.connection().execute(
        update(listings)
        .where(listings.c.id == bindparam("listing"))
        .values(sold_quantity=listings.c.sold_quantity + bindparam("units")),
        [{"listing": listing_id, "units": sold[listing_id]} for listing_id in sorted(sold)],
    )


def prelock(
    session: Session, account_id: int, marketplace_id: int, entries: Sequence[ChannelOrder], *, orders: bool = True
) -> None:
    """PostgreSQL: lock, in ascending id order, the hub orders of ``entries`` (unless ``orders`` is False: the
    caller reads and locks them itself) and every product they may move (listed products, kit components,
    variations of masters), as the other writers of those tables do, so a page never waits in a cycle with an
    ERP batch (SQLite serialises writers anyway)."""
    if session.get_bind().dialect.name != "postgresql" or not entries:
        return
    if orders:
        externals = sorted({e.external_order_id for e in entries})
        session.execute(
            select(Order.id)
            .where(
                Order.account_id == account_id,
                Order.marketplace_id == marketplace_id,
                Order.external_order_id.in_(externals),
            )
            .order_by(Order.id)
            .with_for_update(of=Order)
        ).all()
    listed = sorted({i.external_listing_id for e in entries for i in e.items})
    products_ = set(
        session.scalars(
            select(Listing.product_id).where(
                Listing.account_id == account_id,
                Listing.marketplace_id == marketplace_id,
                Listing.external_id.in_(listed),
            )
        )
    )
    if not products_:
        return
    ids = sorted(products_)
    products_ |= set(session.scalars(select(KitComponent.component_id).where(KitComponent.kit_id.in_(ids))))
    products_ |= set(session.scalars(select(Product.id).where(Product.parent_id.in_(ids))))
    session.execute(
        select(Product.id)
        .where(Product.id.in_(sorted(products_)), Product.account_id == account_id)
        .order_by(Product.id)
        .with_for_update(of=Product)
    ).all()
