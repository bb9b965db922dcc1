"""The hub's copy of a Tiendanube product (``Listing.marketplace_state``): its variant ids with the price, stock
and publication the store last showed or took from the hub. With it a stock/price-only change (and an edit of the
product's name, description or brand) is sent without reading the product first (``GET /products/{id}``), and the
changes of many products go together in ``PATCH /products/stock-price`` calls of up to 50 variants.

The copy (``mapping.kept_state``) is taken from every product the channel reads or writes (a push's read, a
creation's answer, a notification's read, the linking) and updated with what a ``stock-price`` call applied. Its
``version`` orders copies (``listings.marketplace_state.keep_state``: an older read never replaces a newer
copy): the store's ``updated_at`` for a read, the hub's clock at the moment of a write for what the hub sent.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from alephee.channels.tiendanube import mapping as tn
from alephee.channels.tiendanube.facts import ListingData
from alephee.listings.marketplace_state import STATE_VERSION


def stock_price_changes(data: ListingData, languages: Sequence[str]) -> list[tn.VariantChange] | None:
    """What brings the product to the listing when that is only price and stock, compared with the kept copy: the
    variant changes (none when nothing differs). None when the copy cannot tell or when an edit is to be made
    (see ``copy_changes``)."""
    found = copy_changes(data, languages)
    if found is None or found[1]:
        return None
    return found[0]


def copy_changes(data: ListingData, languages: Sequence[str]) -> tuple[list[tn.VariantChange], dict[str, Any]] | None:
    """What brings the product to the listing, compared with the kept copy: the variant changes of price and stock
    and the ``PUT /products/{id}`` body of the product-level edits (name, description, brand; ``{}`` when none).
    None when the copy cannot tell (no copy, another product, a variant the copy does not know, a publication to
    change, a listing still to create) or when a variant's own field the hub owns differs (barcode, option
    values: sent by the full delivery): the product is read. ``languages``: the store's, to compare texts as the
    edits do. The copy's stock is already the stock of the store's chosen location, so it is compared as a plain
    stock."""
    kept = data.kept
    if data.pending or not isinstance(kept, dict) or kept.get("id") != tn.to_int(data.external_id):
        return None
    if bool(kept.get("published")) != (data.published and not data.finished):
        return None
    variants = [v for v in kept.get("variants") or [] if isinstance(v, dict)]
    wanted = data.by_sku()
    if not data.product.options and len(variants) == 1 and len(wanted) == 1:
        # A product without options is its one variant, whatever SKU the store gave it (as ``_update`` matches).
        pairs = [(variants[0], next(iter(wanted.values())))]
    else:
        by_sku = {str(v.get("sku") or "").strip(): v for v in variants}
        if any(sku not in by_sku for sku in wanted):
            return None
        pairs = [(by_sku[sku], hub) for sku, hub in wanted.items()]
    if any(tn.variant_edits(variant, hub, languages) for variant, hub in pairs):
        return None
    product_id = kept["id"]
    changes = [tn.variant_change(product_id, variant, hub.price, hub.stock) for variant, hub in pairs]
    return [change for change in changes if change is not None], tn.product_edits(data.product, kept, languages)


def edited(state: dict[str, Any], edits: dict[str, Any], *, version: str) -> dict[str, Any]:
    """The copy after ``PUT /products/{id}`` wrote ``edits`` (what the store shows now), at ``version``."""
    return {**state, STATE_VERSION: version, **{key: edits[key] for key in tn.KEPT_PRODUCT_KEYS if key in edits}}


def applied(
    state: dict[str, Any],
    changes: Sequence[tn.VariantChange],
    refused: Collection[int],
    *,
    version: str,
    published: bool | None = None,
) -> dict[str, Any]:
    """The copy after a ``stock-price`` call applied ``changes`` but ``refused`` (variant ids), and after the
    product was published or hidden (``published``), at ``version`` (the hub's clock just before the writes)."""
    sent = {c.variant_id: c for c in changes if c.variant_id not in refused}
    variants = []
    for variant in state.get("variants") or []:
        change = sent.get(tn.to_int(variant.get("id")) or 0)
        if change is not None:
            variant = dict(variant)
            if change.price is not None:
                variant["price"] = tn.wire_money(change.price)
            if change.stock is not None:
                variant["stock"] = change.stock
        variants.append(variant)
    return {
        **state,
        STATE_VERSION: version,
        "published": state.get("published") if published is None else published,
        "variants": variants,
    }
