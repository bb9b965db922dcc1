"""The price and stock rules of POST /v2/products (CF-40.3.5-CF-40.3.9), as pure functions.

Each check returns ``Problem`` s (code, message, validated value); an element with any problem is not
applied at all. Codes: 6 is the documented one (unknown SKU); the others are ours and stable.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from alephee.accounts.schemas import AccountType
from alephee.products.schemas import KIT, VARIATION_MASTER, ProductPriceIn, ProductStockIn

# --- codes and messages (one place; the API returns them verbatim) ------------------------------------

CODE_INVALID = 1
CODE_SKU_REQUIRED = 2
CODE_NOTHING_TO_UPDATE = 3
CODE_NOT_FOUND = 6
CODE_AMBIGUOUS = 7
CODE_NO_PRICE_LIST = 8
CODE_PRICE_NOT_POSITIVE = 10
CODE_PRICE_DECIMALS = 11
CODE_PRICE_EXCLUSIVE = 12
CODE_PRICE_COMBINATION = 13
CODE_PRICE_EMPTY = 14
CODE_MARGIN_SELLER_ONLY = 15
CODE_MARGIN_DECIMALS = 16
CODE_PRICE_NOT_ALLOWED = 17
CODE_B2B_ONLY = 18
CODE_MEASURABLE = 19
CODE_AMOUNT_TOO_LARGE = 20
CODE_STOCK_NEGATIVE = 30
CODE_STOCK_EXCLUSIVE = 31
CODE_STOCK_EMPTY = 32
CODE_PUBLICATION_SELLER_ONLY = 33
CODE_STOCK_DERIVED = 34
CODE_MOVEMENT_CLAMPED = 35
CODE_STOCK_TOO_LARGE = 36
CODE_IGNORED = 40

SKU_REQUIRED = "SKU is required"
NOTHING_TO_UPDATE = "Nothing to update: send Stock, Price, Features or ProductAdditionalData"
# CF-40.3.10 (documented, Spanish, exact).
NOT_FOUND = "No tiene asignado ningún producto con el marca-código ingresado"
AMBIGUOUS = "The SKU exists under several brands; send Brand (id or name) to choose one"
NO_PRICE_LIST = "The account has no price list to write prices into"

PRICE_NOT_POSITIVE = "{field} must be greater than 0"
PRICE_DECIMALS = "{field} accepts at most 4 decimals"
AMOUNT_TOO_LARGE = "{field} is too large (at most 99999999999999.9999)"
PRICE_EXCLUSIVE = "Price and PriceWithTaxes cannot be sent together: send one, the other is derived from the tax rate"
PRICE_COMBINATION = "Invalid combination of price attributes: {fields}"
MEASURABLE_PRICE_ALONE = "MeasurablePriceWithTaxes replaces the other price fields: send it alone"
PRICE_EMPTY = (
    "Price must contain at least one of Price, PriceWithTaxes, SuggestedRetailPrice, SalesMargin, Cost, "
    "B2BDiscountRate, MeasurablePriceWithTaxes"
)
MARGIN_SELLER_ONLY = "SalesMargin can only be set by seller or official-store accounts"
MARGIN_DECIMALS = "SalesMargin accepts at most 2 decimals"
PRICE_NOT_ALLOWED = (
    "{field} cannot be set by a seller account on a product shared by a wholesaler or brand account; "
    "its prices come from that account"
)
B2B_ONLY = "{field} is only available to accounts with an Alephee B2B portal"
NOT_MEASURABLE = "The product has no unit-conversion attribute, so {field} cannot be used"
BAD_UNIT = "Unit '{unit}' cannot be converted to the product's unit '{product_unit}'"
UNIT_REQUIRED = "{field}.Unit and {field}.{value} are required"

STOCK_NEGATIVE = "{field} must be 0 or greater"
STOCK_TOO_LARGE = "{field} is too large (at most {max})"
STOCK_EXCLUSIVE = "Quantity and Movement cannot be sent together"
STOCK_EMPTY = (
    "Stock must contain at least one of Quantity, Movement, MinPublicationQuantity, MaxPublicationQuantity, "
    "B2BQuantity, MeasurableQuantity, Alert"
)
MEASURABLE_STOCK_ALONE = "MeasurableQuantity replaces Quantity, Movement and B2BQuantity: do not send them together"
PUBLICATION_SELLER_ONLY = "{field} can only be set by seller or official-store accounts"
KIT_STOCK = "The stock of a kit is calculated from its components; update the components instead"
MASTER_STOCK = "The stock of a variation master is the sum of its variations; update the variations instead"
MOVEMENT_CLAMPED = "Movement {movement} would leave the stock at {result}; the stock was set to 0"
RELATIONSHIPS_IGNORED = "Stock.Relationships is not supported by this hub and was ignored"

MAX_AMOUNT = Decimal("99999999999999.9999")
MAX_STOCK = 2_000_000_000
FOUR_PLACES = Decimal("0.0001")

# Price attribute names as the API spells them, and the short letters used in the combination table.
P, PT, SRP, COST, MARGIN, B2B, MEASURABLE = (
    "Price",
    "PriceWithTaxes",
    "SuggestedRetailPrice",
    "Cost",
    "SalesMargin",
    "B2BDiscountRate",
    "MeasurablePriceWithTaxes",
)
AMOUNT_FIELDS = (P, PT, SRP, MARGIN, COST, B2B)

# CF-40.3.6: combinations of the base attributes that may be sent together. "read" rows are the 8 of the
# docs; "inferred" are those the spec recommends accepting so valid clients are not rejected.
ACCEPTED_BASE_COMBINATIONS: dict[frozenset[str], str] = {
    frozenset({COST, P}): "read",
    frozenset({COST, PT}): "read",
    frozenset({COST, SRP}): "read",
    frozenset({COST}): "read",
    frozenset({P, SRP}): "read",
    frozenset({PT, SRP}): "read",
    frozenset({P}): "read",
    frozenset({PT}): "read",
    frozenset({SRP}): "inferred",
    frozenset({COST, P, SRP}): "inferred",
    frozenset({COST, PT, SRP}): "inferred",
}
# SalesMargin and B2BDiscountRate may come alone or added to any accepted combination (inferred);
# MeasurablePriceWithTaxes must come alone (CF-40.3.5 rule 7).
MODIFIERS = frozenset({MARGIN, B2B})

SELLING_TYPES = frozenset({AccountType.SELLER.value, AccountType.OFFICIAL_STORE.value, AccountType.PUIS.value})

# Units a measurable quantity/price may be expressed in, as a factor of the dimension's base unit.
UNITS: dict[str, tuple[str, Decimal]] = {
    "kg": ("mass", Decimal(1)),
    "g": ("mass", Decimal("0.001")),
    "l": ("volume", Decimal(1)),
    "lt": ("volume", Decimal(1)),
    "ml": ("volume", Decimal("0.001")),
    "m": ("length", Decimal(1)),
    "cm": ("length", Decimal("0.01")),
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason an element cannot be applied (or, with ``warning``, a caveat)."""

    code: int
    message: str
    value: object = None


@dataclass(frozen=True, slots=True)
class AccountProfile:
    """What the rules need to know about the account."""

    account_type: str
    b2b_portal: bool

    @property
    def selling(self) -> bool:
        """Seller-like accounts (seller, official store, PUIS) vs catalog owners (brand, distributor)."""
        return self.account_type in SELLING_TYPES


@dataclass(frozen=True, slots=True)
class ProductFacts:
    """What the rules need to know about the target product."""

    product_type: int
    shared: bool
    measure_unit: str | None
    measure_per_unit: Decimal | None


def decimals(value: Decimal) -> int:
    """Significant decimal places of ``value`` (trailing zeros do not count: ``7430.00`` has 0)."""
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def sent_price_fields(price: ProductPriceIn) -> set[str]:
    """Names of the price attributes present (not null) in a Price object."""
    sent = {name for name in AMOUNT_FIELDS if getattr(price, name) is not None}
    if price.MeasurablePriceWithTaxes is not None:
        sent.add(MEASURABLE)
    return sent


def combination_problem(sent: Iterable[str]) -> Problem | None:
    """Whether a set of price attributes may be sent together (CF-40.3.5 rule 3, CF-40.3.6)."""
    fields = set(sent)
    if P in fields and PT in fields:
        return Problem(CODE_PRICE_EXCLUSIVE, PRICE_EXCLUSIVE)
    if MEASURABLE in fields and len(fields) > 1:
        return Problem(CODE_PRICE_COMBINATION, MEASURABLE_PRICE_ALONE)
    base = frozenset(fields - MODIFIERS - {MEASURABLE})
    if base and base not in ACCEPTED_BASE_COMBINATIONS:
        return Problem(CODE_PRICE_COMBINATION, PRICE_COMBINATION.format(fields=", ".join(sorted(fields))))
    return None


def amount_problems(field: str, value: Decimal, *, max_decimals: int = 4) -> list[Problem]:
    """> 0, at most ``max_decimals`` decimals, within the storable range (CF-40.3.5 rules 1-2)."""
    if value <= 0:
        return [Problem(CODE_PRICE_NOT_POSITIVE, PRICE_NOT_POSITIVE.format(field=field), value)]
    if value > MAX_AMOUNT:
        return [Problem(CODE_AMOUNT_TOO_LARGE, AMOUNT_TOO_LARGE.format(field=field), value)]
    if decimals(value) > max_decimals:
        if max_decimals == 2:
            return [Problem(CODE_MARGIN_DECIMALS, MARGIN_DECIMALS, value)]
        return [Problem(CODE_PRICE_DECIMALS, PRICE_DECIMALS.format(field=field), value)]
    return []


def price_problems(price: ProductPriceIn, account: AccountProfile) -> list[Problem]:
    """Rules of a Price object that do not depend on the product (CF-40.3.5, CF-40.3.6, CF-40.3.8)."""
    sent = sent_price_fields(price)
    if not sent:
        return [Problem(CODE_PRICE_EMPTY, PRICE_EMPTY)]
    problems: list[Problem] = []
    for name in AMOUNT_FIELDS:
        value = getattr(price, name)
        if value is not None:
            problems += amount_problems(f"Price.{name}", value, max_decimals=2 if name == MARGIN else 4)
    measurable = price.MeasurablePriceWithTaxes
    if measurable is not None:
        if measurable.Price is None or not (measurable.Unit or "").strip():
            problems.append(Problem(CODE_MEASURABLE, UNIT_REQUIRED.format(field=MEASURABLE, value="Price")))
        else:
            problems += amount_problems(f"Price.{MEASURABLE}.Price", measurable.Price)
    combination = combination_problem(sent)
    if combination is not None:
        problems.append(combination)
    if MARGIN in sent and not account.selling:
        problems.append(Problem(CODE_MARGIN_SELLER_ONLY, MARGIN_SELLER_ONLY, price.SalesMargin))
    if B2B in sent and not account.b2b_portal:
        problems.append(Problem(CODE_B2B_ONLY, B2B_ONLY.format(field="Price.B2BDiscountRate"), price.B2BDiscountRate))
    return problems


def price_product_problems(price: ProductPriceIn, account: AccountProfile, product: ProductFacts) -> list[Problem]:
    """Rules of a Price object that depend on the product (account-type table of CF-40.3.5, CF-40.3.9)."""
    sent = sent_price_fields(price)
    problems: list[Problem] = []
    if account.selling and product.shared:
        for name in (P, PT, SRP, MEASURABLE):
            if name in sent:
                problems.append(Problem(CODE_PRICE_NOT_ALLOWED, PRICE_NOT_ALLOWED.format(field=name)))
    measurable = price.MeasurablePriceWithTaxes
    if measurable is not None and measurable.Unit:
        problem = unit_problem(MEASURABLE, measurable.Unit, product)
        if problem is not None:
            problems.append(problem)
    return problems


def stock_problems(stock: ProductStockIn, account: AccountProfile) -> list[Problem]:
    """Rules of a Stock object that do not depend on the product (CF-40.3.7, CF-40.3.8, CF-40.3.9)."""
    fields = {
        "Quantity": stock.Quantity,
        "Movement": stock.Movement,
        "MinPublicationQuantity": stock.MinPublicationQuantity,
        "MaxPublicationQuantity": stock.MaxPublicationQuantity,
        "B2BQuantity": stock.B2BQuantity,
    }
    alert = stock.Alert
    has_alert = alert is not None and (alert.RedQty is not None or alert.YellowQty is not None)
    if (
        stock.Quantity is None
        and stock.Movement is None
        and stock.MinPublicationQuantity is None
        and stock.MaxPublicationQuantity is None
        and stock.B2BQuantity is None
        and stock.MeasurableQuantity is None
        and not has_alert
    ):
        return [Problem(CODE_STOCK_EMPTY, STOCK_EMPTY)]
    problems: list[Problem] = []
    checked = dict(fields)
    if alert is not None:
        checked["Alert.RedQty"] = alert.RedQty
        checked["Alert.YellowQty"] = alert.YellowQty
    for name, value in checked.items():
        if value is None:
            continue
        if name != "Movement" and value < 0:
            problems.append(Problem(CODE_STOCK_NEGATIVE, STOCK_NEGATIVE.format(field=f"Stock.{name}"), value))
        elif abs(value) > MAX_STOCK:
            problems.append(
                Problem(CODE_STOCK_TOO_LARGE, STOCK_TOO_LARGE.format(field=f"Stock.{name}", max=MAX_STOCK), value)
            )
    if stock.Quantity is not None and stock.Movement is not None:
        problems.append(Problem(CODE_STOCK_EXCLUSIVE, STOCK_EXCLUSIVE))
    measurable = stock.MeasurableQuantity
    if measurable is not None:
        if stock.Quantity is not None or stock.Movement is not None or stock.B2BQuantity is not None:
            problems.append(Problem(CODE_MEASURABLE, MEASURABLE_STOCK_ALONE))
        if measurable.Quantity is None or not (measurable.Unit or "").strip():
            problems.append(
                Problem(CODE_MEASURABLE, UNIT_REQUIRED.format(field="MeasurableQuantity", value="Quantity"))
            )
        elif measurable.Quantity < 0:
            problems.append(
                Problem(CODE_STOCK_NEGATIVE, STOCK_NEGATIVE.format(field="Stock.MeasurableQuantity.Quantity"))
            )
        elif measurable.Quantity > MAX_AMOUNT or decimals(measurable.Quantity) > 4:
            problems.append(
                Problem(
                    CODE_PRICE_DECIMALS,
                    PRICE_DECIMALS.format(field="Stock.MeasurableQuantity.Quantity"),
                    measurable.Quantity,
                )
            )
    if not account.selling:
        for name in ("MinPublicationQuantity", "MaxPublicationQuantity"):
            if fields[name] is not None:
                problems.append(
                    Problem(CODE_PUBLICATION_SELLER_ONLY, PUBLICATION_SELLER_ONLY.format(field=name), fields[name])
                )
    if stock.B2BQuantity is not None and not account.b2b_portal:
        problems.append(Problem(CODE_B2B_ONLY, B2B_ONLY.format(field="Stock.B2BQuantity"), stock.B2BQuantity))
    return problems


def plainly_valid(stock: ProductStockIn | None, price: ProductPriceIn | None) -> bool:
    """Whether a Stock of only ``Quantity`` or ``Movement`` and a Price of only ``Price`` or ``PriceWithTaxes``
    (the elements ``schemas.quick_update_in`` reads) certainly pass ``stock_problems`` and ``price_problems``,
    whatever the account: their checks for these values, without building a list of problems. False means
    "run the rules" (they word the problem), never "invalid"."""
    if stock is not None:
        quantity, movement = stock.Quantity, stock.Movement
        if quantity is not None:
            if movement is not None or not 0 <= quantity <= MAX_STOCK:
                return False
        elif movement is None or abs(movement) > MAX_STOCK:
            return False
    if price is not None:
        net, gross = price.Price, price.PriceWithTaxes
        value = gross if net is None else net if gross is None else None
        if value is None or not 0 < value <= MAX_AMOUNT:
            return False
        exponent = value.as_tuple().exponent
        # An exponent of -4 or more has at most 4 decimals (``decimals`` may find fewer, never more).
        if not isinstance(exponent, int) or exponent < -4:
            return False
    return True


def plainly_applicable(
    stock: ProductStockIn | None,
    price: ProductPriceIn | None,
    account: AccountProfile,
    product_type: int,
    shared: bool,
    price_list_id: int | None,
) -> bool:
    """Whether an element that is ``plainly_valid`` certainly passes the product's rules
    (``price_product_problems``, ``stock_product_problems``, a price list to write into) on this product: its
    stock is the product's own, and its price is the product's to set. False means "run the rules"."""
    if stock is not None and product_type in (KIT, VARIATION_MASTER):
        return False
    return price is None or (price_list_id is not None and not (account.selling and shared))


def stock_product_problems(stock: ProductStockIn, product: ProductFacts) -> list[Problem]:
    """Rules of a Stock object that depend on the product (derived stock, measurable attribute)."""
    moves_quantity = stock.Quantity is not None or stock.Movement is not None or stock.MeasurableQuantity is not None
    if moves_quantity and product.product_type == KIT:
        return [Problem(CODE_STOCK_DERIVED, KIT_STOCK)]
    if moves_quantity and product.product_type == VARIATION_MASTER:
        return [Problem(CODE_STOCK_DERIVED, MASTER_STOCK)]
    measurable = stock.MeasurableQuantity
    if measurable is not None and measurable.Unit:
        problem = unit_problem("MeasurableQuantity", measurable.Unit, product)
        if problem is not None:
            return [problem]
    return []


def unit_problem(field: str, unit: str, product: ProductFacts) -> Problem | None:
    """The product must carry the unit-conversion attribute and ``unit`` must convert to its unit."""
    if not product.measure_unit or not product.measure_per_unit:
        return Problem(CODE_MEASURABLE, NOT_MEASURABLE.format(field=field))
    if unit_factor(unit, product.measure_unit) is None:
        return Problem(CODE_MEASURABLE, BAD_UNIT.format(unit=unit, product_unit=product.measure_unit), unit)
    return None


def unit_factor(unit: str, target: str) -> Decimal | None:
    """How many ``target`` units one ``unit`` is (kg → g: 1000), or None when they do not convert."""
    source = UNITS.get(unit.strip().lower())
    goal = UNITS.get(target.strip().lower())
    if source is None or goal is None or source[0] != goal[0]:
        return None
    return source[1] / goal[1]


def measurable_units(amount: Decimal, unit: str, product: ProductFacts) -> int:
    """Publishable units in a measured stock (whole units only: 10 kg of 0.75 kg packs → 13)."""
    factor = unit_factor(unit, product.measure_unit or "")
    assert factor is not None and product.measure_per_unit
    return int((amount * factor / product.measure_per_unit).to_integral_value(rounding=ROUND_FLOOR))


def measurable_unit_price(price: Decimal, unit: str, product: ProductFacts) -> Decimal:
    """Price of one publishable unit from a price per measure unit (1000/kg, 0.5 kg per unit → 500)."""
    factor = unit_factor(unit, product.measure_unit or "")
    assert factor is not None and product.measure_per_unit
    return (price / factor * product.measure_per_unit).quantize(FOUR_PLACES, rounding=ROUND_HALF_UP)


def with_taxes(price: Decimal, tax_rate: Decimal) -> Decimal:
    """PriceWithTaxes from Price: ``round(Price × (1 + rate/100), 4)`` (CF-40.3.6, inferred)."""
    return (price * (1 + tax_rate / 100)).quantize(FOUR_PLACES, rounding=ROUND_HALF_UP)


def without_taxes(price_with_taxes: Decimal, tax_rate: Decimal) -> Decimal:
    """Price from PriceWithTaxes: ``round(PriceWithTaxes / (1 + rate/100), 4)``."""
    return (price_with_taxes / (1 + tax_rate / 100)).quantize(FOUR_PLACES, rounding=ROUND_HALF_UP)


def apply_movement(quantity: int, movement: int) -> tuple[int, Problem | None]:
    """A relative change, clamped at 0 with a Warning (CF-40.3.7 rule 12, inferred)."""
    result = quantity + movement
    if result < 0:
        return 0, Problem(CODE_MOVEMENT_CLAMPED, MOVEMENT_CLAMPED.format(movement=movement, result=result), movement)
    return result, None


def publish_quantity(quantity: int, min_publication: int, max_publication: int) -> int:
    """Units exposed to listings: 0 at or below MinPublicationQuantity (listings pause), else the stock
    capped by MaxPublicationQuantity (0 = no cap)."""
    if quantity <= min_publication or quantity <= 0:
        return 0
    return min(quantity, max_publication) if max_publication > 0 else quantity
