"""The User Products model's rules, without I/O: when a listing is published one item per variation (prices
that differ, or items already made), the ``POST /items`` of one variation (``family_name`` and no title, the tag,
its own price, stock, pictures, attributes and SKU), a family paused only by the seller's or the marketplace's
pause, and an item of the model read as one variation (its own SKU, no variations)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from alephee.channels.mercadolibre import mapping as ml
from alephee.channels.mercadolibre import user_products as up
from alephee.channels.mercadolibre.facts import ListingData, Variant
from alephee.listings.statuses import ACTIVE, PAUSED, REASON_MARKETPLACE, REASON_NO_PRICE, REASON_STOCK, REASON_USER
from alephee.listings.variations import VariationFacts
from alephee.marketplaces.contract import PermanentDeliveryError


def facts(sku: str, price: str | None, *pairs: tuple[str, str], product_id: int = 1) -> VariationFacts:
    return VariationFacts(
        product_id=product_id,
        sku=sku,
        attributes=pairs,
        price=Decimal(price) if price is not None else None,
        quantity=-2 if sku.endswith("0") else 4,
        pictures=(f"https://img.example/{sku}.jpg",),
        gtin="7790001" if sku == "R-M" else None,
    )


def listing(*variations: VariationFacts, variants: tuple[Variant, ...] = (), **changes: object) -> ListingData:
    data = ListingData(
        listing_id=1, external_id="pending-1", title="Remera lisa", price=Decimal(100), quantity=5, status=ACTIVE,
        status_reason=None, listing_type=None, seller_sku="R", brand="Marca", gtin=None,
        pictures=("https://img.example/R.jpg",), description=None, category="Ropa", condition=None,
        mapped_category="MLA109027", predicted_category=None, variants=variants, variations=variations,
    )  # fmt: skip
    return replace(data, **changes)  # type: ignore[arg-type]


def test_only_variations_at_different_prices_are_published_per_variation() -> None:
    assert up.per_variation(listing(facts("R-M", "100"), facts("R-L", "120", product_id=2)))
    assert not up.per_variation(listing(facts("R-M", "100"), facts("R-L", "100", product_id=2)))
    # Items already made for some variations (a creation cut short) stay in the model, whatever the prices now.
    made = (Variant(0, 1, Decimal(100), product_id=1, item_id="MLA1000000001"),)
    assert up.per_variation(listing(facts("R-M", "100"), facts("R-L", "100", product_id=2), variants=made))


def test_one_variations_item_body() -> None:
    variation = facts("R-M", "149.90", ("Color", "Negro"), ("Talle", "M"), ("Manga larga", "Sí"))
    body = up.item_body(listing(variation), variation, "MLA109027", "ARS")
    assert body == {
        "family_name": "Remera lisa",
        "category_id": "MLA109027",
        "price": 149.9,
        "currency_id": "ARS",
        "available_quantity": 4,
        "buying_mode": "buy_it_now",
        "condition": "new",
        "listing_type_id": "gold_special",
        "pictures": [{"source": "https://img.example/R-M.jpg"}, {"source": "https://img.example/R.jpg"}],
        "attributes": [
            {"id": "BRAND", "value_name": "Marca"},
            {"id": "COLOR", "value_name": "Negro"},
            {"id": "SIZE", "value_name": "M"},
            {"id": "MANGA_LARGA", "value_name": "Sí"},
            {"id": "SELLER_SKU", "value_name": "R-M"},
            {"id": "GTIN", "value_name": "7790001"},
        ],
        "tags": ["user_product_listing"],
    }
    assert "title" not in body


def test_stock_below_zero_is_sent_as_zero_and_a_variation_without_price_is_named() -> None:
    empty = facts("R-0", "100")
    assert up.item_body(listing(empty), empty, "MLA1", "ARS")["available_quantity"] == 0
    unpriced = facts("R-X", None)
    with pytest.raises(PermanentDeliveryError, match="variation R-X has no price"):
        up.item_body(listing(unpriced), unpriced, "MLA1", "ARS")


@pytest.mark.parametrize(
    ("status", "reason", "paused"),
    [
        (PAUSED, REASON_USER, True),
        (PAUSED, REASON_MARKETPLACE, True),
        (PAUSED, REASON_STOCK, False),
        (PAUSED, REASON_NO_PRICE, False),
        (ACTIVE, None, False),
    ],
)
def test_the_family_follows_only_the_sellers_or_the_marketplaces_pause(
    status: str, reason: str | None, paused: bool
) -> None:
    assert up.family_paused(listing(status=status, status_reason=reason)) is paused


def test_an_item_of_the_model_is_read_as_one_variation_with_its_own_sku() -> None:
    item = {
        "id": "MLA1000000002",
        "status": "active",
        "tags": ["user_product_listing"],
        "user_product_id": "MLAU1000000002",
        "attributes": [{"id": "SELLER_SKU", "value_name": "R-M"}],
        "variations": [],
    }
    state = ml.listing_state(item)
    assert (state.sku, state.variations) == ("R-M", ())
    # Without an item SKU, its sole variation's.
    single = item | {
        "attributes": [],
        "variations": [{"id": 7, "attributes": [{"id": "SELLER_SKU", "value_name": "R-L"}]}],
    }
    assert (ml.listing_state(single).sku, ml.listing_state(single).variations) == ("R-L", ())
    # A legacy item keeps its variations.
    legacy = single | {"tags": []}
    assert ml.listing_state(legacy).variations == (("7", "R-L"),) and ml.listing_state(legacy).sku is None
