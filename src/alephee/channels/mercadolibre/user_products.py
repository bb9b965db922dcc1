"""Mercado Libre's User Products ("price per variation") model: a variation master whose variations sell at
different prices is published as a family of items, one per variation (spec 3.9).

Each item is tagged ``user_product_listing`` and carries ``family_name`` (the listing's title: the model sends no
``title``, spec 3.1), its variation's price, stock, pictures, attributes (the variation's combination as item
attributes) and ``SELLER_SKU``. Each item's id is kept on the variation's child listing (the hub's usual
parent/child listings), so stock, price and status pushes then ``PUT`` each item by itself; the parent listing
takes the family's id (the first variation's ``user_product_id``) once every item exists.

Never half-published: a refusal (permanent) closes the items already created for the family and forgets them
(their child listings wait to be created again), and says which; a transient failure (or any other, such as
a connection held) keeps the items created on their child listings, so the retry creates only the missing ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

from sqlalchemy import select

from alephee.channels.mercadolibre import mapping as ml
from alephee.channels.mercadolibre import variations as mlvar
from alephee.channels.mercadolibre.calls import Api, delivery_error, desired_status, listing_type_name, wire_money
from alephee.channels.mercadolibre.client import MercadoLibreError
from alephee.channels.mercadolibre.facts import ListingData
from alephee.listings.marketplace_state import keep_states
from alephee.listings.models import Listing
from alephee.listings.publish import PENDING_PREFIX, record_marketplace_id
from alephee.listings.statuses import PAUSED, REASON_MARKETPLACE, REASON_USER
from alephee.listings.variations import VARIATION_KIND, VariationFacts, record_variation_ids
from alephee.marketplaces.contract import (
    ListingReceipt,
    NoticeResult,
    PermanentDeliveryError,
    TransientDeliveryError,
)

T = TypeVar("T")
TAG = ml.USER_PRODUCT_TAG
# Topics about user products: their items' changes (stock included) also fire ``items`` notifications, which
# the hub follows, so these are stored, deduplicated and counted as ignored with this reason.
TOPICS = frozenset({"user_products", "stock-location"})
FOLLOWED_THROUGH_ITEMS = "the items of a user product are followed through their items notifications"
# Pauses of the parent listing every item of the family follows (a stock or price pause is each variation's).
FAMILY_PAUSES = frozenset({REASON_USER, REASON_MARKETPLACE})


def ignored(topic: str) -> NoticeResult:
    """A ``user_products`` or ``stock-location`` notification: nothing to read (see ``TOPICS``)."""
    return NoticeResult(ignored=f"topic {topic}: {FOLLOWED_THROUGH_ITEMS}")


def per_variation(data: ListingData) -> bool:
    """Whether the listing is published (or being published) in the User Products model: its variations sell
    at different prices, or some already are items of their own (a creation cut short)."""
    prices = {v.price for v in data.variations if v.price is not None}
    return len(prices) > 1 or any(v.item_id for v in data.variants)


def item_attributes(brand: str | None, variation: VariationFacts) -> list[dict[str, str]]:
    """BRAND, the variation's combination (ids as ``attribute_combinations`` names them; another name as its
    upper-case id), ``SELLER_SKU`` = the variation's SKU, GTIN."""
    attributes: list[dict[str, str]] = [{"id": "BRAND", "value_name": brand}] if brand else []
    for name, value in variation.attributes:
        attributes.append({"id": mlvar.attribute_id(name) or "_".join(name.upper().split()), "value_name": value})
    attributes.append({"id": "SELLER_SKU", "value_name": variation.sku})
    if variation.gtin:
        attributes.append({"id": "GTIN", "value_name": variation.gtin})
    return attributes


def item_pictures(product_pictures: Sequence[str], variation: VariationFacts) -> list[str]:
    """The variation's pictures first, then the product's, without repeats, at most ``MAX_PICTURES``."""
    return list(dict.fromkeys([*variation.pictures, *product_pictures]))[: mlvar.MAX_PICTURES]


def item_body(data: ListingData, variation: VariationFacts, category: str, currency: str) -> dict[str, Any]:
    """``POST /items`` of one variation: tagged ``user_product_listing``, ``family_name`` and no ``title``."""
    if variation.price is None:
        raise PermanentDeliveryError(f"cannot publish on Mercado Libre: variation {variation.sku} has no price")
    return {
        "family_name": data.title,
        "category_id": category,
        "price": wire_money(variation.price),
        "currency_id": currency,
        "available_quantity": max(0, variation.quantity),
        "buying_mode": "buy_it_now",
        "condition": (data.condition or "new").lower(),
        "listing_type_id": listing_type_name(data.listing_type),
        "pictures": [{"source": url} for url in item_pictures(data.pictures, variation)],
        "attributes": item_attributes(data.brand, variation),
        "tags": [TAG],
    }


def family_paused(data: ListingData) -> bool:
    """Whether the seller (or the marketplace) paused the parent listing: every item is paused."""
    return desired_status(data.status, data.status_reason) == "paused" and data.status_reason in FAMILY_PAUSES


def create_family(api: Api, data: ListingData, category: str, currency: str) -> ListingReceipt:
    """Create the item of every variation that has none yet, pause them when the seller paused the listing,
    and keep their ids (see the module docstring for failures). The receipt names the family."""
    existing = {v.product_id: v.item_id for v in data.variants if v.item_id}
    # Every body first: nothing is created when one cannot be built.
    bodies = [(v, item_body(data, v, category, currency)) for v in data.variations if v.product_id not in existing]
    created: dict[int, dict[str, Any]] = {}
    for variation, body in bodies:
        item = _attempt(
            api, data, variation, created, existing, lambda body=body: api.raw(lambda c, t: c.create_item(t, body))
        )
        if not item.get("id"):
            _failed(api, data, variation, None, created, existing)
        created[variation.product_id] = item
        created[variation.product_id] = _attempt(
            api, data, variation, created, existing, lambda item=item: _finish(api, data, str(item["id"]), item)
        )
    first = created.get(data.variations[0].product_id)
    if first is not None:
        family = family_id(first)
        _keep(api, data, created, family=family)
    else:
        # The first variation's item was created by an earlier attempt: keep the new items before reading it.
        _keep(api, data, created)
        item_id = existing.get(data.variations[0].product_id) or ""
        family = family_id(api.call("read the listing", lambda c, t: c.get_item(t, item_id)))
        _keep(api, data, {}, family=family)
    quantities = [ml.to_int(i.get("available_quantity")) or 0 for i in created.values()]
    return ListingReceipt(
        external_id=family,
        status="paused" if family_paused(data) else "active",
        available_quantity=sum(quantities),
    )


def _attempt(
    api: Api,
    data: ListingData,
    variation: VariationFacts,
    created: dict[int, dict[str, Any]],
    existing: dict[int, str | None],
    request: Callable[[], T],
) -> T:
    """A call while creating the family: Mercado Libre's refusal or failure handled by ``_failed``; anything else
    (a connection held...) keeps the items created so far before passing on, so none is ever forgotten."""
    try:
        return request()
    except MercadoLibreError as exc:
        _failed(api, data, variation, exc, created, existing)
    except Exception:
        _keep(api, data, created)
        raise


def _finish(api: Api, data: ListingData, item_id: str, item: dict[str, Any]) -> dict[str, Any]:
    """A new item's description, and its pause when the seller paused the listing; the item as it is then."""
    if data.description:
        text = data.description
        api.raw(lambda c, t: c.create_description(t, item_id, text))
    if family_paused(data) and item.get("status") != "paused":
        return api.raw(lambda c, t: c.update_item(t, item_id, {"status": "paused"}))
    return item


def family_id(item: dict[str, Any]) -> str:
    """The parent listing's id: the ``user_product_id`` of the first variation's item, else ``UP-`` and the
    item's id when Mercado Libre gives none."""
    return ml.id_text(item.get("user_product_id")) or f"UP-{item.get('id')}"


def _failed(
    api: Api,
    data: ListingData,
    variation: VariationFacts,
    exc: MercadoLibreError | None,
    created: dict[int, dict[str, Any]],
    existing: dict[int, str | None],
) -> NoReturn:
    """One variation's item was not created. Transient: keep the items created so far (the retry creates the
    rest) and raise. Permanent: close every item of the family, forget them, and say so."""
    doing = f"publish variation {variation.sku}"
    if exc is not None and exc.transient:
        _keep(api, data, created)
        made = ", ".join(f"{sku} {item_id}" for sku, item_id in _named(data, created, existing))
        error = delivery_error(exc, doing)
        raise TransientDeliveryError(
            f"{error}; created so far (the retry creates the rest): {made or 'none'}", retry_after=exc.retry_after
        )
    reason = exc.refusal() if exc is not None else "created without an id"
    closed: list[str] = []
    for sku, item_id in _named(data, created, existing):
        try:
            api.raw(lambda c, t, i=item_id: c.update_item(t, i, {"status": "closed"}))
            closed.append(f"{sku} {item_id}")
        except MercadoLibreError as close_error:
            closed.append(f"{sku} {item_id} (could not be closed: {close_error.refusal()})")
    _forget(api, data, existing)
    raise PermanentDeliveryError(
        f"cannot publish on Mercado Libre: Mercado Libre refused to {doing}: {reason}; "
        f"the family's other items were closed: {', '.join(closed) or 'none'}"
    )


def _named(
    data: ListingData, created: dict[int, dict[str, Any]], existing: dict[int, str | None]
) -> list[tuple[str, str]]:
    """(SKU, item id) of the family's items, in the variations' order."""
    ids = {pid: str(item["id"]) for pid, item in created.items()} | {
        pid: item_id for pid, item_id in existing.items() if item_id
    }
    return [(v.sku, ids[v.product_id]) for v in data.variations if v.product_id in ids]


def _keep(api: Api, data: ListingData, created: dict[int, dict[str, Any]], *, family: str | None = None) -> None:
    """In one short write: the new items' ids on the variations' child listings (created as needed, paused with
    the parent when the seller paused it), their state as answered, and the family's id on the parent."""
    with api.db.writing() as session:
        parent = session.get(Listing, data.listing_id)
        if parent is None:
            return
        sent = tuple(v for v in data.variations if v.product_id in created)
        ids = {pid: str(item["id"]) for pid, item in created.items()}
        children = record_variation_ids(session, parent, sent, ids)
        for child in children:
            if family_paused(data):
                child.status, child.status_reason = PAUSED, parent.status_reason
        keep_states(session, {c.id: ml.kept_state(created[c.product_id]) for c in children})
        if family is not None:
            record_marketplace_id(session, parent.account_id, parent.id, family, None)


def _forget(api: Api, data: ListingData, existing: dict[int, str | None]) -> None:
    """The child listings of items created by an earlier attempt (now closed) wait to be created again."""
    if not existing:
        return
    with api.db.writing() as session:
        children = session.scalars(
            select(Listing).where(
                Listing.parent_id == data.listing_id,
                Listing.child_kind == VARIATION_KIND,
                Listing.product_id.in_(list(existing)),
            )
        )
        for child in children:
            child.external_id = f"{PENDING_PREFIX}{child.id}"
            keep_states(session, {child.id: {}})
