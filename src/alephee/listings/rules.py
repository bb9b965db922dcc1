"""Listing price and discount rules (CF-50.2.5, CF-50.3.4), as pure functions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from alephee.config import Settings
from alephee.db import utc
from alephee.listings.schemas import ListingPriceIn
from alephee.products.rules import decimals

CENT = Decimal("0.01")

# Documented ranges (CF-50.3.4 rule 5, read).
PRICE_MIN, PRICE_MAX = Decimal("0.01"), Decimal("999999999.99")
MARGIN_MIN, MARGIN_MAX = Decimal("-99.99"), Decimal("99.99")
ADDED_MIN, ADDED_MAX = Decimal("-9999.99"), Decimal("9999.99")

# Message codes of PUT /v2/productlistings: 3579 and 3581 are documented; the others are ours.
CODE_UPDATED = 3579
CODE_RELATED = 3581
CODE_INVALID = 3600
CODE_SELECTION = 3601
CODE_NOT_FOUND = 3602
CODE_NOT_ACTIVE = 3603
CODE_KIT_COMPONENT = 3604
CODE_PRICE = 3605
CODE_NO_BASE_PRICE = 3606

UPDATED = "{id} - {external_id} - Se edito correctamente la publicación. "
RELATED = "Warning: {external_id} is related to the following product listings: {related} and will be updated together"
SELECTION = "Select listings either by Brand and SKU or by ExternalPublications, not both and not neither"
LISTING_NOT_FOUND = "Listing {external_id} was not found in this account"
PRODUCT_HAS_NO_LISTINGS = "The product has no listings{where}"
NOT_ACTIVE = "{id} - {external_id} - Not processed: only active listings are updated (this one is {status})"
KIT_COMPONENT = (
    "The product {sku} is a component of one or more kits: its listing prices cannot be changed until it is "
    "removed from every kit"
)
PRICE_REQUIRED = "Price must contain Price, Margin or AddedFixedValue"
PRICE_WITH_OTHERS = "A fixed Price cannot be combined with Margin or AddedFixedValue"
OUT_OF_RANGE = "{field} must be between {lo} and {hi}"
TWO_DECIMALS = "{field} accepts at most 2 decimals"
NO_BASE_PRICE = (
    "{id} - {external_id} - The product has no price in the listing's price list, so Margin/AddedFixedValue "
    "cannot be applied"
)

# Discounts (CF-50.2.5).
PERCENT_RANGE = "DiscountPercent must be between 0 and 100"
PERCENT_REQUIRED = "DiscountPercent is required"
DATES_REQUIRED = "StartDate and FinishDate are required"
BAD_DATE = "{field} must be an ISO 8601 UTC date-time, e.g. 2021-09-01T23:17:33.638Z"
FINISH_BEFORE_START = "FinishDate must be after StartDate"
FINISH_IN_PAST = "FinishDate is in the past"
ML_PERCENT = "Mercado Libre discounts must be at least {lo}% and below {hi}%"
ML_DURATION = "Mercado Libre discounts last at most {days} days"


@dataclass(frozen=True, slots=True)
class PriceChange:
    """A validated price change: a fixed price, or margin/added value (None = keep the current one)."""

    fixed: Decimal | None
    margin: Decimal | None
    added: Decimal | None


def price_change(price: ListingPriceIn | None) -> tuple[PriceChange | None, list[str]]:
    """Validate the Price object of an update (ranges, 2 decimals, allowed combinations)."""
    if price is None or (price.Price is None and price.Margin is None and price.AddedFixedValue is None):
        return None, [PRICE_REQUIRED]
    problems: list[str] = []
    for field, value, lo, hi in (
        ("Price.Price", price.Price, PRICE_MIN, PRICE_MAX),
        ("Price.Margin", price.Margin, MARGIN_MIN, MARGIN_MAX),
        ("Price.AddedFixedValue", price.AddedFixedValue, ADDED_MIN, ADDED_MAX),
    ):
        if value is None:
            continue
        if not lo <= value <= hi:
            problems.append(OUT_OF_RANGE.format(field=field, lo=lo, hi=hi))
        elif decimals(value) > 2:
            problems.append(TWO_DECIMALS.format(field=field))
    if price.Price is not None and (price.Margin is not None or price.AddedFixedValue is not None):
        problems.append(PRICE_WITH_OTHERS)
    if problems:
        return None, problems
    return PriceChange(fixed=price.Price, margin=price.Margin, added=price.AddedFixedValue), []


def auto_price(base: Decimal, margin: Decimal | None, added: Decimal | None) -> Decimal:
    """``base × (1 + margin/100) + added``, to the cent, never below 0.01."""
    value = base * (1 + (margin or 0) / Decimal(100)) + (added or 0)
    return max(value.quantize(CENT, rounding=ROUND_HALF_UP), PRICE_MIN)


def discounted(price: Decimal, percent: Decimal) -> Decimal:
    """The price less ``percent`` %, to the cent."""
    return (price * (1 - percent / Decimal(100))).quantize(CENT, rounding=ROUND_HALF_UP)


def parse_utc(text: str | None, field: str) -> tuple[datetime | None, str | None]:
    """A body date-time as an aware UTC instant (a value without offset is taken as UTC: CF-50.2.3)."""
    if text is None or not str(text).strip():
        return None, DATES_REQUIRED
    raw = str(text).strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        return utc(datetime.fromisoformat(raw)), None
    except ValueError:
        return None, BAD_DATE.format(field=field)


def discount_problems(percent: Decimal | None, start: datetime, finish: datetime, now: datetime) -> list[str]:
    """Marketplace-independent rules: 0..100 %, Finish after Start and not already past."""
    problems: list[str] = []
    if percent is None:
        problems.append(PERCENT_REQUIRED)
    elif not Decimal(0) <= percent <= Decimal(100) or decimals(percent) > 2:
        problems.append(PERCENT_RANGE)
    if finish <= start:
        problems.append(FINISH_BEFORE_START)
    elif finish <= now:
        problems.append(FINISH_IN_PAST)
    return problems


def mercadolibre_problems(percent: Decimal, start: datetime, finish: datetime, settings: Settings) -> list[str]:
    """The Mercado Libre PRICE_DISCOUNT rules the hub can check (CF-50.2.5 rule 4)."""
    problems: list[str] = []
    lo, hi = settings.ml_discount_min_percent, settings.ml_discount_max_percent
    if not lo <= percent < hi:
        problems.append(ML_PERCENT.format(lo=lo, hi=hi))
    if finish - start > timedelta(days=settings.ml_discount_max_days):
        problems.append(ML_DURATION.format(days=settings.ml_discount_max_days))
    return problems
