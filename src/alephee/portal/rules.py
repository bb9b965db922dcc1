"""The B2B portal's price and availability rules, as pure functions (the only place they live).

Prices (CF-40.3.8, CF-10.3; the combination is ours, PRT-14 to PRT-16):
* the portal sells from the account's B2B price list (``is_b2b``), else from its default list;
* a product's base price is its ``PriceWithTaxes`` in that list, rounded to cents (the buyer's price, like a
  marketplace order's ``UnitPrice``); a product without a positive price there is not sold on the portal;
* the list's ``DiscountRate`` and then the product's ``B2BDiscountRate`` apply in cascade (percentages,
  each clamped to 0..100), each step rounded to cents like the lines of an invoice:
  ``after_list = round(base × (1 − list/100), 2)``, ``unit = round(after_list × (1 − product/100), 2)``.

Availability: the product's own ``B2BQuantity`` (never below 0); a cart line never holds more than that.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from alephee.products.schemas import VARIATION_MASTER

ZERO = Decimal(0)
HUNDRED = Decimal(100)
CENTS = Decimal("0.01")
# Catalog statuses that keep a product off the portal: 4 Observed and rejected, 5 Deleted (CF-40.2.4).
HIDDEN_CATALOG_STATUSES = frozenset({4, 5})
# The most units one cart line may ask for, whatever the stock (keeps input and sums in range).
MAX_LINE_QUANTITY = 1_000_000


def money(value: Decimal) -> Decimal:
    """Round to cents, half up."""
    return value.quantize(CENTS, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class PriceListFacts:
    """What the rules need to know about one price list of the account."""

    id: int
    is_b2b: bool
    is_default: bool
    discount_rate: Decimal | None
    currency: str | None = None
    name: str = ""


def portal_price_list(lists: Iterable[PriceListFacts]) -> PriceListFacts | None:
    """The list the portal sells from: the B2B list (lowest id if several), else the default list, else None."""
    ordered = sorted(lists, key=lambda p: p.id)
    for price_list in ordered:
        if price_list.is_b2b:
            return price_list
    for price_list in ordered:
        if price_list.is_default:
            return price_list
    return None


def clamp_rate(rate: Decimal | None) -> Decimal:
    """A discount percentage within 0..100 (None counts as 0)."""
    if rate is None or rate <= 0:
        return ZERO
    return min(rate, HUNDRED)


@dataclass(frozen=True, slots=True)
class B2BPrice:
    """The price of one unit on the portal and how it was reached (all amounts per unit, in cents)."""

    full: Decimal
    list_rate: Decimal
    product_rate: Decimal
    list_discount: Decimal
    product_discount: Decimal
    unit: Decimal

    @property
    def discounted(self) -> bool:
        """Whether any discount applies."""
        return self.unit < self.full


def b2b_price(base: Decimal | None, list_rate: Decimal | None, product_rate: Decimal | None) -> B2BPrice | None:
    """The portal price from the base price and the two rates (cascade); None when there is no price.

    Both per-unit discount amounts are ≥ 0 and add up exactly to ``full − unit``.
    """
    if base is None or base <= 0:
        return None
    full = money(base)
    if full <= 0:
        return None
    lr, pr = clamp_rate(list_rate), clamp_rate(product_rate)
    after_list = money(full * (HUNDRED - lr) / HUNDRED)
    unit = money(after_list * (HUNDRED - pr) / HUNDRED)
    return B2BPrice(
        full=full,
        list_rate=lr,
        product_rate=pr,
        list_discount=full - after_list,
        product_discount=after_list - unit,
        unit=unit,
    )


def available(b2b_quantity: int | None) -> int:
    """Units a buyer may order: the product's B2B stock, never negative."""
    return max(0, b2b_quantity or 0)


def is_listed(product_type: int, catalog_status: int) -> bool:
    """Whether a product is shown on the portal: not a variation master (its variations are) and not
    rejected/deleted in the catalog."""
    return product_type != VARIATION_MASTER and catalog_status not in HIDDEN_CATALOG_STATUSES


def purchasable(price: B2BPrice | None, units_available: int, listed: bool = True) -> bool:
    """Whether a product can go into a cart now."""
    return listed and price is not None and units_available > 0


@dataclass(frozen=True, slots=True)
class QuantityDecision:
    """The quantity a cart line ends with, and whether the request had to be lowered to the stock."""

    quantity: int
    capped: bool


def line_quantity(requested: int, units_available: int) -> QuantityDecision:
    """A requested line quantity limited to 0..available (0 removes the line)."""
    wanted = max(0, min(requested, MAX_LINE_QUANTITY))
    limit = max(0, units_available)
    if wanted > limit:
        return QuantityDecision(limit, True)
    return QuantityDecision(wanted, False)


def parse_quantity(raw: str | None) -> int | None:
    """A quantity typed by the buyer: digits only (surrounding blanks allowed), at most MAX_LINE_QUANTITY
    (bigger numbers are taken as the maximum); None when it is not a whole number."""
    text = (raw or "").strip()
    if not text or not text.isascii() or not text.isdigit():
        return None
    if len(text) > 9:
        return MAX_LINE_QUANTITY
    return min(int(text), MAX_LINE_QUANTITY)


@dataclass(frozen=True, slots=True)
class Totals:
    """Totals of a cart or order: list price, each discount, and what the buyer pays."""

    lines: int
    units: int
    full: Decimal
    list_discount: Decimal
    product_discount: Decimal
    total: Decimal


def totals(lines: Iterable[tuple[B2BPrice, int]]) -> Totals:
    """Sum ``(price, quantity)`` lines; ``full − list_discount − product_discount == total`` exactly."""
    count = units = 0
    full = list_discount = product_discount = total = ZERO
    for price, quantity in lines:
        count += 1
        units += quantity
        full += price.full * quantity
        list_discount += price.list_discount * quantity
        product_discount += price.product_discount * quantity
        total += price.unit * quantity
    return Totals(count, units, full, list_discount, product_discount, total)


def component_prices(
    kit_price: B2BPrice, components: Sequence[tuple[int, Decimal | None]]
) -> list[tuple[Decimal, Decimal] | None]:
    """``CalculatedComponentUnitPrice``/``...FullUnitPrice`` of each kit component (CF-20.2.5 rule 7).

    ``components`` are ``(units per kit, the component's own base price or None)``. The kit's price is
    shared in proportion to the components' base prices; when any component has none, every entry is None.
    """
    if not components or any(base is None or base <= 0 or units <= 0 for units, base in components):
        return [None] * len(components)
    weight = sum((Decimal(units) * base for units, base in components if base is not None), ZERO)
    out: list[tuple[Decimal, Decimal] | None] = []
    for units, base in components:
        assert base is not None
        share = Decimal(units) * base / weight
        out.append((money(kit_price.unit * share / units), money(kit_price.full * share / units)))
    return out
