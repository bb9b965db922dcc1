"""PUT /v2/productlistings: listing prices set by the ERP (and the variations that follow their master)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from alephee import clock
from alephee.http.results import ERROR, OK, WARNING, ActionResult, ActionResultBuilder, Level, ResultItem, ResultMessage
from alephee.listings import propagation, rules, statuses
from alephee.listings.models import Listing
from alephee.listings.schemas import (
    ListingUpdateIn,
)
from alephee.listings.selection import (
    Selection,
    child_listings,
    locked_listings,
    parse_element,
    raw_key,
    select_listings,
)
from alephee.products.stock import kit_components_among

# --- PUT /v2/productlistings ----------------------------------------------------------------------------


def update_prices(session: Session, account_id: int, raw_items: list[Any]) -> tuple[ActionResult, bool]:
    """Change listing prices (fixed, margin, added value) of active listings. The caller owns the
    transaction.

    ``ItemNumber`` is the 1-based position of the element; entries about related listings updated together
    (code 3581) carry ``ItemNumber`` 0 and are not counted in ``Quantities`` (CF-50.3.3, CF-50.3.5).
    """
    builder = ActionResultBuilder("SKU")
    planned: list[tuple[Any, Selection, rules.PriceChange]] = []
    for index, raw in enumerate(raw_items):
        outcome = builder.item(index + 1, raw_key(raw))
        item, error = parse_element(ListingUpdateIn, raw)
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
    locked = locked_listings(session, [lid for _, s, _ in planned for lid in s.listing_ids])
    kit_members = kit_components_among(session, {listing.product_id for listing in locked.values()})
    children = child_listings(session, list(locked))
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
    result = builder.build()
    result.Items = [item for item in result.Items if item.Messages] + extra
    return result, builder.processed_any


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
