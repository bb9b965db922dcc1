"""Stock and price propagation from the catalog to listings (registered in ``products.hooks``), and a change of
texts to the listings of the channels that send them (``push_texts``).

A product change recomputes its listings' AvailableQuantity (the product's PublishQuantity) and, for
listings following the catalog price, their Price. A product without a price in the listing's price list
pauses it (reason ``no_price``: never sold for nothing), stock at or below MinPublicationQuantity pauses it
(reason ``stock``); a price arriving or restocking reactivates only those pauses. Every listing that changes
gets one outbox row for its marketplace, in the writer's transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Text, any_, bindparam, cast, delete, func, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from alephee import clock
from alephee.db import BulkStatement, RowWriter, among, arrays
from alephee.listings import events as webhook_events
from alephee.listings import rules, statuses
from alephee.listings.models import Listing, ListingDiscount
from alephee.listings.schemas import LISTING_TYPES
from alephee.marketplaces.models import Marketplace
from alephee.marketplaces.outbox import Outgoing, enqueue, enqueue_many
from alephee.products import hooks
from alephee.products.batch import array_literal, in_list
from alephee.products.hooks import CatalogChange
from alephee.products.models import Product, ProductPrice
from alephee.products.price_lists import default_price_list_query, sale_prices
from alephee.products.stock import masters_of, stock_snapshots

TOPIC_UPDATE = "listing.update"
TOPIC_STATUS = "listing.status"
ML_FAMILY = "mercadolibre"
# The connectors that send a product's texts (name, description, brand, barcodes, variation values) after
# publishing, so a change of texts alone is delivered to their listings. Mercado Libre's updates carry only
# price, stock and status: a text change there would be a useless write.
TEXT_CONNECTORS = frozenset({"tiendanube"})


def lock_listings(session: Session, stmt: Any) -> list[Listing]:
    """Listings of ``stmt`` locked in id order (``FOR UPDATE`` on PostgreSQL) and freshly loaded."""
    stmt = stmt.order_by(Listing.id).execution_options(populate_existing=True)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=Listing)
    return list(session.scalars(stmt))


def on_catalog_change(session: Session, change: CatalogChange) -> None:
    """The ``products.hooks`` listener: refresh every listing of the changed products. A variation's new price
    also pushes its master's listings, which carry the variations' prices (their own price is unchanged). A
    change of texts pushes the listings of the channels that send them (``TEXT_CONNECTORS``)."""
    pushed = _refresh_products(session, change)
    if change.text_product_ids or change.former_names:
        push_texts(session, change, pushed)


def _refresh_products(session: Session, change: CatalogChange) -> set[int]:
    """Refresh the listings of the products whose stock or price changed; the ids of the listings given an
    outbox row."""
    masters = masters_of(session, change.price_product_ids)
    ids = change.stock_product_ids | change.price_product_ids | masters
    # The writer's locked products without a listing have nothing to refresh (``listed_probe``).
    if (unprobed := hooks.without_probed(session, hooks.LISTED_PROBE, ids)) is not None:
        ids = unprobed
    if not ids:
        return set()
    conn = session.connection()
    dialect = conn.dialect.name
    if dialect != "postgresql":
        # Most catalog changes touch products without listings: a cheap id probe spares the ORM load and its
        # expanding IN. (PostgreSQL reads the listings with one array parameter, which costs no more.)
        condition, params = in_list(conn, "product_id", sorted(ids))
        if conn.exec_driver_sql(f"SELECT 1 FROM listings WHERE {condition} LIMIT 1", params).first() is None:
            return set()
    listings, bases, family = _lock_with_prices(session, change.account_id, sorted(ids))
    if not listings:
        return set()
    changed = refresh(session, change.account_id, listings, bases=bases, family=family)
    for listing in listings:
        if listing.product_id in masters and listing.id not in changed and listing.status != statuses.FINISHED:
            publish_change(session, listing, ["Price"])
            changed.add(listing.id)
    return changed


def listed_probe(ids_sql: str) -> tuple[str, str]:
    """The products among ``ids_sql`` with an unfinished listing (``hooks.AHEAD_PROBE_NAMES``): run right after
    a writer locks them, so a catalog change of products without listings skips the listings' read and lock."""
    finished = statuses.FINISHED
    sql = f"SELECT DISTINCT product_id FROM listings WHERE product_id = ANY({ids_sql}) AND status <> '{finished}'"
    return hooks.LISTED_PROBE, sql


def _lock_with_prices(
    session: Session, account_id: int, product_ids: list[int]
) -> tuple[list[Listing], dict[int, Decimal], dict[int, str]]:
    """The unfinished listings of ``product_ids`` locked in id order (as ``lock_listings``) with, in the same
    statement, what ``refresh`` would read next: each listing's base price (``base_prices``: its price list's,
    else the account's default list's, read under the lock like the listing) and its marketplace's family."""
    dialect = session.get_bind().dialect.name
    default = default_price_list_query(account_id).scalar_subquery()
    stmt = (
        select(Listing, ProductPrice.price_with_taxes, Marketplace.family)
        .outerjoin(Marketplace, Marketplace.id == Listing.marketplace_id)
        .outerjoin(
            ProductPrice,
            (ProductPrice.product_id == Listing.product_id)
            & (ProductPrice.price_list_id == func.coalesce(Listing.price_list_id, default)),
        )
        .where(_of_products(product_ids, dialect), Listing.status != statuses.FINISHED)
        .order_by(Listing.id)
        .execution_options(populate_existing=True)
    )
    if dialect == "postgresql":
        stmt = stmt.with_for_update(of=Listing)
    listings: list[Listing] = []
    bases: dict[int, Decimal] = {}
    family: dict[int, str] = {}
    for listing, base, marketplace_family in session.execute(stmt):
        listings.append(listing)
        if base is not None:
            bases[listing.id] = base
        if marketplace_family is not None:
            family[listing.marketplace_id] = marketplace_family
    return listings, bases, family


def _of_products(product_ids: list[int], dialect: str) -> Any:
    """``Listing.product_id`` among ``product_ids``: on PostgreSQL one array literal (``batch.array_literal``;
    psycopg's dumping of a batch's 500 ids costs more than the query), elsewhere ``db.among``."""
    if dialect != "postgresql":
        return among(Listing.product_id, product_ids, dialect)
    ids = cast(bindparam(None, array_literal(product_ids), type_=Text()), postgresql.ARRAY(BigInteger))
    return Listing.product_id == any_(ids)


def push_texts(session: Session, change: CatalogChange, pushed: Collection[int] = ()) -> None:
    """Bring a change of texts to the listings on the channels that send texts after publishing: a listing
    titled after a renamed product's former name takes the new name (a title of its own is kept), and each
    listing whose title changed, or whose product's (or, for a variation master, a variation's) other texts
    changed, gets one ``listing.update`` row, but for ``pushed`` (listings already given a row in this change,
    which delivers their current texts too)."""
    former = dict(change.former_names)
    texts = set(change.text_product_ids)
    # A master's listings carry its variations' barcodes and values.
    texts |= masters_of(session, texts)
    dialect = session.get_bind().dialect.name
    listings = lock_listings(
        session,
        select(Listing)
        .join(Marketplace, Marketplace.id == Listing.marketplace_id)
        .where(
            among(Listing.product_id, sorted(texts | former.keys()), dialect),
            Listing.status != statuses.FINISHED,
            Marketplace.connector.in_(sorted(TEXT_CONNECTORS)),
        ),
    )
    if not listings:
        return
    names: dict[int, str] = {}
    renamed = sorted({x.product_id for x in listings} & former.keys())
    if renamed:
        found = session.execute(select(Product.id, Product.name).where(Product.id.in_(renamed)))
        names = {product_id: name for product_id, name in found}
    now = clock.utcnow()
    pushes: list[Outgoing] = []
    for listing in listings:
        changed = ["Texts"] if listing.product_id in texts else []
        name = names.get(listing.product_id)
        # Publishing titles a listing with its product's name cut to the column (``listings.publish``).
        if name and listing.title == former[listing.product_id][:300] and listing.title != name[:300]:
            listing.title = name[:300]
            listing.updated_at = now
            changed.append("Title")
        if changed and listing.id not in pushed:
            pushes.append(change_row(listing, changed))
    enqueue_many(session, pushes)
    session.flush()


def on_default_price_list_change(session: Session, account_id: int) -> None:
    """The ``accounts`` listener: listings naming no price list take their price from the new default list
    (paused when it has no price for their product, reactivated when it has)."""
    listings = lock_listings(
        session,
        select(Listing).where(
            Listing.account_id == account_id, Listing.price_list_id.is_(None), Listing.status != statuses.FINISHED
        ),
    )
    if listings:
        refresh(session, account_id, listings)


def default_price_list(session: Session, account_id: int) -> int | None:
    """The account's default (or first) price list."""
    return session.scalar(default_price_list_query(account_id))


def families(session: Session, marketplace_ids: Collection[int]) -> dict[int, str]:
    """Channel family of each marketplace (``mercadolibre`` applies the ML rules)."""
    if not marketplace_ids:
        return {}
    rows = session.execute(
        select(Marketplace.id, Marketplace.family).where(Marketplace.id.in_(sorted(marketplace_ids)))
    )
    return {mid: family for mid, family in rows}


def base_prices(session: Session, account_id: int, listings: Sequence[Listing]) -> dict[int, Decimal]:
    """The catalog base price (PriceWithTaxes in the listing's price list) of each listing that has one."""
    default = default_price_list(session, account_id)
    wanted = {x.price_list_id or default for x in listings} - {None}
    prices = sale_prices(session, {x.product_id for x in listings}, wanted)  # type: ignore[arg-type]
    out: dict[int, Decimal] = {}
    for listing in listings:
        base = prices.get((listing.product_id, listing.price_list_id or default))
        if base is not None:
            out[listing.id] = base
    return out


def refresh(
    session: Session,
    account_id: int,
    listings: Sequence[Listing],
    now: datetime | None = None,
    *,
    new: bool = False,
    bases: dict[int, Decimal] | None = None,
    family: dict[int, str] | None = None,
) -> set[int]:
    """Recompute quantity, auto price and automatic pauses (stock, no price) of ``listings`` (locked);
    returns the changed ids. ``bases`` and ``family``: the listings' base prices and their marketplaces'
    families when the caller read them with the locked rows (``base_prices``, ``families`` otherwise).

    The rows are locked, so the changed listings are written with one statement (``_write_listings``) instead
    of the ORM's one UPDATE per listing and column set; their events and outbox rows follow, in one flush.
    """
    now = now or clock.utcnow()
    snapshots = stock_snapshots(session, {x.product_id for x in listings})
    if bases is None:
        bases = base_prices(session, account_id, listings)
    if family is None:
        family = families(session, {x.marketplace_id for x in listings})
    changed_ids: set[int] = set()
    # (listing, what changed, status before, status changed) in the listings' order.
    changes: list[tuple[Listing, list[str], str | None, bool]] = []
    with session.no_autoflush:
        for listing in listings:
            if listing.status == statuses.FINISHED or listing.product_id not in snapshots:
                continue
            changed: list[str] = []
            quantity = snapshots[listing.product_id].publish_quantity
            if listing.available_quantity != quantity:
                listing.available_quantity = quantity
                changed.append("AvailableQuantity")
            if listing.price_mode == "auto" and listing.id in bases:
                price = rules.auto_price(bases[listing.id], listing.margin, listing.added_fixed_value)
                if price != listing.price:
                    raised = listing.price is not None and price > listing.price
                    listing.price = price
                    changed.append("Price")
                    if (
                        raised
                        and family.get(listing.marketplace_id) == ML_FAMILY
                        and drop_discounts(session, listing, now)
                    ):
                        changed.append("Discount")
            reason = listing.status_reason
            status_changed = apply_automatic_status(listing, quantity, has_price(listing, bases), now)
            # The stored status, still known to the session until ``_write_listings`` marks the new one stored.
            previous = webhook_events.stored_status(listing) if status_changed else None
            if changed or status_changed or listing.status_reason != reason:
                listing.updated_at = now
                changes.append((listing, changed, previous, status_changed))
                changed_ids.add(listing.id)
    _write_listings(session, [listing for listing, *_ in changes])
    for listing, _, previous, status_changed in changes:
        if status_changed:
            webhook_events.listing_status_changed(session, listing, previous)
    # A listing the marketplace does not know yet always gets the full update.
    enqueue_many(
        session,
        [
            change_row(listing, changed or ["Status"], status_only=not changed and not new)
            for listing, changed, *_ in changes
        ],
    )
    session.flush()
    return changed_ids


# The columns ``refresh`` changes, written for every changed listing (the rows are locked and freshly loaded,
# so the unchanged ones are written with the values they have).
_REFRESHED = ("available_quantity", "price", "status", "status_reason", "status_updated_at", "updated_at")
_SQL_REFRESHED = BulkStatement(
    "UPDATE listings SET available_quantity = ?, price = ?, status = ?, status_reason = ?, status_updated_at = ?,"
    " updated_at = ? WHERE id = ?",
    "UPDATE listings AS l SET available_quantity = v.q, price = v.price, status = v.status, status_reason = v.reason,"
    " status_updated_at = v.status_at, updated_at = v.t"
    f" FROM unnest({arrays('integer', 'numeric', 'varchar', 'varchar', 'timestamptz', 'timestamptz', 'integer')})"
    " AS v(q, price, status, reason, status_at, t, id) WHERE l.id = v.id",
)


def _write_listings(session: Session, listings: Sequence[Listing]) -> None:
    """Write the refreshed columns of ``listings`` with one statement and mark them as stored, so the session
    does not write them again. Listings not in the database yet are left to the session's flush."""
    stored = [x for x in listings if sa_inspect(x).persistent]
    if not stored:
        return
    writer = RowWriter(session.connection())
    writer.executemany(
        _SQL_REFRESHED,
        [
            (
                x.available_quantity,
                writer.money(x.price),
                x.status,
                x.status_reason,
                writer.stamp(x.status_updated_at),
                writer.stamp(x.updated_at),
                x.id,
            )
            for x in stored
        ],
    )
    for x in stored:
        for name in _REFRESHED:
            set_committed_value(x, name, getattr(x, name))


def has_price(listing: Listing, bases: dict[int, Decimal]) -> bool:
    """Whether ``listing`` has a price it may be sold at: a fixed one (PUT /v2/productlistings), or a catalog
    base price in its price list (``bases`` from ``base_prices``)."""
    if listing.price_mode == "fixed":
        return listing.price is not None
    return listing.id in bases


def apply_automatic_status(listing: Listing, publish_quantity: int, priced: bool, now: datetime) -> bool:
    """Pause an active listing without a price or with nothing to publish; reactivate one the hub paused (no
    price, stock) once the cause is gone. Pauses by the seller or the marketplace are left alone. Returns
    whether the status changed (a paused listing may only change its reason)."""
    reason = statuses.automatic_pause_reason(priced=priced, publish_quantity=publish_quantity)
    if listing.status == statuses.ACTIVE and reason is not None:
        listing.status, listing.status_reason = statuses.PAUSED, reason
    elif listing.status == statuses.PAUSED and listing.status_reason in statuses.AUTOMATIC_REASONS:
        if reason is not None:
            listing.status_reason = reason
            return False
        listing.status, listing.status_reason = statuses.ACTIVE, None
    else:
        return False
    listing.status_updated_at = now
    return True


def drop_discounts(session: Session, listing: Listing, now: datetime) -> bool:
    """Mercado Libre removes a discount when the item price is raised (CF-50.2.5): drop current and
    future discounts of the listing. Returns whether any was dropped."""
    result = session.execute(
        delete(ListingDiscount).where(ListingDiscount.listing_id == listing.id, ListingDiscount.finish_at > now)
    )
    return bool(getattr(result, "rowcount", 0))


def publish_change(session: Session, listing: Listing, changed: Sequence[str], *, status_only: bool = False) -> None:
    """One outbox row for a listing change (payload keys per ``marketplaces.topics.listing_push``)."""
    row = change_row(listing, changed, status_only=status_only)
    enqueue(
        session,
        account_id=row.account_id,
        marketplace_id=row.marketplace_id,
        topic=row.topic,
        aggregate_type=row.aggregate_type,
        aggregate_id=row.aggregate_id,
        payload=row.payload,
    )


def change_row(listing: Listing, changed: Sequence[str], *, status_only: bool = False) -> Outgoing:
    """The outbox row of a listing change: its status alone, or its full published state."""
    if status_only:
        payload = {
            "listing_id": listing.id,
            "external_id": listing.external_id,
            "status": listing.status,
            "status_reason": listing.status_reason,
        }
    else:
        payload = listing_payload(listing, changed)
    return Outgoing(
        account_id=listing.account_id,
        marketplace_id=listing.marketplace_id,
        topic=TOPIC_STATUS if status_only else TOPIC_UPDATE,
        aggregate_type="listing",
        aggregate_id=listing.id,
        payload=payload,
    )


def listing_payload(listing: Listing, changed: Sequence[str], **extra: Any) -> dict[str, Any]:
    """The full published state of a listing, as the channels read it."""
    listing_type = LISTING_TYPES.get(listing.listing_type)[0] if listing.listing_type in LISTING_TYPES else None
    return {
        "listing_id": listing.id,
        "external_id": listing.external_id,
        "product_id": listing.product_id,
        "sku": listing.sku,
        "title": listing.title,
        # None until the catalog gives a price (the listing is then paused, reason no_price).
        "price": str(Decimal(listing.price).quantize(rules.CENT)) if listing.price is not None else None,
        "quantity": listing.available_quantity,
        "status": listing.status,
        "status_reason": listing.status_reason,
        "listing_type": listing_type,
        "changed": list(changed),
        **extra,
    }
