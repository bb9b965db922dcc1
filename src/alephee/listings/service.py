"""Business rules of the listings domain: search, price updates, status changes, discounts, publishing.

Writers resolve every element's listings first (no locks), then lock all of them at once in id order
(``FOR UPDATE`` on PostgreSQL) before changing anything, so two batches never wait on each other in a
cycle; catalog writers lock products first and listings (in id order) second.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import Session

from alephee import clock
from alephee.accounts.models import AccountMarketplace
from alephee.config import Settings
from alephee.errors import InvalidInput, NotFound
from alephee.http.body import raw_property
from alephee.http.errors import describe_validation_errors
from alephee.http.numbers import int_from_text
from alephee.http.paging import Page
from alephee.http.params import MAX_INT32
from alephee.http.results import ERROR, OK, WARNING, ActionResult, ActionResultBuilder, Level, ResultItem, ResultMessage
from alephee.http.wire import read_input
from alephee.listings import propagation, rules, statuses
from alephee.listings.models import Listing, ListingDiscount
from alephee.listings.schemas import (
    LISTING_TYPES,
    CategoryOut,
    DiscountOut,
    KeyValueOut,
    ListingDiscountIn,
    ListingResultOut,
    ListingResultsOut,
    ListingSelectionIn,
    ListingStatusIn,
    ListingStatusOut,
    ListingTypeOut,
    ListingUpdateIn,
    ProductListingOut,
)
from alephee.marketplaces.models import Marketplace
from alephee.products.batch import Catalog
from alephee.products.brands import brand_key
from alephee.products.models import Brand, Product
from alephee.products.schemas import IdNameOut
from alephee.products.stock import MOVE_UNKNOWN, kit_components_among, kits_containing, stock_snapshots
from alephee.webhooks import events as webhook_events

UNKNOWN_STATUS = "Unknown listing status {code}; known codes: {codes}"

# --- reads -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListingFilters:
    """Filters of GET /v2/productlistings/search (spec 50 §1.1), parsed."""

    status: str | None = None
    include_childs: bool = False
    marketplace_id: int | None = None
    brand: str | None = None
    sku: str | None = None
    external_id: str | None = None


def parse_status_filter(settings: Settings, raw: str | None) -> str | None:
    """The ``status`` query value as a status name (400 for an unknown code)."""
    if raw is None or not raw.strip():
        return None
    table = statuses.table(settings)
    codes = ", ".join(f"{table.code(n)} {table.label(n)}" for n in statuses.DEFAULT_TABLE)
    code = int_from_text(raw)
    name = table.from_code(code) if code is not None else None
    if name is None:
        raise InvalidInput(UNKNOWN_STATUS.format(code=raw.strip(), codes=codes))
    return name


def active_discounts(session: Session, listing_ids: Collection[int], now: datetime) -> dict[int, ListingDiscount]:
    """The discount in force now for each listing (the most recently created wins)."""
    if not listing_ids:
        return {}
    rows = session.scalars(
        select(ListingDiscount)
        .where(
            ListingDiscount.listing_id.in_(sorted(listing_ids)),
            ListingDiscount.start_at <= now,
            ListingDiscount.finish_at > now,
        )
        .order_by(ListingDiscount.listing_id, ListingDiscount.id)
    )
    return {d.listing_id: d for d in rows}


def search(
    session: Session, settings: Settings, account_id: int, filters: ListingFilters, page: Page
) -> tuple[int, list[ProductListingOut]]:
    """One page of the account's listings with every filter AND-combined."""
    conditions: list[Any] = [Listing.account_id == account_id]
    if not filters.include_childs:
        conditions.append(Listing.parent_id.is_(None))
    if filters.status is not None:
        conditions.append(Listing.status == filters.status)
    if filters.marketplace_id is not None:
        conditions.append(Listing.marketplace_id == filters.marketplace_id)
    if filters.external_id:
        conditions.append(Listing.external_id == filters.external_id.strip())
    if filters.sku:
        sku = filters.sku.strip()
        conditions.append(or_(Listing.sku == sku, Product.sku == sku))
    if filters.brand:
        text = filters.brand.strip()
        brand_cond = Brand.name_key == brand_key(text)
        brand_id = int_from_text(text)
        by_id = brand_id is not None and 0 <= brand_id <= MAX_INT32
        conditions.append(or_(brand_cond, Brand.id == brand_id) if by_id else brand_cond)
    base = (
        select(Listing.id)
        .join(Product, Product.id == Listing.product_id)
        .join(Brand, Brand.id == Product.brand_id)
        .where(and_(*conditions))
    )
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    order = [Listing.created_at, Listing.id] if page.sort.id == "dateCreated" else [Listing.id]
    ids = list(session.scalars(base.order_by(*order).offset(page.offset).limit(page.limit)))
    return total, listing_views(session, settings, ids)


def listing_views(session: Session, settings: Settings, ids: Sequence[int]) -> list[ProductListingOut]:
    """ProductListing objects for ``ids``, in that order."""
    if not ids:
        return []
    rows = session.execute(
        select(Listing, Product.sku, Product.own_code, Brand.name, Marketplace.name)
        .join(Product, Product.id == Listing.product_id)
        .join(Brand, Brand.id == Product.brand_id)
        .join(Marketplace, Marketplace.id == Listing.marketplace_id)
        .where(Listing.id.in_(ids))
    ).all()
    by_id = {row[0].id: row for row in rows}
    now = clock.utcnow()
    discounts = active_discounts(session, ids, now)
    table = statuses.table(settings)
    out: list[ProductListingOut] = []
    for lid in ids:
        listing, product_sku, own_code, brand, marketplace = by_id[lid]
        # A listing without a price shows 0 (as products show amounts never set); it is paused (no_price).
        regular = listing.price if listing.price is not None else Decimal(0)
        discount = discounts.get(lid) if listing.price is not None else None
        price = rules.discounted(regular, discount.percent) if discount else regular
        listing_type = None
        if listing.listing_type is not None and listing.listing_type in LISTING_TYPES:
            name, description = LISTING_TYPES[listing.listing_type]
            listing_type = ListingTypeOut(Id=listing.listing_type, Name=name, Description=description)
        out.append(
            ProductListingOut(
                Id=listing.id,
                Brand=brand,
                SKU=listing.sku,
                ProductSKU=product_sku,
                SellerSKU=listing.seller_sku or own_code,
                ExternalId=listing.external_id,
                Marketplace=KeyValueOut(Key=listing.marketplace_id, Value=marketplace),
                Title=listing.title,
                Status=ListingStatusOut(
                    Key=table.code(listing.status),
                    Name=table.label(listing.status),
                    UpdatedDateTime=listing.status_updated_at,
                ),
                PermanentLink=listing.permanent_link,
                Category=CategoryOut(Id=listing.category_id, Value=listing.category_name)
                if listing.category_id
                else None,
                ListingType=listing_type,
                Price=price,
                Deals=list(listing.deals or []),
                AvailableQuantity=listing.available_quantity,
                SoldQuantity=listing.sold_quantity,
                Visits=listing.visits,
                Health=listing.health,
                OriginalPrice=regular if discount else None,
                Discount=DiscountOut(
                    Percent=discount.percent, StartDate=discount.start_at, FinishDate=discount.finish_at
                )
                if discount
                else None,
                DateCreated=listing.created_at,
                ParentId=listing.parent_id,
                StatusReason=listing.status_reason if listing.status != statuses.ACTIVE else None,
            )
        )
    return out


def grouped_publications(
    session: Session, settings: Settings, account_id: int, product_ids: Collection[int]
) -> dict[int, list[Any]]:
    """The ``Publications`` of GET /v2/products: per product, per marketplace, per status, the count and
    ExternalId → listing Id (standard listings only)."""
    from alephee.products.schemas import GroupedPublicationsOut, KeyValueOut, PublicationDetailOut

    rows = session.execute(
        select(
            Listing.product_id,
            Listing.marketplace_id,
            Marketplace.name,
            Listing.status,
            Listing.external_id,
            Listing.id,
        )
        .join(Marketplace, Marketplace.id == Listing.marketplace_id)
        .where(
            Listing.account_id == account_id,
            Listing.product_id.in_(sorted(product_ids)),
            Listing.parent_id.is_(None),
        )
        .order_by(Listing.product_id, Listing.marketplace_id, Listing.id)
    ).all()
    table = statuses.table(settings)
    grouped: dict[int, dict[tuple[int, str], dict[str, dict[str, int]]]] = defaultdict(lambda: defaultdict(dict))
    for pid, mid, mname, status, external_id, lid in rows:
        grouped[pid][(mid, mname)].setdefault(status, {})[external_id] = lid
    out: dict[int, list[Any]] = {}
    for pid, by_marketplace in grouped.items():
        out[pid] = [
            GroupedPublicationsOut(
                MarketPlace=KeyValueOut(Key=mid, Value=mname),
                Details=[
                    PublicationDetailOut(
                        Status=IdNameOut(Id=table.code(status), Name=table.label(status)),
                        Quantity=len(externals),
                        ExternalIds=externals,
                    )
                    for status, externals in sorted(by_status.items(), key=lambda kv: table.code(kv[0]))
                ],
            )
            for (mid, mname), by_status in by_marketplace.items()
        ]
    return out


# --- selection shared by the three writes -----------------------------------------------------------------


@dataclass(slots=True)
class Selection:
    """The listings one element targets, or why it targets none."""

    by_sku: bool
    key: str | None
    product_ids: set[int] = field(default_factory=set)
    listing_ids: list[int] = field(default_factory=list)
    # (external id, message) of listing ids that do not exist in the account.
    missing: list[str] = field(default_factory=list)
    error: str | None = None


def select_listings(
    session: Session,
    account_id: int,
    item: ListingSelectionIn,
    *,
    include_kit_containers: bool = False,
) -> Selection:
    """Brand+SKU (every listing of the product) or ExternalPublications (exactly those), never both."""
    sku = (item.SKU or "").strip()
    externals = [e for e in (item.ExternalPublications or []) if e]
    if bool(sku) == bool(externals):
        return Selection(by_sku=bool(sku), key=sku or None, error=rules.SELECTION)
    marketplace = [Listing.marketplace_id == item.Marketplace] if item.Marketplace is not None else []
    if sku:
        catalog = Catalog(session, account_id, [sku], lock=False)
        product, problem = catalog.find(sku, item.Brand)
        if product is None:
            assert problem is not None
            return Selection(by_sku=True, key=sku, error=problem.message)
        product_ids = {product.id}
        if include_kit_containers:
            product_ids |= kits_containing(session, [product.id])
        ids = list(
            session.scalars(
                select(Listing.id)
                .where(Listing.account_id == account_id, Listing.product_id.in_(sorted(product_ids)), *marketplace)
                .where(Listing.parent_id.is_(None))
                .order_by(Listing.id)
            )
        )
        where = f" on marketplace {item.Marketplace}" if item.Marketplace is not None else ""
        error = None if ids else rules.PRODUCT_HAS_NO_LISTINGS.format(where=where)
        return Selection(by_sku=True, key=sku, product_ids=product_ids, listing_ids=ids, error=error)
    found = dict(
        session.execute(
            select(Listing.external_id, Listing.id).where(
                Listing.account_id == account_id, Listing.external_id.in_(externals), *marketplace
            )
        ).all()
    )
    ids = list(dict.fromkeys(found[e] for e in externals if e in found))
    missing = [e for e in dict.fromkeys(externals) if e not in found]
    return Selection(by_sku=False, key=" - ".join(externals), listing_ids=ids, missing=missing)


def _locked(session: Session, ids: Collection[int]) -> dict[int, Listing]:
    if not ids:
        return {}
    rows = propagation.lock_listings(session, select(Listing).where(Listing.id.in_(sorted(set(ids)))))
    return {listing.id: listing for listing in rows}


def _parse(model: type[Any], raw: Any) -> tuple[Any, str | None]:
    if not isinstance(raw, dict):
        return None, "Each element must be a JSON object"
    try:
        return read_input(model, raw), None
    except ValidationError as exc:
        return None, describe_validation_errors(exc.errors())


def _raw_key(raw: Any) -> str | None:
    sku = raw_property(raw, "SKU")
    if sku is not None:
        return str(sku)
    externals = raw_property(raw, "ExternalPublications")
    if isinstance(externals, list):
        return " - ".join(str(raw_property(e, "ID") if isinstance(e, dict) else e) for e in externals)
    return None


# --- PUT /v2/productlistings ----------------------------------------------------------------------------


def update_prices(session: Session, account_id: int, raw_items: list[Any]) -> tuple[ActionResult, bool]:
    """Change listing prices (fixed, margin, added value) of active listings. Commits.

    ``ItemNumber`` is the 1-based position of the element; entries about related listings updated together
    (code 3581) carry ``ItemNumber`` 0 and are not counted in ``Quantities`` (spec 50 §3.3, §3.5).
    """
    builder = ActionResultBuilder("SKU")
    planned: list[tuple[Any, Selection, rules.PriceChange]] = []
    for index, raw in enumerate(raw_items):
        outcome = builder.item(index + 1, _raw_key(raw))
        item, error = _parse(ListingUpdateIn, raw)
        if item is None:
            outcome.error(error or "Invalid element", None, rules.CODE_INVALID)
            continue
        selection = select_listings(session, account_id, item)
        if not selection.by_sku:
            outcome.key_value = selection.key
        if selection.error is not None:
            outcome.error(selection.error, selection.key, rules.CODE_SELECTION)
            continue
        change, problems = rules.price_change(item.Price)
        for problem in problems:
            outcome.error(problem, None, rules.CODE_PRICE)
        if change is None:
            continue
        planned.append((outcome, selection, change))
    locked = _locked(session, [lid for _, s, _ in planned for lid in s.listing_ids])
    kit_members = kit_components_among(session, {listing.product_id for listing in locked.values()})
    children = _children(session, list(locked))
    bases = propagation.base_prices(
        session, account_id, list(locked.values()) + [c for cs in children.values() for c in cs]
    )
    family = propagation.families(session, {listing.marketplace_id for listing in locked.values()})
    now = clock.utcnow()
    extra: list[ResultItem] = []
    for outcome, selection, change in planned:
        for external_id in selection.missing:
            outcome.error(rules.LISTING_NOT_FOUND.format(external_id=external_id), external_id, rules.CODE_NOT_FOUND)
        targets = [locked[lid] for lid in selection.listing_ids if lid in locked]
        if selection.by_sku and targets and targets[0].product_id in kit_members:
            outcome.error(rules.KIT_COMPONENT.format(sku=selection.key), selection.key, rules.CODE_KIT_COMPONENT)
            continue
        for listing in targets:
            text = f"{listing.id} - {listing.external_id}"
            if listing.product_id in kit_members:
                outcome.error(
                    rules.KIT_COMPONENT.format(sku=listing.sku), listing.external_id, rules.CODE_KIT_COMPONENT
                )
                continue
            if listing.status != statuses.ACTIVE:
                outcome.warning(
                    rules.NOT_ACTIVE.format(id=listing.id, external_id=listing.external_id, status=listing.status),
                    listing.external_id,
                    rules.CODE_NOT_ACTIVE,
                )
                continue
            related = children.get(listing.id, [])
            ml = family.get(listing.marketplace_id) == propagation.ML_FAMILY
            if not all(_apply_price(session, t, change, bases, ml, now) for t in [listing, *related]):
                outcome.error(
                    rules.NO_BASE_PRICE.format(id=listing.id, external_id=listing.external_id),
                    text,
                    rules.CODE_NO_BASE_PRICE,
                )
                continue
            outcome.add(
                OK, rules.UPDATED.format(id=listing.id, external_id=listing.external_id), text, rules.CODE_UPDATED
            )
            if related:
                extra.append(_related_entry(listing, related))
        if not outcome.messages:
            outcome.error(rules.PRODUCT_HAS_NO_LISTINGS.format(where=""), selection.key, rules.CODE_NOT_FOUND)
        elif not any(level in (OK,) for level, *_ in outcome.messages) and not outcome.failed:
            # Every target was skipped (not active): nothing was processed for this element.
            outcome.messages = [(ERROR, code, msg, value) for _level, code, msg, value in outcome.messages]
    session.commit()
    result = builder.build()
    result.Items = [item for item in result.Items if item.Messages] + extra
    return result, builder.processed_any


def _children(session: Session, listing_ids: list[int]) -> dict[int, list[Listing]]:
    if not listing_ids:
        return {}
    out: dict[int, list[Listing]] = defaultdict(list)
    rows = propagation.lock_listings(
        session,
        select(Listing).where(Listing.parent_id.in_(sorted(listing_ids)), Listing.status != statuses.FINISHED),
    )
    for child in rows:
        out[child.parent_id].append(child)  # type: ignore[index]
    return out


def _apply_price(
    session: Session, listing: Listing, change: rules.PriceChange, bases: dict[int, Decimal], ml: bool, now: datetime
) -> bool:
    """Apply a price change to one listing (False when it needs a base price the product lacks)."""
    if change.fixed is not None:
        new_price = change.fixed
        listing.price_mode = "fixed"
    else:
        base = bases.get(listing.id)
        if base is None:
            return False
        if change.margin is not None:
            listing.margin = change.margin
        if change.added is not None:
            listing.added_fixed_value = change.added
        listing.price_mode = "auto"
        new_price = rules.auto_price(base, listing.margin, listing.added_fixed_value)
    changed = ["Price"]
    raised = listing.price is not None and new_price > listing.price
    if ml and raised and propagation.drop_discounts(session, listing, now):
        changed.append("Discount")
    listing.price = new_price
    listing.updated_at = now
    propagation.publish_change(session, listing, changed)
    return True


def _related_entry(listing: Listing, related: list[Listing]) -> ResultItem:
    ids = [c.external_id for c in related]
    message = rules.RELATED.format(external_id=listing.external_id, related="-".join(ids))
    return ResultItem(
        ItemNumber=0,
        ValidationLevel=Level.of(WARNING),
        KeyField=listing.external_id,
        KeyValue=" - ".join(ids),
        keyValue=" - ".join(ids),
        Messages=[ResultMessage(Level=Level.of(WARNING), Code=rules.CODE_RELATED, Message=message)],
    )


# --- Total/Results writes (update-status, discounts) ---------------------------------------------------------

STATUS_OK = "OK"
STATUS_UNCHANGED = "The listing already has that status"
STATUS_REQUIRED = "Status is required"
STATUS_NOT_SETTABLE = "Status {code} cannot be requested; use {allowed}"
STATUS_REFUSED = "The marketplace does not accept changing a {current} listing to {target}"
STATUS_NO_STOCK = (
    "The listing cannot be activated: the product has no stock to publish (at or below MinPublicationQuantity)"
)
STATUS_NO_PRICE = (
    "The listing cannot be activated: the product has no price in the listing's price list (set one with "
    "POST /v2/products)"
)
DISCOUNT_OK = "OK"
DISCOUNT_FINISHED = "The listing is finished; discounts cannot be set on it"
DISCOUNT_REMOVED = "Discount 0%: the discounts of the listing overlapping the window were removed"


def _echo(raw: Any, listing: Listing | None, status_code: int | None = None) -> dict[str, Any]:
    """The input element as the client sent it, narrowed to one listing (spec 50 §2.6 example)."""
    echo = dict(raw) if isinstance(raw, dict) else {"Value": raw}
    if listing is not None:
        for key in [k for k in echo if isinstance(k, str) and k.lower() in ("marketplace", "externalpublications")]:
            echo.pop(key)
        echo["Marketplace"] = listing.marketplace_id
        echo["ExternalPublications"] = [{"ID": listing.external_id}]
    if status_code is not None and "Status" not in echo:
        echo["Status"] = status_code
    return echo


def _results(results: list[ListingResultOut]) -> tuple[ListingResultsOut, bool]:
    ok = any(r.Status in (200, 304) for r in results)
    return ListingResultsOut(Total=len(results), Results=results), ok


def update_statuses(
    session: Session, settings: Settings, account_id: int, raw_items: list[Any], include_kit_containers: bool
) -> tuple[ListingResultsOut, bool]:
    """Change listing statuses; one result per listing (200 / 304 / 4xx with the reason). Commits."""
    table = statuses.table(settings)
    allowed = ", ".join(f"{table.code(n)} ({table.label(n)})" for n in sorted(statuses.USER_TARGETS, key=table.code))
    # One list of results per element, so the response keeps the request order.
    per_item: list[list[ListingResultOut]] = [[] for _ in raw_items]
    planned: list[tuple[list[ListingResultOut], Any, Selection, str]] = []
    for raw, results in zip(raw_items, per_item, strict=True):
        item, error = _parse(ListingStatusIn, raw)
        if item is None:
            results.append(ListingResultOut(ProductListingStatus=[_echo(raw, None)], Status=400, Message=error or ""))
            continue
        target = table.from_code(item.Status) if item.Status is not None else None
        if item.Status is None or target not in statuses.USER_TARGETS:
            message = (
                STATUS_REQUIRED
                if item.Status is None
                else STATUS_NOT_SETTABLE.format(code=item.Status, allowed=allowed)
            )
            results.append(ListingResultOut(ProductListingStatus=[_echo(raw, None)], Status=400, Message=message))
            continue
        selection = select_listings(session, account_id, item, include_kit_containers=include_kit_containers)
        if selection.error is not None:
            status = 400 if selection.error == rules.SELECTION else 404
            results.append(
                ListingResultOut(ProductListingStatus=[_echo(raw, None)], Status=status, Message=selection.error)
            )
            continue
        planned.append((results, raw, selection, target))  # type: ignore[arg-type]
    locked = _locked(session, [lid for _, _, s, _ in planned for lid in s.listing_ids])
    children = _children(session, list(locked))
    snapshots = stock_snapshots(session, {listing.product_id for listing in locked.values()})
    bases = propagation.base_prices(
        session, account_id, list(locked.values()) + [c for cs in children.values() for c in cs]
    )
    now = clock.utcnow()
    for results, raw, selection, target in planned:
        for external_id in selection.missing:
            echo = {**_echo(raw, None), "ExternalPublications": [{"ID": external_id}]}
            message = rules.LISTING_NOT_FOUND.format(external_id=external_id)
            results.append(ListingResultOut(ProductListingStatus=[echo], Status=404, Message=message))
        for lid in selection.listing_ids:
            listing = locked[lid]
            status, message = _change_status(session, listing, target, snapshots, bases, now)
            if status == 200:
                for child in children.get(listing.id, []):
                    _change_status(session, child, target, snapshots, bases, now)
            results.append(
                ListingResultOut(
                    ProductListingStatus=[_echo(raw, listing, table.code(target))], Status=status, Message=message
                )
            )
    session.commit()
    return _results([r for results in per_item for r in results])


def _change_status(
    session: Session,
    listing: Listing,
    target: str,
    snapshots: dict[int, Any],
    bases: dict[int, Decimal],
    now: datetime,
) -> tuple[int, str]:
    if listing.status == target == statuses.PAUSED and listing.status_reason in statuses.AUTOMATIC_REASONS:
        # The seller now holds the pause: a price or stock arriving must not reactivate the listing.
        listing.status_reason = statuses.REASON_USER
        listing.updated_at = now
        propagation.publish_change(session, listing, [], status_only=True)
        return 200, STATUS_OK
    if listing.status == target:
        return 304, STATUS_UNCHANGED
    if target not in statuses.USER_TRANSITIONS.get(listing.status, frozenset()):
        return 406, STATUS_REFUSED.format(current=listing.status, target=target)
    snapshot = snapshots.get(listing.product_id)
    if target == statuses.ACTIVE and not propagation.has_price(listing, bases):
        return 412, STATUS_NO_PRICE
    if target == statuses.ACTIVE and (snapshot is None or snapshot.publish_quantity <= 0):
        return 412, STATUS_NO_STOCK
    listing.status = target
    listing.status_reason = statuses.REASON_USER if target == statuses.PAUSED else None
    listing.status_updated_at = listing.updated_at = now
    if target == statuses.ACTIVE and snapshot is not None:
        listing.available_quantity = snapshot.publish_quantity
    propagation.publish_change(session, listing, [], status_only=True)
    webhook_events.listing_status_changed(session, listing)
    return 200, STATUS_OK


def set_discounts(
    session: Session, settings: Settings, account_id: int, raw_items: list[Any]
) -> tuple[ListingResultsOut, bool]:
    """Schedule percentage discounts; one result per listing. Commits."""
    per_item: list[list[ListingResultOut]] = [[] for _ in raw_items]
    planned: list[tuple[list[ListingResultOut], Any, Selection, Decimal, datetime, datetime]] = []
    now = clock.utcnow()
    for raw, results in zip(raw_items, per_item, strict=True):
        item, error = _parse(ListingDiscountIn, raw)
        problems: list[str] = [error] if error else []
        start = finish = None
        if item is not None:
            start, start_error = rules.parse_utc(item.StartDate, "StartDate")
            finish, finish_error = rules.parse_utc(item.FinishDate, "FinishDate")
            problems += list(dict.fromkeys(e for e in (start_error, finish_error) if e))
            if start is not None and finish is not None:
                problems += rules.discount_problems(item.DiscountPercent, start, finish, now)
        if problems or item is None or start is None or finish is None:
            results.append(
                ListingResultOut(ProductListingStatus=[_echo(raw, None)], Status=400, Message="; ".join(problems))
            )
            continue
        selection = select_listings(session, account_id, item)
        if selection.error is not None:
            status = 400 if selection.error == rules.SELECTION else 404
            results.append(
                ListingResultOut(ProductListingStatus=[_echo(raw, None)], Status=status, Message=selection.error)
            )
            continue
        planned.append((results, raw, selection, item.DiscountPercent, start, finish))
    locked = _locked(session, [lid for _, _, s, *_ in planned for lid in s.listing_ids])
    family = propagation.families(session, {listing.marketplace_id for listing in locked.values()})
    for results, raw, selection, percent, start, finish in planned:
        for external_id in selection.missing:
            echo = {**_echo(raw, None), "ExternalPublications": [{"ID": external_id}]}
            message = rules.LISTING_NOT_FOUND.format(external_id=external_id)
            results.append(ListingResultOut(ProductListingStatus=[echo], Status=404, Message=message))
        for lid in selection.listing_ids:
            listing = locked[lid]
            status, message = _discount(session, settings, listing, family, percent, start, finish, now)
            results.append(ListingResultOut(ProductListingStatus=[_echo(raw, listing)], Status=status, Message=message))
    session.commit()
    return _results([r for results in per_item for r in results])


def _discount(
    session: Session,
    settings: Settings,
    listing: Listing,
    family: dict[int, str],
    percent: Decimal,
    start: datetime,
    finish: datetime,
    now: datetime,
) -> tuple[int, str]:
    if listing.status == statuses.FINISHED:
        return 406, DISCOUNT_FINISHED
    if family.get(listing.marketplace_id) == propagation.ML_FAMILY:
        problems = rules.mercadolibre_problems(percent, start, finish, settings)
        if problems:
            return 400, "; ".join(problems)
    # One discount at a time per window (ML PRICE_DISCOUNT): the new one replaces those it overlaps.
    session.execute(
        delete(ListingDiscount).where(
            ListingDiscount.listing_id == listing.id,
            ListingDiscount.start_at < finish,
            ListingDiscount.finish_at > start,
        )
    )
    listing.updated_at = now
    if percent == 0:
        propagation.publish_change(session, listing, ["Discount"])
        return 200, DISCOUNT_REMOVED
    session.add(
        ListingDiscount(listing_id=listing.id, percent=percent, start_at=start, finish_at=finish, created_at=now)
    )
    session.flush()
    enqueue_discount(session, listing, percent, start, finish)
    return 200, DISCOUNT_OK


def enqueue_discount(session: Session, listing: Listing, percent: Decimal, start: datetime, finish: datetime) -> None:
    """A ``listing.update`` row carrying the discount (regular price unchanged, window in UTC)."""
    from alephee.http.wire import format_utc
    from alephee.marketplaces.outbox import enqueue

    enqueue(
        session,
        account_id=listing.account_id,
        marketplace_id=listing.marketplace_id,
        topic=propagation.TOPIC_UPDATE,
        aggregate_type="listing",
        aggregate_id=listing.id,
        payload=propagation.listing_payload(
            listing,
            ["Discount"],
            discount_percent=str(percent),
            discount_start=format_utc(start),
            discount_finish=format_utc(finish),
            discount_type="PRICE_DISCOUNT",
        ),
    )


# --- publishing (operators, demo) and sales (orders) -------------------------------------------------------

NOT_CONNECTED = "Marketplace {marketplace} is not connected to account {account}"
ML_DOMAINS = {
    "MLA": "articulo.mercadolibre.com.ar",
    "MLB": "produto.mercadolivre.com.br",
    "MLC": "articulo.mercadolibre.cl",
    "MLM": "articulo.mercadolibre.com.mx",
    "MCO": "articulo.mercadolibre.com.co",
    "MPE": "articulo.mercadolibre.com.pe",
    "MLU": "articulo.mercadolibre.com.uy",
    "MEC": "articulo.mercadolibre.com.ec",
}
# External ids of generated listings: MLA + 10 digits (like MLA1135267969).
EXTERNAL_BASE = 1_135_000_000


def external_identity(marketplace: Marketplace, listing_id: int) -> tuple[str, str | None]:
    """A marketplace-looking external id and permanent link for a listing the hub publishes."""
    if marketplace.family == propagation.ML_FAMILY and marketplace.site_id:
        number = EXTERNAL_BASE + listing_id
        domain = ML_DOMAINS.get(marketplace.site_id, "articulo.mercadolibre.com.ar")
        return f"{marketplace.site_id}{number}", f"https://{domain}/{marketplace.site_id}-{number}"
    if marketplace.family == "amazon":
        asin = f"B0{listing_id:08d}"
        return asin, f"https://www.amazon.com/dp/{asin}"
    return f"{marketplace.id}-{listing_id}", None


@dataclass(frozen=True, slots=True)
class PublishSpec:
    """One listing to create (see ``publish_products``)."""

    product_id: int
    marketplace_id: int
    title: str | None = None
    listing_type: int | None = None
    category: tuple[str, str] | None = None
    price_list_id: int | None = None
    margin: Decimal | None = None
    added_fixed_value: Decimal | None = None
    parent_id: int | None = None
    child_kind: str | None = None
    sold_quantity: int = 0
    visits: int | None = None
    health: Decimal | None = None
    created_at: datetime | None = None


def publish_product(session: Session, account_id: int, product_id: int, marketplace_id: int, **kwargs: Any) -> Listing:
    """Publish one catalog product on a connected marketplace (see ``publish_products``)."""
    return publish_products(session, account_id, [PublishSpec(product_id, marketplace_id, **kwargs)])[0]


def publish_products(session: Session, account_id: int, specs: Sequence[PublishSpec]) -> list[Listing]:
    """Publish catalog products on connected marketplaces (the API has no create call: operators and the demo
    use this). Price and quantity follow the catalog; a listing starts paused when its product has no price
    in the listing's price list (reason ``no_price``) or nothing to publish (``stock``), and is activated when
    that changes. Each new listing gets a ``listing.update`` outbox row. Does not commit."""
    if not specs:
        return []
    product_ids = sorted({spec.product_id for spec in specs})
    found = {
        row[0]: row
        for row in session.execute(
            select(Product.id, Product.sku, Product.name, Product.own_code).where(
                Product.id.in_(product_ids), Product.account_id == account_id
            )
        )
    }
    connected = set(
        session.scalars(select(AccountMarketplace.marketplace_id).where(AccountMarketplace.account_id == account_id))
    )
    marketplaces = {m.id: m for m in session.scalars(select(Marketplace).where(Marketplace.id.in_(connected)))}
    now = clock.utcnow()
    listings: list[Listing] = []
    for spec in specs:
        product = found.get(spec.product_id)
        if product is None:
            raise NotFound(MOVE_UNKNOWN.format(id=spec.product_id, account=account_id))
        marketplace = marketplaces.get(spec.marketplace_id)
        if marketplace is None:
            raise InvalidInput(NOT_CONNECTED.format(marketplace=spec.marketplace_id, account=account_id))
        ml = marketplace.family == propagation.ML_FAMILY
        category = spec.category or ((f"{marketplace.site_id}3530", "Otros") if ml else None)
        created = spec.created_at or now
        listing = Listing(
            account_id=account_id,
            marketplace_id=marketplace.id,
            product_id=product.id,
            parent_id=spec.parent_id,
            child_kind=spec.child_kind,
            external_id=f"pending-{uuid.uuid4().hex}",
            title=(spec.title or product.name)[:300],
            sku=product.sku,
            seller_sku=product.own_code,
            price_list_id=spec.price_list_id,
            # Set by the first refresh from the catalog; without a catalog price it stays unset and the listing
            # starts paused (no_price): a placeholder price would be sold.
            price=None,
            price_mode="auto",
            margin=spec.margin,
            added_fixed_value=spec.added_fixed_value,
            available_quantity=0,
            sold_quantity=spec.sold_quantity,
            visits=spec.visits,
            health=spec.health if ml else None,
            status=statuses.ACTIVE,
            status_reason=None,
            status_updated_at=created,
            category_id=category[0] if category else None,
            category_name=category[1] if category else None,
            listing_type=(spec.listing_type if spec.listing_type is not None else 3) if ml else None,
            deals=[],
            created_at=created,
            updated_at=created,
        )
        session.add(listing)
        listings.append(listing)
    session.flush()
    for listing in listings:
        listing.external_id, listing.permanent_link = external_identity(
            marketplaces[listing.marketplace_id], listing.id
        )
    # The first refresh sets price, quantity and a stock pause and enqueues those rows; the others still
    # need one row so the marketplace learns about the listing.
    changed = propagation.refresh(session, account_id, listings, now, new=True)
    for listing in listings:
        if listing.id not in changed:
            propagation.publish_change(session, listing, ["Published"])
    session.flush()
    return listings


PUBLISHABLE_TYPES = (1, 2, 6)


def publish_catalog(session: Session, account_id: int, marketplace_id: int, *, skus: Sequence[str] = ()) -> list[int]:
    """Publish every product (normal, kit, variation master) not yet listed on ``marketplace_id`` — or only
    ``skus`` (variations included when named). Returns the new listing ids."""
    listed = set(
        session.scalars(
            select(Listing.product_id).where(
                Listing.account_id == account_id, Listing.marketplace_id == marketplace_id, Listing.parent_id.is_(None)
            )
        )
    )
    stmt = select(Product.id).where(Product.account_id == account_id)
    stmt = stmt.where(Product.sku.in_(list(skus))) if skus else stmt.where(Product.product_type.in_(PUBLISHABLE_TYPES))
    ids = [pid for pid in session.scalars(stmt.order_by(Product.id)) if pid not in listed]
    created = publish_products(session, account_id, [PublishSpec(pid, marketplace_id) for pid in ids])
    return [listing.id for listing in created]


def add_sold_quantity(session: Session, listing_id: int, quantity: int) -> None:
    """Count units sold through a listing (orders call it; an atomic increment)."""
    from sqlalchemy import update

    session.execute(
        update(Listing).where(Listing.id == listing_id).values(sold_quantity=Listing.sold_quantity + quantity)
    )
